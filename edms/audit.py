"""The tamper-evident audit trail: every read, download, signature and state change.

Events are numbered 1, 2, 3 ... and each carries the SHA-256 of its predecessor's hash and
its own canonical content, so editing any stored field, or deleting or reordering events,
breaks the chain at a place `edms audit verify` names. Appending takes the row lock of the
single ``audit_head`` row first: events are chained strictly in order, on SQLite and
PostgreSQL alike, inside the caller's transaction (an action and its event commit or roll
back together).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: str,
    prev_hash: str,
) -> bytes:
    return json.dumps(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor,
            action,
            object_type,
            object_id,
            details,
            prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def event_hash(e: AuditEvent) -> str:
    return hashlib.sha256(
        _canonical(
            e.seq, e.at, e.actor, e.action, e.object_type, e.object_id, e.details, e.prev_hash
        )
    ).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction."""
    # Taking the head row first serialises appends (row lock on PostgreSQL, the write
    # lock on SQLite) before anything is read.
    seq, prev = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    event = AuditEvent(
        seq=seq,
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        prev_hash=prev,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=event.hash))
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    detail: str


@dataclass
class ChainCheck:
    """Checks events one after another, wherever they come from (the database, or a
    backup's dump): :meth:`add` each event in order, then :meth:`finish` with the head."""

    checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS

    def add(self, e: AuditEvent) -> None:
        self.checked += 1
        expected = self.last_seq + 1
        if e.seq != expected:
            self.problems.append(
                ChainProblem(expected, f"event {expected} is missing (next present is {e.seq})")
            )
        if e.prev_hash != self.last_hash:
            self.problems.append(
                ChainProblem(
                    e.seq, "does not follow the event before it (an event was deleted or replaced)"
                )
            )
        if event_hash(e) != e.hash:
            self.problems.append(
                ChainProblem(e.seq, "its content was edited after it was recorded")
            )
        self.last_hash, self.last_seq = e.hash, e.seq

    def finish(self, head_seq: int | None, head_hash: str | None) -> list[ChainProblem]:
        if head_seq is not None and (head_seq != self.last_seq or head_hash != self.last_hash):
            self.problems.append(
                ChainProblem(
                    head_seq,
                    f"the chain ends at event {self.last_seq} but the head records "
                    f"event {head_seq}: events were removed",
                )
            )
        return self.problems


def verify_chain(session: Session, batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Recompute the chain; returns (events checked, problems)."""
    check = ChainCheck()
    while True:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > check.last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            check.add(e)
    head = session.get(AuditHead, 1)
    check.finish(head.seq if head else None, head.hash if head else None)
    return check.checked, check.problems


def events_for_agency(
    session: Session,
    agency_id: int,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[int, list[AuditEvent]]:
    """Events an agency may read: those by its users and those about its documents
    (newest first). Events of other agencies are not visible."""
    from sqlalchemy import String, cast, func, or_

    from .models import Document, User

    users = select(User.username).where(User.agency_id == agency_id)
    documents = select(cast(Document.id, String)).where(Document.agency_id == agency_id)
    q = select(AuditEvent).where(
        or_(
            AuditEvent.actor.in_(users),
            (AuditEvent.object_type == "document") & AuditEvent.object_id.in_(documents),
        )
    )
    if object_type:
        q = q.where(AuditEvent.object_type == object_type)
    if object_id:
        q = q.where(AuditEvent.object_id == object_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return int(total), list(rows)
