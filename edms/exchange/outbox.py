"""The outbox: what this system sends, kept in the database until it is delivered.

Entries are written in the same transaction as the step that causes them (issuing a
document, registering/assigning/handling a received one, revoking), so a step and its
packets happen together or not at all, and a restart loses nothing. The package itself is
built and signed with the agency's seal key at the first attempt and stored; every retry
sends the same bytes (the receiver deduplicates on sender and DocumentId, and answers a
repeat with its original receipt).

This module holds the hooks that queue entries (:func:`on_event`, the subscriber told of
every lifecycle step by :mod:`edms.events`), manual dispatch and the exchange history;
packages are built in :mod:`.packets` and delivered by :mod:`.delivery` (both re-exported
here, so ``edms.exchange.outbox`` stays the import path).

Delivery (:func:`deliver_due`, run by the delivery loop in every `edms serve` and `edms
worker` process, or `edms exchange deliver`): an entry is claimed with a lease (so two
processes never send it at once), sent through the :class:`~.transport.Transport`, and then
``delivered`` (the receiver's signed receipt verified and kept), ``refused`` (for good; the
reason is recorded as status 02 from the receiver), or retried with exponential back-off
until ``EDMS_EXCHANGE_MAX_ATTEMPTS``, then ``failed`` where people see it. Status packets to
one agency about one document leave in the order they were made.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, blobs, events
from ..db import transaction
from ..errors import Forbidden, InvalidTransition, NotFound
from ..models import (
    Document,
    ExchangeMessage,
    User,
)
from ..orgs import load_user
from ..system import System
from . import edxml
from .delivery import Pump, Round, deliver_due, transport_for
from .directory import find
from .messages import queue_status, record_refusal
from .packets import (
    TYPE_NUMBER,
    build_document_package,
    build_status_packet,
    competence,
    document_key,
    document_packet,
    export_document,
    export_status,
    now_utc,
    received_message,
    replies_to,
    staff_of,
    status_packet,
)

__all__ = [
    "TYPE_NUMBER",
    "Pump",
    "Round",
    "build_document_package",
    "build_status_packet",
    "competence",
    "deliver_due",
    "dispatch",
    "document_exchange",
    "document_key",
    "document_packet",
    "evidence",
    "export_document",
    "export_status",
    "history",
    "on_event",
    "on_issue",
    "on_revoke",
    "on_step",
    "queue_status",
    "record_refusal",
    "replies_to",
    "status_packet",
    "transport_for",
]


# -- hooks, called inside the document step's transaction ------------------------------------


def on_event(s: Session, event: events.Event) -> None:
    """Subscriber (edms.events, :data:`~edms.events.AFTER_STEP`): a step's packets, written
    in the step's own transaction — issuing dispatches, revoking asks recipients to take
    the document back, a step on a received document reports its status code."""
    if event.name != events.AFTER_STEP:
        return
    doc = s.get(Document, event.data["document_id"])
    user = s.get(User, event.data["user_id"])
    if doc is None or user is None:
        return
    step, code, note = str(event.data["step"]), event.data.get("code"), str(event.data["note"])
    # The hooks read what the step wrote before them (events are told without autoflush).
    autoflush, s.autoflush = s.autoflush, True
    try:
        if doc.direction == "incoming" and code:
            on_step(s, doc, code, note, user)
        elif doc.direction == "outgoing" and step == "issue":
            on_issue(s, doc, user)
        elif doc.direction == "outgoing" and step == "revoke":
            on_revoke(s, doc, note, user)
    finally:
        s.autoflush = autoflush


def on_issue(s: Session, doc: Document, user: User) -> list[str]:
    """Queue the dispatch to every recipient listed in the exchange directory. Secret
    documents never travel through the exchange. Returns the recipients queued."""
    if doc.secrecy:
        audit.record(
            s,
            user.username,
            "exchange.withheld",
            "document",
            str(doc.id),
            {"reason": "secret documents are not sent through the exchange"},
        )
        return []
    queued = []
    for r in json.loads(doc.recipients or "[]"):
        code = (r.get("organ_id") or "").strip()
        if not code or find(s, doc.agency_id, code) is None:
            continue
        queued += _queue_document(s, doc, user, code, 3 if doc.replaces_id else 0)
    return queued


def _queue_document(s: Session, doc: Document, user: User, peer: str, business: int) -> list[str]:
    key = document_key(s, doc)
    if s.scalars(
        select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc.id,
            ExchangeMessage.direction == "out",
            ExchangeMessage.kind == "document",
            ExchangeMessage.peer_code == peer,
            ExchangeMessage.state.in_(("pending", "delivered")),
        )
    ).first():
        return []
    now = now_utc()
    staff, unit = staff_of(s, user)
    s.add(
        ExchangeMessage(
            agency_id=doc.agency_id,
            direction="out",
            kind="document",
            peer_code=peer,
            document_id=doc.id,
            document_key=key,
            business_type=business,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            packet_at=now,
            staff=staff,
            staff_unit=unit,
        )
    )
    audit.record(
        s,
        user.username,
        "exchange.queue",
        "document",
        str(doc.id),
        {"to": peer, "document_key": key, "business_type": business},
    )
    return [peer]


def on_step(s: Session, doc: Document, code: str | None, note: str, user: User) -> None:
    """A step on a document received through the exchange reports its status code
    (02, 03, 04, 05, 06) back to the sender."""
    if code is None or doc.direction != "incoming":
        return
    received = received_message(s, doc.id)
    if received is None:
        return
    queue_status(
        s, doc.agency_id, received.peer_code, doc.id, received.document_key, code, note, user
    )


def on_revoke(s: Session, doc: Document, reason: str, user: User) -> list[str]:
    """Revoking a dispatched document asks every recipient to take it back (13)."""
    peers = sorted(
        {
            m.peer_code
            for m in s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.document_id == doc.id,
                    ExchangeMessage.direction == "out",
                    ExchangeMessage.kind == "document",
                    ExchangeMessage.state.in_(("pending", "delivered")),
                )
            )
        }
    )
    for peer in peers:
        queue_status(s, doc.agency_id, peer, doc.id, document_key(s, doc), "13", reason, user)
    return peers


# -- explicit dispatch (new directory entries, re-sending after a failure) --------------------


def dispatch(system: System, actor: str, doc_id: int) -> list[str]:
    """Queue an issued document to its recipients in the directory that have not received
    it (or whose earlier dispatch failed)."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        if not user.role_set & {"clerk", "admin"}:
            raise Forbidden("only the clerk's office dispatches documents")
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        if doc.direction != "outgoing" or doc.state != "issued" or doc.frozen:
            raise InvalidTransition(f"document {doc_id} is not an issued outgoing document")
        return on_issue(s, doc, user)


