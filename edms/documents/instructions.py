"""The leader's instructions on incoming documents (ý kiến chỉ đạo) as people work with
them: the queue of documents awaiting an instruction, the people and units one may name,
the documents assigned to me by name, and the handling sheet (Phiếu giải quyết văn bản
đến) with everything recorded about the handling.

Invariants: reads only (the instruction itself is the ``assign`` step of
:mod:`.incoming`); every answer is scoped to the actor's agency and what the actor may see
(:func:`edms.orgs.visible_documents`); the handling sheet is filled from stored data only
and its reading is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..db import transaction
from ..doctypes import document_type
from ..errors import ClientError
from ..models import Agency, Assignment, Document, OrgUnit, StatusEvent, User
from ..orgs import load_user, require_role, visible_documents
from ..system import System
from .labels import INCOMING, PRIORITY_VI, SECRECY_VI, STATE_NAMES_VI
from .lifecycle import current_assignment, load_document

AWAITING = ("registered",)  # registered, not yet assigned (or handed back to be reassigned)
HANDLING = ("assigned", "in_progress")
HANDLERS = frozenset({"officer", "leader", "clerk"})


@dataclass(frozen=True)
class Person:
    username: str
    full_name: str
    title: str
    unit: str  # the unit's name ("" when none)

    @property
    def label(self) -> str:
        parts = [self.full_name, self.title, self.unit]
        return " — ".join(p for p in parts if p)


@dataclass(frozen=True)
class Task:
    """A document assigned to me by name."""

    document: Document
    lead: bool  # I am the person in charge (else a co-operating person)
    deadline: date | None
    instruction: str


@dataclass(frozen=True)
class SheetEntry:
    at: datetime
    action: str
    who: str  # full name, position
    note: str


@dataclass
class HandlingSheet:
    """The Phiếu giải quyết văn bản đến, every field from the stored data."""

    agency: str
    agency_place: str
    document_id: int
    type_name: str
    organ_name: str
    number_and_symbol: str
    issued_date: date | None
    subject: str
    arrival_number: int | None
    arrival_at: datetime | None
    priority: str
    secrecy: str
    pages: int | None
    state: str
    instruction: str = ""
    instructed_by: str = ""
    instructed_at: datetime | None = None
    lead_unit: str = ""
    co_units: list[str] = field(default_factory=list)
    lead_person: str = ""
    co_people: list[str] = field(default_factory=list)
    deadline: date | None = None
    progress: list[SheetEntry] = field(default_factory=list)
    completed_at: datetime | None = None
    result: str = ""


def _person(s: Session, u: User) -> Person:
    unit = s.get(OrgUnit, u.unit_id) if u.unit_id else None
    return Person(u.username, u.full_name, u.title, unit.name if unit else "")


def _who(u: User | None) -> str:
    if u is None:
        return ""
    return f"{u.full_name}, {u.title}" if u.title else u.full_name


def awaiting_instruction(system: System, actor: str, limit: int = 200) -> list[Document]:
    """Incoming documents registered and not yet assigned (or handed back to be
    assigned again): the leader's "Chờ ý kiến chỉ đạo". Most urgent, then oldest first."""
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "leader", "clerk", action="see documents awaiting an instruction")
        q = (
            select(Document)
            .where(
                visible_documents(user),
                Document.direction == INCOMING,
                Document.state.in_(AWAITING),
                Document.frozen.is_(False),
            )
            .order_by(Document.priority.desc(), Document.arrival_at, Document.id)
            .limit(min(max(limit, 1), 1000))
        )
        return list(s.scalars(q))


def assignable_people(system: System, actor: str) -> list[Person]:
    """The active people of the actor's agency who handle documents (officers, leaders,
    clerks), by unit and name: those a leader may put in charge or ask to co-operate."""
    with system.sessions() as s:
        me = load_user(s, actor)
        users = s.scalars(select(User).where(User.agency_id == me.agency_id, User.active.is_(True)))
        people = [_person(s, u) for u in users if u.role_set & HANDLERS]
        return sorted(people, key=lambda p: (p.unit, p.full_name, p.username))


