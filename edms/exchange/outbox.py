"""The outbox: what this system sends, kept in the database until it is delivered.

Entries are written in the same transaction as the step that causes them (issuing a
document, registering/assigning/handling a received one, revoking), so a step and its
packets happen together or not at all, and a restart loses nothing. The package itself is
built and signed with the agency's seal key at the first attempt and stored; every retry
sends the same bytes (the receiver deduplicates on sender and DocumentId, and answers a
repeat with its original receipt).

Delivery (:func:`deliver_due`, run by the delivery loop in every `edms serve` and `edms
worker` process, or `edms exchange deliver`): an entry is claimed with a lease (so two
processes never send it at once), sent through the :class:`~.transport.Transport`, and then
``delivered`` (the receiver's signed receipt verified and kept), ``refused`` (for good; the
reason is recorded as status 02 from the receiver), or retried with exponential back-off
until ``EDMS_EXCHANGE_MAX_ATTEMPTS``, then ``failed`` where people see it. Status packets to
one agency about one document leave in the order they were made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit, blobs
from ..db import transaction
from ..doctypes import DOCUMENT_TYPES
from ..errors import EdmsError, Forbidden, InvalidTransition, NotFound
from ..models import (
    Agency,
    Document,
    DocumentFile,
    ExchangeMessage,
    OrgUnit,
    SignatureRecord,
    SigningKey,
    User,
)
from ..orgs import active_key, load_user, open_key
from ..system import System
from . import edxml
from .directory import Peer, find, organ_for, peer_of
from .transport import Transport, for_settings

log = logging.getLogger("edms.exchange")

TYPE_NUMBER = {t.code: i + 1 for i, t in enumerate(DOCUMENT_TYPES)}


def _now() -> datetime:
    return datetime.now(UTC)


def document_key(s: Session, doc: Document) -> str:
    """``OrganId,yyyy/MM/dd,Số/KýHiệu`` of one of our issued documents."""
    organ = doc.organ_id
    if not organ:
        agency = s.get(Agency, doc.agency_id)
        assert agency is not None
        organ = agency.code
    number = doc.code_number or (f"{doc.number:02d}" if doc.number else None)
    if not (number and doc.issued_date and doc.code_notation):
        raise InvalidTransition(f"document {doc.id} has no number and date to send")
    return edxml.document_id(organ, doc.issued_date, number, doc.code_notation)


def _staff(s: Session, user: User | None) -> tuple[str, str]:
    """Who made a packet, for its StaffInfo: name and unit."""
    if user is None:
        return "", ""
    unit = s.get(OrgUnit, user.unit_id) if user.unit_id else None
    return user.full_name[:100], (unit.name if unit else "")[:200]


def _received_message(s: Session, doc_id: int) -> ExchangeMessage | None:
    return s.scalars(
        select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc_id,
            ExchangeMessage.direction == "in",
            ExchangeMessage.kind == "document",
        )
    ).first()


# -- hooks, called inside the document step's transaction ------------------------------------


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
    now = _now()
    staff, unit = _staff(s, user)
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
    received = _received_message(s, doc.id)
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
        raise EdmsError(f"unknown status code {code}")
    now = _now()
    staff, unit = _staff(s, user)
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


# -- building the packages ------------------------------------------------------------------------


def _sign(system: System, s: Session, agency: Agency, root: Any) -> bytes:
    key = active_key(s, agency_id=agency.id)
    profile = open_key(system, key)
    parent = edxml.header_of(root) if root.tag.endswith("}edXML") else root
    xmldsig.sign(root, profile.key, parent=parent)
    return edxml.serialize(root)


def competence(s: Session, doc: Document) -> str:
    """SignerInfo/Competence: the authority line the competent person signed under
    (``TM. ỦY BAN NHÂN DÂN``, ``KT. CHỦ TỊCH``, ``Q.``, ``TL.``, ``TUQ.``), else from the key
    of the document's latest personal signature; signing in one's own title, the title
    line itself (``CHỦ TỊCH``). The authority chosen for this document when it was
    signed comes first."""
    if doc.signer_competence.strip():
        return doc.signer_competence.strip()[:100]
    key = s.scalars(
        select(SigningKey)
        .join(SignatureRecord, SignatureRecord.signing_key_id == SigningKey.id)
        .where(SignatureRecord.document_id == doc.id, SignatureRecord.profile == "personal")
        .order_by(SignatureRecord.id.desc())
    ).first()
    if key is not None and key.authority.strip():
        return key.authority.strip()[:100]
    return doc.signer_position.strip().upper()[:100]


def replies_to(s: Session, doc: Document) -> tuple[edxml.ResponseFor, ...]:
    """A reply names the document it answers (ResponseFor)."""
    if doc.response_for_id is None:
        return ()
    answered = s.get(Document, doc.response_for_id)
    if answered is None:
        return ()
    received = _received_message(s, answered.id)
    number, notation = answered.code_number or "", answered.code_notation or ""
    key = (
        received.document_key
        if received is not None
        else (
            edxml.document_id(answered.organ_id, answered.issued_date, number, notation)
            if answered.organ_id and answered.issued_date and number and notation
            else ""
        )
    )
    if not key:
        return ()
    m = edxml.DOCUMENT_ID.match(key)
    return (
        edxml.ResponseFor(
            m["organ"] if m else (answered.organ_id or ""),
            f"{m['number']}/{m['symbol']}" if m else f"{number}/{notation}",
            key,
            answered.issued_date,
        ),
    )


def document_packet(
    system: System,
    s: Session,
    doc: Document,
    agency: Agency,
    peer_code: str,
    key: str,
    business: int,
    sent_at: datetime,
    workdir: Path,
    staff: tuple[str, str] = ("", ""),
) -> edxml.DocumentPackage:
    """The edXML document package for ``doc`` to ``peer_code``, as VNPT's library writes
    it: the sealed main PDF and its attachments, the signer's competence, the document it
    answers, the replaced one, this agency's public identity."""
    entry = find(s, agency.id, peer_code)
    if entry is None:
        raise EdmsError(f"agency {peer_code} is not in the exchange directory of {agency.code}")
    files = list(
        s.scalars(
            select(DocumentFile).where(DocumentFile.document_id == doc.id).order_by(DocumentFile.id)
        )
    )
    mains = [f for f in files if f.role == "main"]
    if not mains:
        raise EdmsError(f"document {doc.id} has no file to send")
    main = mains[-1]
    parts = [main] + [f for f in files if f.role == "attachment" and f.stage == main.stage]
    attachments = []
    for i, f in enumerate(parts):
        target = workdir / f"part-{i}"
        blobs.export_to_file(system, f.sha256, target)
        attachments.append(
            edxml.Attachment(
                f"{i + 1}@{agency.code}",
                f.name,
                "application/pdf",
                target.read_bytes(),
                "Văn bản chính" if i == 0 else "Phụ lục",
            )
        )
    recipients = json.loads(doc.recipients or "[]")
    replacements: tuple[edxml.Replacement, ...] = ()
    if doc.replaces_id is not None:
        old = s.get(Document, doc.replaces_id)
        if old is not None:
            replacements = (edxml.Replacement(document_key(s, old), (peer_code,)),)
    doc_type = next((t for t in DOCUMENT_TYPES if t.code == doc.type_code), None)
    type_name = (doc_type.name if doc_type else doc.type_code).split(" (")[0]
    m = edxml.check_document_key(key)
    return edxml.DocumentPackage(
        sender=organ_for(s, agency),
        to=(edxml.Organ(entry.code, entry.name, in_charge=entry.name),),
        document_key=key,
        code_number=m["number"],
        code_notation=doc.code_notation or "",
        place=agency.place,
        promulgation_date=doc.issued_date or _now().date(),
        type_code=edxml.TYPE_ADMINISTRATIVE,
        type_detail=TYPE_NUMBER.get(doc.type_code, 0),
        type_name=type_name,
        subject=doc.subject,
        content=doc.description,
        signer_competence=competence(s, doc),
        signer_position=doc.signer_position,
        signer_name=doc.signer_name,
        due_date=doc.due_date,
        priority=doc.priority,
        promulgation_amount=doc.issued_amount or 0,
        page_amount=doc.page_amount or 0,
        appendixes=tuple(a.name for a in attachments[1:]),
        response_for=replies_to(s, doc),
        to_places=tuple(str(r.get("name", "")) for r in recipients if r.get("name")),
        traces=(edxml.TraceHeader(agency.code, sent_at),),
        business=edxml.Business(
            business,
            edxml.BUSINESS_REASONS[business],
            staff=edxml.StaffInfo(staff[1], staff[0]),
            replacements=replacements,
        ),
        attachments=tuple(attachments),
    )