def history(s: Session, doc: Document) -> list[dict[str, Any]]:
    """Per recipient: the dispatch (state, attempts, receipt) and every status received."""
    out: dict[str, dict[str, Any]] = {}
    for m in s.scalars(
        select(ExchangeMessage)
        .where(ExchangeMessage.document_id == doc.id)
        .order_by(ExchangeMessage.id)
    ):
        entry = out.setdefault(
            m.peer_code, {"agency": m.peer_code, "dispatch": None, "statuses": [], "sent": []}
        )
        if m.direction == "out" and m.kind == "document":
            entry["dispatch"] = {
                "state": m.state,
                "attempts": m.attempts,
                "lastError": m.last_error,
                "nextAttemptAt": _iso(m.next_attempt_at) if m.state == "pending" else None,
                "deliveredAt": _iso(m.done_at),
                "documentKey": m.document_key,
                "receipt": m.receipt is not None,
                "packageSha256": m.package_sha256,
            }
        elif m.direction == "in" and m.kind == "status":
            entry["statuses"].append(
                {
                    "code": m.status_code,
                    "meaning": edxml.STATUS_CODES.get(m.status_code or ""),
                    "description": m.description,
                    "at": _iso(m.packet_at),
                }
            )
        elif m.direction == "out" and m.kind == "status":
            entry["sent"].append(
                {
                    "code": m.status_code,
                    "state": m.state,
                    "at": _iso(m.packet_at),
                    "attempts": m.attempts,
                }
            )
    for entry in out.values():
        entry["latest"] = entry["statuses"][-1] if entry["statuses"] else None
    return list(out.values())


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat() if t else None


def document_exchange(system: System, actor: str, doc_id: int) -> list[dict[str, Any]]:
    """The exchange history of one of the actor's agency's documents."""
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        return history(s, doc)


def evidence(system: System, actor: str, doc_id: int, agency: str) -> tuple[bytes, bytes]:
    """The package as sent to ``agency`` and the receipt it signed, for a dispute."""
    from ..documents import workdir

    with system.sessions() as s:
        user = load_user(s, actor)
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        msg = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc_id,
                ExchangeMessage.peer_code == agency,
                ExchangeMessage.kind == "document",
                ExchangeMessage.receipt.is_not(None),
            )
        ).first()
        if msg is None or msg.package_sha256 is None or msg.receipt is None:
            raise NotFound(f"no receipt from {agency} for document {doc_id}")
        sha, receipt = msg.package_sha256, msg.receipt.encode()
        audit.record(
            s, user.username, "exchange.evidence", "document", str(doc_id), {"agency": agency}
        )
        s.commit()
    with workdir(system) as wd:
        blobs.export_to_file(system, sha, wd / "package.xml")
        return (wd / "package.xml").read_bytes(), receipt
