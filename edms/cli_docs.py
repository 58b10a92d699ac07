"""CLI for the clerk's office and operators: agencies, units, users and keys; the document
lifecycles (``edms doc ...``); registers, search, deadlines, statistics and dossiers.

Every command acts as a user (``--as USERNAME`` or ``$EDMS_USER``) and goes through the
same ``edms`` services, checks and audit events as the API and the web UI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from .cliutil import fail

F = Callable[..., Any]


def _as_user(f: F) -> F:
    return click.option(
        "--as",
        "actor",
        envvar="EDMS_USER",
        required=True,
        help="Act as this user (or set EDMS_USER).",
    )(f)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date (YYYY-MM-DD)", 2)
        raise


def _doc_line(d: Any) -> str:
    from .documents import PRIORITY_VI, STATE_NAMES_VI

    num = f"{d.code_number}/{d.code_notation}" if d.code_number else "—"
    arr = f" đến số {d.arrival_number:02d}" if d.arrival_number else ""
    urgent = f" [{PRIORITY_VI[d.priority]}]" if d.priority else ""
    return (
        f"{d.id:>6}  {d.direction:<8} {STATE_NAMES_VI[d.state]:<16} {num:<16}{arr}"
        f"{urgent}  {d.subject[:70]}"
    )


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
    from .documents import Recipient

    out = []
    for v in values:
        code, sep, name = v.partition("=")
        out.append(Recipient(name.strip(), code.strip()) if sep else Recipient(v.strip()))
    return tuple(out)


def register(main: click.Group) -> None:
    from .cli import Context, pass_ctx

    # -- organisation --------------------------------------------------------------------

    @main.group()
    def agency() -> None:
        """Agencies (cơ quan)."""

    @agency.command("add")
    @click.argument("code")
    @click.option("--name", required=True)
    @click.option("--abbreviation", required=True, help="e.g. UBND, BNV")
    @click.option("--place", default="", help="Place name of the date line: 'Hà Giang'.")
    @pass_ctx
    def agency_add(ctx: Context, code: str, name: str, abbreviation: str, place: str) -> None:
        """Add an agency; CODE in either identifier form (000.00.00.H41 or H37.02.02)."""
        from .orgs import create_agency

        a = create_agency(ctx.system, code, name, abbreviation, place, actor="cli")
        click.echo(f"agency {a.code} {a.name}")

    @main.group()
    def unit() -> None:
        """Organisational units (phòng, ban)."""

    @unit.command("add")
    @click.argument("agency_code")
    @click.argument("code")
    @click.option("--name", required=True)
    @click.option("--abbreviation", default="")
    @pass_ctx
    def unit_add(ctx: Context, agency_code: str, code: str, name: str, abbreviation: str) -> None:
        from .orgs import create_unit

        u = create_unit(ctx.system, agency_code, code, name, abbreviation, actor="cli")
        click.echo(f"unit {u.code} {u.name}")

    @main.group()
    def user() -> None:
        """Users and their roles (leader, clerk, officer, admin)."""

    @user.command("add")
    @click.argument("agency_code")
    @click.argument("username")
    @click.option("--name", "full_name", required=True)
    @click.option("--roles", required=True, help="Comma-separated: leader,clerk,officer,admin")
    @click.option("--title", default="")
    @click.option("--unit", "unit_code", default=None)
    @pass_ctx
    def user_add(
        ctx: Context,
        agency_code: str,
        username: str,
        full_name: str,
        roles: str,
        title: str,
        unit_code: str | None,
    ) -> None:
        from .orgs import create_user

        u = create_user(
            ctx.system,
            agency_code,
            username,
            full_name,
            roles,
            title=title,
            unit_code=unit_code,
            actor="cli",
        )
        click.echo(f"user {u.username} ({u.roles})")

    @main.group()
    def key() -> None:
        """Signing keys bound to leaders and to agencies (the seal)."""

    @key.command("bind")
    @click.option("--user", "username", help="Bind a leader's personal key.")
    @click.option("--agency", "agency_code", help="Bind the agency's seal key.")
    @click.option("--signer", "label", help="A signer of the development PKI.")
    @click.option("--p12", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--p12-password-env")
    @click.option("--pkcs11-lib")
    @click.option("--pkcs11-token")
    @click.option("--pkcs11-key")
    @click.option("--pkcs11-pin-env", default="EDMS_PKCS11_PIN", show_default=True)
    @click.option(
        "--image",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Signature image (leader) or seal image (agency), PNG.",
    )
    @click.option("--authority", default="", help="Line above the title: 'KT. CHỦ TỊCH'.")
    @pass_ctx
    def key_bind(
        ctx: Context,
        username: str | None,
        agency_code: str | None,
        label: str | None,
        p12: Path | None,
        p12_password_env: str | None,
        pkcs11_lib: str | None,
        pkcs11_token: str | None,
        pkcs11_key: str | None,
        pkcs11_pin_env: str,
        image: Path | None,
        authority: str,
    ) -> None:
        from .orgs import bind_key
        from .signatures import SignerRef

        ref = SignerRef(
            label=label,
            p12=p12,
            p12_password_env=p12_password_env,
            pkcs11_lib=pkcs11_lib,
            pkcs11_token=pkcs11_token,
            pkcs11_key=pkcs11_key,
            pkcs11_pin_env=pkcs11_pin_env,
        )
        k = bind_key(
            ctx.system,
            ref,
            username=username,
            agency_code=agency_code,
            image=image,
            authority=authority,
            actor="cli",
        )
        click.echo(f"key {k.id} bound: {k.subject} (certificate SHA-256 {k.cert_sha256})")

    @key.command("bind-certificate")
    @click.option("--user", "username", required=True, help="The leader.")
    @click.option(
        "--certificate",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="The certificate of the key on the leader's token (PEM or DER).",
    )
    @click.option(
        "--image",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=True,
        help="The leader's signature image (PNG).",
    )
    @click.option("--authority", default="")
    @pass_ctx
    def key_bind_certificate(
        ctx: Context, username: str, certificate: Path, image: Path, authority: str
    ) -> None:
        """Bind a token-held key: the leader signs through the remote flow."""
        from .orgs import bind_certificate

        k = bind_certificate(
            ctx.system, username, certificate.read_bytes(), image, authority, actor="cli"
        )
        click.echo(f"certificate bound: {k.subject} (SHA-256 {k.cert_sha256})")

    @user.command("password")
    @click.argument("username")
    @click.password_option("--password", prompt="New password")
    @pass_ctx
    def user_password(ctx: Context, username: str, password: str) -> None:
        """Set a user's password (ends their sessions)."""
        from .auth import set_password

        set_password(ctx.system, username, password, actor="cli")
        click.echo(f"password of {username} set")

    @user.command("signing-pin")
    @click.argument("username")
    @pass_ctx
    def user_signing_pin(ctx: Context, username: str) -> None:
        """Set a leader's signing PIN (6 to 12 digits), asked twice on the terminal; the
        leader confirms every signature with a server-held key with it."""
        from .auth import set_signing_pin

        pin = click.prompt("New signing PIN", hide_input=True, confirmation_prompt=True)
        set_signing_pin(ctx.system, username, pin, actor="cli")
        click.echo(f"signing PIN of {username} set")

    @main.command("worker")
    @click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
    @pass_ctx
    def worker(ctx: Context, burst: bool) -> None:
        """Run background jobs from the Redis queue (EDMS_REDIS_URL)."""
        from .jobs import run_worker

        if ctx.system.settings.exchange_pump and not burst:
            from .exchange.outbox import Pump

            Pump(ctx.system).start()  # the exchange's delivery loop runs in workers too
        run_worker(ctx.system, burst=burst)

    @main.command("dev-seed")
    @pass_ctx
    def dev_seed(ctx: Context) -> None:
        """Create the development agency, its units, users and keys (development only)."""
        from .auth import DEV_SIGNING_PIN
        from .orgs import DEV_LEADERS, DEV_USER_PASSWORD, seed_development

        if not ctx.system.settings.is_development:
            fail("dev-seed only runs with EDMS_ENV=development")
        created = seed_development(ctx.system)
        click.echo("development agency seeded" if created else "already seeded")
        if created:
            click.echo(
                f"  users' password: {DEV_USER_PASSWORD}; leaders "
                f"{', '.join(DEV_LEADERS)} sign with the PIN {DEV_SIGNING_PIN} "
                "(DEVELOPMENT ONLY)"
            )

    @main.group()
    def doctype() -> None:
        """The 29 document types and their retention periods."""

    @doctype.command("list")
    @pass_ctx
    def doctype_list(ctx: Context) -> None:
        from sqlalchemy import select

        from .models import DocType

        with ctx.system.sessions() as s:
            for t in s.scalars(select(DocType).order_by(DocType.code)):
                keep = "vĩnh viễn" if t.retention_years is None else f"{t.retention_years} năm"
                click.echo(f"{t.code:<16} {t.abbreviation or '—':<5} {t.name:<28} {keep}")

    @doctype.command("retention")
    @click.argument("code")
    @click.argument("years")
    @pass_ctx
    def doctype_retention(ctx: Context, code: str, years: str) -> None:
        """Set a type's retention: a number of years, or 'permanent'."""
        from . import audit
        from .db import transaction
        from .models import DocType

        value = None if years.lower() in ("permanent", "vinh-vien") else int(years)
        if value is not None and value < 1:
            fail("retention is at least one year, or 'permanent'", 2)
        with transaction(ctx.system.sessions) as s:
            t = s.get(DocType, code)
            if t is None:
                fail(f"unknown document type {code!r}")
                return
            t.retention_years = value
            audit.record(s, "cli", "doctype.retention", "doctype", code, {"years": value})
        click.echo(f"{code}: {'permanent' if value is None else f'{value} years'}")

    # -- documents -------------------------------------------------------------------------

    @main.group()
    def doc() -> None:
        """Document lifecycles (văn bản đi / văn bản đến)."""

    @doc.command("new")
    @_as_user
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
    ) -> None:
        """Create an outgoing draft from FILE (a PDF, with or without the number and date
        fields; a Word .docx or OpenDocument .odt, converted) or from the template
        (--template)."""
        from . import documents as d

        meta = d.DraftMeta(
            type_code=type_code,
            subject=subject,
            recipients=_recipients(recipients),
            drafting_unit=drafting_unit,
            priority=priority,
            secrecy=secrecy,
            due_date=_date(due),
            issued_amount=copies,
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
        click.echo(_doc_line(document))

    def _step(name: str, fn_name: str, help_text: str, note: str | None = None) -> None:
        @doc.command(name, help=help_text)
        @_as_user
        @click.argument("doc_id", type=int)
        @click.option("--note", "--reason", "text", default="", help=note or "A note.")
        @pass_ctx
        def command(ctx: Context, actor: str, doc_id: int, text: str) -> None:
            from . import documents as d

            fn = getattr(d, fn_name)
            result = fn(ctx.system, actor, doc_id, text)
            click.echo(_doc_line(getattr(result, "document", result)))

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
    _step("progress", "start_progress", "Start handling an assigned incoming document.")
    _step("complete", "complete", "Complete the handling of an incoming document.")

    @doc.command("sign")
    @_as_user
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
        import os
        import sys

        from . import documents as d
        from .auth import PinConfirmation

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
        click.echo(_doc_line(r.document))
        _print_report(r.report)

    @doc.command("number")
    @_as_user
    @click.argument("doc_id", type=int)
    @pass_ctx
    def doc_number(ctx: Context, actor: str, doc_id: int) -> None:
        """Give the signed document its number and date (clerk)."""
        from . import documents as d

        click.echo(_doc_line(d.number(ctx.system, actor, doc_id).document))

    @doc.command("seal")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("--level", default=None)
    @pass_ctx
    def doc_seal(ctx: Context, actor: str, doc_id: int, level: str | None) -> None:
        """Apply the agency's signature (clerk); attachments get the attachment signature."""
        from . import documents as d

        r = d.seal(ctx.system, actor, doc_id, level=level)
        click.echo(_doc_line(r.document))
        _print_report(r.report)

    @doc.command("register")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("--holder", default="", help="Outgoing: unit keeping the file copy.")
    @click.option("--note", default="")
    @pass_ctx
    def doc_register(ctx: Context, actor: str, doc_id: int, holder: str, note: str) -> None:
        """Enter an outgoing document in its register, or give an incoming one its arrival
        number."""
        from . import documents as d

        result = d.register(ctx.system, actor, doc_id, note, holder)
        click.echo(_doc_line(result))

    @doc.command("receive")
    @_as_user
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
        from . import documents as d

        number, _, notation = code.partition("/")
        issued_date = _date(issued)
        assert issued_date is not None
        meta = d.IncomingMeta(
            type_code=type_code,
            subject=subject,
            organ_name=organ_name,
            organ_id=organ_id,
            code_number=number,
            code_notation=notation,
            issued_date=issued_date,
            due_date=_date(due),
            priority=priority,
            secrecy=secrecy,
        )
        with open(file, "rb") as f:
            r = d.receive(ctx.system, actor, f, file.name, meta)
        click.echo(_doc_line(r.document))
        for w in r.warnings:
            click.echo(f"  cảnh báo: {w}", err=True)

    @doc.command("verify")
    @_as_user
    @click.argument("doc_id", type=int)
    @pass_ctx
    def doc_verify(ctx: Context, actor: str, doc_id: int) -> None:
        """Check the signatures of an incoming document; the report is stored."""
        from . import documents as d

        r = d.verify(ctx.system, actor, doc_id)
        click.echo(_doc_line(r.document))
        _print_report(r.report)
        if r.report is not None and not r.report.valid:
            click.echo("  the check failed: return it with `edms doc return --reason ...`")

    @doc.command("assign")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("--lead", required=True, help="Lead unit code.")
    @click.option("--co", multiple=True, help="Co-operating unit code (repeatable).")
    @click.option("--instruction", default="")
    @click.option("--deadline", default=None, help="YYYY-MM-DD")
    @pass_ctx
    def doc_assign(
        ctx: Context,
        actor: str,
        doc_id: int,
        lead: str,
        co: tuple[str, ...],
        instruction: str,
        deadline: str | None,
    ) -> None:
        """Assign an incoming document for handling."""
        from . import documents as d

        click.echo(
            _doc_line(d.assign(ctx.system, actor, doc_id, lead, co, instruction, _date(deadline)))
        )

    @doc.command("attach")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_ctx
    def doc_attach(ctx: Context, actor: str, doc_id: int, file: Path) -> None:
        """Add an attachment (separate PDF) to a draft."""
        from . import documents as d

        with open(file, "rb") as f:
            a = d.add_attachment(ctx.system, actor, doc_id, f, file.name)
        click.echo(f"attachment {a.id} {a.name} {a.sha256}")

    @doc.command("show")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def doc_show(ctx: Context, actor: str, doc_id: int, as_json: bool) -> None:
        """A document with its files, signatures and history."""
        from . import documents as d

        v = d.get_document(ctx.system, actor, doc_id)
        if as_json:
            click.echo(json.dumps(d.view_json(v), ensure_ascii=False, indent=2))
            return
        click.echo(_doc_line(v.document))
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
    @_as_user
    @click.option("--direction", type=click.Choice(["outgoing", "incoming"]))
    @click.option("--state", "states", multiple=True)
    @click.option("--limit", default=100, show_default=True)
    @pass_ctx
    def doc_list(
        ctx: Context, actor: str, direction: str | None, states: tuple[str, ...], limit: int
    ) -> None:
        """Work queues, most urgent first (e.g. --state approved: waiting for signature)."""
        from . import documents as d

        for document in d.list_documents(
            ctx.system, actor, direction=direction, states=states, limit=limit
        ):
            click.echo(_doc_line(document))

    @doc.command("download")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
    @click.option("--file", "file_id", type=int, default=None)
    @pass_ctx
    def doc_download(
        ctx: Context, actor: str, doc_id: int, output: Path, file_id: int | None
    ) -> None:
        """Copy the current PDF (or --file ID) out, its SHA-256 checked."""
        from . import documents as d

        f = d.download(ctx.system, actor, doc_id, output, file_id)
        click.echo(f"{output}  {f.sha256}")

    @doc.command("hold")
    @_as_user
    @click.argument("doc_id", type=int)
    @click.option("--off", is_flag=True, help="Lift the hold.")
    @click.option("--reason", required=True)
    @pass_ctx
    def doc_hold(ctx: Context, actor: str, doc_id: int, off: bool, reason: str) -> None:
        """Place (or lift) a legal hold: no file of the document can be deleted."""
        from . import documents as d

        document = d.set_legal_hold(ctx.system, actor, doc_id, not off, reason)
        click.echo(f"{document.id}: legal hold {'on' if document.legal_hold else 'off'}")

    # -- registers, search, deadlines, statistics, dossiers ----------------------------------

    @main.group("register")
    def register_group() -> None:
        """Registers (sổ đăng ký) of Appendix IV."""

    @register_group.command("export")
    @_as_user
    @click.argument("kind", type=click.Choice(["outgoing", "incoming", "follow-up"]))
    @click.option("--from", "start", required=True, help="YYYY-MM-DD")
    @click.option("--to", "end", required=True, help="YYYY-MM-DD")
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(path_type=Path),
        help="A .pdf (print-ready A4) or .csv file.",
    )
    @pass_ctx
    def register_export(
        ctx: Context, actor: str, kind: str, start: str, end: str, output: Path
    ) -> None:
        from . import registers

        lo, hi = _date(start), _date(end)
        assert lo is not None and hi is not None
        export = registers.collect(ctx.system, actor, kind, lo, hi)
        if output.suffix.lower() == ".csv":
            output.write_bytes(registers.to_csv(export))
        elif output.suffix.lower() == ".pdf":
            registers.write_pdf(export, output)
        else:
            fail("the output must end in .pdf or .csv", 2)
        click.echo(f"{output}: {len(export.rows)} rows")

    @main.command("search")
    @_as_user
    @click.argument("query", default="")
    @click.option("--type", "type_code")
    @click.option(
        "--register",
        "register_kind",
        type=click.Choice(["outgoing", "incoming", "copies", "secret"]),
    )
    @click.option("--state")
    @click.option("--from-agency", "organ", help="Issuing agency: identifier or name part.")
    @click.option("--since", default=None, help="YYYY-MM-DD")
    @click.option("--until", default=None, help="YYYY-MM-DD")
    @click.option("--page", default=1, show_default=True)
    @click.option("--per-page", default=20, show_default=True)
    @pass_ctx
    def search_cmd(
        ctx: Context,
        actor: str,
        query: str,
        type_code: str | None,
        register_kind: str | None,
        state: str | None,
        organ: str | None,
        since: str | None,
        until: str | None,
        page: int,
        per_page: int,
    ) -> None:
        """Full-text search, without diacritics or case mattering: 'quyet dinh'."""
        from .search import SearchFilters

        filters = SearchFilters(
            type_code=type_code,
            register_kind=register_kind,
            state=state,
            organ=organ,
            date_from=_date(since),
            date_to=_date(until),
        )
        from .documents import search_documents

        total, found = search_documents(ctx.system, actor, query, filters, page, per_page)
        click.echo(f"{total} found (page {page})")
        for document in found:
            click.echo(_doc_line(document))

    @main.command("deadlines")
    @_as_user
    @click.option("--within", default=3, show_default=True, help="Days ahead.")
    @pass_ctx
    def deadlines_cmd(ctx: Context, actor: str, within: int) -> None:
        """Incoming documents near their deadline, and overdue."""
        from .tracking import deadlines

        lists = deadlines(ctx.system, actor, within)
        for title, items in (
            ("QUÁ HẠN (overdue)", lists.overdue),
            ("SẮP ĐẾN HẠN (due soon)", lists.near),
        ):
            click.echo(f"{title}: {len(items)}")
            for i in items:
                click.echo(
                    f"  {i.document_id:>6}  hạn {i.deadline:%d/%m/%Y} "
                    f"({i.days_left:+d} ngày)  {i.lead_unit:<24} {i.subject[:60]}"
                )

    @main.command("stats")
    @_as_user
    @click.option(
        "--period",
        type=click.Choice(["month", "quarter", "year"]),
        default="month",
        show_default=True,
    )
    @click.option("--from", "start", default=None)
    @click.option("--to", "end", default=None)
    @click.option("--json", "as_json", is_flag=True)
    @pass_ctx
    def stats_cmd(
        ctx: Context, actor: str, period: str, start: str | None, end: str | None, as_json: bool
    ) -> None:
        """Handled early / on time / late, per lead unit."""
        from dataclasses import asdict

        from .tracking import handling_stats
        from .tracking import period as period_of

        lo, hi = period_of(period)
        lo, hi = _date(start) or lo, _date(end) or hi
        rows = handling_stats(ctx.system, actor, lo, hi)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "from": lo.isoformat(),
                        "to": hi.isoformat(),
                        "units": [asdict(r) for r in rows],
                    },
                    ensure_ascii=False,
                )
            )
            return
        click.echo(f"{lo:%d/%m/%Y} – {hi:%d/%m/%Y}")
        click.echo(
            f"{'đơn vị':<28} {'sớm':>5} {'đúng':>5} {'trễ':>5} {'đang/hạn':>9} {'quá hạn':>8}"
        )
        for r in rows:
            click.echo(
                f"{r.unit[:28]:<28} {r.early:>5} {r.on_time:>5} {r.late:>5} "
                f"{r.open_on_time:>9} {r.open_overdue:>8}"
            )

    @main.group()
    def dossier() -> None:
        """Dossiers (hồ sơ)."""

    @dossier.command("create")
    @_as_user
    @click.argument("file_code")
    @click.option("--title", required=True)
    @click.option(
        "--keep",
        "years",
        default="permanent",
        show_default=True,
        help="Retention: years, or 'permanent'.",
    )
    @pass_ctx
    def dossier_create(ctx: Context, actor: str, file_code: str, title: str, years: str) -> None:
        from . import dossiers

        value = None if years == "permanent" else int(years)
        keep = "Vĩnh viễn" if value is None else f"{value} năm"
        d = dossiers.create(ctx.system, actor, dossiers.DossierMeta(file_code, title, keep, value))
        click.echo(f"dossier {d.file_code}: {d.title}")

    @dossier.command("add")
    @_as_user
    @click.argument("file_code")
    @click.argument("doc_ids", nargs=-1, type=int, required=True)
    @pass_ctx
    def dossier_add(ctx: Context, actor: str, file_code: str, doc_ids: tuple[int, ...]) -> None:
        from . import dossiers

        dossiers.add_documents(ctx.system, actor, file_code, list(doc_ids))
        click.echo(f"{len(doc_ids)} document(s) filed in {file_code}")

    @dossier.command("export")
    @_as_user
    @click.argument("file_code")
    @click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
    @pass_ctx
    def dossier_export(ctx: Context, actor: str, file_code: str, output: Path) -> None:
        """A ZIP: hoso.xml and the documents' PDFs in time order."""
        from . import dossiers

        dossiers.export(ctx.system, actor, file_code, output)
        click.echo(str(output))
