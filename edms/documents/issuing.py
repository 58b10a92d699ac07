"""After the signature: number, seal, register, issue, revoke and replace an outgoing
document.

Invariants: a number is taken from the agency's register in the same transaction that
records it (no gaps from a refused step); the seal is applied to the numbered file and
validated; issuing starts the retention period and supersedes a replaced document.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import Profile, SigningError, TrustServiceError
from signing.forms import FieldText, fill_fields

from .. import audit, blobs
from ..doctypes import number_and_symbol, symbol
from ..drafting import places
from ..errors import (
    ClientError,
    InternalError,
    InvalidTransition,
    ServiceUnavailable,
)
from ..models import (
    Agency,
    Document,
    OrgUnit,
    SignatureRecord,
    StatusEvent,
)
from ..numbering import register_for, take_number
from ..orgs import (
    active_key,
    load_user,
    open_key,
)
from ..signatures import engine_for, options_for
from ..system import System
from .files import (
    attachments_of,
    export_file,
    index_document,
    main_file,
    problems,
    record_file,
    signature_record,
    validate_own,
    workdir,
)
from .keeping import apply_document_retention
from .labels import date_line, month_text, now_utc, vn_today
from .lifecycle import (
    StepResult,
    advance,
    check_step,
    doc_type,
    load_document,
    reload_for_commit,
    simple_step,
)
from .outgoing import DraftMeta, create_draft
from .signing import signing_level
from .transaction import run_in_transaction

# An electronic copy is revoked by its own step (edms.digitization builds on this package),
# found by name like edms.events' subscribers, so this package never imports it.
COPY_REVOCATION = "edms.digitization.revocation:revoke_copy"


def register_kind(doc: Document) -> str:
    """The register an outgoing document is numbered in: secret ones have their own."""
    return "secret" if doc.secrecy else "outgoing"


def outgoing_symbol(s: Session, doc: Document) -> str:
    """The symbol (ký hiệu) the document takes when numbered: type, agency, drafting unit."""
    agency = s.get(Agency, doc.agency_id)
    assert agency is not None
    t = doc_type(s, doc.type_code)
    unit = s.get(OrgUnit, doc.drafting_unit_id) if doc.drafting_unit_id else None
    return symbol(t.code, agency.abbreviation, unit.abbreviation if unit else None)


def number(system: System, actor: str, doc_id: int) -> StepResult:
    """The next number of the register and today's date, filled into the draft's fields
    in an incremental update that leaves the leader's signature intact."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            check_step(user, doc, "number")
            src = export_file(system, main_file(s, doc.id), wd / "in.pdf")

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            step = check_step(user, doc, "number")
            agency = s.get(Agency, doc.agency_id)
            assert agency is not None
            sym = outgoing_symbol(s, doc)
            now = now_utc()
            register = register_for(s, agency.id, register_kind(doc), now)
            n = take_number(s, register.id)  # rolled back with the rest on failure
            out = wd / "numbered.pdf"
            day = vn_today(now)
            line = date_line(agency.place, day)
            plan = places.fill_plan(
                src,
                n,
                sym,
                line,
                f"{day.day:02d}",
                month_text(day),
                day.year,
                memory_mb=system.settings.render_memory_mb,
            )
            fill_fields(
                src,
                out,
                {
                    name: FieldText(p.value, p.size, p.italic, p.align, p.padding, p.baseline)
                    for name, p in plan.items()
                },
            )
            report = validate_own(system, out)
            if not report.valid:
                raise InternalError(
                    "after filling the number the leader's signature no longer "
                    "validates, nothing was changed: " + problems(report)
                )
            f = record_file(
                system, s, puts, doc, out, f"{doc.id}-numbered.pdf", "main", "numbered", user
            )
            doc.register_id, doc.number = register.id, n
            doc.code_number, doc.code_notation = f"{n:02d}", sym
            doc.issued_date = vn_today(now)
            advance(
                s,
                user,
                doc,
                step,
                details={
                    "register": register.id,
                    "number": number_and_symbol(n, sym),
                    "sha256": f.sha256,
                },
            )
            index_document(s, doc)
            return StepResult(doc, report=report)

        result: StepResult = run_in_transaction(system, work)
        return result


