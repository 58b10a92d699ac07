"""The inbox: packages other agencies send to this system, taken as a pipeline of checks,
each able to refuse the package before anything is stored:

1. **screen**: size limit, no DTD or entities (defusedxml), well-formed XML;
2. **addressee**: which of this system's agencies the package is for — a document's ``To``;
   a status packet's document (the agency that sent it, or for 13 the agencies that
   received it); none: refused;
3. **sender**: the claimed sender (``From/OrganId``) is listed in *the addressee's own*
   exchange directory — another agency's directory of this system does not count (403);
4. **signature**: the XML signature verifies with a certificate pinned for the sender in
   that directory, and covers the whole package (403);
5. **content**: the edXML structure (the liberal reader of :mod:`.edxml`) and what makes it
   acceptable (:func:`edxml.refusals`, :func:`policy`);
6. **duplicate**: the same sender and DocumentId again gets the original receipt and
   creates nothing;
7. **documents**: every attached PDF is validated (sandboxed, full report); a PDF that fails
   refuses the whole package with the reason (the sender records it as status 02);
8. **accept**: one transaction stores the package, creates the incoming document in state
   ``verified`` with its validation report for each addressed agency, queues status 01
   back to the sender, and keeps the signed receipt returned to the sender.

A revocation sent as a document (business type 1, as VNPT's library can) is taken as the
status 13 it means. Updates (business type 2) are refused with the reason: the sender sends
a replacing document (3) instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import audit, blobs, search
from ..db import transaction
from ..doctypes import DOCUMENT_TYPES
from ..errors import ClientError, Forbidden, InvalidTransition, NotFound
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
from .directory import Peer, find, peer_of
from .messages import queue_status


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


def policy(p: edxml.Packet) -> list[str]:
    """What this system does not take, beyond :func:`edxml.refusals` (each a reason)."""
    if not isinstance(p, edxml.DocumentPackage) or p.business_type == 1:
        return []
    if p.business_type == 2:
        return [
            "updates of a sent document (business type 2) are not taken: send a "
            "replacing document (business type 3) instead"
        ]
    others = [a.name for a in p.attachments if a.content_type != "application/pdf"]
    if others:  # kept as they came or not at all: only signed PDFs are records here
        return [
            "only signed PDF files are taken through the exchange; the package also "
            f"carries {', '.join(others)}"
        ]
    if not p.attachments:
        return ["the package carries no PDF document"]
    return []


def addressees(s: Session, route: edxml.Routing) -> list[Agency]:
    """This system's agencies a package is for (refused when there are none)."""
    ours = {a.code: a for a in s.scalars(select(Agency))}
    if route.kind == "document":
        found = [ours[c] for c in dict.fromkeys(route.to) if c in ours]
        if not found:
            raise edxml.PackageRefused(
                "the package is not addressed to an agency of this system (To: "
                + (", ".join(route.to) or "none")
                + ")"
            )
        return found
    return _status_addressees(s, ours, route.sender, route.document_key, route.status_code == "13")


def _status_addressees(
    s: Session, ours: dict[str, Agency], sender: str, key: str, revocation: bool
) -> list[Agency]:
    if revocation:  # the issuer asks the agencies it sent the document to
        ids = list(
            dict.fromkeys(
                s.scalars(
                    select(ExchangeMessage.agency_id)
                    .where(
                        ExchangeMessage.direction == "in",
                        ExchangeMessage.kind == "document",
                        ExchangeMessage.peer_code == sender,
                        ExchangeMessage.document_key == key,
                    )
                    .order_by(ExchangeMessage.id)
                )
            )
        )
        if not ids:
            raise edxml.PackageRefused(f"no document {key} was received from {sender}")
        return [a for a in ours.values() if a.id in ids]
    m = edxml.DOCUMENT_ID.match(key)
    agency = ours.get(m["organ"]) if m else None
    sent = (
        None
        if agency is None
        else s.scalars(
            select(ExchangeMessage.id).where(
                ExchangeMessage.agency_id == agency.id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.kind == "document",
                ExchangeMessage.peer_code == sender,
                ExchangeMessage.document_key == key,
            )
        ).first()
    )
    if agency is None or sent is None:
        raise edxml.PackageRefused(f"{sender} reports on {key}, which this system did not send it")
    return [agency]


