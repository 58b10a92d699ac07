"""Official documents and their lifecycles (Decree 30, Art. 10–24).

Outgoing (văn bản đi)::

    draft → submitted → approved → signed → numbered → sealed → registered → issued
      ↑________ reject _____|                                       revoke → revoked
                                                    (a replacing document → replaced)

Incoming (văn bản đến)::

    received → verified → registered → assigned → in_progress → completed
           ↘________↘ returned (to the sender, with the reason)

Every step is one function here, used by the CLI, the API and the web UI alike. Each one
checks, in this order, that the document belongs to the actor's agency (else: not found),
that the actor's role allows the step (403), that the document is not frozen and is in a
state the step applies to (409), and only then does its work. The work of a step (new
file versions, signature records, the state change, the status history, the audit event,
the search index) is committed in one database transaction; objects put in the store
before a failure are removed again. A refused step therefore changes nothing anywhere.
Concurrent steps on the same document are serialised by the document's ``version``
(optimistic locking): the second one is refused, not applied twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from signing.engine import Level, Profile, SigningError, TrustServiceError
from signing.forms import FieldText, fill_fields
from signing.validation import Report, validate_file

from . import audit, blobs, pdfsafety, search
from .auth import PinConfirmation, SigningConsent, confirm_signing
from .authority import Authority
from .authority import resolve as resolve_authority
from .db import transaction
from .doctypes import number_and_symbol, symbol
from .drafting import drafts, places
from .drafting.convert import DRAFT_TYPES
from .errors import (
    Conflict,
    EdmsError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ServiceUnavailable,
    UploadTooLarge,
)
from .filetypes import detect, ensure_allowed
from .models import (
    Agency,
    Assignment,
    Blob,
    DigitizedCopy,
    DocType,
    Document,
    DocumentFile,
    OrgUnit,
    SignatureRecord,
    SigningKey,
    StatusEvent,
    User,
    ValidationRecord,
)
from .numbering import VN_TZ, register_for, take_number
from .orgs import (
    active_key,
    key_image,
    load_user,
    may_see,
    open_key,
    require_role,
    unit_by_code,
    visible_documents,
)
from .signatures import engine_for, options_for, trust_set, validate_sandboxed
from .system import System
from .templates import DATE_FIELD, NUMBER_FIELD, SIGNATURE_FIELD, content_for, render_draft

log = logging.getLogger(__name__)

OUTGOING, INCOMING = "outgoing", "incoming"

STATE_NAMES_VI = {
    "draft": "dự thảo",
    "submitted": "đã trình",
    "approved": "đã duyệt",
    "signed": "đã ký",
    "numbered": "đã cấp số",
    "sealed": "đã ký số cơ quan",
    "registered": "đã vào sổ",
    "issued": "đã ban hành",
    "revoked": "đã thu hồi",
    "replaced": "đã được thay thế",
    "received": "đã tiếp nhận",
    "verified": "đã kiểm tra",
    "returned": "đã trả lại",
    "assigned": "đã phân công",
    "in_progress": "đang xử lý",
    "completed": "đã hoàn thành",
}
PRIORITY_VI = {0: "Thường", 1: "Khẩn", 2: "Thượng khẩn", 3: "Hỏa tốc"}
SECRECY_VI = {0: "", 1: "Mật", 2: "Tối mật", 3: "Tuyệt mật"}


@dataclass(frozen=True)
class Step:
    name: str
    direction: str
    from_states: tuple[str, ...]
    to_state: str
    roles: tuple[str, ...]
    label: str  # what the step does, for messages
    code: str | None = None  # QCVN 102 status code reported to the sender


_STEPS = (
    Step(
        "submit",
        OUTGOING,
        ("draft",),
        "submitted",
        ("officer", "leader", "clerk"),
        "submit a draft for signature",
    ),
    Step(
        "reject",
        OUTGOING,
        ("submitted", "approved"),
        "draft",
        ("leader",),
        "send a draft back for revision",
    ),
    Step("approve", OUTGOING, ("submitted",), "approved", ("leader",), "approve a draft"),
    Step("sign", OUTGOING, ("approved",), "signed", ("leader",), "sign as the competent person"),
    Step(
        "number",
        OUTGOING,
        ("signed",),
        "numbered",
        ("clerk",),
        "give the document its number and date",
    ),
    Step(
        "seal", OUTGOING, ("numbered",), "sealed", ("clerk",), "apply the agency's signature (seal)"
    ),
    Step(
        "register",
        OUTGOING,
        ("sealed",),
        "registered",
        ("clerk",),
        "enter the document in the outgoing register",
    ),
    Step("issue", OUTGOING, ("registered",), "issued", ("clerk",), "issue the document"),
    Step(
        "revoke",
        OUTGOING,
        ("registered", "issued"),
        "revoked",
        ("leader", "clerk"),
        "revoke the document",
    ),
    Step(
        "verify",
        INCOMING,
        ("received", "verified"),
        "verified",
        ("clerk",),
        "check the signatures of an incoming document",
    ),
    Step(
        "register",
        INCOMING,
        ("verified",),
        "registered",
        ("clerk",),
        "register an incoming document",
        "03",
    ),
    Step(
        "return",
        INCOMING,
        ("received", "verified"),
        "returned",
        ("clerk",),
        "return an incoming document to its sender",
        "02",
    ),
    Step(
        "assign",
        INCOMING,
        ("registered", "assigned", "in_progress"),
        "assigned",
        ("leader", "clerk"),
        "assign an incoming document for handling",
        "04",
    ),
    Step(
        "progress",
        INCOMING,
        ("assigned",),
        "in_progress",
        ("officer", "leader", "clerk"),
        "start handling an incoming document",
        "05",
    ),
    Step(
        "complete",
        INCOMING,
        ("assigned", "in_progress"),
        "completed",
        ("officer", "leader", "clerk"),
        "complete the handling of an incoming document",
        "06",
    ),
)
STEPS: dict[tuple[str, str], Step] = {(s.direction, s.name): s for s in _STEPS}


# -- metadata given by people --------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    name: str
    organ_id: str | None = None


@dataclass(frozen=True)
class DraftMeta:
    type_code: str
    subject: str
    recipients: tuple[Recipient, ...] = ()
    drafting_unit: str | None = None  # unit code; a Công văn needs it for its symbol
    priority: int = 0
    secrecy: int = 0
    due_date: date | None = None
    issued_amount: int | None = None
    description: str = ""
    response_for_id: int | None = None
    replaces_id: int | None = None  # an issued document this draft replaces


@dataclass(frozen=True)
class IncomingMeta:
    type_code: str
    subject: str
    organ_name: str
    code_number: str
    code_notation: str
    issued_date: date
    organ_id: str | None = None
    signer_name: str = ""
    signer_position: str = ""
    due_date: date | None = None
    priority: int = 0
    secrecy: int = 0
    to_places: str = ""
    description: str = ""


@dataclass
class StepResult:
    document: Document
    warnings: list[str] = field(default_factory=list)
    report: Report | None = None


# -- helpers ------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def vn_today(now: datetime | None = None) -> date:
    return (now or _now()).astimezone(VN_TZ).date()


def date_line(place: str, day: date) -> str:
    """``Hà Giang, ngày 05 tháng 01 năm 2026``: day below 10 and months 1–2 zero-padded."""
    prefix = f"{place}, " if place else ""
    return f"{prefix}ngày {day.day:02d} tháng {month_text(day)} năm {day.year}"


def month_text(day: date) -> str:
    """The month as the date line writes it: 01 and 02 zero-padded, then 3 to 12."""
    return f"{day.month:02d}" if day.month <= 2 else str(day.month)


def _check_text(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise EdmsError(f"the {name} is required")
    if len(value) > limit:
        raise EdmsError(f"the {name} is longer than {limit} characters")
    return value


def _check_levels(priority: int, secrecy: int) -> None:
    if priority not in PRIORITY_VI:
        raise EdmsError("priority is 0 (thường), 1 (khẩn), 2 (thượng khẩn) or 3 (hỏa tốc)")
    if secrecy not in SECRECY_VI:
        raise EdmsError("secrecy is 0 (none), 1 (mật), 2 (tối mật) or 3 (tuyệt mật)")


def _doc_type(s: Session, code: str) -> DocType:
    t = s.get(DocType, code)
    if t is None:
        raise EdmsError(f"unknown document type {code!r} (see `edms doctype list`)")
    return t


def _load(s: Session, user: User, doc_id: int) -> Document:
    doc = s.get(Document, doc_id)
    # Another agency's document (or a secret one this user may not see) does not exist
    # for this user.
    if doc is None or not may_see(s, user, doc):
        raise NotFound(f"no document {doc_id}")
    return doc


def _check_step(user: User, doc: Document, step_name: str) -> Step:
    step = STEPS.get((doc.direction, step_name))
    if step is None:
        raise InvalidTransition(f"an {doc.direction} document has no step {step_name!r}")
    require_role(user, *step.roles, action=step.label)
    if doc.frozen:
        raise InvalidTransition(
            f"document {doc.id} is frozen ({doc.frozen_reason}); nothing can be changed"
        )
    if doc.state not in step.from_states:
        want = " or ".join(STATE_NAMES_VI[s] for s in step.from_states)
        raise InvalidTransition(
            f"cannot {step.label}: document {doc.id} is {STATE_NAMES_VI[doc.state]} "
            f"({doc.state}); this step needs it {want}"
        )
    return step


def _reload(
    s: Session, actor: str, doc_id: int, step_name: str, version: int
) -> tuple[User, Document, Step]:
    """The commit phase of a signing step: the same checks again, and the document must
    not have changed while the file was being signed outside the transaction."""
    user = load_user(s, actor)
    doc = _load(s, user, doc_id)
    step = _check_step(user, doc, step_name)
    if doc.version != version:
        raise Conflict(f"document {doc_id} changed while it was being signed; try again")
    return user, doc, step


def _officer_scope(s: Session, user: User, doc: Document, lead_only: bool) -> None:
    """An officer acts only on documents assigned to their unit."""
    if user.role_set & {"leader", "clerk"}:
        return
    a = _current_assignment(s, doc.id)
    units = (
        set()
        if a is None
        else {a.lead_unit_id} | (set() if lead_only else set(json.loads(a.co_unit_ids)))
    )
    if user.unit_id is None or user.unit_id not in units:
        raise Forbidden(f"{user.username} is not in the unit assigned to handle document {doc.id}")


def _current_assignment(s: Session, doc_id: int) -> Assignment | None:
    return s.scalars(
        select(Assignment).where(Assignment.document_id == doc_id, Assignment.current.is_(True))
    ).first()


def _advance(
    s: Session,
    user: User,
    doc: Document,
    step: Step,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Apply the state change with its history entry and audit event (same transaction)."""
    before = doc.state
    doc.state = step.to_state
    doc.updated_at = _now()
    s.flush()  # a concurrent change of the document raises StaleDataError (see _run)
    s.add(
        StatusEvent(
            document_id=doc.id,
            at=doc.updated_at,
            actor_id=user.id,
            action=step.name,
            from_state=before,
            to_state=step.to_state,
            code=step.code,
            note=note,
        )
    )
    audit.record(
        s,
        user.username,
        f"document.{step.name}",
        "document",
        str(doc.id),
        {
            "from": before,
            "to": step.to_state,
            **({"note": note} if note else {}),
            **(details or {}),
        },
    )
    # The exchange's packets are written in the step's own transaction (the outbox).
    from .exchange import outbox

    if doc.direction == INCOMING and step.code:
        outbox.on_step(s, doc, step.code, note, user)
    elif doc.direction == OUTGOING and step.name == "issue":
        outbox.on_issue(s, doc, user)
    elif doc.direction == OUTGOING and step.name == "revoke":
        outbox.on_revoke(s, doc, note, user)
    # Whoever else listens (notices, dossiers waiting for this result): edms.events.
    from . import events

    events.emit(
        s,
        events.Event(
            f"document.{step.name}",
            doc.agency_id,
            f"document:{doc.id}",
            user.username,
            {"document_id": doc.id, "from": before, "to": step.to_state},
        ),
    )


