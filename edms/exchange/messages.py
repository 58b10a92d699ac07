"""Exchange messages written as rows: a status packet queued to a partner, and a partner's
refusal of one of our packets recorded as its answer.

Invariants: both write in the caller's transaction and reach outside nothing (delivery is
:mod:`.delivery`'s work after the commit); a queued status code is one of QCVN 102's
(:data:`.edxml.STATUS_CODES`); a refused document gets the receiver's status 02 with the
reason, which :mod:`edms.events` announces as ``exchange.refused``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .. import audit
from ..errors import ClientError
from ..models import ExchangeMessage, User
from . import edxml
from .packets import now_utc, staff_of


def queue_status(
    s: Session,
    agency_id: int,
    peer: str,
    doc_id: int,
    key: str,
    code: str,
    description: str,
    user: User | None = None,
) -> ExchangeMessage:
    """Queue status ``code`` about DocumentId ``key`` to ``peer``; ``user`` is who made
    it (none: the system, e.g. 01 on arrival)."""
    if code not in edxml.STATUS_CODES:
        raise ClientError(f"unknown status code {code}")
    now = now_utc()
    staff, unit = staff_of(s, user)
    msg = ExchangeMessage(
        agency_id=agency_id,
        direction="out",
        kind="status",
        peer_code=peer,
        document_id=doc_id,
        document_key=key,
        status_code=code,
        description=(description or "")[:2000],
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        packet_at=now,
        staff=staff,
        staff_unit=unit,
    )
    s.add(msg)
    s.flush()
    return msg


def record_refusal(s: Session, msg: ExchangeMessage, reason: str) -> None:
    """The receiver (or the axis) refused the packet for good: for a document, its answer
    is recorded as status 02 from the receiver, with the reason."""
    msg.state, msg.done_at, msg.lease_until = "refused", now_utc(), None
    msg.last_error = reason[:2000]
    if msg.kind == "document":
        s.add(
            ExchangeMessage(
                agency_id=msg.agency_id,
                direction="in",
                kind="status",
                peer_code=msg.peer_code,
                document_id=msg.document_id,
                document_key=msg.document_key,
                status_code="02",
                description=reason[:2000],
                state="accepted",
                attempts=0,
                packet_at=now_utc(),
                created_at=now_utc(),
            )
        )
    audit.record(
        s,
        "system",
        "exchange.refused",
        "document",
        str(msg.document_id),
        {"to": msg.peer_code, "kind": msg.kind, "reason": reason[:500]},
    )