def trusted_peers(s: Session, agencies: list[Agency], sender: str) -> dict[int, Peer]:
    """For each addressed agency whose own directory lists the sender: its entry."""
    out = {}
    for agency in agencies:
        entry = find(s, agency.id, sender)
        if entry is not None:
            out[agency.id] = peer_of(entry)
    return out


def verify_for(
    data: bytes, peers: dict[int, Peer], sender: str
) -> tuple[list[int], etree._Element]:
    """The agencies whose pinned certificates for the sender verify the package, and the
    tree the signature covers (read the content from it, never from the raw bytes)."""
    ok: list[int] = []
    tree: etree._Element | None = None
    reason = ""
    tried: dict[tuple[str, ...], bool] = {}
    for agency_id, peer in peers.items():
        if peer.fingerprints not in tried:
            try:
                verified = xmldsig.verify(data, list(peer.certificates))
                tree = verified.signed if tree is None else tree
                tried[peer.fingerprints] = True
            except xmldsig.XmlSignatureError as exc:
                reason, tried[peer.fingerprints] = str(exc), False
            except Exception as exc:  # signxml's other complaints about the structure
                reason, tried[peer.fingerprints] = f"{type(exc).__name__}: {exc}", False
        if tried[peer.fingerprints]:
            ok.append(agency_id)
    if not ok or tree is None:
        raise BadSignature(f"the package from {sender} is refused: {reason}")
    return ok, tree