def status_packet(
    s: Session,
    agency: Agency,
    key: str,
    code: str,
    description: str,
    at: datetime,
    staff: tuple[str, str] = ("", ""),
) -> edxml.StatusPacket:
    """A status packet about DocumentId ``key``, as VNPT's library writes it."""
    m = edxml.check_document_key(key)
    return edxml.StatusPacket(
        sender=organ_for(s, agency),
        response_for=edxml.ResponseFor(
            m["organ"],
            f"{m['number']}/{m['symbol']}",
            key,
            datetime.strptime(m["date"], "%Y/%m/%d").date(),
        ),
        status_code=code,
        description=description,
        staff=edxml.StaffInfo(staff[1] or agency.name, staff[0]),
        at=at,
    )


def build_document_package(
    system: System, s: Session, msg: ExchangeMessage, workdir: Path
) -> bytes:
    doc = s.get(Document, msg.document_id)
    agency = s.get(Agency, msg.agency_id)
    assert doc is not None and agency is not None
    packet = document_packet(
        system,
        s,
        doc,
        agency,
        msg.peer_code,
        msg.document_key,
        msg.business_type or 0,
        msg.packet_at or _now(),
        workdir,
        (msg.staff, msg.staff_unit),
    )
    return _sign(system, s, agency, edxml.build(packet))