def seal(system: System, actor: str, doc_id: int, *, level: str | None = None) -> StepResult:
    """The agency's organization signature, by a clerk, on a document the competent
    person has validly signed; attachments in separate files get the attachment signature
    with the main document's number."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            check_step(user, doc, "seal")
            personal = s.scalars(
                select(SignatureRecord).where(
                    SignatureRecord.document_id == doc.id,
                    SignatureRecord.profile == Profile.PERSONAL.value,
                    SignatureRecord.valid.is_(True),
                )
            ).first()
            if personal is None:
                raise InvalidTransition(
                    f"document {doc_id} carries no valid personal signature of the competent person"
                )
            key = active_key(s, agency_id=doc.agency_id)
            src = export_file(system, main_file(s, doc.id), wd / "in.pdf")
            attachments = [
                (a, export_file(system, a, wd / f"att-{a.id}.pdf"))
                for a in attachments_of(s, doc.id, "draft")
            ]
            main_number = number_and_symbol(doc.number or 0, doc.code_notation or "")
            version = doc.version
        profile = open_key(system, key)
        engine = engine_for(system.settings, profile)
        lvl = signing_level(system, level, system.settings.sign_level_seal)
        out = wd / "sealed.pdf"
        try:
            result = engine.sign(src, out, options_for(profile, Profile.ORGANIZATION, level=lvl))
            signed_atts = []
            for a, path in attachments:
                a_out = wd / f"att-{a.id}-signed.pdf"
                r = engine.sign(
                    path,
                    a_out,
                    options_for(profile, Profile.ATTACHMENT, level=lvl, main_number=main_number),
                )
                signed_atts.append((a, a_out, r))
        except TrustServiceError as exc:
            raise ServiceUnavailable(f"sealing failed, nothing was stored: {exc}") from None
        except SigningError as exc:
            raise InternalError(f"sealing failed, nothing was stored: {exc}") from None
        report = validate_own(system, out)
        if not report.valid or len(report.signatures) < 2:
            raise InternalError(
                "the sealed document does not validate, nothing was stored: " + problems(report)
            )
        att_reports = [validate_own(system, p) for _a, p, _r in signed_atts]
        for (a, _p, _r), rep in zip(signed_atts, att_reports, strict=True):
            if not rep.valid:
                raise InternalError(
                    f"the signed attachment {a.name} does not validate: " + problems(rep)
                )

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user, doc, step = reload_for_commit(s, actor, doc_id, "seal", version)
            f = record_file(
                system, s, puts, doc, out, f"{doc.id}-sealed.pdf", "main", "sealed", user
            )
            s.add(signature_record(doc, f, Profile.ORGANIZATION, result, user, key, report))
            for (a, a_out, r), rep in zip(signed_atts, att_reports, strict=True):
                af = record_file(
                    system,
                    s,
                    puts,
                    doc,
                    a_out,
                    a.name,
                    "attachment",
                    "sealed",
                    user,
                    attachment_of=a.id,
                )
                s.add(signature_record(doc, af, Profile.ATTACHMENT, r, user, key, rep))
            advance(
                s,
                user,
                doc,
                step,
                details={
                    "field": result.field_name,
                    "level": result.level.value,
                    "sha256": f.sha256,
                    "attachments": len(signed_atts),
                    "certificate_sha256": key.cert_sha256,
                },
            )
            return StepResult(doc, report=report)

        step_result: StepResult = run_in_transaction(system, work)
        return step_result


def register_outgoing(
    system: System, actor: str, doc_id: int, *, holder: str = "", note: str = ""
) -> Document:
    """Enter the document in the outgoing register. ``holder`` fills the column "Đơn vị,
    người nhận bản lưu"; when none is given (the CLI's default) the clerk who registers it
    keeps the file copy: their unit and name are recorded, as the web form proposes."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, "register")
        keeper = holder.strip()
        if not keeper:
            unit = s.get(OrgUnit, user.unit_id) if user.unit_id is not None else None
            keeper = f"{unit.name}, {user.full_name}" if unit is not None else user.full_name
        doc.holder = keeper[:200]
        advance(s, user, doc, step, note.strip())
        return doc

    return run_in_transaction(system, work)


def issue(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Dispatch the document; its stored files are then kept for the type's retention
    period. A document that replaces another one supersedes it now."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, "issue")
        if not json.loads(doc.recipients):
            raise ClientError(f"document {doc_id} has no recipients (nơi nhận) to issue it to")
        doc.sent_at = now_utc()
        advance(s, user, doc, step, note.strip())
        if doc.replaces_id is not None:
            old = s.get(Document, doc.replaces_id)
            if old is not None and not old.frozen:
                before = old.state
                old.state, old.frozen = "replaced", True
                by = number_and_symbol(doc.number or 0, doc.code_notation or "")
                old.frozen_reason = f"thay thế bởi văn bản số {by}"
                s.add(
                    StatusEvent(
                        document_id=old.id,
                        at=now_utc(),
                        actor_id=user.id,
                        action="replace",
                        from_state=before,
                        to_state="replaced",
                        note=old.frozen_reason,
                    )
                )
                audit.record(
                    s, user.username, "document.replaced", "document", str(old.id), {"by": doc.id}
                )
        return doc

    doc: Document = run_in_transaction(system, work)
    apply_document_retention(system, doc.id)
    return doc


def revoke(system: System, actor: str, doc_id: int, reason: str) -> Document:
    """Revoke: the document and its metadata are frozen; the record is kept. An electronic
    copy is revoked as such (:mod:`edms.digitization.revocation`)."""
    with system.sessions() as s:
        is_copy = load_document(s, load_user(s, actor), doc_id).direction == "copy"
    if is_copy:
        module, _, name = COPY_REVOCATION.partition(":")
        revoke_copy: Callable[[System, str, int, str], Document] = getattr(
            importlib.import_module(module), name
        )
        return revoke_copy(system, actor, doc_id, reason)
    return simple_step(
        system,
        actor,
        doc_id,
        "revoke",
        reason,
        need_note=True,
        frozen=True,
        frozen_reason=f"thu hồi: {reason.strip()}",
    )


def replace(
    system: System, actor: str, old_id: int, stream: BinaryIO, filename: str, meta: DraftMeta
) -> Document:
    """A new draft that replaces an issued document (errors of content, Art. 17); the old
    one is frozen as replaced when the new one is issued."""
    return create_draft(
        system, actor, stream, filename, dataclasses.replace(meta, replaces_id=old_id)
    )
