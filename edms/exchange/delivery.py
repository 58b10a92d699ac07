"""Delivering the outbox: a leased loop with exponential back-off.

:func:`deliver_due` (run by the delivery loop, :class:`Pump`, in every `edms serve` and
`edms worker` process, or `edms exchange deliver`) claims due entries with a lease, so two
processes never send one at once; sends each through the :class:`~.transport.Transport`;
and marks it ``delivered`` (the receiver's signed receipt verified and kept), ``refused``
(for good; recorded as status 02 from the receiver), or retried with exponential back-off
until ``EDMS_EXCHANGE_MAX_ATTEMPTS``, then ``failed``. Status packets to one agency about one
document leave in the order they were made; a package is built once and stored, so every
retry sends the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit, blobs
from ..db import transaction
from ..errors import ClientError, UpstreamUnavailable
from ..models import (
    ExchangeMessage,
)
from ..outbox_lease import Loop, lease_free, retry_at, take
from ..system import System
from . import edxml
from .directory import Peer, find, peer_of
from .messages import record_refusal
from .packets import build_document_package, build_status_packet, now_utc
from .transport import Transport, for_settings

log = logging.getLogger("edms.exchange")


@dataclass
class Round:
    delivered: int = 0
    refused: int = 0
    retried: int = 0
    failed: int = 0


def transport_for(system: System) -> Transport:
    return for_settings(system.settings)


def _claim(system: System, now: datetime, limit: int) -> list[int]:
    lease = now + timedelta(seconds=system.settings.exchange_timeout * 2 + 30)
    claimed = []
    with transaction(system.sessions) as s:
        due = list(
            s.scalars(
                select(ExchangeMessage)
                .where(
                    ExchangeMessage.direction == "out",
                    ExchangeMessage.state == "pending",
                    ExchangeMessage.next_attempt_at <= now,
                    lease_free(ExchangeMessage, now),
                )
                .order_by(ExchangeMessage.id)
                .limit(limit)
            )
        )
        busy: set[tuple[str, str]] = set()
        for msg in due:
            lane = (msg.peer_code, msg.document_key)
            if lane in busy or _earlier_pending(s, msg):
                busy.add(lane)
                continue
            busy.add(lane)
            if take(s, ExchangeMessage, msg.id, now, lease):
                claimed.append(msg.id)
    return claimed


def _earlier_pending(s: Session, msg: ExchangeMessage) -> bool:
    """Packets about one document to one agency go in order: the document first, then its
    statuses as they were made."""
    return (
        s.scalars(
            select(ExchangeMessage.id).where(
                ExchangeMessage.direction == "out",
                ExchangeMessage.peer_code == msg.peer_code,
                ExchangeMessage.document_key == msg.document_key,
                ExchangeMessage.id < msg.id,
                ExchangeMessage.state == "pending",
            )
        ).first()
        is not None
    )


def deliver_due(system: System, transport: Transport | None = None, limit: int = 20) -> Round:
    """One round of the delivery loop: send what is due."""
    result = Round()
    ids = _claim(system, now_utc(), limit)
    if not ids:
        return result
    transport = transport or transport_for(system)
    for msg_id in ids:
        outcome = _deliver_one(system, transport, msg_id)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _package(system: System, msg_id: int) -> tuple[bytes, Peer, str]:
    """The entry's package: built, signed and stored at the first attempt; the same
    stored bytes at every later one."""
    from ..documents import run_in_transaction, workdir

    def work(s: Session, puts: list[blobs.PutOutcome]) -> tuple[bytes, Peer, str]:
        msg = s.get(ExchangeMessage, msg_id)
        assert msg is not None
        entry = find(s, msg.agency_id, msg.peer_code)
        if entry is None:
            raise ClientError(f"agency {msg.peer_code} is not in the exchange directory")
        with workdir(system) as wd:
            path = wd / "package.xml"
            if msg.package_sha256 is not None:
                blobs.export_to_file(system, msg.package_sha256, path)
            else:
                path.write_bytes(
                    build_document_package(system, s, msg, wd)
                    if msg.kind == "document"
                    else build_status_packet(system, s, msg)
                )
                puts.append(
                    blobs.add_file(
                        system,
                        s,
                        path,
                        name=f"edxml-{msg.id}.xml",
                        allowed=("application/xml", "text/xml"),
                    )
                )
                msg.package_sha256 = puts[-1].sha256
            return path.read_bytes(), peer_of(entry), msg.kind

    result: tuple[bytes, Peer, str] = run_in_transaction(system, work)
    return result


def _deliver_one(system: System, transport: Transport, msg_id: int) -> str:
    try:
        data, peer, kind = _package(system, msg_id)
    except Exception as exc:  # the package cannot even be made: counts as an attempt
        log.warning("exchange: package %s cannot be built: %s", msg_id, exc)
        return _attempt_failed(system, msg_id, f"the package cannot be built: {exc}")
    delivery = (
        transport.send(peer, data) if kind == "document" else transport.send_status(peer, data)
    )
    if delivery.outcome == "accepted":
        # handed to an axis (a ref, no receipt): the receiver answers later, with 01
        relayed = delivery.receipt is None and bool(delivery.ref)
        if not relayed:
            try:
                _check_receipt(delivery.receipt or b"", peer, data)
            except Exception as exc:
                return _attempt_failed(system, msg_id, f"the receipt does not verify: {exc}")
        with transaction(system.sessions) as s:
            msg = s.get(ExchangeMessage, msg_id)
            assert msg is not None
            msg.state, msg.done_at, msg.lease_until = "delivered", now_utc(), None
            msg.attempts += 1
            msg.receipt = None if relayed else (delivery.receipt or b"").decode("utf-8")
            msg.transport_ref = delivery.ref or None
            msg.last_error = None
            audit.record(
                s,
                "system",
                "exchange.delivered",
                "document",
                str(msg.document_id),
                {
                    "to": peer.code,
                    "kind": kind,
                    "code": msg.status_code,
                    "duplicate": delivery.duplicate,
                    **({"axis_doc_id": delivery.ref} if relayed else {}),
                },
            )
        return "delivered"
    if delivery.outcome == "refused":
        with transaction(system.sessions) as s:
            msg = s.get(ExchangeMessage, msg_id)
            assert msg is not None
            msg.attempts += 1
            record_refusal(s, msg, delivery.reason)
        return "refused"
    return _attempt_failed(system, msg_id, delivery.reason)


def _attempt_failed(system: System, msg_id: int, reason: str) -> str:
    """Count the attempt; back off exponentially, or give up after the last one."""
    settings = system.settings
    with transaction(system.sessions) as s:
        msg = s.get(ExchangeMessage, msg_id)
        assert msg is not None
        msg.attempts += 1
        msg.last_error = reason[:2000]
        msg.lease_until = None
        if msg.attempts >= settings.exchange_max_attempts:
            msg.state, msg.done_at = "failed", now_utc()
            audit.record(
                s,
                "system",
                "exchange.failed",
                "document",
                str(msg.document_id),
                {"to": msg.peer_code, "attempts": msg.attempts, "reason": reason[:500]},
            )
            return "failed"
        msg.next_attempt_at = retry_at(
            now_utc(),
            msg.attempts,
            settings.exchange_retry_base_seconds,
            settings.exchange_retry_max_seconds,
        )
    return "retried"


def _check_receipt(receipt: bytes, peer: Peer, package: bytes) -> edxml.Receipt:
    """The receiver's receipt: signed by a certificate registered for it, for exactly the
    package we sent."""
    edxml.screen(receipt, 1 << 20)
    verified = xmldsig.verify(receipt, list(peer.certificates))
    r = edxml.read_receipt(verified.signed)
    if r.package_sha256 != hashlib.sha256(package).hexdigest():
        raise UpstreamUnavailable("the receipt is for another package")
    if r.receiver not in (peer.code, peer.alt_code):
        raise UpstreamUnavailable("the receipt names another receiver")
    return r


class Pump:
    """The delivery loop on a daemon thread (one per process; several processes share the
    work through the leases); on a polled transport (an axis), the receiving loop on a
    second one, so neither waits behind the other's round."""

    def __init__(self, system: System) -> None:
        self.system = system
        settings = system.settings
        stop = threading.Event()
        self.loops = [
            Loop(
                "edms-exchange",
                lambda: _busy(deliver_due(system)),
                settings.exchange_poll_seconds,
                log,
                "exchange delivery round failed",
                stop,
            )
        ]
        if settings.exchange_transport == "vdxp":
            from .receiving import receive_due

            # what the axis holds for us (the round is due at most once per interval)
            self.loops.append(
                Loop(
                    "edms-exchange-receive",
                    lambda: receive_due(system) > 0,
                    settings.exchange_vdxp_poll_seconds,
                    log,
                    "exchange receiving round failed",
                    stop,
                )
            )
        self.thread = self.loops[0].thread

    def start(self) -> Pump:
        for loop in self.loops:
            loop.start()
        self.system.closers.append(self.stop)
        return self

    def stop(self) -> None:
        for loop in self.loops:  # one stop event: the first stop() stops both
            loop.stop()


def _busy(r: Round) -> bool:
    return (r.delivered + r.refused + r.retried + r.failed) > 0
