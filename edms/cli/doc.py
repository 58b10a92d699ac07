"""``edms doc ...``: the document lifecycles (văn bản đi / văn bản đến).

Every command acts as a user (``--as USERNAME`` or ``$EDMS_USER``) and goes through the
same ``edms`` services, checks and audit events as the API and the web UI.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .base import Context, as_user, doc_line, fail, parse_date, pass_ctx


def _print_report(report: Any) -> None:
    click.echo(f"  valid: {'yes' if report.valid else 'NO'}")
    for s in report.signatures:
        click.echo(
            f"  - {s.field or '(file)'}: {s.signer.common_name or '?'} "
            f"{s.indication} {s.level} modifications={s.modifications}"
        )
    for e in report.errors:
        click.echo(f"  ! {e}")


def _recipients(values: tuple[str, ...]) -> tuple[Any, ...]:
    from ..documents import Recipient

    out = []
    for v in values:
        code, sep, name = v.partition("=")
        out.append(Recipient(name.strip(), code.strip()) if sep else Recipient(v.strip()))
    return tuple(out)


@click.group()
def doc() -> None:
    """Document lifecycles (văn bản đi / văn bản đến)."""


@doc.command("new")
@as_user
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--type", "type_code", required=True, help="quyet-dinh, cong-van, ...")
@click.option("--subject", required=True, help="Trích yếu.")
@click.option(
    "--to",
    "recipients",
    multiple=True,
    help="Recipient: 'Name' or 'ORGANID=Name' (repeatable).",
)
@click.option("--unit", "drafting_unit", help="Drafting unit (a Công văn needs it).")
@click.option("--priority", type=click.IntRange(0, 3), default=0)
@click.option("--secrecy", type=click.IntRange(0, 3), default=0)
@click.option("--due", help="Due date YYYY-MM-DD.")
@click.option("--copies", type=int, help="Number of copies issued.")
@click.option(
    "--template",
    "body",
    multiple=True,
    help="Generate the draft from the Decree 30 template with this body "
    "paragraph (repeatable) instead of FILE.",
)
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Attachment in a separate PDF (repeatable).",
)
@click.option("--signer", default=None, help="The leader who signs it (user name).")
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    help="Who approves it before the signer, in order (user name, repeatable).",
)
@pass_ctx
def doc_new(
    ctx: Context,
    actor: str,
    file: Path | None,
    type_code: str,
    subject: str,
    recipients: tuple[str, ...],
    drafting_unit: str | None,
    priority: int,
    secrecy: int,
    due: str | None,
    copies: int | None,
    body: tuple[str, ...],
    attach: tuple[Path, ...],
    signer: str | None,
    approvers: tuple[str, ...],
) -> None:
    """Create an outgoing draft from FILE (a PDF, with or without the number and date
    fields; a Word .docx or OpenDocument .odt, converted) or from the template
    (--template). With --signer, only that leader signs it; with --approver, it waits for
    each approver in turn before the signer."""
    from .. import documents as d

    meta = d.DraftMeta(
        type_code=type_code,
        subject=subject,
        recipients=_recipients(recipients),
        drafting_unit=drafting_unit,
        priority=priority,
        secrecy=secrecy,
        due_date=parse_date(due),
        issued_amount=copies,
        designated_signer=signer,
        approvers=approvers,
    )
    if (file is None) == (not body):
        fail("give either FILE or --template paragraphs", 2)
    if file is not None:
        with open(file, "rb") as f:
            document = d.create_draft(ctx.system, actor, f, file.name, meta)
    else:
        document = d.create_from_template(ctx.system, actor, meta, list(body))
    for a in attach:
        with open(a, "rb") as f:
            d.add_attachment(ctx.system, actor, document.id, f, a.name)
    click.echo(doc_line(document))


@doc.command("revise")
@as_user
@click.argument("doc_id", type=int)
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--template",
    "body",
    multiple=True,
    help="The template draft's new body paragraph (repeatable) instead of FILE.",
)
@click.option("--signer", default=None, help="A new designated signer (user name).")
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    help="New approvers, in order (repeatable; replaces the draft's own).",
)
@pass_ctx
def doc_revise(
    ctx: Context,
    actor: str,
    doc_id: int,
    file: Path | None,
    body: tuple[str, ...],
    signer: str | None,
    approvers: tuple[str, ...],
) -> None:
    """A new version of a draft (after it was sent back): FILE, or the template's text
    edited (--template)."""
    from .. import documents as d

    if (file is None) == (not body):
        fail("give either FILE or --template paragraphs", 2)
    named = approvers or None
    if file is not None:
        with open(file, "rb") as f:
            document = d.revise_draft(
                ctx.system, actor, doc_id, f, file.name, designated_signer=signer, approvers=named
            )
    else:
        document = d.revise_from_template(
            ctx.system, actor, doc_id, list(body), designated_signer=signer, approvers=named
        )
    click.echo(doc_line(document))


def _step(name: str, fn_name: str, help_text: str, note: str | None = None) -> None:
    @doc.command(name, help=help_text)
    @as_user
    @click.argument("doc_id", type=int)
    @click.option("--note", "--reason", "text", default="", help=note or "A note.")
    @pass_ctx
    def command(ctx: Context, actor: str, doc_id: int, text: str) -> None:
        from .. import documents as d

        fn = getattr(d, fn_name)
        result = fn(ctx.system, actor, doc_id, text)
        click.echo(doc_line(getattr(result, "document", result)))


_step("submit", "submit", "Submit a draft for signature (trình ký).")
_step("approve", "approve", "Approve a submitted draft (leader).")
_step("reject", "reject", "Send a draft back for revision (leader).", "The reason.")
_step("issue", "issue", "Issue a registered document (clerk).")
_step(
    "revoke",
    "revoke",
    "Revoke an issued document: it is frozen (reason required).",
    "The reason.",
)
_step("return", "return_to_sender", "Return an incoming document to its sender.", "The reason.")
_step(
    "handback",
    "hand_back",
    "Hand an incoming document back to be assigned again.",
    "The reason.",
)
_step("progress", "start_progress", "Start handling an assigned incoming document.")
_step("complete", "complete", "Complete the handling of an incoming document.")


@doc.command("sign")
@as_user
@click.argument("doc_id", type=int)
@click.option(
    "--authority",
    default=None,
    help="Signing authority for this document: TM, TM_KT, KT, Q, TL, TUQ, "
    "CV (own title), or the line ('KT. CHỦ TỊCH'); checked against your "
    "position. Default: the draft's signature block, else your key's.",
)
@click.option("--level", default=None, help="B-B, B-T, B-LT, B-LTA.")
@pass_ctx
def doc_sign(
    ctx: Context, actor: str, doc_id: int, authority: str | None, level: str | None
) -> None:
    """Sign as the competent person with your own bound key (leader). Your signing
    PIN is asked on the terminal, or read from $EDMS_SIGNING_PIN (scripts)."""
    from .. import documents as d
    from ..auth import PinConfirmation

    pin = os.environ.get("EDMS_SIGNING_PIN") or None
    if pin is None and sys.stdin.isatty():
        pin = click.prompt(f"Signing PIN of {actor}", hide_input=True)
    # Without a PIN the step is refused, after its checks of the document and role.
    r = d.sign(
        ctx.system,
        actor,
        doc_id,
        authority=authority,
        level=level,
        confirm=PinConfirmation(pin),
    )
    click.echo(doc_line(r.document))
    _print_report(r.report)


@doc.command("number")
@as_user
@click.argument("doc_id", type=int)
@pass_ctx
def doc_number(ctx: Context, actor: str, doc_id: int) -> None:
    """Give the signed document its number and date (clerk)."""
    from .. import documents as d

    click.echo(doc_line(d.number(ctx.system, actor, doc_id).document))


@doc.command("seal")
@as_user
@click.argument("doc_id", type=int)
@click.option("--level", default=None)
@pass_ctx
def doc_seal(ctx: Context, actor: str, doc_id: int, level: str | None) -> None:
    """Apply the agency's signature (clerk); attachments get the attachment signature."""
    from .. import documents as d

    r = d.seal(ctx.system, actor, doc_id, level=level)
    click.echo(doc_line(r.document))
    _print_report(r.report)