def main_file(s: Session, doc_id: int) -> DocumentFile:
    f = s.scalars(
        select(DocumentFile)
        .where(DocumentFile.document_id == doc_id, DocumentFile.role == "main")
        .order_by(DocumentFile.id.desc())
    ).first()
    if f is None:
        raise NotFound(f"document {doc_id} has no file")
    return f


def _attachments(s: Session, doc_id: int, stage: str) -> list[DocumentFile]:
    return list(
        s.scalars(
            select(DocumentFile)
            .where(
                DocumentFile.document_id == doc_id,
                DocumentFile.role == "attachment",
                DocumentFile.stage == stage,
            )
            .order_by(DocumentFile.id)
        )
    )


@contextlib.contextmanager
def workdir(system: System) -> Iterator[Path]:
    """A private work folder (see :func:`edms.blobs.workdir`: named after this process,
    so a killed process's folders are found and removed)."""
    with blobs.workdir(system) as d:
        yield d


def _spool_pdf(system: System, stream: BinaryIO, filename: str | None, target: Path) -> Path:
    """Copy an upload to a work file: type-checked from its first bytes, size-limited."""
    _spool(system, stream, filename, target, ("application/pdf",))
    pdfsafety.check_pdf(target, system.settings, filename)
    return target


def _spool(
    system: System, stream: BinaryIO, filename: str | None, target: Path, allowed: tuple[str, ...]
) -> str:
    """Copy an upload to ``target``, size-limited; its type (from its first bytes) must be
    one of ``allowed``, and is returned."""
    limit = system.settings.max_upload_bytes
    head = stream.read(65536)
    detected = detect(head)
    ensure_allowed(detected, allowed, filename)
    size = len(head)
    with open(target, "wb") as out:
        out.write(head)
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(
                    f"the upload is larger than the limit of "
                    f"{limit // (1024 * 1024)} MiB; nothing was stored",
                    limit=limit,
                )
            out.write(chunk)
    return detected.mime


def _pdf_facts(path: Path, *, need_fields: bool) -> int:
    """Open a PDF as pyHanko will; return its page count. Drafts must carry the number
    and date fields the System fills after the leader signs."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with open(path, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            if reader.encrypted:
                raise EdmsError("the PDF is encrypted; upload it without a password")
            pages = int(reader.root["/Pages"]["/Count"])
            if need_fields:
                names = set()
                form = reader.root.get("/AcroForm")
                if form is not None:
                    for ref in form.get_object().get("/Fields", []):
                        names.add(str(ref.get_object().get("/T", "")))
                missing = [n for n in (NUMBER_FIELD, DATE_FIELD) if n not in names]
                if missing:
                    raise EdmsError(
                        f"the draft has no text field {' or '.join(missing)}: the number "
                        "and date are filled into those fields after the leader signs "
                        "(use `edms doc new --template` or add the fields)"
                    )
            return pages
    except EdmsError:
        raise
    except Exception as exc:
        raise EdmsError(f"not a readable PDF: {type(exc).__name__}: {exc}") from None


def _record_file(
    system: System,
    s: Session,
    puts: list[blobs.PutOutcome],
    doc: Document,
    path: Path,
    name: str,
    role: str,
    stage: str,
    user: User | None,
    attachment_of: int | None = None,
    allowed: tuple[str, ...] = ("application/pdf",),
) -> DocumentFile:
    name = blobs.clean_filename(name, f"{doc.id}.pdf")
    put = blobs.add_file(system, s, path, name=name, allowed=allowed)
    puts.append(put)
    f = DocumentFile(
        document_id=doc.id,
        role=role,
        stage=stage,
        sha256=put.sha256,
        name=name,
        attachment_of=attachment_of,
        created_by=user.id if user else None,
        created_at=_now(),
    )
    s.add(f)
    s.flush()
    return f


def signature_record(
    doc: Document,
    f: DocumentFile,
    profile: Profile,
    result: Any,
    user: User,
    key: SigningKey,
    report: Report,
) -> SignatureRecord:
    """The record of a signature the System applied, with our validator's report."""
    return SignatureRecord(
        document_id=doc.id,
        file_id=f.id,
        profile=profile.value,
        field_name=result.field_name,
        user_id=user.id,
        signing_key_id=key.id,
        signed_at=result.signing_time,
        level=result.level.value,
        valid=report.valid,
        report=json.dumps(report.to_json(), ensure_ascii=False),
    )


