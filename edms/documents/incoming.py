"""Incoming documents (văn bản đến): receive, check for duplicates, verify signatures,
register with an arrival number, return to the sender, assign, hand back to be assigned
again, progress, complete.

Invariants: a received file is a checked PDF; an arrival number is taken in the register
of the arrival date in the registering transaction; officers act only on documents
assigned to their unit or to them by name (person in charge, co-operating people); a
reception never fails because the file disagrees with what was declared (warnings only);
each step's status code goes to the sender via the step's announcement (the exchange
listens).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.validation import Report

from .. import audit, blobs, search
from ..db import transaction
from ..errors import (
    ClientError,
    InvalidTransition,
)
from ..models import (
    Assignment,
    Document,
    OrgUnit,
    StatusEvent,
    User,
    ValidationRecord,
)
from ..numbering import register_for, take_number
from ..orgs import (
    colleague,
    load_user,
    require_role,
    unit_by_code,
)
from ..signatures import validate_sandboxed
from ..system import System
from .declared import check_declared
from .files import (
    export_file,
    index_document,
    main_file,
    pdf_facts,
    record_file,
    spool_pdf,
    workdir,
)
from .keeping import apply_document_retention
from .labels import INCOMING, STATE_NAMES_VI, now_utc, vn_today
from .lifecycle import (
    StepResult,
    advance,
    check_levels,
    check_step,
    check_text,
    doc_type,
    load_document,
    officer_scope,
    simple_step,
)
from .transaction import run_in_transaction

# Each reception warning is a line of the reception's note in the history, marked so.
WARNING_MARK = "Lưu ý: "


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


def receive(
    system: System, actor: str, stream: BinaryIO, filename: str, meta: IncomingMeta
) -> StepResult:
    """Take in a document from another agency (state ``received``). Warns, without
    refusing, when the same (number, symbol, issuing agency) was received before, and when
    the file's signers or printed number differ from the declared sender and number
    (:mod:`.declared`); the warnings are the reception's note in the history."""
    subject = check_text(meta.subject, "subject (trích yếu)", 500)
    organ = check_text(meta.organ_name, "sending agency's name", 200)
    check_levels(meta.priority, meta.secrecy)
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            require_role(user, "clerk", action="receive incoming documents")
        path = spool_pdf(system, stream, filename, wd / "received.pdf")
        pages = pdf_facts(path, need_fields=False)
        content = search.extract_pdf_text(path)
        declared = check_declared(path, content, organ, meta.code_number, meta.code_notation)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            t = doc_type(s, meta.type_code)
            warnings = declared + _duplicates(s, user.agency_id, meta)
            now = now_utc()
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
            f = record_file(system, s, puts, doc, path, filename, "main", "received", user)
            s.add(
                StatusEvent(
                    document_id=doc.id,
                    at=now,
                    actor_id=user.id,
                    action="receive",
                    from_state=None,
                    to_state="received",
                    code="01",
                    note="\n".join(f"{WARNING_MARK}{w}" for w in warnings),
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
            index_document(s, doc, content)
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
        f"nhận trước đó (văn bản mã {d.id}, {STATE_NAMES_VI[d.state]})"
        for d in s.scalars(query)
    ]


def verify(system: System, actor: str, doc_id: int) -> StepResult:
    """Check authenticity and integrity; the full report is stored. A failure does not
    block anything else: the clerk then returns the document to its sender."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            check_step(user, doc, "verify")
            main = main_file(s, doc.id)
            path = export_file(system, main, wd / "received.pdf")
            file_id = main.id
        report = validate_sandboxed(system.settings, path)

        def work(s: Session, _puts: list[blobs.PutOutcome]) -> StepResult:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            step = check_step(user, doc, "verify")
            s.add(
                ValidationRecord(
                    document_id=doc.id,
                    file_id=file_id,
                    checked_at=now_utc(),
                    checked_by=user.id,
                    valid=report.valid,
                    report=json.dumps(report.to_json(), ensure_ascii=False),
                )
            )
            advance(
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
            doc = load_document(s, user, doc_id)
            f = main_file(s, doc.id)
            audit.record(
                s, user.username, "document.check", "document", str(doc.id), {"file": f.id}
            )
        path = export_file(system, f, wd / "current.pdf")
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
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, "register")
        check = latest_validation(s, doc.id)
        if check is None or not check.valid:
            raise InvalidTransition(
                f"the signature check of document {doc_id} failed: "
                "return it to the sender with the reason instead"
            )
        now = now_utc()
        register = register_for(s, doc.agency_id, INCOMING, doc.arrival_at or now)
        doc.arrival_register_id = register.id
        doc.arrival_number = take_number(s, register.id)
        advance(
            s,
            user,
            doc,
            step,
            note.strip(),
            details={"arrival_number": doc.arrival_number, "register": register.id},
        )
        index_document(s, doc)
        return doc

    doc: Document = run_in_transaction(system, work)
    apply_document_retention(system, doc.id)
    return doc


def return_to_sender(system: System, actor: str, doc_id: int, reason: str) -> Document:
    return simple_step(system, actor, doc_id, "return", reason, need_note=True)


def assign(
    system: System,
    actor: str,
    doc_id: int,
    lead_unit: str = "",
    co_units: tuple[str, ...] = (),
    instruction: str = "",
    deadline: date | None = None,
    *,
    lead_user: str = "",
    co_users: tuple[str, ...] = (),
) -> Document:
    """The leader's instruction (ý kiến chỉ đạo): the lead unit and/or the person in charge
    (người chủ trì), co-operating units and people (phối hợp), a deadline. A lead person
    without a lead unit implies his own unit; without a deadline the document's own due
    date stays the deadline."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, "assign")
        lead_person = _person(s, user, lead_user) if lead_user.strip() else None
        co_people = [_person(s, user, c) for c in dict.fromkeys(co_users) if c.strip()]
        if lead_unit.strip():
            lead = unit_by_code(s, doc.agency_id, lead_unit)
        elif lead_person is not None and lead_person.unit_id is not None:
            found = s.get(OrgUnit, lead_person.unit_id)
            assert found is not None
            lead = found
        elif lead_person is not None:
            raise ClientError(
                f"{lead_person.username} belongs to no unit: name the lead unit as well"
            )
        else:
            raise ClientError("name the lead unit or the person in charge (lead_user)")
        co = [unit_by_code(s, doc.agency_id, c) for c in co_units]
        if lead.id in {c.id for c in co}:
            raise ClientError("the lead unit cannot also be a co-operating unit")
        if lead_person is not None and lead_person.id in {p.id for p in co_people}:
            raise ClientError("the person in charge cannot also be a co-operating person")
        if deadline is not None and deadline < vn_today():
            raise ClientError("the deadline is in the past")
        for old in s.scalars(
            select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
        ):
            old.current = False
        s.add(
            Assignment(
                document_id=doc.id,
                lead_unit_id=lead.id,
                co_unit_ids=json.dumps([c.id for c in co]),
                lead_user_id=lead_person.id if lead_person else None,
                co_user_ids=json.dumps([p.id for p in co_people]),
                instruction=instruction.strip(),
                deadline=deadline or doc.due_date,
                assigned_by=user.id,
                assigned_at=now_utc(),
                current=True,
            )
        )
        if deadline is not None:
            doc.due_date = deadline
        doc.passed_on_at = doc.passed_on_at or now_utc()
        advance(
            s,
            user,
            doc,
            step,
            instruction.strip(),
            details={
                "lead": lead.code,
                "co": [c.code for c in co],
                **({"lead_user": lead_person.username} if lead_person else {}),
                **({"co_users": [p.username for p in co_people]} if co_people else {}),
                "deadline": deadline.isoformat() if deadline else None,
            },
        )
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def _person(s: Session, me: User, username: str) -> User:
    """An active person of the agency, to be put in charge or to co-operate."""
    person = colleague(s, me, username)
    if not person.role_set & {"officer", "leader", "clerk"}:
        raise ClientError(f"{person.username} handles no documents (not an officer or leader)")
    return person


def hand_back(system: System, actor: str, doc_id: int, reason: str) -> Document:
    """The person in charge (or the lead unit's officer, a leader, a clerk) hands the
    document back, with the reason, to be assigned again: it returns to the leader's queue
    awaiting an instruction and the current assignment ends (it stays in the history)."""
    if not reason.strip():
        raise ClientError("a reason is required for this step")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, "handback")
        officer_scope(s, user, doc, lead_only=True)
        for old in s.scalars(
            select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
        ):
            old.current = False
        advance(s, user, doc, step, reason.strip())
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def start_progress(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Start handling (officers of the lead or a co-operating unit, leaders, clerks)."""
    return simple_step(system, actor, doc_id, "progress", note, unit_scope="assigned")


def complete(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """Complete the handling (officers of the lead unit, leaders, clerks)."""
    return simple_step(
        system, actor, doc_id, "complete", note, unit_scope="lead", completed_at=now_utc()
    )