def accept(system: System, data: bytes) -> Answer:
    settings = system.settings
    edxml.screen(data, settings.exchange_max_mb * 1024 * 1024)
    try:
        root = etree.fromstring(data, parser=xmldsig.hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise edxml.PackageRefused(f"malformed XML: {exc}") from None
    route = edxml.routing(root)
    with system.sessions() as s:
        targets = addressees(s, route)
        peers = trusted_peers(s, targets, route.sender)
        if not peers:
            raise UnknownSender(
                f"agency {route.sender} is not in the exchange directory of "
                f"{', '.join(a.code for a in targets)}: it cannot deliver here"
            )
    agency_ids, signed = verify_for(data, peers, route.sender)
    p = edxml.parse(signed)
    if p.sender.organ_id != route.sender:  # cannot happen: the same bytes, parsed twice
        raise BadSignature("the signed package names another sender")
    problems = edxml.refusals(p) + policy(p)
    if problems:
        raise edxml.PackageRefused(problems[0], problems=problems)
    sha = hashlib.sha256(data).hexdigest()
    if isinstance(p, edxml.DocumentPackage) and p.business_type == 1:
        p = edxml.StatusPacket(
            p.sender,
            edxml.ResponseFor(
                p.sender.organ_id,
                f"{p.code_number}/{p.code_notation}",
                p.document_key,
                p.promulgation_date,
            ),
            "13",
            p.business.reason or edxml.BUSINESS_REASONS[1],
            p.business.staff or edxml.StaffInfo(),
            p.sent_at,
        )
        with system.sessions() as s:
            agency_ids = [
                a.id
                for a in _status_addressees(
                    s,
                    {a.code: a for a in s.scalars(select(Agency))},
                    p.sender.organ_id,
                    p.document_key,
                    True,
                )
                if a.id in agency_ids
            ]
        if not agency_ids:
            raise edxml.PackageRefused(
                f"no document {p.document_key} was received from "
                f"{p.sender.organ_id} by the agencies addressed"
            )
    if isinstance(p, edxml.StatusPacket):
        return _accept_status(system, sha, p, agency_ids)
    return _accept_document(system, data, sha, p, agency_ids)


# -- documents --------------------------------------------------------------------------------


def _original(s: Session, agency_id: int, sender: str, key: str) -> ExchangeMessage | None:
    return s.scalars(
        select(ExchangeMessage).where(
            ExchangeMessage.agency_id == agency_id,
            ExchangeMessage.direction == "in",
            ExchangeMessage.kind == "document",
            ExchangeMessage.peer_code == sender,
            ExchangeMessage.document_key == key,
        )
    ).first()


def _exchange_user(s: Session, agency: Agency) -> User:
    """The account received documents are recorded under (it cannot log in)."""
    name = f"lienthong.{agency.id}"
    user = s.scalars(select(User).where(User.username == name)).first()
    if user is None:
        user = User(
            agency_id=agency.id,
            username=name,
            full_name="Hệ thống liên thông",
            title="Trục liên thông văn bản",
            roles="clerk",
            password_hash=None,
            active=False,
            created_at=_now(),
        )
        s.add(user)
        s.flush()
    return user


def _plain(name: str) -> str:
    return name.split(" (")[0].strip().casefold()


def type_code_of(p: edxml.DocumentPackage) -> str:
    """Our document type for a received package: by TypeName (what every writer fills in),
    else by TypeDetail (the Decree-30 number), else Công văn."""
    wanted = _plain(p.type_name)
    for t in DOCUMENT_TYPES:
        if wanted and _plain(t.name) == wanted:
            return t.code
    if 1 <= p.type_detail <= len(DOCUMENT_TYPES):
        return DOCUMENT_TYPES[p.type_detail - 1].code
    return "cong-van"


def _accept_document(
    system: System, data: bytes, sha: str, p: edxml.DocumentPackage, agency_ids: list[int]
) -> Answer:
    from ..documents import index_document, record_file, run_in_transaction, workdir

    sender = p.sender.organ_id
    with system.sessions() as s:
        firsts = {aid: _original(s, aid, sender, p.document_key) for aid in agency_ids}
    new = [aid for aid in agency_ids if firsts[aid] is None]
    if not new:
        first = firsts[agency_ids[0]]
        assert first is not None and first.receipt is not None
        return Answer(first.receipt.encode(), True, "document", first.document_id)
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
                problems = "; ".join(
                    report.errors or [m for r in report.signatures for m in r.messages][:3]
                )
                changed = " (changed after signing)" if report.changed_after_signing else ""
                with transaction(system.sessions) as s:
                    audit.record(
                        s,
                        f"exchange:{sender}",
                        "exchange.returned",
                        "package",
                        sha,
                        {"document_key": p.document_key, "file": a.name, "reason": problems[:500]},
                    )
                raise DocumentRejected(f"Trả lại (02): {a.name} không hợp lệ{changed}: {problems}")
        content = search.extract_pdf_text(paths[0][1])  # the first is the main document
        (wd / "package.xml").write_bytes(data)

        def receive_for(
            s: Session, puts: list[blobs.PutOutcome], agency: Agency, package_sha: str
        ) -> Answer:
            user = _exchange_user(s, agency)
            now = _now()
            replaces = None
            if p.replaces_key:
                old = _original(s, agency.id, sender, p.replaces_key)
                replaces = old.document_id if old else None
            doc = Document(
                agency_id=agency.id,
                direction="incoming",
                state="verified",
                type_code=type_code_of(p),
                subject=p.subject[:500],
                organ_name=p.sender.organ_name[:200],
                organ_id=sender,
                code_number=p.code_number[:11],
                code_notation=p.code_notation[:30],
                issued_date=p.promulgation_date,
                signer_name=p.signer_name[:50],
                signer_position=p.signer_position[:100],
                due_date=p.due_date,
                priority=p.priority,
                secrecy=0,
                to_places="; ".join(p.to_places)[:1000],
                description=p.content[:500],
                page_amount=p.page_amount or None,
                arrival_at=now,
                replaces_id=replaces,
                created_by=user.id,
                created_at=now,
                updated_at=now,
            )
            s.add(doc)
            s.flush()
            main_file: DocumentFile | None = None
            for a, path in paths:
                f = record_file(
                    system,
                    s,
                    puts,
                    doc,
                    path,
                    a.name,
                    "attachment" if main_file else "main",
                    "received",
                    user,
                    attachment_of=main_file.id if main_file else None,
                )
                main_file = main_file or f
                report = reports[a.content_id]
                s.add(
                    ValidationRecord(
                        document_id=doc.id,
                        file_id=f.id,
                        checked_at=now,
                        checked_by=user.id,
                        valid=report.valid,
                        report=json.dumps(report.to_json(), ensure_ascii=False),
                    )
                )
            s.add(
                StatusEvent(
                    document_id=doc.id,
                    at=now,
                    actor_id=user.id,
                    action="receive",
                    from_state=None,
                    to_state="received",
                    code="01",
                    note=f"liên thông từ {p.sender.organ_name}",
                )
            )
            s.add(
                StatusEvent(
                    document_id=doc.id,
                    at=now,
                    actor_id=user.id,
                    action="verify",
                    from_state="received",
                    to_state="verified",
                    note="chữ ký số hợp lệ",
                )
            )
            receipt = _signed_receipt(
                system,
                s,
                agency,
                edxml.Receipt(agency.code, sender, p.document_key, sha, now, "accepted"),
            )
            s.add(
                ExchangeMessage(
                    agency_id=agency.id,
                    direction="in",
                    kind="document",
                    peer_code=sender,
                    document_id=doc.id,
                    document_key=p.document_key,
                    business_type=p.business_type,
                    package_sha256=package_sha,
                    state="accepted",
                    attempts=0,
                    receipt=receipt.decode(),
                    packet_at=p.sent_at,
                    created_at=now,
                    done_at=now,
                    staff=(p.business.staff.staff if p.business.staff else "")[:100],
                    staff_unit=(p.business.staff.department if p.business.staff else "")[:200],
                )
            )
            queue_status(
                s, agency.id, sender, doc.id, p.document_key, "01", edxml.STATUS_CODES["01"]
            )
            audit.record(
                s,
                f"exchange:{sender}",
                "exchange.received",
                "document",
                str(doc.id),
                {
                    "from": sender,
                    "to": agency.code,
                    "document_key": p.document_key,
                    "package_sha256": sha,
                    "business_type": p.business_type,
                    "files": len(reports),
                },
            )
            index_document(s, doc, content)
            return Answer(receipt, False, "document", doc.id)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> Answer:
            put = blobs.add_file(
                system,
                s,
                wd / "package.xml",
                name=f"edxml-{sha[:16]}.xml",
                allowed=("application/xml", "text/xml"),
            )
            puts.append(put)
            answers = []
            for aid in new:
                agency = s.get(Agency, aid)
                assert agency is not None
                answers.append(receive_for(s, puts, agency, put.sha256))
            return answers[0]

        try:
            answer: Answer = run_in_transaction(system, work)
        except IntegrityError:  # the same package arrived twice at once: the first won
            with system.sessions() as s:
                first = _original(s, new[0], sender, p.document_key)
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


def _accept_status(
    system: System, sha: str, p: edxml.StatusPacket, agency_ids: list[int]
) -> Answer:
    sender, key, code = p.sender.organ_id, p.document_key, p.status_code
    at = p.at.astimezone(UTC)
    answers: list[Answer] = []
    with transaction(system.sessions) as s:
        for aid in agency_ids:
            agency = s.get(Agency, aid)
            assert agency is not None
            about = s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.agency_id == aid,
                    ExchangeMessage.direction == ("in" if code == "13" else "out"),
                    ExchangeMessage.kind == "document",
                    ExchangeMessage.peer_code == sender,
                    ExchangeMessage.document_key == key,
                )
            ).first()
            if about is None:
                continue
            doc_id = about.document_id
            repeat = s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.agency_id == aid,
                    ExchangeMessage.direction == "in",
                    ExchangeMessage.kind == "status",
                    ExchangeMessage.peer_code == sender,
                    ExchangeMessage.document_key == key,
                    ExchangeMessage.status_code == code,
                    ExchangeMessage.packet_at == at,
                )
            ).first()
            if repeat is not None and repeat.receipt:
                answers.append(Answer(repeat.receipt.encode(), True, "status", doc_id))
                continue
            now = _now()
            receipt = _signed_receipt(
                system, s, agency, edxml.Receipt(agency.code, sender, key, sha, now, "accepted")
            )
            s.add(
                ExchangeMessage(
                    agency_id=aid,
                    direction="in",
                    kind="status",
                    peer_code=sender,
                    document_id=doc_id,
                    document_key=key,
                    status_code=code,
                    description=p.description,
                    state="accepted",
                    attempts=0,
                    receipt=receipt.decode(),
                    packet_at=at,
                    created_at=now,
                    done_at=now,
                    staff=p.staff.staff[:100],
                    staff_unit=p.staff.department[:200],
                )
            )
            if code == "13" and doc_id is not None:
                doc = s.get(Document, doc_id)
                assert doc is not None
                s.add(
                    StatusEvent(
                        document_id=doc.id,
                        at=now,
                        actor_id=None,
                        action="revoke_request",
                        from_state=doc.state,
                        to_state=doc.state,
                        code="13",
                        note=p.description,
                    )
                )
            audit.record(
                s,
                f"exchange:{sender}",
                "exchange.status",
                "document",
                str(doc_id),
                {"from": sender, "to": agency.code, "code": code, "document_key": key},
            )
            answers.append(Answer(receipt, False, "status", doc_id))
    if not answers:
        raise edxml.PackageRefused(
            f"{sender} reports on {key}, which this system did not exchange with it"
        )
    fresh = [a for a in answers if not a.duplicate]
    return fresh[0] if fresh else answers[0]


