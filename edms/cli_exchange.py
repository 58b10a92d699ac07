"""``edms exchange``: the agency directory, dispatching, the delivery loop, statuses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cliutil import fail


def register(main: click.Group) -> None:
    from .cli import Context, pass_ctx

    @main.group("exchange")
    def exchange() -> None:
        """Inter-agency exchange (liên thông): edXML packages between agencies."""

    @exchange.command("self")
    @click.option("--agency", default=None, help="Agency code (default: the first).")
    @pass_ctx
    def self_cmd(ctx: Context, agency: str | None) -> None:
        """Print this system's directory entry (JSON) for the other agencies to import."""
        from .exchange.directory import own_entry

        click.echo(json.dumps(own_entry(ctx.system, agency), ensure_ascii=False, indent=2))

    @exchange.command("import")
    @click.option("--as", "actor", envvar="EDMS_USER", required=True, help="An admin.")
    @click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
    @pass_ctx
    def import_cmd(ctx: Context, actor: str, file: Path) -> None:
        """Add or update directory entries from FILE (one entry, or a list, as JSON)."""
        from .exchange.directory import upsert

        raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            fail(f"{file}: not JSON ({exc})")
        entries = data.get("entries", [data]) if isinstance(data, dict) else data
        for code in upsert(ctx.system, actor, entries):
            click.echo(f"directory: {code}")

    @exchange.command("directory")
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def directory_cmd(ctx: Context, as_json: bool) -> None:
        """List (or export as JSON) the exchange directory."""
        from .exchange.directory import entries

        peers = entries(ctx.system)
        if as_json:
            click.echo(json.dumps([p.to_json() for p in peers], ensure_ascii=False, indent=2))
            return
        for p in peers:
            state = "" if p.active else "  (inactive)"
            click.echo(f"{p.code:<15} {p.name:<45} {p.endpoint}  "
                       f"{len(p.certificates)} cert(s){state}")

    @exchange.command("send")
    @click.option("--as", "actor", envvar="EDMS_USER", required=True, help="A clerk.")
    @click.argument("doc_id", type=int)
    @pass_ctx
    def send_cmd(ctx: Context, actor: str, doc_id: int) -> None:
        """Queue an issued document to recipients in the directory not yet served."""
        from .exchange.outbox import dispatch

        queued = dispatch(ctx.system, actor, doc_id)
        click.echo(f"queued for {', '.join(queued)}" if queued else "nothing new to send")

    @exchange.command("deliver")
    @click.option("--loop", is_flag=True, help="Keep delivering until stopped.")
    @pass_ctx
    def deliver_cmd(ctx: Context, loop: bool) -> None:
        """Send what is due in the outbox (once, or as a loop)."""
        from .exchange.outbox import Pump, deliver_due

        if loop:
            pump = Pump(ctx.system).start()
            try:
                pump.thread.join()
            except KeyboardInterrupt:
                pump.stop()
            return
        r = deliver_due(ctx.system, limit=1000)
        click.echo(f"delivered {r.delivered}, refused {r.refused}, retrying {r.retried}, "
                   f"failed {r.failed}")

    @exchange.command("status")
    @click.option("--as", "actor", envvar="EDMS_USER", required=True)
    @click.argument("doc_id", type=int)
    @pass_ctx
    def status_cmd(ctx: Context, actor: str, doc_id: int) -> None:
        """Each recipient's delivery and processing status for a document."""
        from .exchange.outbox import document_exchange

        for a in document_exchange(ctx.system, actor, doc_id):
            d = a["dispatch"] or {}
            latest = a["latest"]
            click.echo(f"{a['agency']}: {d.get('state', '—')} ({d.get('attempts', 0)} "
                       f"attempt(s)); latest status: "
                       + (f"{latest['code']} {latest['meaning']}" if latest else "—"))
            for st in a["statuses"]:
                click.echo(f"    {st['at']}  {st['code']}  {st['meaning']}  "
                           f"{st['description']}")

    @exchange.command("revocation")
    @click.option("--as", "actor", envvar="EDMS_USER", required=True, help="A clerk.")
    @click.argument("doc_id", type=int)
    @click.option("--accept/--refuse", "accept_it", required=True)
    @click.option("--reason", default="")
    @pass_ctx
    def revocation_cmd(ctx: Context, actor: str, doc_id: int, accept_it: bool,
                       reason: str) -> None:
        """Answer the sender's revocation request: --accept (15) or --refuse (16)."""
        from .exchange.inbox import answer_revocation

        answer_revocation(ctx.system, actor, doc_id, accept_it, reason)
        click.echo("revocation accepted (15)" if accept_it else "revocation refused (16)")
