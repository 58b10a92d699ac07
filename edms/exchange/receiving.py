"""Receiving through a polled transport (an exchange axis): what the axis holds for this
system is fetched, taken by the same inbox pipeline as a package pushed to
``/api/v1/exchange/inbox`` (:func:`~.inbox.accept`), and acknowledged to the axis.

Invariants:

* **One poller at a time.** A round is taken with a lease on the ``exchange_polls`` row of
  the transport, and not before ``EDMS_EXCHANGE_VDXP_POLL_SECONDS`` since the last round
  began, so however many processes run the delivery loop, the axis is polled once per
  interval by one of them.
* **The inbox decides.** A package the inbox takes is acknowledged ``done``; one it refuses
  (an :class:`~edms.errors.EdmsError` the sender must fix: unknown sender, bad signature, a
  PDF that fails validation…) is reported ``fail`` with the reason, for the sender to read;
  anything else (the database or the object store failing, the axis not answering) leaves
  the package on the axis, to be fetched again next round. The inbox deduplicates on
  sender and DocumentId, so fetching again never creates a second document.
* **The sender learns of a refusal.** For the documents this system handed to the axis
  that no status has answered yet, the receiver's ``fail`` (``getSentEdocList``) is
  recorded as status 02 with its reason, as a refusal on the direct transport is.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..db import transaction
from ..errors import EdmsError
from ..models import ExchangeMessage, ExchangePoll
from ..system import System
from .vdxp import AxisError, VdxpTransport

log = logging.getLogger("edms.exchange")

POLL_NAME = "vdxp"
RECONCILE_LIMIT = 20
RECONCILE_DAYS = 7


def _now() -> datetime:
    return datetime.now(UTC)


def _claim(system: System, now: datetime) -> bool:
    from ..jobs import worker_id

    interval = timedelta(seconds=system.settings.exchange_vdxp_poll_seconds)
    try:
        with transaction(system.sessions) as s:
            if s.get(ExchangePoll, POLL_NAME) is None:
                s.add(ExchangePoll(name=POLL_NAME, worker=""))
    except IntegrityError:
        pass  # another process created it first
    lease = now + timedelta(seconds=system.settings.exchange_timeout * 4 + 60)
    with transaction(system.sessions) as s:
        got = s.execute(
            update(ExchangePoll)
            .where(
                ExchangePoll.name == POLL_NAME,
                or_(ExchangePoll.lease_until.is_(None), ExchangePoll.lease_until < now),
                or_(
                    ExchangePoll.last_polled_at.is_(None),
                    ExchangePoll.last_polled_at <= now - interval,
                ),
            )
            .values(lease_until=lease, last_polled_at=now, worker=worker_id())
        ).rowcount  # type: ignore[attr-defined]
    return bool(got)


def _release(system: System, error: str | None) -> None:
    with transaction(system.sessions) as s:
        s.execute(
            update(ExchangePoll)
            .where(ExchangePoll.name == POLL_NAME)
            .values(lease_until=None, last_error=error)
        )


def receive_due(system: System, transport: VdxpTransport | None = None) -> int:
    """One receiving round, when the transport is polled and the round is due: returns the
    number of packages taken or refused."""
    if system.settings.exchange_transport != "vdxp":
        return 0
    if not _claim(system, _now()):
        return 0
    error: str | None = None
    handled = 0
    try:
        transport = transport or VdxpTransport.from_settings(system.settings)
        handled = _receive(system, transport)
        _reconcile(system, transport)
    except Exception as exc:  # kept on the row for the admin; the loop goes on
        error = exc.message if isinstance(exc, EdmsError) else f"{type(exc).__name__}: {exc}"
        log.warning("exchange: polling the axis failed: %s", error)
    finally:
        _release(system, error)
    return handled


def _receive(system: System, transport: VdxpTransport) -> int:
    from .inbox import accept

    handled = 0
    for item in transport.poll_received():
        try:
            data = transport.fetch(item.ref)
        except AxisError as exc:
            log.warning("exchange: axis package %s cannot be fetched: %s", item.ref, exc)
            continue
        try:
            answer = accept(system, data)
        except EdmsError as exc:
            if exc.status >= 500 or exc.status in (408, 409, 429):
                log.warning("exchange: axis package %s left for later: %s", item.ref, exc.message)
                continue
            transport.reject(item.ref, exc.message)
            with transaction(system.sessions) as s:
                audit.record(
                    s,
                    f"exchange:{item.sender or '?'}",
                    "exchange.axis_refused",
                    "axis_package",
                    item.ref,
                    {"from": item.sender, "reason": exc.message[:500], "status": exc.status},
                )
            handled += 1
            continue
        except Exception:  # the database or the store failing: fetched again next round
            log.exception("exchange: axis package %s left for later", item.ref)
            continue
        transport.ack(item.ref, answer.receipt)
        _remember_ref(system, answer.document_id, answer.kind, item.ref)
        handled += 1
    return handled


def _remember_ref(system: System, document_id: int | None, kind: str, ref: str) -> None:
    """The axis's DocId of a document received, beside its inbox record."""
    if document_id is None or kind != "document":
        return
    with transaction(system.sessions) as s:
        s.execute(
            update(ExchangeMessage)
            .where(
                ExchangeMessage.document_id == document_id,
                ExchangeMessage.direction == "in",
                ExchangeMessage.kind == "document",
                ExchangeMessage.transport_ref.is_(None),
            )
            .values(transport_ref=ref)
        )


def _reconcile(system: System, transport: VdxpTransport) -> None:
    """Documents handed to the axis that no status answered yet: a receiver's ``fail`` is
    its refusal (02, with the reason)."""
    from .messages import record_refusal

    since = _now() - timedelta(days=RECONCILE_DAYS)
    with system.sessions() as s:
        waiting = [
            (m.id, m.transport_ref, m.peer_code, m.document_key)
            for m in s.scalars(
                select(ExchangeMessage)
                .where(
                    ExchangeMessage.direction == "out",
                    ExchangeMessage.kind == "document",
                    ExchangeMessage.state == "delivered",
                    ExchangeMessage.transport_ref.is_not(None),
                    ExchangeMessage.done_at >= since,
                )
                .order_by(ExchangeMessage.done_at.desc())
                .limit(RECONCILE_LIMIT * 5)
            )
        ]
        answered = {
            (m.peer_code, m.document_key)
            for m in s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.direction == "in",
                    ExchangeMessage.kind == "status",
                    ExchangeMessage.document_key.in_([w[3] for w in waiting]),
                )
            )
        }
    for msg_id, ref, peer, _key in [w for w in waiting if (w[2], w[3]) not in answered][
        :RECONCILE_LIMIT
    ]:
        assert ref is not None
        failed = [
            st
            for st in transport.sent_statuses(ref)
            if st.receive_status == "fail" and st.to_code == peer
        ]
        if not failed:
            continue
        with transaction(system.sessions) as s:
            msg = s.get(ExchangeMessage, msg_id)
            if msg is not None and msg.state == "delivered":
                record_refusal(
                    s,
                    msg,
                    failed[0].receive_status_desc
                    or "bên nhận báo lỗi khi tiếp nhận (trục liên thông)",
                )
