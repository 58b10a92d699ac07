"""The lifecycle table (:data:`STEPS`) and the checks and state change every step shares.

Invariants: a step applies only if the document belongs to the actor's agency (else
:class:`NotFound`), the actor's role allows it (403), the document is not frozen and is in
one of the step's ``from_states`` (409) — checked in that order by :func:`check_step`.
:func:`advance` changes the state, writes the status history and the audit event, and
announces the step (:mod:`edms.events`: ``after_step``, then ``document.<step>``), all in
the caller's transaction; listeners (the exchange's outbox, notices, dossiers) therefore
commit or roll back with the step. This module imports no listener.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.validation import Report

from .. import audit, blobs, events
from ..errors import (
    ClientError,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
)
from ..models import (
    Assignment,
    DocType,
    Document,
    StatusEvent,
    User,
)
from ..orgs import (
    load_user,
    may_see,
    require_role,
)
from ..system import System
from .labels import INCOMING, OUTGOING, PRIORITY_VI, SECRECY_VI, STATE_NAMES_VI, now_utc
from .transaction import run_in_transaction


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
        "handback",
        INCOMING,
        ("assigned", "in_progress"),
        "registered",
        ("officer", "leader", "clerk"),
        "hand an incoming document back to be assigned again",
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


@dataclass
class StepResult:
    document: Document
    warnings: list[str] = field(default_factory=list)
    report: Report | None = None


def check_text(value: str, name: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise ClientError(f"the {name} is required")
    if len(value) > limit:
        raise ClientError(f"the {name} is longer than {limit} characters")
    return value


def check_levels(priority: int, secrecy: int) -> None:
    if priority not in PRIORITY_VI:
        raise ClientError("priority is 0 (thường), 1 (khẩn), 2 (thượng khẩn) or 3 (hỏa tốc)")
    if secrecy not in SECRECY_VI:
        raise ClientError("secrecy is 0 (none), 1 (mật), 2 (tối mật) or 3 (tuyệt mật)")


def doc_type(s: Session, code: str) -> DocType:
    t = s.get(DocType, code)
    if t is None:
        raise ClientError(f"unknown document type {code!r} (see `edms doctype list`)")
    return t


def load_document(s: Session, user: User, doc_id: int) -> Document:
    doc = s.get(Document, doc_id)
    # Another agency's document (or a secret one this user may not see) does not exist
    # for this user.
    if doc is None or not may_see(s, user, doc):
        raise NotFound(f"no document {doc_id}")
    return doc


def check_step(user: User, doc: Document, step_name: str) -> Step:
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


def reload_for_commit(
    s: Session, actor: str, doc_id: int, step_name: str, version: int
) -> tuple[User, Document, Step]:
    """The commit phase of a signing step: the same checks again, and the document must
    not have changed while the file was being signed outside the transaction."""
    user = load_user(s, actor)
    doc = load_document(s, user, doc_id)
    step = check_step(user, doc, step_name)
    if doc.version != version:
        raise Conflict(f"document {doc_id} changed while it was being signed; try again")
    return user, doc, step


def officer_scope(s: Session, user: User, doc: Document, lead_only: bool) -> None:
    """An officer acts only on documents assigned to their unit or to them by name: the
    person in charge as the lead unit, a co-operating person as a co-operating unit."""
    if user.role_set & {"leader", "clerk"}:
        return
    a = current_assignment(s, doc.id)
    if a is None:
        units: set[int] = set()
        people: set[int] = set()
    else:
        units = {a.lead_unit_id} | (set() if lead_only else set(json.loads(a.co_unit_ids)))
        people = {a.lead_user_id} if a.lead_user_id is not None else set()
        if not lead_only:
            people |= set(json.loads(a.co_user_ids or "[]"))
    if user.id in people:
        return
    if user.unit_id is None or user.unit_id not in units:
        raise Forbidden(f"{user.username} is not in the unit assigned to handle document {doc.id}")


def current_assignment(s: Session, doc_id: int) -> Assignment | None:
    return s.scalars(
        select(Assignment).where(Assignment.document_id == doc_id, Assignment.current.is_(True))
    ).first()


def advance(
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
    doc.updated_at = now_utc()
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
    # Announced in the step's own transaction (edms.events): ``after_step`` first, with the
    # step's status code and note (the exchange's outbox writes its packets from it), then
    # ``document.<step>`` for whoever else listens (notices, dossiers waiting for a result).
    events.emit(
        s,
        events.Event(
            events.AFTER_STEP,
            doc.agency_id,
            f"document:{doc.id}",
            user.username,
            {
                "document_id": doc.id,
                "direction": doc.direction,
                "step": step.name,
                "code": step.code,
                "note": note,
                "user_id": user.id,
                "from": before,
                "to": step.to_state,
            },
        ),
    )
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


def simple_step(
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
        raise ClientError("a reason is required for this step")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        step = check_step(user, doc, step_name)
        if unit_scope is not None:
            officer_scope(s, user, doc, lead_only=unit_scope == "lead")
        for k, v in changes.items():
            setattr(doc, k, v)
        advance(s, user, doc, step, note.strip())
        return doc

    result: Document = run_in_transaction(system, work)
    return result