def _export(system: System, f: DocumentFile, target: Path) -> Path:
    blobs.export_to_file(system, f.sha256, target)
    return target


def validate_own(system: System, path: Path) -> Report:
    """Our own output is validated in-process against the configured trust roots."""
    return validate_file(
        path, trust_set(system.settings), allow_fetching=system.settings.revocation_fetching
    )


def _problems(report: Report) -> str:
    msgs = [m for sig in report.signatures for m in sig.messages] + report.errors
    return "; ".join(msgs[:4]) or "no detail"


def _index(s: Session, doc: Document, content: str | None = None) -> None:
    search.reindex(s, doc, _doc_type(s, doc.type_code).name, content)


def run_in_transaction(system: System, work: Any) -> Any:
    """Run ``work(session, puts)`` in one transaction; undo object puts if it fails."""
    puts: list[blobs.PutOutcome] = []
    try:
        with transaction(system.sessions) as s:
            return work(s, puts)
    except StaleDataError:
        # Any flush of the document (autoflush included) found another version.
        blobs.undo_put(system, puts)
        raise Conflict(
            "the document was changed by someone else meanwhile; reload it and try again"
        ) from None
    except BaseException:
        blobs.undo_put(system, puts)
        raise


# -- outgoing -----------------------------------------------------------------------------------


def create_draft(
    system: System, actor: str, stream: BinaryIO, filename: str, meta: DraftMeta
) -> Document:
    """A new outgoing document from an uploaded draft: a PDF (its own number and date
    fields are used as they are; without them, their places and the signing space are
    found from its text), or a Word (.docx) or OpenDocument (.odt) file, converted to PDF
    and kept beside it (:mod:`edms.drafting`)."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            require_role(user, "officer", "leader", "clerk", action="create a draft")
            expected = _expected_symbol(s, user, meta)
        draft = _upload_draft(system, stream, filename, wd, expected)
        pages = _pdf_facts(draft.pdf, need_fields=True)
        content = search.extract_pdf_text(draft.pdf)
        source = (wd / "upload", draft.source_mime) if draft.source_mime else None
        return _new_outgoing(
            system, actor, draft.pdf, filename, meta, pages, content, source=source
        )


def _upload_draft(
    system: System, stream: BinaryIO, filename: str | None, wd: Path, expected_symbol: str | None
) -> drafts.DraftFile:
    mime = _spool(
        system,
        stream,
        filename,
        wd / "upload",
        (*DRAFT_TYPES, "application/zip", "application/octet-stream"),
    )
    return drafts.ready(system.settings, wd / "upload", mime, filename, wd, expected_symbol)


def _expected_symbol(s: Session, user: User, meta: DraftMeta) -> str | None:
    """The symbol numbering will give this draft (checked against the one it prints)."""
    agency = s.get(Agency, user.agency_id)
    try:
        t = _doc_type(s, meta.type_code)
        unit = unit_by_code(s, user.agency_id, meta.drafting_unit) if meta.drafting_unit else None
        return symbol(
            t.code, agency.abbreviation if agency else "", unit.abbreviation if unit else None
        )
    except EdmsError:
        return None  # the draft's metadata is refused with its own reason later


def create_from_template(
    system: System,
    actor: str,
    meta: DraftMeta,
    body: list[str],
    *,
    parts: Mapping[str, Any] | None = None,
) -> Document:
    """A new outgoing document whose draft is generated in the Decree 30 layout
    (:mod:`edms.templates`); ``parts`` gives the structured parts (``parent``,
    ``authority_line``, ``bases``, ``articles``, ``addressees``)."""
    from .authority import agency_facts

    with workdir(system) as wd, system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "officer", "leader", "clerk", action="create a draft")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        t = _doc_type(s, meta.type_code)
        unit = unit_by_code(s, agency.id, meta.drafting_unit) if meta.drafting_unit else None
        path = render_draft(
            wd / "draft.pdf",
            content_for(
                issuer=agency.name,
                type_name=t.name.split(" (")[0],
                is_cong_van=t.abbreviation is None,
                subject=meta.subject,
                body=body,
                recipients=[r.name for r in meta.recipients],
                head_title=agency_facts(agency.name).head_title,
                archive_unit=unit.abbreviation if unit else "",
                copies=meta.issued_amount,
                priority=meta.priority,
                secrecy=meta.secrecy,
                parts=dict(parts or {}),
            ),
        )
        s.close()
        pages = _pdf_facts(path, need_fields=True)
        return _new_outgoing(
            system, actor, path, f"du-thao-{t.code}.pdf", meta, pages, search.extract_pdf_text(path)
        )


def _new_outgoing(
    system: System,
    actor: str,
    path: Path,
    filename: str,
    meta: DraftMeta,
    pages: int,
    content: str,
    source: tuple[Path, str] | None = None,
) -> Document:
    subject = _check_text(meta.subject, "subject (trích yếu)", 500)
    _check_levels(meta.priority, meta.secrecy)

    def work(s: Session, puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        t = _doc_type(s, meta.type_code)
        unit_id = None
        if meta.drafting_unit:
            unit_id = unit_by_code(s, user.agency_id, meta.drafting_unit).id
        elif t.abbreviation is None:
            raise EdmsError(
                f"a {t.name} needs its drafting unit (its symbol is issuer-UNIT, e.g. UBND-VX)"
            )
        if meta.response_for_id is not None:
            _load(s, user, meta.response_for_id)
        if meta.replaces_id is not None:
            old = _load(s, user, meta.replaces_id)
            if old.direction != OUTGOING or old.state not in ("registered", "issued") or old.frozen:
                raise InvalidTransition(
                    f"document {old.id} is not an issued document that can be replaced"
                )
        now = _now()
        doc = Document(
            agency_id=user.agency_id,
            direction=OUTGOING,
            state="draft",
            type_code=t.code,
            subject=subject,
            description=meta.description.strip(),
            priority=meta.priority,
            secrecy=meta.secrecy,
            due_date=meta.due_date,
            issued_amount=meta.issued_amount,
            page_amount=pages,
            recipients=json.dumps(
                [{"name": r.name, "organ_id": r.organ_id} for r in meta.recipients],
                ensure_ascii=False,
            ),
            drafting_unit_id=unit_id,
            response_for_id=meta.response_for_id,
            replaces_id=meta.replaces_id,
            organ_name=s.get(Agency, user.agency_id).name,  # type: ignore[union-attr]
            created_by=user.id,
            created_at=now,
            updated_at=now,
        )
        s.add(doc)
        s.flush()
        main_name = filename
        if source is not None:  # the officer's Word/OpenDocument file, kept with the draft
            _record_file(
                system,
                s,
                puts,
                doc,
                source[0],
                filename,
                "source",
                "draft",
                user,
                allowed=(source[1], "application/zip"),
            )
            main_name = f"{Path(filename).stem}.pdf"
        f = _record_file(system, s, puts, doc, path, main_name, "main", "draft", user)
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=now,
                actor_id=user.id,
                action="create",
                from_state=None,
                to_state="draft",
            )
        )
        audit.record(
            s,
            user.username,
            "document.create",
            "document",
            str(doc.id),
            {
                "direction": OUTGOING,
                "type": t.code,
                "sha256": f.sha256,
                **({"replaces": meta.replaces_id} if meta.replaces_id else {}),
            },
        )
        _index(s, doc, content)
        return doc

    doc: Document = run_in_transaction(system, work)
    return doc


def add_attachment(
    system: System, actor: str, doc_id: int, stream: BinaryIO, filename: str
) -> DocumentFile:
    """An attachment in a separate file (phụ lục); it gets the agency's attachment
    signature, with the main document's number, when the document is sealed."""
    with workdir(system) as wd:
        path = _spool_pdf(system, stream, filename, wd / "attachment.pdf")
        _pdf_facts(path, need_fields=False)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> DocumentFile:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            require_role(user, "officer", "leader", "clerk", action="attach a file")
            if doc.direction != OUTGOING or doc.state != "draft" or doc.frozen:
                raise InvalidTransition("attachments are added to an outgoing draft only")
            f = _record_file(system, s, puts, doc, path, filename, "attachment", "draft", user)
            audit.record(
                s,
                user.username,
                "document.attach",
                "document",
                str(doc.id),
                {"file": f.id, "sha256": f.sha256, "name": f.name},
            )
            return f

        result: DocumentFile = run_in_transaction(system, work)
        return result