# -- answering a revocation (15 / 16) ----------------------------------------------------------


def answer_revocation(
    system: System, actor: str, doc_id: int, accept_it: bool, reason: str = ""
) -> Document:
    """The clerk answers the sender's revocation request: 15 (the document is frozen as
    revoked here and kept as a record) or 16 (refused, with the reason)."""
    if not accept_it and not reason.strip():
        raise ClientError("refusing a revocation needs a reason")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        if "clerk" not in user.role_set:
            raise Forbidden("only the clerk's office answers revocation requests")
        doc = s.get(Document, doc_id)
        if doc is None or doc.agency_id != user.agency_id:
            raise NotFound(f"document {doc_id} not found")
        received = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "in",
                ExchangeMessage.kind == "document",
            )
        ).first()
        asked = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "in",
                ExchangeMessage.kind == "status",
                ExchangeMessage.status_code == "13",
            )
        ).first()
        answered = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == doc.id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.status_code.in_(("15", "16")),
            )
        ).first()
        if received is None or asked is None or answered is not None:
            raise InvalidTransition(f"document {doc_id} has no open revocation request")
        now = _now()
        code = "15" if accept_it else "16"
        if accept_it:
            doc.frozen, doc.frozen_reason = True, f"bên gửi thu hồi: {asked.description}"
        doc.updated_at = now
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=now,
                actor_id=user.id,
                action="revoke_answer",
                from_state=doc.state,
                to_state=doc.state,
                code=code,
                note=reason.strip(),
            )
        )
        queue_status(
            s,
            doc.agency_id,
            received.peer_code,
            doc.id,
            received.document_key,
            code,
            reason.strip() or edxml.STATUS_CODES[code],
            user,
        )
        audit.record(
            s,
            user.username,
            "exchange.revocation",
            "document",
            str(doc.id),
            {"accepted": accept_it, "reason": reason.strip()},
        )
        s.flush()
        s.expunge(doc)
        return doc
