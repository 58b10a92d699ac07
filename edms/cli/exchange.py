"""``edms exchange``: each agency's directory and profile, dispatching, the delivery loop,
statuses, and the tools to debug interoperability (export, export-status, inspect)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .base import Context, acting_as, as_user, fail, pass_ctx


def _write(output: Path, data: bytes) -> None:
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(output)
    click.echo(f"{output}: {len(data)} bytes", err=True)


@click.group("exchange")
def exchange() -> None:
    """Inter-agency exchange (liên thông): edXML packages between agencies."""


@exchange.command("self")
@click.option("--agency", default=None, help="Agency code (default: the first).")
@pass_ctx
def self_cmd(ctx: Context, agency: str | None) -> None:
    """Print this system's directory entry (JSON) for the other agencies to import."""
    from ..exchange.directory import own_entry

    click.echo(json.dumps(own_entry(ctx.system, agency), ensure_ascii=False, indent=2))


@exchange.command("import")
@acting_as("An administrator; entries go into their agency's directory.")
@click.option(
    "--pin",
    "pins",
    multiple=True,
    metavar="SHA256",
    help="The certificate fingerprint confirmed with the partner (out of "
    "band); the import is refused if the entry's differs. Repeatable.",
)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_ctx
def import_cmd(ctx: Context, actor: str, pins: tuple[str, ...], file: Path) -> None:
    """Add or update directory entries from FILE (one entry, or a list, as JSON)."""
    from ..exchange.directory import spaced, upsert

    raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        fail(f"{file}: not JSON ({exc})")
    entries = data.get("entries", [data]) if isinstance(data, dict) else data
    if pins:
        if not isinstance(entries, list) or len(entries) != 1:
            fail("--pin confirms the certificate of one entry: import one at a time")
        entries = [{**entries[0], "pin": list(pins)}]
    for w in upsert(ctx.system, actor, entries):
        click.echo(
            f"directory: {w['code']} {'added' if w['created'] else 'updated'}"
            + (f" ({', '.join(w['changed'])})" if not w["created"] else "")
        )
        for fp in w["fingerprints"]:
            click.echo(f"  certificate SHA-256 {spaced(fp)}")
    if not pins:
        click.echo(
            "Confirm each fingerprint with the partner by phone (or --pin it) "
            "before relying on the entry."
        )


@exchange.command("directory")
@acting_as("A user; lists their agency's directory.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def directory_cmd(ctx: Context, actor: str, as_json: bool) -> None:
    """List (or export as JSON) your agency's exchange directory."""
    from ..exchange.directory import entries, spaced

    peers = entries(ctx.system, actor)
    if as_json:
        click.echo(json.dumps([p.to_json() for p in peers], ensure_ascii=False, indent=2))
        return
    for p in peers:
        state = "" if p.active else "  (inactive)"
        click.echo(f"{p.code:<15} {p.name:<45} {p.endpoint}{state}")
        for fp in p.fingerprints:
            click.echo(f"{'':<15} certificate SHA-256 {spaced(fp)}")


@exchange.command("profile")
@as_user
@click.option("--website", default=None, help="The agency's public website.")
@click.option("--email", default=None)
@click.option("--telephone", default=None)
@click.option("--fax", default=None)
@click.option("--address", default=None)
@click.option(
    "--in-charge", "in_charge", default=None, help="The governing body (OrganizationInCharge)."
)
@pass_ctx
def profile_cmd(ctx: Context, actor: str, **changes: str | None) -> None:
    """Show or change (administrators) how your agency appears in ``From``."""
    from ..exchange.directory import agency_of, profile, set_profile

    wanted = {k: v for k, v in changes.items() if v is not None}
    if wanted:
        current = set_profile(ctx.system, actor, wanted)
    else:
        with ctx.system.sessions() as s:
            current = profile(s, agency_of(s, actor))
    for k, v in current.items():
        click.echo(f"{k}: {v}")


@exchange.command("export")
@acting_as("A clerk or administrator of the issuing agency.")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="AGENCY_CODE",
    help="The recipient, as listed in the directory.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
)
@click.argument("doc_id", type=int)
@pass_ctx
def export_cmd(ctx: Context, actor: str, to: str, output: Path, doc_id: int) -> None:
    """Write the signed edXML package that would be sent for issued document DOC_ID
    to agency AGENCY_CODE (nothing is queued or stored)."""
    from ..exchange.outbox import export_document

    _write(output, export_document(ctx.system, actor, doc_id, to))


