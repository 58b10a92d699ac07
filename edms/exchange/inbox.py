"""The inbox: packages other agencies send to this system, taken as a pipeline of checks,
each able to refuse the package before anything is stored:

1. **screen**: size limit, no DTD or entities (defusedxml), well-formed XML;
2. **sender**: the claimed sender (``From/OrganId``) is in the exchange directory;
3. **signature**: the XML signature verifies with a certificate registered for that sender,
   and covers the whole package;
4. **content**: the edXML structure, codes, DocumentId, attachments and manifest;
5. **addressee**: the package is for an agency of this system (or, for a status packet,
   about one of our documents);
6. **duplicate**: the same sender and DocumentId again gets the original receipt and
   creates nothing;
7. **documents**: every attached PDF is validated (sandboxed, full report); a PDF that fails
   refuses the whole package with the reason (the sender records it as status 02);
8. **accept**: one transaction stores the package, creates the incoming document in state
   ``verified`` with its validation report, queues status 01 back to the sender, and keeps
   the signed receipt returned to the sender.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit, blobs, search
from ..db import transaction
from ..doctypes import DOCUMENT_TYPES
from ..errors import EdmsError, Forbidden, InvalidTransition, NotFound
from ..models import (
    Agency,
    Document,
    DocumentFile,
    ExchangeMessage,
    StatusEvent,
    User,
    ValidationRecord,
)
from ..orgs import active_key, load_user, open_key
from ..signatures import validate_sandboxed
from ..system import System
from . import edxml
from .directory import find, peer_of
from .outbox import queue_status


class UnknownSender(edxml.PackageRefused):
    status = 403
    title = "Unknown sender"
    type_slug = "unknown-sender"


class BadSignature(edxml.PackageRefused):
    status = 403
    title = "Package signature invalid"
    type_slug = "package-signature-invalid"


class DocumentRejected(edxml.PackageRefused):
    """A PDF in the package fails validation: returned with status 02."""

    status = 422
    title = "Document returned (02)"
    type_slug = "document-returned"

    def __init__(self, message: str) -> None:
        super().__init__(message, statusCode="02")


@dataclass(frozen=True)
class Answer:
    receipt: bytes
    duplicate: bool
    kind: str
    document_id: int | None


def _now() -> datetime:
    return datetime.now(UTC)


def accept(system: System, data: bytes) -> Answer:
    settings = system.settings
    edxml.screen(data, settings.exchange_max_mb * 1024 * 1024)
    from lxml import etree

    try:
        root = etree.fromstring(data, parser=xmldsig.hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise edxml.PackageRefused(f"malformed XML: {exc}") from None
    sender = edxml.sender_of(root)
    with system.sessions() as s:
        entry = find(s, sender)
        if entry is None or not entry.active:
            raise UnknownSender(f"agency {sender} is not in this system's exchange "
                                "directory: it cannot deliver here")
        peer = peer_of(entry)
    try:
        verified = xmldsig.verify(data, list(peer.certificates))
    except xmldsig.XmlSignatureError as exc:
        raise BadSignature(f"the package from {sender} is refused: {exc}") from None
    except Exception as exc:  # signxml's other complaints about the structure
        raise BadSignature(f"the package from {sender} is refused: "
                           f"{type(exc).__name__}: {exc}") from None
    sha = hashlib.sha256(data).hexdigest()
    if edxml.kind_of(verified.signed) == "status":
        return _accept_status(system, data, sha, peer.code, verified.signed)
    return _accept_document(system, data, sha, peer.code, verified.signed)


# -- documents --------------------------------------------------------------------------------


def _original(s: Session, agency_id: int, sender: str, key: str) -> ExchangeMessage | None:
    return s.scalars(select(ExchangeMessage).where(
        ExchangeMessage.agency_id == agency_id, ExchangeMessage.direction == "in",
        ExchangeMessage.kind == "document", ExchangeMessage.peer_code == sender,
        ExchangeMessage.document_key == key)).first()


def _exchange_user(s: Session, agency: Agency) -> User:
    """The account received documents are recorded under (it cannot log in)."""
    name = f"lienthong.{agency.id}"
    user = s.scalars(select(User).where(User.username == name)).first()
    if user is None:
        user = User(agency_id=agency.id, username=name, full_name="Hệ thống liên thông",
                    title="Trục liên thông văn bản", roles="clerk", password_hash=None,
                    active=False, created_at=_now())
        s.add(user)
        s.flush()
    return user


def _type_code(p: edxml.DocumentPackage) -> str:
    if 1 <= p.type_code <= len(DOCUMENT_TYPES):
        return DOCUMENT_TYPES[p.type_code - 1].code
    for t in DOCUMENT_TYPES:
        if t.name.lower() == p.type_name.lower():
            return t.code
    return "cong-van"


def _accept_document(system: System, data: bytes, sha: str, sender: str,
                     signed: object) -> Answer:
    from ..documents import _index, _record_file, run_in_transaction, workdir

    p = edxml.parse_document(signed)  # type: ignore[arg-type]
    with system.sessions() as s:
        ours = {a.code: a for a in s.scalars(select(Agency))}
        target = next((ours[t.organ_id] for t in p.to if t.organ_id in ours), None)
        if target is None:
            raise edxml.PackageRefused(
                "the package is not addressed to an agency of this system (To: "
                + ", ".join(t.organ_id for t in p.to) + ")")
        agency_id = target.id
        first = _original(s, agency_id, sender, p.document_key)
        if first is not None and first.receipt:
            return Answer(first.receipt.encode(), True, "document", first.document_id)
    others = [a.name for a in p.attachments if a.content_type != "application/pdf"]
    if others:  # kept as they came or not at all: only signed PDFs are records here
        raise edxml.PackageRefused("only signed PDF files are taken through the exchange; "
                                   f"the package also carries {', '.join(others)}")
    with workdir(system) as wd:
        paths: list[tuple[edxml.Attachment, Path]] = []
        for i, a in enumerate(p.attachments):
            path = wd / f"att-{i}.pdf"
            path.write_bytes(a.data)
            paths.append((a, path))
        reports = {}
        for a, path in paths:
            report = validate_sandboxed(system.settings, path)
            reports[a.content_id] = report
            if not report.valid:
                problems = "; ".join(report.errors or [m for r in report.signatures
                                                       for m in r.messages][:3])
                changed = " (changed after signing)" if report.changed_after_signing else ""
                with transaction(system.sessions) as s:
                    audit.record(s, f"exchange:{sender}", "exchange.returned", "package",
                                 sha, {"document_key": p.document_key, "file": a.name,
                                       "reason": problems[:500]})
                raise DocumentRejected(
                    f"Trả lại (02): {a.name} không hợp lệ{changed}: {problems}")
        content = search.extract_pdf_text(paths[0][1])  # the first is the main document
        (wd / "package.xml").write_bytes(data)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> Answer:
            agency = s.get(Agency, agency_id)
            assert agency is not None
            user = _exchange_user(s, agency)
            now = _now()
            replaces = None
            if p.replaces_key:
                old = _original(s, agency_id, sender, p.replaces_key)
                replaces = old.document_id if old else None
            doc = Document(
                agency_id=agency_id, direction="incoming", state="verified",
                type_code=_type_code(p), subject=p.subject[:500],
                organ_name=p.sender.organ_name[:200], organ_id=p.sender.organ_id,
                code_number=p.code_number[:11], code_notation=p.code_notation[:30],
                issued_date=p.promulgation_date, signer_name=p.signer_name[:50],
                signer_position=p.signer_position[:100], due_date=p.due_date,
                priority=p.priority, secrecy=0,
                to_places="; ".join(p.to_places)[:1000], description=p.content[:500],
                page_amount=p.page_amount or None, arrival_at=now, replaces_id=replaces,
                created_by=user.id, created_at=now, updated_at=now)
            s.add(doc)
            s.flush()
            main_file: DocumentFile | None = None
            for a, path in paths:
                f = _record_file(system, s, puts, doc, path, a.name,
                                 "attachment" if main_file else "main", "received", user,
                                 attachment_of=main_file.id if main_file else None)
                main_file = main_file or f
                report = reports[a.content_id]
                s.add(ValidationRecord(document_id=doc.id, file_id=f.id, checked_at=now,
                                       checked_by=user.id, valid=report.valid,
                                       report=json.dumps(report.to_json(),
                                                         ensure_ascii=False)))
            put = blobs.add_file(system, s, wd / "package.xml", name=f"edxml-{sha[:16]}.xml",
                                 allowed=("application/xml", "text/xml"))
            puts.append(put)
            s.add(StatusEvent(document_id=doc.id, at=now, actor_id=user.id,
                              action="receive", from_state=None, to_state="received",
                              code="01", note=f"liên thông từ {p.sender.organ_name}"))
            s.add(StatusEvent(document_id=doc.id, at=now, actor_id=user.id,
                              action="verify", from_state="received", to_state="verified",
                              note="chữ ký số hợp lệ"))
            receipt = _signed_receipt(system, s, agency, edxml.Receipt(
                agency.code, sender, p.document_key, sha, now, "accepted"))
            s.add(ExchangeMessage(
                agency_id=agency_id, direction="in", kind="document", peer_code=sender,
                document_id=doc.id, document_key=p.document_key,
                business_type=p.business_type, package_sha256=put.sha256,
                state="accepted", attempts=0, receipt=receipt.decode(),
                packet_at=p.sent_at, created_at=now, done_at=now))
            queue_status(s, agency_id, sender, doc.id, p.document_key, "01",
                         edxml.STATUS_CODES["01"])
            audit.record(s, f"exchange:{sender}", "exchange.received", "document",
                         str(doc.id), {"from": sender, "document_key": p.document_key,
                                       "package_sha256": sha,
                                       "business_type": p.business_type,
                                       "files": len(reports)})
            _index(s, doc, content)
            return Answer(receipt, False, "document", doc.id)

        try:
            answer: Answer = run_in_transaction(system, work)
        except IntegrityError:  # the same package arrived twice at once: the first won
            with system.sessions() as s:
                first = _original(s, agency_id, sender, p.document_key)
                if first is None or not first.receipt:
                    raise
                return Answer(first.receipt.encode(), True, "document", first.document_id)
        return answer


def _signed_receipt(system: System, s: Session, agency: Agency, r: edxml.Receipt) -> bytes:
    key = active_key(s, agency_id=agency.id)
    root = edxml.build_receipt(r)
    xmldsig.sign(root, open_key(system, key).key)
    return edxml.serialize(root)


# -- status packets ---------------------------------------------------------------------------


def _accept_status(system: System, data: bytes, sha: str, sender: str, signed: object
                   ) -> Answer:
    p = edxml.parse_status(signed)  # type: ignore[arg-type]
    with transaction(system.sessions) as s:
        ours = {a.code: a for a in s.scalars(select(Agency))}
        if p.status_code == "13":  # the sender revokes a document it sent us
            if p.response_for_organ != sender:
                raise edxml.PackageRefused("only the issuing agency can revoke a document")
            msg = s.scalars(select(ExchangeMessage).where(
                ExchangeMessage.direction == "in", ExchangeMessage.kind == "document",
                ExchangeMessage.peer_code == sender,
                ExchangeMessage.document_key == p.document_key)).first()
            if msg is None:
                raise edxml.PackageRefused(f"no document {p.document_key} was received "
                                           f"from {sender}")
            agency = s.get(Agency, msg.agency_id)
            doc_id = msg.document_id
        else:
            agency = ours.get(p.response_for_organ)
            msg = None if agency is None else s.scalars(select(ExchangeMessage).where(
                ExchangeMessage.agency_id == agency.id, ExchangeMessage.direction == "out",
                ExchangeMessage.kind == "document", ExchangeMessage.peer_code == sender,
                ExchangeMessage.document_key == p.document_key)).first()
            if msg is None:
                raise edxml.PackageRefused(f"{sender} reports on {p.document_key}, which "
                                           "this system did not send it")
            doc_id = msg.document_id
        assert agency is not None
        at = p.at.astimezone(UTC)
        repeat = s.scalars(select(ExchangeMessage).where(
            ExchangeMessage.direction == "in", ExchangeMessage.kind == "status",
            ExchangeMessage.peer_code == sender,
            ExchangeMessage.document_key == p.document_key,
            ExchangeMessage.status_code == p.status_code,
            ExchangeMessage.packet_at == at)).first()
        if repeat is not None and repeat.receipt:
            return Answer(repeat.receipt.encode(), True, "status", doc_id)
        now = _now()
        receipt = _signed_receipt(system, s, agency, edxml.Receipt(
            agency.code, sender, p.document_key, sha, now, "accepted"))
        s.add(ExchangeMessage(
            agency_id=agency.id, direction="in", kind="status", peer_code=sender,
            document_id=doc_id, document_key=p.document_key, status_code=p.status_code,
            description=p.description, state="accepted", attempts=0,
            receipt=receipt.decode(), packet_at=at, created_at=now, done_at=now))
        if p.status_code == "13" and doc_id is not None:
            doc = s.get(Document, doc_id)
            assert doc is not None
            s.add(StatusEvent(document_id=doc.id, at=now, actor_id=None,
                              action="revoke_request", from_state=doc.state,
                              to_state=doc.state, code="13", note=p.description))
        audit.record(s, f"exchange:{sender}", "exchange.status", "document", str(doc_id),
                     {"from": sender, "code": p.status_code, "document_key": p.document_key})
        return Answer(receipt, False, "status", doc_id)


# -- answering a revocation (15 / 16) ----------------------------------------------------------


def answer_revocation(system: System, actor: str, doc_id: int, accept_it: bool,
                      reason: str = "") -> Document:
    """The clerk answers the sender's revocation request: 15 (the document is frozen as
    revoked here and kept as a record) or 16 (refused, with the reason)."""
    if not accept_it and not reason.strip():
        raise EdmsError("refusing a revocation needs a reason")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        if "clerk" not in user.role_set:
            raise Forbidden("only the clerk's office answers revocation requests")
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        received = s.scalars(select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc.id, ExchangeMessage.direction == "in",
            ExchangeMessage.kind == "document")).first()
        asked = s.scalars(select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc.id, ExchangeMessage.direction == "in",
            ExchangeMessage.kind == "status", ExchangeMessage.status_code == "13")).first()
        answered = s.scalars(select(ExchangeMessage).where(
            ExchangeMessage.document_id == doc.id, ExchangeMessage.direction == "out",
            ExchangeMessage.status_code.in_(("15", "16")))).first()
        if received is None or asked is None or answered is not None:
            raise InvalidTransition(f"document {doc_id} has no open revocation request")
        now = _now()
        code = "15" if accept_it else "16"
        if accept_it:
            doc.frozen, doc.frozen_reason = True, f"bên gửi thu hồi: {asked.description}"
        doc.updated_at = now
        s.add(StatusEvent(document_id=doc.id, at=now, actor_id=user.id,
                          action="revoke_answer", from_state=doc.state, to_state=doc.state,
                          code=code, note=reason.strip()))
        queue_status(s, doc.agency_id, received.peer_code, doc.id, received.document_key,
                     code, reason.strip() or edxml.STATUS_CODES[code])
        audit.record(s, user.username, "exchange.revocation", "document", str(doc.id),
                     {"accepted": accept_it, "reason": reason.strip()})
        s.flush()
        s.expunge(doc)
        return doc