def build_status_packet(system: System, s: Session, msg: ExchangeMessage) -> bytes:
    agency = s.get(Agency, msg.agency_id)
    assert agency is not None
    packet = status_packet(
        s,
        agency,
        msg.document_key,
        msg.status_code or "",
        msg.description,
        msg.packet_at or _now(),
        (msg.staff, msg.staff_unit),
    )
    return _sign(system, s, agency, edxml.build(packet))


# -- exporting, for people who debug interoperability ---------------------------------------


def _exportable(s: Session, actor: str, doc_id: int) -> tuple[User, Document, Agency]:
    user = load_user(s, actor)
    if not user.role_set & {"clerk", "admin"}:
        raise Forbidden(
            "only the clerk's office or an administrator exports exchange "
            "packages (they carry the agency's signature)"
        )
    doc = s.get(Document, doc_id)
    if doc is None or doc.agency_id != user.agency_id:
        raise NotFound(f"document {doc_id} not found")
    agency = s.get(Agency, doc.agency_id)
    assert agency is not None
    return user, doc, agency


def export_document(system: System, actor: str, doc_id: int, to: str) -> bytes:
    """The signed package that would be sent for issued document ``doc_id`` to agency
    ``to`` (in the directory): built and signed now, nothing queued or stored."""
    from ..documents import workdir

    with system.sessions() as s, workdir(system) as wd:
        user, doc, agency = _exportable(s, actor, doc_id)
        if (
            doc.direction != "outgoing"
            or doc.state not in ("issued", "revoked")
            or not doc.issued_date
        ):
            raise InvalidTransition(f"document {doc_id} is not an issued outgoing document")
        if doc.secrecy:
            raise Forbidden("secret documents never travel through the exchange")
        business = 3 if doc.replaces_id else 0
        packet = document_packet(
            system,
            s,
            doc,
            agency,
            to.strip(),
            document_key(s, doc),
            business,
            _now(),
            wd,
            _staff(s, user),
        )
        data = _sign(system, s, agency, edxml.build(packet))
        audit.record(
            s,
            user.username,
            "exchange.export",
            "document",
            str(doc.id),
            {"to": to, "kind": "document", "package_sha256": hashlib.sha256(data).hexdigest()},
        )
        s.commit()
        return data


