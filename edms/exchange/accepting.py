"""What an accepted package creates, once the inbox's checks (:mod:`.inbox`) passed: for
a document, the incoming document in state ``verified`` for each addressed agency (its
files validated, sandboxed), status 01 queued back and the signed receipt kept; for a
status packet, the status recorded on the document it is about.

Invariants: a package is accepted in one transaction per package (objects put in the store
are removed again if it fails); the same sender and DocumentId again gets the original
receipt and creates nothing; a PDF that fails validation refuses the whole package
(:class:`DocumentRejected`); documents are recorded through the public helpers of
:mod:`edms.documents` only.
"""

from __future__ import annotations

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
from ..models import (
    Agency,
    Document,
    DocumentFile,
    ExchangeMessage,
    StatusEvent,
    User,
    ValidationRecord,
)
from ..orgs import active_key, open_key
from ..signatures import validate_sandboxed
from ..system import System
from . import edxml
from .messages import queue_status


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


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- documents --------------------------------------------------------------------------------


def original_message(s: Session, agency_id: int, sender: str, key: str) -> ExchangeMessage | None:
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
            created_at=now_utc(),
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


def accept_document(
    system: System, data: bytes, sha: str, p: edxml.DocumentPackage, agency_ids: list[int]
) -> Answer:
    from ..documents import index_document, record_file, run_in_transaction, workdir

    sender = p.sender.organ_id
    with system.sessions() as s:
        firsts = {aid: original_message(s, aid, sender, p.document_key) for aid in agency_ids}
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
            now = now_utc()
            replaces = None
            if p.replaces_key:
                old = original_message(s, agency.id, sender, p.replaces_key)
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
                first = original_message(s, new[0], sender, p.document_key)
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


def accept_status(system: System, sha: str, p: edxml.StatusPacket, agency_ids: list[int]) -> Answer:
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
            now = now_utc()
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
