"""Building the exchange's packages: the edXML document package (with its files and the
agency's XML signature) and status packets, the fields they carry (document key,
competence, replies), and exports of them for people to carry by other means.

Invariants: only issued (or revoked) outgoing documents are packaged; every package is
signed with the agency's active seal key; building writes nothing (the outbox stores the
bytes at the first delivery attempt, so retries send the same bytes); exports are for the
clerk's office or an administrator of the document's own agency.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit, blobs
from ..doctypes import DOCUMENT_TYPES
from ..errors import ClientError, Forbidden, InvalidTransition, NotFound
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
from .directory import find, organ_for

TYPE_NUMBER = {t.code: i + 1 for i, t in enumerate(DOCUMENT_TYPES)}


def now_utc() -> datetime:
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


def staff_of(s: Session, user: User | None) -> tuple[str, str]:
    """Who made a packet, for its StaffInfo: name and unit."""
    if user is None:
        return "", ""
    unit = s.get(OrgUnit, user.unit_id) if user.unit_id else None
    return user.full_name[:100], (unit.name if unit else "")[:200]


def received_message(s: Session, doc_id: int) -> ExchangeMessage | None:
    return s.scalars(
        select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc_id,
            ExchangeMessage.direction == "in",
            ExchangeMessage.kind == "document",
        )
    ).first()


def sign_packet(system: System, s: Session, agency: Agency, root: Any) -> bytes:
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
    received = received_message(s, answered.id)
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
        raise ClientError(f"agency {peer_code} is not in the exchange directory of {agency.code}")
    files = list(
        s.scalars(
            select(DocumentFile).where(DocumentFile.document_id == doc.id).order_by(DocumentFile.id)
        )
    )
    mains = [f for f in files if f.role == "main"]
    if not mains:
        raise ClientError(f"document {doc.id} has no file to send")
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
        promulgation_date=doc.issued_date or now_utc().date(),
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
        msg.packet_at or now_utc(),
        workdir,
        (msg.staff, msg.staff_unit),
    )
    return sign_packet(system, s, agency, edxml.build(packet))


def build_status_packet(system: System, s: Session, msg: ExchangeMessage) -> bytes:
    agency = s.get(Agency, msg.agency_id)
    assert agency is not None
    packet = status_packet(
        s,
        agency,
        msg.document_key,
        msg.status_code or "",
        msg.description,
        msg.packet_at or now_utc(),
        (msg.staff, msg.staff_unit),
    )
    return sign_packet(system, s, agency, edxml.build(packet))


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
            now_utc(),
            wd,
            staff_of(s, user),
        )
        data = sign_packet(system, s, agency, edxml.build(packet))
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
            raise ClientError(
                f"unknown status code {code!r} (known: {', '.join(edxml.STATUS_CODES)})"
            )
        if code in ("02", "16") and not description.strip():
            raise ClientError(f"status {code} needs a reason (--description)")
        received = received_message(s, doc.id)
        if received is not None:
            key, peer = received.document_key, received.peer_code
        elif doc.direction == "outgoing":
            if code != "13":
                raise ClientError(
                    "for a document this agency issued, only 13 (revocation) "
                    "is sent; the other codes are the receiver's"
                )
            if not to:
                raise ClientError("name the recipient agency (--to) for status 13")
            key, peer = document_key(s, doc), to.strip()
        else:
            raise InvalidTransition(f"document {doc_id} did not come through the exchange")
        packet = status_packet(
            s,
            agency,
            key,
            code,
            description.strip() or edxml.STATUS_CODES[code],
            now_utc(),
            staff_of(s, user),
        )
        data = sign_packet(system, s, agency, edxml.build(packet))
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