def revise_draft(
    system: System, actor: str, doc_id: int, stream: BinaryIO, filename: str
) -> Document:
    """Replace the draft file of a document still in draft (a new version; the old one
    stays in the history). The new file is any draft :func:`create_draft` takes."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            old = _load(s, user, doc_id)
            unit = s.get(OrgUnit, old.drafting_unit_id) if old.drafting_unit_id else None
            expected = _expected_symbol(
                s,
                user,
                DraftMeta(old.type_code, old.subject, drafting_unit=unit.code if unit else None),
            )
        draft = _upload_draft(system, stream, filename, wd, expected)
        path, source_name = draft.pdf, filename
        if draft.source_mime:
            filename = f"{Path(filename).stem}.pdf"
        pages = _pdf_facts(path, need_fields=True)
        content = search.extract_pdf_text(path)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> Document:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            require_role(user, "officer", "leader", "clerk", action="revise a draft")
            if doc.direction != OUTGOING or doc.state != "draft" or doc.frozen:
                raise InvalidTransition(f"document {doc_id} is not a draft any more")
            if draft.source_mime:  # the Word/OpenDocument file it was made from
                _record_file(
                    system,
                    s,
                    puts,
                    doc,
                    wd / "upload",
                    source_name,
                    "source",
                    "draft",
                    user,
                    allowed=(draft.source_mime, "application/zip"),
                )
            f = _record_file(system, s, puts, doc, path, filename, "main", "draft", user)
            doc.page_amount = pages
            doc.updated_at = _now()
            audit.record(
                s, user.username, "document.revise", "document", str(doc.id), {"sha256": f.sha256}
            )
            _index(s, doc, content)
            return doc

        result: Document = run_in_transaction(system, work)
        return result


def _simple_step(
    system: System,
    actor: str,
    doc_id: int,
    step_name: str,
    note: str = "",
    need_note: bool = False,
    unit_scope: str | None = None,
    **changes: Any,
) -> Document:
    """A state change without files. ``unit_scope`` ("assigned" or "lead") limits
    officers to documents assigned to their unit."""
    if need_note and not note.strip():
        raise EdmsError("a reason is required for this step")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        step = _check_step(user, doc, step_name)
        if unit_scope is not None:
            _officer_scope(s, user, doc, lead_only=unit_scope == "lead")
        for k, v in changes.items():
            setattr(doc, k, v)
        _advance(s, user, doc, step, note.strip())
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def submit(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    return _simple_step(system, actor, doc_id, "submit", note)


def approve(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    return _simple_step(system, actor, doc_id, "approve", note)


def reject(system: System, actor: str, doc_id: int, reason: str) -> Document:
    return _simple_step(system, actor, doc_id, "reject", reason, need_note=True)


def _level(system: System, value: str | None, default: str) -> Level:
    try:
        return Level(value or default)
    except ValueError:
        raise EdmsError(f"unknown signature level {value!r} (B-B, B-T, B-LT, B-LTA)") from None


def _existing_empty_signature_field(path: Path) -> str | None:
    """The draft's empty signature field for the leader: ours (``ChuKyLanhDao``), else
    one the draft brought itself."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields

    with open(path, "rb") as f:
        reader = PdfFileReader(f, strict=False)
        empty = [
            name
            for name, value, _ref in fields.enumerate_sig_fields(reader)
            if value is None and not name.startswith("EDMS_")
        ]
    return SIGNATURE_FIELD if SIGNATURE_FIELD in empty else (empty[0] if empty else None)


@dataclass(frozen=True)
class PersonalLayout:
    """How the leader's signature goes on this draft: its field, the authority, and what
    the page prints itself around the field (then not drawn again)."""

    field_name: str | None
    authority: Authority
    titles_on_page: bool
    name_on_page: bool

    def options(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"title": ""} if self.authority.choice == "Q" else {}
        return {
            "authority": self.authority.text,
            "field_name": self.field_name,
            "titles_on_page": self.titles_on_page,
            "name_on_page": self.name_on_page,
            **extra,
        }


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def personal_layout(
    system: System, src: Path, user: User, agency_name: str, key_authority: str, chosen: str | None
) -> PersonalLayout:
    """The authority chosen (or bound with the key, or printed on the draft), checked
    against the leader's position and against what the draft's signature block prints."""
    name = _existing_empty_signature_field(src)
    printed = places.SignatureContext()
    if name is not None:
        found = places.existing_fields(src).get(name)
        if found is not None:
            printed = places.signature_context(
                src, found[2], found[1], memory_mb=system.settings.render_memory_mb
            )
    if printed.titles and not (chosen and chosen.strip()):
        # the draft prints its authority: that is the default
        prefixed = [t for t in printed.titles if t.split(" ", 1)[0] in places.AUTHORITY_PREFIXES]
        key_authority = "\n".join(prefixed) if prefixed else "CV"
    authority = resolve_authority(chosen, key_authority, title=user.title, agency_name=agency_name)
    if printed.titles and printed.authority_prefix != authority.prefix:
        raise EdmsError(
            f'khối chữ ký của dự thảo in "{" / ".join(printed.titles)}" nhưng thẩm quyền '
            f'ký đã chọn là "{authority.text.replace(chr(10), " / ") or "ký theo chức vụ"}"; '
            "hãy chọn đúng thẩm quyền hoặc trả lại dự thảo để sửa"
        )
    if printed.name is not None and _fold(printed.name) != _fold(user.full_name):
        raise EdmsError(
            f'khối chữ ký của dự thảo in tên "{printed.name}", không phải '
            f'"{user.full_name}": người ký phải là người có tên trên văn bản'
        )
    return PersonalLayout(name, authority, bool(printed.titles), printed.name is not None)


def _consent(
    system: System, actor: str, doc_id: int, confirm: PinConfirmation | SigningConsent | None
) -> SigningConsent:
    """The leader's confirmation for this signature (see :mod:`edms.auth`)."""
    if isinstance(confirm, SigningConsent):
        confirm.check(actor, doc_id)
        return confirm
    if isinstance(confirm, PinConfirmation):
        return confirm_signing(system, actor, confirm.pin, [doc_id], confirm.identity)
    raise Forbidden(
        "signing with your key needs your signing PIN (mã PIN ký số)", pin_required=True
    )