@doc.command("register")
@as_user
@click.argument("doc_id", type=int)
@click.option("--holder", default="", help="Outgoing: unit keeping the file copy.")
@click.option("--note", default="")
@pass_ctx
def doc_register(ctx: Context, actor: str, doc_id: int, holder: str, note: str) -> None:
    """Enter an outgoing document in its register, or give an incoming one its arrival
    number."""
    from .. import documents as d

    result = d.register(ctx.system, actor, doc_id, note, holder)
    click.echo(doc_line(result))


@doc.command("receive")
@as_user
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "type_code", required=True)
@click.option("--subject", required=True)
@click.option("--from", "organ_name", required=True, help="The sending agency's name.")
@click.option("--from-id", "organ_id", default=None, help="Its identifier.")
@click.option("--number", "code", required=True, help="Its number/symbol: 15/QĐ-UBND.")
@click.option("--date", "issued", required=True, help="Its date, YYYY-MM-DD.")
@click.option("--due", default=None)
@click.option("--priority", type=click.IntRange(0, 3), default=0)
@click.option("--secrecy", type=click.IntRange(0, 3), default=0)
@pass_ctx
def doc_receive(
    ctx: Context,
    actor: str,
    file: Path,
    type_code: str,
    subject: str,
    organ_name: str,
    organ_id: str | None,
    code: str,
    issued: str,
    due: str | None,
    priority: int,
    secrecy: int,
) -> None:
    """Receive an incoming document (clerk)."""
    from .. import documents as d

    number, _, notation = code.partition("/")
    issued_date = parse_date(issued)
    assert issued_date is not None
    meta = d.IncomingMeta(
        type_code=type_code,
        subject=subject,
        organ_name=organ_name,
        organ_id=organ_id,
        code_number=number,
        code_notation=notation,
        issued_date=issued_date,
        due_date=parse_date(due),
        priority=priority,
        secrecy=secrecy,
    )
    with open(file, "rb") as f:
        r = d.receive(ctx.system, actor, f, file.name, meta)
    click.echo(doc_line(r.document))
    for w in r.warnings:
        click.echo(f"  cảnh báo: {w}", err=True)