def export_status(
    system: System, actor: str, doc_id: int, code: str, description: str = "", to: str | None = None
) -> bytes:
    """The signed status packet ``code`` about document ``doc_id``: for a document received
    through the exchange, addressed to its sender; for one of ours, to ``to`` (13)."""
    with system.sessions() as s:
        user, doc, agency = _exportable(s, actor, doc_id)
        if code not in edxml.STATUS_CODES:
            raise EdmsError(
                f"unknown status code {code!r} (known: {', '.join(edxml.STATUS_CODES)})"
            )
        if code in ("02", "16") and not description.strip():
            raise EdmsError(f"status {code} needs a reason (--description)")
        received = _received_message(s, doc.id)
        if received is not None:
            key, peer = received.document_key, received.peer_code
        elif doc.direction == "outgoing":
            if code != "13":
                raise EdmsError(
                    "for a document this agency issued, only 13 (revocation) "
                    "is sent; the other codes are the receiver's"
                )
            if not to:
                raise EdmsError("name the recipient agency (--to) for status 13")
            key, peer = document_key(s, doc), to.strip()
        else:
            raise InvalidTransition(f"document {doc_id} did not come through the exchange")
        packet = status_packet(
            s,
            agency,
            key,
            code,
            description.strip() or edxml.STATUS_CODES[code],
            _now(),
            _staff(s, user),
        )
        data = _sign(system, s, agency, edxml.build(packet))
        audit.record(
            s,
            user.username,
            "exchange.export",
            "document",
            str(doc.id),
            {
                "to": peer,
                "kind": "status",
                "code": code,
                "package_sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        s.commit()
        return data


# -- delivery -----------------------------------------------------------------------------------


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
                    or_(ExchangeMessage.lease_until.is_(None), ExchangeMessage.lease_until < now),
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
            got = s.execute(
                update(ExchangeMessage)
                .where(
                    ExchangeMessage.id == msg.id,
                    ExchangeMessage.state == "pending",
                    or_(ExchangeMessage.lease_until.is_(None), ExchangeMessage.lease_until < now),
                )
                .values(lease_until=lease)
            )
            if got.rowcount == 1:  # type: ignore[attr-defined]
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
    ids = _claim(system, _now(), limit)
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
            raise EdmsError(f"agency {msg.peer_code} is not in the exchange directory")
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
            msg.state, msg.done_at, msg.lease_until = "delivered", _now(), None
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


def record_refusal(s: Session, msg: ExchangeMessage, reason: str) -> None:
    """The receiver (or the axis) refused the packet for good: for a document, its answer
    is recorded as status 02 from the receiver, with the reason."""
    msg.state, msg.done_at, msg.lease_until = "refused", _now(), None
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
                packet_at=_now(),
                created_at=_now(),
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
            msg.state, msg.done_at = "failed", _now()
            audit.record(
                s,
                "system",
                "exchange.failed",
                "document",
                str(msg.document_id),
                {"to": msg.peer_code, "attempts": msg.attempts, "reason": reason[:500]},
            )
            return "failed"
        delay = min(
            settings.exchange_retry_base_seconds * 2 ** (msg.attempts - 1),
            settings.exchange_retry_max_seconds,
        )
        msg.next_attempt_at = _now() + timedelta(seconds=delay)
    return "retried"


def _check_receipt(receipt: bytes, peer: Peer, package: bytes) -> edxml.Receipt:
    """The receiver's receipt: signed by a certificate registered for it, for exactly the
    package we sent."""
    edxml.screen(receipt, 1 << 20)
    verified = xmldsig.verify(receipt, list(peer.certificates))
    r = edxml.read_receipt(verified.signed)
    if r.package_sha256 != hashlib.sha256(package).hexdigest():
        raise EdmsError("the receipt is for another package")
    if r.receiver not in (peer.code, peer.alt_code):
        raise EdmsError("the receipt names another receiver")
    return r


# -- the loop ---------------------------------------------------------------------------------


class Pump:
    """The delivery loop on a daemon thread (one per process; several processes share the
    work through the leases); on a polled transport (an axis), the receiving loop on a
    second one, so neither waits behind the other's round."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="edms-exchange", daemon=True)
        self.receiver: threading.Thread | None = None
        if system.settings.exchange_transport == "vdxp":
            self.receiver = threading.Thread(
                target=self._receive, daemon=True, name="edms-exchange-receive"
            )

    def start(self) -> Pump:
        self.thread.start()
        if self.receiver is not None:
            self.receiver.start()
        self.system.closers.append(self.stop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in (self.thread, self.receiver):
            if t is not None and t.is_alive() and threading.current_thread() is not t:
                t.join(timeout=30)

    def _run(self) -> None:
        interval = self.system.settings.exchange_poll_seconds
        while not self._stop.is_set():
            busy = False
            try:
                r = deliver_due(self.system)
                busy = (r.delivered + r.refused + r.retried + r.failed) > 0
            except Exception:  # keep the loop alive; the cause is logged
                log.exception("exchange delivery round failed")
            if not busy:
                self._stop.wait(interval)

    def _receive(self) -> None:
        from .receiving import receive_due

        interval = self.system.settings.exchange_vdxp_poll_seconds
        while not self._stop.is_set():
            busy = False
            try:  # what the axis holds for us (the round is due at most once per interval)
                busy = receive_due(self.system) > 0
            except Exception:  # keep the loop alive; the cause is logged
                log.exception("exchange receiving round failed")
            if not busy:
                self._stop.wait(interval)


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