def sign(
    system: System,
    actor: str,
    doc_id: int,
    *,
    authority: str | None = None,
    level: str | None = None,
    confirm: PinConfirmation | SigningConsent | None = None,
) -> StepResult:
    """The competent person's personal signature, with the leader's own bound key. It
    needs the leader's confirmation (``confirm``: their signing PIN through their own
    credential), checked after the document, the role and the state; the audit event
    names the credential."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            _check_step(user, doc, "sign")
            key = active_key(s, user_id=user.id)
            if key.kind == "remote":
                raise InvalidTransition(
                    "your key is on your own token: sign through the "
                    "remote flow (prepare, then finalize)"
                )
        consent = _consent(system, actor, doc_id, confirm)
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            src = _export(system, main_file(s, doc.id), wd / "in.pdf")
            version = doc.version
            agency_name = doc.organ_name
        profile = open_key(system, key)
        lvl = _level(system, level, system.settings.sign_level_personal)
        layout = personal_layout(system, src, user, agency_name, profile.authority, authority)
        opts = dataclasses.replace(
            options_for(profile, Profile.PERSONAL, level=lvl), **layout.options()
        )
        out = wd / "signed.pdf"
        try:
            result = engine_for(system.settings, profile).sign(src, out, opts)
        except TrustServiceError as exc:
            raise ServiceUnavailable(f"signing failed, nothing was stored: {exc}") from None
        except SigningError as exc:
            raise EdmsError(f"signing failed, nothing was stored: {exc}") from None
        return _commit_personal(
            system,
            actor,
            doc_id,
            version,
            out,
            result,
            key,
            {"credential": consent.credential, "confirmed": "pin"},
            competence=layout.authority.competence,
        )


def _commit_personal(
    system: System,
    actor: str,
    doc_id: int,
    version: int,
    out: Path,
    result: Any,
    key: SigningKey,
    how: dict[str, str] | None = None,
    competence: str | None = None,
) -> StepResult:
    """Validate a personally signed file and record it (server-held and remote keys)."""
    report = validate_own(system, out)
    if not report.valid:
        raise EdmsError(
            "the signature made does not validate, nothing was stored: " + _problems(report)
        )
    sig_report = next(r for r in report.signatures if r.field == result.field_name)

    def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
        user, doc, step = _reload(s, actor, doc_id, "sign", version)
        f = _record_file(system, s, puts, doc, out, f"{doc.id}-signed.pdf", "main", "signed", user)
        s.add(signature_record(doc, f, Profile.PERSONAL, result, user, key, report))
        doc.signer_name = sig_report.signer.common_name[:50]
        title = sig_report.signer.title or user.title
        doc.signer_position = title[:100]
        if competence is not None:
            doc.signer_competence = competence[:100]
        _advance(
            s,
            user,
            doc,
            step,
            details={
                **({"competence": competence} if competence is not None else {}),
                "field": result.field_name,
                "level": result.level.value,
                "sha256": f.sha256,
                "certificate_sha256": key.cert_sha256,
                "key": key.kind,
                **(how or {}),
            },
        )
        _index(s, doc)
        return StepResult(doc, report=report)

    step_result: StepResult = run_in_transaction(system, work)
    return step_result


@dataclass(frozen=True)
class RemoteSession:
    session_id: str
    signed_attributes: bytes
    digest: bytes
    digest_algorithm: str
    signature_algorithm: str
    expires_at: datetime


def _remote(system: System) -> Any:
    from signing.remote import RemoteSigning

    from .signatures import trust_services

    return RemoteSigning(
        system.settings.data_dir / "remote-signing", trust_services(system.settings)
    )


def remote_prepare(
    system: System,
    actor: str,
    doc_id: int,
    chain_pem: list[bytes],
    *,
    authority: str | None = None,
    level: str | None = None,
) -> RemoteSession:
    """Step 1 of signing with a key the server never sees (the leader's USB token): lay
    out the signature and return the digest the token must sign. The certificate must be
    the one bound to this leader."""
    from signing.trust import CertificateError, parse_certificates

    try:
        chain = parse_certificates(chain_pem)
    except CertificateError as exc:
        raise EdmsError(str(exc)) from None
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            _check_step(user, doc, "sign")
            key = active_key(s, user_id=user.id)
            if key.cert_sha256 != chain[0].sha256.hex():
                raise Forbidden(
                    "this certificate is not the one bound to you; a leader "
                    "signs only with their own certificate"
                )
            src = _export(system, main_file(s, doc.id), wd / "in.pdf")
            version = doc.version
            agency_name = doc.organ_name
        image = key_image(system, key)
        lvl = _level(system, level, system.settings.sign_level_personal)
        from signing.engine import SignOptions

        layout = personal_layout(system, src, user, agency_name, key.authority, authority)
        opts = SignOptions(Profile.PERSONAL, lvl, signature_image=image, **layout.options())
        try:
            prepared = _remote(system).prepare(src, chain, opts)
        except SigningError as exc:
            raise EdmsError(f"cannot prepare the signature: {exc}") from None
    side = system.settings.data_dir / "remote-signing" / prepared.session_id / "edms.json"
    side.write_text(
        json.dumps(
            {
                "document_id": doc_id,
                "user": actor.strip().lower(),
                "version": version,
                "key_id": key.id,
                "competence": layout.authority.competence,
            }
        )
    )
    with transaction(system.sessions) as s:
        audit.record(
            s,
            actor,
            "document.sign_prepare",
            "document",
            str(doc_id),
            {"session": prepared.session_id[:8]},
        )
    return RemoteSession(
        prepared.session_id,
        prepared.signed_attributes,
        prepared.digest,
        prepared.digest_algorithm,
        prepared.signature_algorithm,
        prepared.expires_at,
    )


def remote_finalize(
    system: System, actor: str, doc_id: int, session_id: str, signature_value: bytes
) -> StepResult:
    """Step 2: embed the token's signature value; refused if it does not verify against
    the prepared certificate, if the session expired, or if it was prepared for another
    document or user."""
    rs = _remote(system)
    try:
        side = rs._dir(session_id) / "edms.json"
    except SigningError:
        raise NotFound("no such signing session") from None
    if not side.is_file():
        raise NotFound("no such signing session (expired, or already finalized)")
    state = json.loads(side.read_text())
    if state["document_id"] != doc_id or state["user"] != actor.strip().lower():
        raise NotFound("no such signing session for this document")
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        _check_step(user, doc, "sign")
        key = s.get(SigningKey, state["key_id"])
        assert key is not None
    with workdir(system) as wd:
        out = wd / "signed.pdf"
        try:
            result = rs.finalize(session_id, signature_value, out)
        except TrustServiceError as exc:
            raise ServiceUnavailable(f"finalizing failed, nothing was stored: {exc}") from None
        except SigningError as exc:
            raise EdmsError(f"the signature was not accepted, nothing was stored: {exc}") from None
        return _commit_personal(
            system,
            actor,
            doc_id,
            state["version"],
            out,
            result,
            key,
            competence=state.get("competence"),
        )


def number(system: System, actor: str, doc_id: int) -> StepResult:
    """The next number of the register and today's date, filled into the draft's fields
    in an incremental update that leaves the leader's signature intact."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            _check_step(user, doc, "number")
            src = _export(system, main_file(s, doc.id), wd / "in.pdf")

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            step = _check_step(user, doc, "number")
            agency = s.get(Agency, doc.agency_id)
            assert agency is not None
            t = _doc_type(s, doc.type_code)
            unit = s.get(OrgUnit, doc.drafting_unit_id) if doc.drafting_unit_id else None
            sym = symbol(t.code, agency.abbreviation, unit.abbreviation if unit else None)
            now = _now()
            kind = "secret" if doc.secrecy else "outgoing"
            register = register_for(s, agency.id, kind, now)
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
                raise EdmsError(
                    "after filling the number the leader's signature no longer "
                    "validates, nothing was changed: " + _problems(report)
                )
            f = _record_file(
                system, s, puts, doc, out, f"{doc.id}-numbered.pdf", "main", "numbered", user
            )
            doc.register_id, doc.number = register.id, n
            doc.code_number, doc.code_notation = f"{n:02d}", sym
            doc.issued_date = vn_today(now)
            _advance(
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
            _index(s, doc)
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
            doc = _load(s, user, doc_id)
            _check_step(user, doc, "seal")
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
            src = _export(system, main_file(s, doc.id), wd / "in.pdf")
            attachments = [
                (a, _export(system, a, wd / f"att-{a.id}.pdf"))
                for a in _attachments(s, doc.id, "draft")
            ]
            main_number = number_and_symbol(doc.number or 0, doc.code_notation or "")
            version = doc.version
        profile = open_key(system, key)
        engine = engine_for(system.settings, profile)
        lvl = _level(system, level, system.settings.sign_level_seal)
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
            raise EdmsError(f"sealing failed, nothing was stored: {exc}") from None
        report = validate_own(system, out)
        if not report.valid or len(report.signatures) < 2:
            raise EdmsError(
                "the sealed document does not validate, nothing was stored: " + _problems(report)
            )
        att_reports = [validate_own(system, p) for _a, p, _r in signed_atts]
        for (a, _p, _r), rep in zip(signed_atts, att_reports, strict=True):
            if not rep.valid:
                raise EdmsError(
                    f"the signed attachment {a.name} does not validate: " + _problems(rep)
                )

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user, doc, step = _reload(s, actor, doc_id, "seal", version)
            f = _record_file(
                system, s, puts, doc, out, f"{doc.id}-sealed.pdf", "main", "sealed", user
            )
            s.add(signature_record(doc, f, Profile.ORGANIZATION, result, user, key, report))
            for (a, a_out, r), rep in zip(signed_atts, att_reports, strict=True):
                af = _record_file(
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
            _advance(
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


def register(system: System, actor: str, doc_id: int, note: str = "", holder: str = "") -> Document:
    """Enter an outgoing document in its register, or give an incoming one its arrival
    number, whichever the document is."""
    with system.sessions() as s:
        doc = _load(s, load_user(s, actor), doc_id)
        incoming = doc.direction == INCOMING
    if incoming:
        return register_incoming(system, actor, doc_id, note)
    return register_outgoing(system, actor, doc_id, holder=holder, note=note)


def register_outgoing(
    system: System, actor: str, doc_id: int, *, holder: str = "", note: str = ""
) -> Document:
    return _simple_step(system, actor, doc_id, "register", note, holder=holder.strip()[:200])


def issue(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Dispatch the document; its stored files are then kept for the type's retention
    period. A document that replaces another one supersedes it now."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        step = _check_step(user, doc, "issue")
        if not json.loads(doc.recipients):
            raise EdmsError(f"document {doc_id} has no recipients (nơi nhận) to issue it to")
        doc.sent_at = _now()
        _advance(s, user, doc, step, note.strip())
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
                        at=_now(),
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
        is_copy = _load(s, load_user(s, actor), doc_id).direction == "copy"
    if is_copy:
        from .digitization.revocation import revoke_copy

        return revoke_copy(system, actor, doc_id, reason)
    return _simple_step(
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


def discard_draft(system: System, actor: str, doc_id: int) -> None:
    """Delete a draft that was never submitted (its creator or an admin)."""
    keys: list[str] = []

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> None:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        if doc.created_by != user.id and "admin" not in user.role_set:
            raise Forbidden("only the draft's author or an admin may discard it")
        if doc.state != "draft" or doc.legal_hold:
            raise InvalidTransition(f"document {doc_id} is not a draft that can be discarded")
        if s.scalars(
            select(StatusEvent).where(
                StatusEvent.document_id == doc.id, StatusEvent.action == "submit"
            )
        ).first():
            raise InvalidTransition("a draft that was once submitted is kept in the record")
        files = list(s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc.id)))
        for ev in s.scalars(select(StatusEvent).where(StatusEvent.document_id == doc.id)):
            s.delete(ev)
        for f in files:
            s.delete(f)
        search.index_for(s).remove(s, doc.id)
        s.flush()
        for sha in {f.sha256 for f in files}:
            if s.scalars(select(DocumentFile).where(DocumentFile.sha256 == sha)).first():
                continue
            blob = s.get(Blob, sha)
            if blob is not None and blob.retain_until is None and not blob.legal_hold:
                keys.append(blob.storage_key)
                s.delete(blob)
        s.delete(doc)
        audit.record(
            s,
            user.username,
            "document.discard",
            "document",
            str(doc_id),
            {"files": [f.sha256 for f in files]},
        )

    run_in_transaction(system, work)
    for key in keys:
        with contextlib.suppress(Exception):
            system.store.delete(key)


# -- incoming -----------------------------------------------------------------------------------


def receive(
    system: System, actor: str, stream: BinaryIO, filename: str, meta: IncomingMeta
) -> StepResult:
    """Take in a document from another agency (state ``received``). Warns, without
    refusing, when the same (number, symbol, issuing agency) was received before."""
    subject = _check_text(meta.subject, "subject (trích yếu)", 500)
    organ = _check_text(meta.organ_name, "sending agency's name", 200)
    _check_levels(meta.priority, meta.secrecy)
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            require_role(user, "clerk", action="receive incoming documents")
        path = _spool_pdf(system, stream, filename, wd / "received.pdf")
        pages = _pdf_facts(path, need_fields=False)
        content = search.extract_pdf_text(path)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            t = _doc_type(s, meta.type_code)
            warnings = _duplicates(s, user.agency_id, meta)
            now = _now()
            doc = Document(
                agency_id=user.agency_id,
                direction=INCOMING,
                state="received",
                type_code=t.code,
                subject=subject,
                organ_name=organ,
                organ_id=meta.organ_id,
                code_number=meta.code_number.strip()[:11],
                code_notation=meta.code_notation.strip()[:30],
                issued_date=meta.issued_date,
                signer_name=meta.signer_name[:50],
                signer_position=meta.signer_position[:100],
                due_date=meta.due_date,
                priority=meta.priority,
                secrecy=meta.secrecy,
                to_places=meta.to_places[:1000],
                description=meta.description[:500],
                page_amount=pages,
                arrival_at=now,
                created_by=user.id,
                created_at=now,
                updated_at=now,
            )
            s.add(doc)
            s.flush()
            f = _record_file(system, s, puts, doc, path, filename, "main", "received", user)
            s.add(
                StatusEvent(
                    document_id=doc.id,
                    at=now,
                    actor_id=user.id,
                    action="receive",
                    from_state=None,
                    to_state="received",
                    code="01",
                )
            )
            audit.record(
                s,
                user.username,
                "document.receive",
                "document",
                str(doc.id),
                {
                    "sha256": f.sha256,
                    "from": organ,
                    "number": f"{meta.code_number}/{meta.code_notation}",
                    **({"warnings": warnings} if warnings else {}),
                },
            )
            _index(s, doc, content)
            return StepResult(doc, warnings)

        result: StepResult = run_in_transaction(system, work)
        return result


def _duplicates(s: Session, agency_id: int, meta: IncomingMeta) -> list[str]:
    query = select(Document).where(
        Document.agency_id == agency_id,
        Document.direction == INCOMING,
        Document.code_number == meta.code_number.strip(),
        Document.code_notation == meta.code_notation.strip(),
    )
    query = (
        query.where(Document.organ_id == meta.organ_id)
        if meta.organ_id
        else query.where(Document.organ_name == meta.organ_name.strip())
    )
    return [
        f"văn bản số {d.code_number}/{d.code_notation} của {d.organ_name} đã được tiếp "
        f"nhận trước đó (document {d.id}, {STATE_NAMES_VI[d.state]})"
        for d in s.scalars(query)
    ]


def verify(system: System, actor: str, doc_id: int) -> StepResult:
    """Check authenticity and integrity; the full report is stored. A failure does not
    block anything else: the clerk then returns the document to its sender."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            _check_step(user, doc, "verify")
            main = main_file(s, doc.id)
            path = _export(system, main, wd / "received.pdf")
            file_id = main.id
        report = validate_sandboxed(system.settings, path)

        def work(s: Session, _puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            step = _check_step(user, doc, "verify")
            s.add(
                ValidationRecord(
                    document_id=doc.id,
                    file_id=file_id,
                    checked_at=_now(),
                    checked_by=user.id,
                    valid=report.valid,
                    report=json.dumps(report.to_json(), ensure_ascii=False),
                )
            )
            _advance(
                s,
                user,
                doc,
                step,
                details={
                    "valid": report.valid,
                    "signatures": len(report.signatures),
                    "changed_after_signing": report.changed_after_signing,
                },
            )
            return StepResult(doc, report=report)

        result: StepResult = run_in_transaction(system, work)
        return result


def verify_current(system: System, actor: str, doc_id: int) -> Report:
    """Validate the document's current PDF now (sandboxed); the check is audited."""
    with workdir(system) as wd:
        with transaction(system.sessions) as s:
            user = load_user(s, actor)
            doc = _load(s, user, doc_id)
            f = main_file(s, doc.id)
            audit.record(
                s, user.username, "document.check", "document", str(doc.id), {"file": f.id}
            )
        path = _export(system, f, wd / "current.pdf")
        return validate_sandboxed(system.settings, path)


def latest_validation(s: Session, doc_id: int) -> ValidationRecord | None:
    return s.scalars(
        select(ValidationRecord)
        .where(ValidationRecord.document_id == doc_id)
        .order_by(ValidationRecord.id.desc())
    ).first()


def register_incoming(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """The next arrival number (số đến) of the year; only for a document whose
    signatures were verified as valid."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        step = _check_step(user, doc, "register")
        check = latest_validation(s, doc.id)
        if check is None or not check.valid:
            raise InvalidTransition(
                f"the signature check of document {doc_id} failed: "
                "return it to the sender with the reason instead"
            )
        now = _now()
        register = register_for(s, doc.agency_id, INCOMING, doc.arrival_at or now)
        doc.arrival_register_id = register.id
        doc.arrival_number = take_number(s, register.id)
        _advance(
            s,
            user,
            doc,
            step,
            note.strip(),
            details={"arrival_number": doc.arrival_number, "register": register.id},
        )
        _index(s, doc)
        return doc

    doc: Document = run_in_transaction(system, work)
    apply_document_retention(system, doc.id)
    return doc


def return_to_sender(system: System, actor: str, doc_id: int, reason: str) -> Document:
    return _simple_step(system, actor, doc_id, "return", reason, need_note=True)


def assign(
    system: System,
    actor: str,
    doc_id: int,
    lead_unit: str,
    co_units: tuple[str, ...] = (),
    instruction: str = "",
    deadline: date | None = None,
) -> Document:
    """The handling unit (lead and co-operating), the leader's instruction, a deadline."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        step = _check_step(user, doc, "assign")
        lead = unit_by_code(s, doc.agency_id, lead_unit)
        co = [unit_by_code(s, doc.agency_id, c) for c in co_units]
        if lead.id in {c.id for c in co}:
            raise EdmsError("the lead unit cannot also be a co-operating unit")
        if deadline is not None and deadline < vn_today():
            raise EdmsError("the deadline is in the past")
        for old in s.scalars(
            select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
        ):
            old.current = False
        s.add(
            Assignment(
                document_id=doc.id,
                lead_unit_id=lead.id,
                co_unit_ids=json.dumps([c.id for c in co]),
                instruction=instruction.strip(),
                deadline=deadline,
                assigned_by=user.id,
                assigned_at=_now(),
                current=True,
            )
        )
        if deadline is not None:
            doc.due_date = deadline
        doc.passed_on_at = doc.passed_on_at or _now()
        _advance(
            s,
            user,
            doc,
            step,
            instruction.strip(),
            details={
                "lead": lead.code,
                "co": [c.code for c in co],
                "deadline": deadline.isoformat() if deadline else None,
            },
        )
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def start_progress(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Start handling (officers of the lead or a co-operating unit, leaders, clerks)."""
    return _simple_step(system, actor, doc_id, "progress", note, unit_scope="assigned")


def complete(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Complete the handling (officers of the lead unit, leaders, clerks)."""
    return _simple_step(
        system, actor, doc_id, "complete", note, unit_scope="lead", completed_at=_now()
    )


# -- one entry for every step --------------------------------------------------------------------


def perform(
    system: System, actor: str, doc_id: int, name: str, data: Mapping[str, Any]
) -> Document | StepResult:
    """Run lifecycle step ``name`` with its inputs (``note``, ``reason``, ``holder``,
    ``authority``, ``level``, ``lead_unit``, ``co_units``, ``instruction``, ``deadline``,
    ``on``, and for ``sign`` the leader's ``confirm``), as the API and the web interface
    both do."""
    note, reason = str(data.get("note") or ""), str(data.get("reason") or "")
    calls: dict[str, Callable[[], Document | StepResult]] = {
        "submit": lambda: submit(system, actor, doc_id, note),
        "approve": lambda: approve(system, actor, doc_id, note),
        "reject": lambda: reject(system, actor, doc_id, reason),
        "sign": lambda: sign(
            system,
            actor,
            doc_id,
            authority=data.get("authority"),
            level=data.get("level"),
            confirm=data.get("confirm"),
        ),
        "number": lambda: number(system, actor, doc_id),
        "seal": lambda: seal(system, actor, doc_id, level=data.get("level")),
        "register": lambda: register(system, actor, doc_id, note, str(data.get("holder") or "")),
        "issue": lambda: issue(system, actor, doc_id, note),
        "revoke": lambda: revoke(system, actor, doc_id, reason),
        "verify": lambda: verify(system, actor, doc_id),
        "return": lambda: return_to_sender(system, actor, doc_id, reason),
        "assign": lambda: assign(
            system,
            actor,
            doc_id,
            str(data.get("lead_unit") or ""),
            tuple(data.get("co_units") or ()),
            str(data.get("instruction") or ""),
            data.get("deadline"),
        ),
        "progress": lambda: start_progress(system, actor, doc_id, note),
        "complete": lambda: complete(system, actor, doc_id, note),
        "hold": lambda: set_legal_hold(system, actor, doc_id, bool(data.get("on")), reason),
    }
    if name not in calls:
        raise NotFound(f"no step {name!r}")
    return calls[name]()


# -- reading ----------------------------------------------------------------------------------


@dataclass
class DocumentView:
    document: Document
    files: list[DocumentFile]
    signatures: list[SignatureRecord]
    history: list[StatusEvent]
    assignment: Assignment | None
    validation: ValidationRecord | None
    digitized: DigitizedCopy | None = None


def get_document(system: System, actor: str, doc_id: int) -> DocumentView:
    """A document with its files, signatures and history; the view is audited."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        view = DocumentView(
            doc,
            list(
                s.scalars(
                    select(DocumentFile)
                    .where(DocumentFile.document_id == doc.id)
                    .order_by(DocumentFile.id)
                )
            ),
            list(
                s.scalars(
                    select(SignatureRecord)
                    .where(SignatureRecord.document_id == doc.id)
                    .order_by(SignatureRecord.id)
                )
            ),
            list(
                s.scalars(
                    select(StatusEvent)
                    .where(StatusEvent.document_id == doc.id)
                    .order_by(StatusEvent.id)
                )
            ),
            _current_assignment(s, doc.id),
            latest_validation(s, doc.id),
            s.scalars(select(DigitizedCopy).where(DigitizedCopy.document_id == doc.id)).first(),
        )
        audit.record(s, user.username, "document.read", "document", str(doc.id))
        return view


def open_file(
    system: System, actor: str, doc_id: int, file_id: int | None = None
) -> tuple[DocumentFile, Blob]:
    """The document's current PDF (or one of its files) for download; audited. The
    caller streams ``blob`` from the store (the API, with HTTP Range)."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        if file_id is None:
            f = main_file(s, doc.id)
        else:
            found = s.get(DocumentFile, file_id)
            if found is None or found.document_id != doc.id:
                raise NotFound(f"document {doc_id} has no file {file_id}")
            f = found
        blob = s.get(Blob, f.sha256)
        if blob is None:
            raise NotFound(f"file {f.id} is recorded but its content is missing")
        audit.record(
            s,
            user.username,
            "document.download",
            "document",
            str(doc.id),
            {"file": f.id, "sha256": f.sha256},
        )
        return f, blob


def download(
    system: System, actor: str, doc_id: int, target: Path, file_id: int | None = None
) -> DocumentFile:
    """Copy the document's current PDF (or one of its files) to ``target``, checking its
    hash; the download is audited."""
    f, _blob = open_file(system, actor, doc_id, file_id)
    blobs.export_to_file(system, f.sha256, target)
    return f


def list_documents(
    system: System,
    actor: str,
    *,
    direction: str | None = None,
    states: tuple[str, ...] = (),
    limit: int = 100,
) -> list[Document]:
    """Work queues: e.g. the leader's "waiting for my signature" (approved), the clerk's
    "to number" (signed) and "to seal" (numbered). Most urgent first."""
    with system.sessions() as s:
        user = load_user(s, actor)
        q = select(Document).where(visible_documents(user))
        if direction:
            q = q.where(Document.direction == direction)
        if states:
            q = q.where(Document.state.in_(states))
        return list(
            s.scalars(
                q.order_by(Document.priority.desc(), Document.updated_at.desc()).limit(
                    min(max(limit, 1), 1000)
                )
            )
        )


# -- keeping ------------------------------------------------------------------------------------


def apply_document_retention(system: System, doc_id: int) -> datetime | None:
    """Protect every stored file of the document for its type's retention period, from
    the date it became a record (issue or arrival). Logged, not raised, if the store
    cannot apply it now: the step itself has been committed."""
    with system.sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id}")
        t = _doc_type(s, doc.type_code)
        years = t.retention_years or system.settings.retention_permanent_years
        start = doc.sent_at or doc.arrival_at or _now()
        shas = {
            f.sha256
            for f in s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc_id))
        }
    until = start + timedelta(days=round(365.25 * years))
    try:
        for sha in sorted(shas):
            blobs.apply_retention(system, sha, until)
        with transaction(system.sessions) as s:
            d = s.get(Document, doc_id)
            assert d is not None
            d.retain_until = until
            audit.record(
                s,
                "system",
                "document.retention",
                "document",
                str(doc_id),
                {"until": until.isoformat(timespec="seconds"), "years": years},
            )
        return until
    except Exception:  # the step succeeded; `edms doc retention` applies it again
        log.exception("retention of document %s could not be applied", doc_id)
        return None


def set_legal_hold(system: System, actor: str, doc_id: int, on: bool, reason: str) -> Document:
    """A legal hold blocks deletion of every file of the document until it is lifted."""
    if not reason.strip():
        raise EdmsError("a reason is required for a legal hold")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = _load(s, user, doc_id)
        require_role(user, "admin", "clerk", action="place or lift a legal hold")
        for sha in {
            f.sha256
            for f in s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc.id))
        }:
            blobs.set_legal_hold(system, s, sha, on)
        doc.legal_hold = on
        audit.record(
            s,
            user.username,
            "document.legal_hold",
            "document",
            str(doc.id),
            {"on": on, "reason": reason.strip()},
        )
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def signing_key_of(s: Session, record: SignatureRecord) -> SigningKey | None:
    return s.get(SigningKey, record.signing_key_id)


def document_json(doc: Document) -> dict[str, Any]:
    """The document's metadata as JSON (Appendix VI names where they exist)."""
    return {
        "id": doc.id,
        "direction": doc.direction,
        "state": doc.state,
        "state_vi": STATE_NAMES_VI[doc.state],
        "version": doc.version,
        "type": doc.type_code,
        "subject": doc.subject,
        "description": doc.description,
        "code_number": doc.code_number,
        "code_notation": doc.code_notation,
        "number_and_symbol": (
            f"{doc.code_number}/{doc.code_notation}"
            if doc.code_number and doc.code_notation
            else None
        ),
        "issued_date": doc.issued_date.isoformat() if doc.issued_date else None,
        "organ_id": doc.organ_id,
        "organ_name": doc.organ_name,
        "signer": {
            "position": doc.signer_position,
            "full_name": doc.signer_name,
            "competence": doc.signer_competence,
        },
        "recipients": json.loads(doc.recipients),
        "priority": doc.priority,
        "secrecy": doc.secrecy,
        "page_amount": doc.page_amount,
        "issued_amount": doc.issued_amount,
        "due_date": doc.due_date.isoformat() if doc.due_date else None,
        "arrival_number": doc.arrival_number,
        "arrival_at": _iso(doc.arrival_at),
        "completed_at": _iso(doc.completed_at),
        "sent_at": _iso(doc.sent_at),
        "frozen": doc.frozen,
        "frozen_reason": doc.frozen_reason,
        "legal_hold": doc.legal_hold,
        "retain_until": _iso(doc.retain_until),
        "replaces_id": doc.replaces_id,
        "response_for_id": doc.response_for_id,
        "dossier_id": doc.dossier_id,
        "created_at": _iso(doc.created_at),
        "updated_at": _iso(doc.updated_at),
    }


def _iso(t: datetime | None) -> str | None:
    """UTC in storage, Vietnam time (+07:00) when shown."""
    return None if t is None else t.astimezone(VN_TZ).isoformat(timespec="seconds")


def view_json(view: DocumentView) -> dict[str, Any]:
    a = view.assignment
    return {
        **document_json(view.document),
        "files": [
            {
                "id": f.id,
                "role": f.role,
                "stage": f.stage,
                "name": f.name,
                "sha256": f.sha256,
                "attachment_of": f.attachment_of,
                "created_at": _iso(f.created_at),
            }
            for f in view.files
        ],
        "signatures": [
            {
                "profile": s.profile,
                "field": s.field_name,
                "level": s.level,
                "valid": s.valid,
                "signed_at": _iso(s.signed_at),
                "file_id": s.file_id,
            }
            for s in view.signatures
        ],
        "history": [
            {
                "at": _iso(h.at),
                "action": h.action,
                "from": h.from_state,
                "to": h.to_state,
                "code": h.code,
                "note": h.note,
            }
            for h in view.history
        ],
        "assignment": None
        if a is None
        else {
            "lead_unit_id": a.lead_unit_id,
            "co_unit_ids": json.loads(a.co_unit_ids),
            "instruction": a.instruction,
            "deadline": a.deadline.isoformat() if a.deadline else None,
        },
        "digitized": None
        if view.digitized is None
        else {
            "public_id": view.digitized.public_id,
            "dossier_code": view.digitized.dossier_code,
            "procedure_code": view.digitized.procedure_code,
            "result_code": view.digitized.result_code,
            "holder_name": view.digitized.holder_name,
            "original_type": view.digitized.original_type,
            "original_number": view.digitized.original_number,
            "original_date": (
                view.digitized.original_date.isoformat() if view.digitized.original_date else None
            ),
            "copy_type": view.digitized.copy_type,
            "pages": view.digitized.pages,
            "min_dpi": view.digitized.min_dpi,
        },
        "validation": None
        if view.validation is None
        else {
            "valid": view.validation.valid,
            "checked_at": _iso(view.validation.checked_at),
            "report": json.loads(view.validation.report),
        },
    }


def search_documents(
    system: System,
    actor: str,
    query: str,
    filters: search.SearchFilters | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[int, list[Document]]:
    """Full-text search in the actor's agency; the query is audited (who looked for
    what), the results are the documents' metadata."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        found = search.search(s, user.agency_id, query, filters, page, per_page, viewer=user)
        if query.strip():
            audit.record(
                s,
                user.username,
                "document.search",
                "agency",
                str(user.agency_id),
                {"q": query[:200], "total": found.total},
            )
        return found.total, found.documents