@doc.command("verify")
@as_user
@click.argument("doc_id", type=int)
@pass_ctx
def doc_verify(ctx: Context, actor: str, doc_id: int) -> None:
    """Check the signatures of an incoming document; the report is stored."""
    from .. import documents as d

    r = d.verify(ctx.system, actor, doc_id)
    click.echo(doc_line(r.document))
    _print_report(r.report)
    if r.report is not None and not r.report.valid:
        click.echo("  the check failed: return it with `edms doc return --reason ...`")


@doc.command("assign")
@as_user
@click.argument("doc_id", type=int)
@click.option("--lead", default="", help="Lead unit code (default: the lead person's unit).")
@click.option("--co", multiple=True, help="Co-operating unit code (repeatable).")
@click.option("--lead-user", default="", help="The person in charge (user name).")
@click.option("--co-user", multiple=True, help="A co-operating person (user name, repeatable).")
@click.option("--instruction", default="", help="The leader's instruction (ý kiến chỉ đạo).")
@click.option("--deadline", default=None, help="YYYY-MM-DD")
@pass_ctx
def doc_assign(
    ctx: Context,
    actor: str,
    doc_id: int,
    lead: str,
    co: tuple[str, ...],
    lead_user: str,
    co_user: tuple[str, ...],
    instruction: str,
    deadline: str | None,
) -> None:
    """Assign an incoming document for handling."""
    from .. import documents as d

    assigned = d.assign(
        ctx.system,
        actor,
        doc_id,
        lead,
        co,
        instruction,
        parse_date(deadline),
        lead_user=lead_user,
        co_users=co_user,
    )
    click.echo(doc_line(assigned))