@exchange.command("export-status")
@acting_as("A clerk or administrator.")
@click.option("--code", required=True, help="01-06, 13, 15 or 16.")
@click.option("--description", default="", help="The reason (needed for 02 and 16).")
@click.option(
    "--to",
    "to",
    default=None,
    metavar="AGENCY_CODE",
    help="For 13 about a document this agency issued: the recipient.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
)
@click.argument("doc_id", type=int)
@pass_ctx
def export_status_cmd(
    ctx: Context,
    actor: str,
    code: str,
    description: str,
    to: str | None,
    output: Path,
    doc_id: int,
) -> None:
    """Write the signed status packet CODE about document DOC_ID (nothing is queued
    or stored)."""
    from ..exchange.outbox import export_status

    _write(output, export_status(ctx.system, actor, doc_id, code, description, to))


@exchange.command("inspect")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not consult this system's directory (no database needed).",
)
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@pass_ctx
def inspect_cmd(ctx: Context, as_json: bool, offline: bool, file: Path) -> None:
    """Show what our reader gets from the edXML package FILE: header, attachments
    (sizes, hashes), signature (present, valid, by whom) and every reason the inbox
    would refuse it. Nothing is stored. Exit status 1 when it would be refused."""
    from ..exchange.inspect import inspect, render

    data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    result = inspect(data, None if offline else ctx.system)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render(result))
    if result.refusals:
        sys.exit(1)


@exchange.command("send")
@acting_as("A clerk.")
@click.argument("doc_id", type=int)
@pass_ctx
def send_cmd(ctx: Context, actor: str, doc_id: int) -> None:
    """Queue an issued document to recipients in the directory not yet served."""
    from ..exchange.outbox import dispatch

    queued = dispatch(ctx.system, actor, doc_id)
    click.echo(f"queued for {', '.join(queued)}" if queued else "nothing new to send")


@exchange.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering until stopped.")
@pass_ctx
def deliver_cmd(ctx: Context, loop: bool) -> None:
    """Send what is due in the outbox (once, or as a loop); on an axis (VDXP), also
    take what it holds for us."""
    from ..exchange.outbox import Pump, deliver_due

    if loop:
        pump = Pump(ctx.system).start()
        try:
            pump.thread.join()
        except KeyboardInterrupt:
            pump.stop()
        return
    r = deliver_due(ctx.system, limit=1000)
    click.echo(
        f"delivered {r.delivered}, refused {r.refused}, retrying {r.retried}, failed {r.failed}"
    )
    if ctx.system.settings.exchange_transport == "vdxp":
        from ..exchange.receiving import receive_due

        click.echo(f"received from the axis: {receive_due(ctx.system)}")


@exchange.command("status")
@as_user
@click.argument("doc_id", type=int)
@pass_ctx
def status_cmd(ctx: Context, actor: str, doc_id: int) -> None:
    """Each recipient's delivery and processing status for a document."""
    from ..exchange.outbox import document_exchange

    for a in document_exchange(ctx.system, actor, doc_id):
        d = a["dispatch"] or {}
        latest = a["latest"]
        click.echo(
            f"{a['agency']}: {d.get('state', '—')} ({d.get('attempts', 0)} "
            f"attempt(s)); latest status: "
            + (f"{latest['code']} {latest['meaning']}" if latest else "—")
        )
        for st in a["statuses"]:
            click.echo(f"    {st['at']}  {st['code']}  {st['meaning']}  {st['description']}")


@exchange.command("revocation")
@acting_as("A clerk.")
@click.argument("doc_id", type=int)
@click.option("--accept/--refuse", "accept_it", required=True)
@click.option("--reason", default="")
@pass_ctx
def revocation_cmd(ctx: Context, actor: str, doc_id: int, accept_it: bool, reason: str) -> None:
    """Answer the sender's revocation request: --accept (15) or --refuse (16)."""
    from ..exchange.inbox import answer_revocation

    answer_revocation(ctx.system, actor, doc_id, accept_it, reason)
    click.echo("revocation accepted (15)" if accept_it else "revocation refused (16)")
