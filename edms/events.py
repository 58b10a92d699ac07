"""Domain events: what happened, told to its subscribers inside the transaction that made
it happen.

A step calls :func:`emit` with its session; each subscriber runs there too, so what it
writes (a notice in the outbox, a dossier made ready by its result) commits or rolls back
with the step itself. Subscribers must not reach outside the database (mail, HTTP): that is
the outbox's delivery loop's work, after the commit.

:data:`SUBSCRIBERS` is the one place that says who listens. Modules that emit events do
not import their listeners (the documents' lifecycle knows nothing of notices), and a
listener is loaded when the first event is emitted.

Events emitted: :data:`AFTER_STEP` and then ``document.<step>`` by every lifecycle step
(edms.documents; the first carries the step's QCVN status code and note, for the exchange's
outbox, and is not a notice), ``dossier.*``
by edms.reception, the daily ``document.due_tomorrow`` / ``document.overdue`` and
``dossier.late`` (edms.notices.daily), and ``exchange.refused`` when a partner's refusal of
one of our documents is recorded (status 02 from the receiver) — watched here, on the rows
the exchange writes, so the exchange needs no hook of its own.

An event's ``id`` is unique; events a scheduled check may find twice get an id derived
from what they are about (:func:`stable_id`), so the second finding is the same event.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

Subscriber = Callable[[Session, "Event"], None]

AFTER_STEP = "after_step"  # every lifecycle step, with its status code and note

SUBSCRIBERS: tuple[str, ...] = (
    "edms.exchange.outbox:on_event",  # packets to partners: dispatch, status, revocation
    "edms.reception:on_event",  # a dossier's result document issued: the dossier is ready
    "edms.notices.outbox:on_event",  # notices to people, gateways and integrations
)
EXCHANGE_MESSAGES = "exchange_messages"  # the table of edms.models.ExchangeMessage
_NAMESPACE = uuid.UUID("8a0a3c3e-5d0f-4c1e-9a51-0c3c1f2a7e21")
_loaded: list[Subscriber] = []


@dataclass(frozen=True)
class Event:
    name: str
    agency_id: int
    subject: str  # what it is about: "document:12", "dossier:H41-261122-0001"
    actor: str  # a user name, "system" or "public"
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def stable_id(*parts: object) -> str:
    """An event id derived from what the event is about (the same finding, the same id)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


def subscribers() -> list[Subscriber]:
    if not _loaded:
        for spec in SUBSCRIBERS:
            module, _, name = spec.partition(":")
            _loaded.append(getattr(importlib.import_module(module), name))
    return _loaded


def emit(s: Session, event: Event) -> None:
    """Tell every subscriber, in the caller's transaction (a subscriber's error fails the
    step: an event is never half-handled)."""
    with s.no_autoflush:
        for subscriber in subscribers():
            subscriber(s, event)


# -- events seen on rows other modules write ---------------------------------------------------


@orm_event.listens_for(Session, "before_flush")
def _watch(session: Session, _context: Any, _instances: Any) -> None:
    # Recognised by its table, not its class: edms.models imports this module (to register
    # this listener), so this module does not import the models back.
    for obj in list(session.new):
        if (
            getattr(obj, "__tablename__", None) == EXCHANGE_MESSAGES
            and obj.direction == "in"
            and obj.kind == "status"
            and obj.status_code == "02"
        ):
            emit(
                session,
                Event(
                    "exchange.refused",
                    obj.agency_id,
                    f"document:{obj.document_id}" if obj.document_id else "",
                    "system",
                    {
                        "document_id": obj.document_id,
                        "peer": obj.peer_code,
                        "document_key": obj.document_key,
                        "reason": obj.description or "",
                    },
                ),
            )