@doc.command("release")
@as_user
@click.argument("doc_id", type=int)
@click.option("--holder", default="", help="Who keeps the file copy (register column).")
@click.option("--note", default="")
@click.option("--plan", "plan_only", is_flag=True, help="Only show what will be done.")
@pass_ctx
def doc_release(
    ctx: Context, actor: str, doc_id: int, holder: str, note: str, plan_only: bool
) -> None:
    """Release a signed document: number, seal, register, issue (each step recorded)."""
    from ..documents import release as r

    plan = r.release_plan(ctx.system, actor, doc_id)
    taken = "taken" if plan.number_taken else "next, not reserved"
    click.echo(f"document {doc_id}: {plan.number_and_symbol} ({taken})")
    click.echo(f"  steps: {', '.join(plan.remaining)}")
    click.echo(f"  recipients: {'; '.join(plan.recipients) or '(none)'}")
    if plan_only:
        return
    outcome = r.release(ctx.system, actor, doc_id, holder=holder, note=note)
    click.echo(f"  done: {', '.join(outcome.done) or '(nothing)'}; state {outcome.state}")
    if outcome.failed:
        fail(
            f"{outcome.failed} failed: {outcome.reason} — the document stays "
            f"{outcome.state}; run `edms doc release {doc_id}` again to continue"
        )


@doc.command("attach")
@as_user
@click.argument("doc_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def doc_attach(ctx: Context, actor: str, doc_id: int, file: Path) -> None:
    """Add an attachment (separate PDF) to a draft."""
    from .. import documents as d

    with open(file, "rb") as f:
        a = d.add_attachment(ctx.system, actor, doc_id, f, file.name)
    click.echo(f"attachment {a.id} {a.name} {a.sha256}")


@doc.command("show")
@as_user
@click.argument("doc_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def doc_show(ctx: Context, actor: str, doc_id: int, as_json: bool) -> None:
    """A document with its files, signatures and history."""
    from .. import documents as d

    v = d.get_document(ctx.system, actor, doc_id)
    if as_json:
        click.echo(json.dumps(d.view_json(v), ensure_ascii=False, indent=2))
        return
    click.echo(doc_line(v.document))
    for f in v.files:
        click.echo(f"  file {f.id:>4} {f.role:<10} {f.stage:<9} {f.sha256[:16]}…  {f.name}")
    for sig in v.signatures:
        click.echo(
            f"  signature {sig.profile:<12} {sig.level:<5} "
            f"{'valid' if sig.valid else 'INVALID'}  {sig.signed_at.isoformat()}"
        )
    for h in v.history:
        click.echo(
            f"  {h.at.astimezone(d.VN_TZ):%d/%m/%Y %H:%M}  {h.action:<10} "
            f"→ {h.to_state}{f'  ({h.note})' if h.note else ''}"
        )


@doc.command("list")
@as_user
@click.option("--direction", type=click.Choice(["outgoing", "incoming"]))
@click.option("--state", "states", multiple=True)
@click.option("--limit", default=100, show_default=True)
@pass_ctx
def doc_list(
    ctx: Context, actor: str, direction: str | None, states: tuple[str, ...], limit: int
) -> None:
    """Work queues, most urgent first (e.g. --state approved: waiting for signature)."""
    from .. import documents as d

    for document in d.list_documents(
        ctx.system, actor, direction=direction, states=states, limit=limit
    ):
        click.echo(doc_line(document))


@doc.command("download")
@as_user
@click.argument("doc_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@click.option("--file", "file_id", type=int, default=None)
@pass_ctx
def doc_download(ctx: Context, actor: str, doc_id: int, output: Path, file_id: int | None) -> None:
    """Copy the current PDF (or --file ID) out, its SHA-256 checked."""
    from .. import documents as d

    f = d.download(ctx.system, actor, doc_id, output, file_id)
    click.echo(f"{output}  {f.sha256}")


@doc.command("hold")
@as_user
@click.argument("doc_id", type=int)
@click.option("--off", is_flag=True, help="Lift the hold.")
@click.option("--reason", required=True)
@pass_ctx
def doc_hold(ctx: Context, actor: str, doc_id: int, off: bool, reason: str) -> None:
    """Place (or lift) a legal hold: no file of the document can be deleted."""
    from .. import documents as d

    document = d.set_legal_hold(ctx.system, actor, doc_id, not off, reason)
    click.echo(f"{document.id}: legal hold {'on' if document.legal_hold else 'off'}")