def _mentions(user_id: int) -> list[str]:
    """``co_user_ids`` is a JSON list written by ``json.dumps``: ``[3, 12]``."""
    return [f"[{user_id}]", f"[{user_id}, %", f"%, {user_id}, %", f"%, {user_id}]"]


def assigned_to_me(system: System, actor: str, limit: int = 200) -> list[Task]:
    """Incoming documents being handled whose current assignment names me, as the person
    in charge or a co-operating person: "Việc được giao cho tôi". Nearest deadline first."""
    with system.sessions() as s:
        user = load_user(s, actor)
        rows = s.execute(
            select(Document, Assignment)
            .join(Assignment, Assignment.document_id == Document.id)
            .where(
                visible_documents(user),
                Document.direction == INCOMING,
                Document.state.in_(HANDLING),
                Assignment.current.is_(True),
                or_(
                    Assignment.lead_user_id == user.id,
                    *(Assignment.co_user_ids.like(p) for p in _mentions(user.id)),
                ),
            )
            .order_by(Document.due_date.is_(None), Document.due_date, Document.id)
            .limit(min(max(limit, 1), 1000))
        ).all()
        return [
            Task(doc, a.lead_user_id == user.id, a.deadline or doc.due_date, a.instruction)
            for doc, a in rows
        ]


def handling_sheet(system: System, actor: str, doc_id: int) -> HandlingSheet:
    """The Phiếu giải quyết văn bản đến of an incoming document (Decree 30 practice):
    the document, its arrival, the leader's instruction, who leads and co-operates, the
    deadline, the handling and its result. Reading it is audited."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        if doc.direction != INCOMING:
            raise ClientError(f"document {doc_id} is not an incoming document")
        agency = s.get(Agency, doc.agency_id)
        assert agency is not None
        sheet = HandlingSheet(
            agency=agency.name,
            agency_place=agency.place,
            document_id=doc.id,
            type_name=document_type(doc.type_code).name,
            organ_name=doc.organ_name,
            number_and_symbol=(
                f"{doc.code_number}/{doc.code_notation}"
                if doc.code_number and doc.code_notation
                else (doc.code_number or doc.code_notation or "")
            ),
            issued_date=doc.issued_date,
            subject=doc.subject,
            arrival_number=doc.arrival_number,
            arrival_at=doc.arrival_at,
            priority=PRIORITY_VI[doc.priority],
            secrecy=SECRECY_VI[doc.secrecy],
            pages=doc.page_amount,
            state=STATE_NAMES_VI[doc.state],
            completed_at=doc.completed_at,
        )
        a = current_assignment(s, doc.id)
        if a is not None:
            sheet.instruction = a.instruction
            sheet.instructed_by = _who(s.get(User, a.assigned_by))
            sheet.instructed_at = a.assigned_at
            lead_unit = s.get(OrgUnit, a.lead_unit_id)
            sheet.lead_unit = lead_unit.name if lead_unit else ""
            sheet.co_units = [
                u.name for u in (s.get(OrgUnit, i) for i in json.loads(a.co_unit_ids)) if u
            ]
            if a.lead_user_id is not None:
                sheet.lead_person = _who(s.get(User, a.lead_user_id))
            sheet.co_people = [
                _who(u)
                for u in (s.get(User, i) for i in json.loads(a.co_user_ids or "[]"))
                if u is not None
            ]
            sheet.deadline = a.deadline or doc.due_date
        else:
            sheet.deadline = doc.due_date
        for h in s.scalars(
            select(StatusEvent)
            .where(
                StatusEvent.document_id == doc.id,
                StatusEvent.action.in_(("assign", "progress", "complete")),
            )
            .order_by(StatusEvent.id)
        ):
            sheet.progress.append(
                SheetEntry(h.at, h.action, _who(s.get(User, h.actor_id)), h.note or "")
            )
            if h.action == "complete":
                sheet.result = h.note or ""
        audit.record(
            s, user.username, "document.read", "document", str(doc.id), {"view": "handling_sheet"}
        )
        return sheet
