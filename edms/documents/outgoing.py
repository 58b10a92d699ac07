"""Outgoing drafts (văn bản đi): create from an upload or a template, attach, revise,
submit, approve, reject, discard.

Invariants: a draft is a readable, unencrypted PDF carrying the number and date fields (a
Word/OpenDocument source is converted and kept beside it); only drafts are revised or
discarded; every step runs through :mod:`.lifecycle` checks in one transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, blobs, search
from ..doctypes import symbol
from ..drafting import drafts
from ..drafting.convert import DRAFT_TYPES
from ..errors import (
    ClientError,
    EdmsError,
    Forbidden,
    InvalidTransition,
)
from ..models import (
    Agency,
    Blob,
    Document,
    DocumentFile,
    OrgUnit,
    StatusEvent,
    User,
)
from ..orgs import (
    load_user,
    require_role,
    unit_by_code,
)
from ..system import System
from ..templates import content_for, render_draft
from .files import index_document, pdf_facts, record_file, spool_pdf, spool_upload, workdir
from .labels import OUTGOING, now_utc
from .lifecycle import check_levels, check_text, doc_type, load_document, simple_step
from .transaction import run_in_transaction


@dataclass(frozen=True)
class Recipient:
    name: str
    organ_id: str | None = None


@dataclass(frozen=True)
class DraftMeta:
    type_code: str
    subject: str
    recipients: tuple[Recipient, ...] = ()
    drafting_unit: str | None = None  # unit code; a Công văn needs it for its symbol
    priority: int = 0
    secrecy: int = 0
    due_date: date | None = None
    issued_amount: int | None = None
    description: str = ""
    response_for_id: int | None = None
    replaces_id: int | None = None  # an issued document this draft replaces


def create_draft(
    system: System, actor: str, stream: BinaryIO, filename: str, meta: DraftMeta
) -> Document:
    """A new outgoing document from an uploaded draft: a PDF (its own number and date
    fields are used as they are; without them, their places and the signing space are
    found from its text), or a Word (.docx) or OpenDocument (.odt) file, converted to PDF
    and kept beside it (:mod:`edms.drafting`)."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            require_role(user, "officer", "leader", "clerk", action="create a draft")
            expected = _expected_symbol(s, user, meta)
        draft = _upload_draft(system, stream, filename, wd, expected)
        pages = pdf_facts(draft.pdf, need_fields=True)
        content = search.extract_pdf_text(draft.pdf)
        source = (wd / "upload", draft.source_mime) if draft.source_mime else None
        return new_outgoing(system, actor, draft.pdf, filename, meta, pages, content, source=source)


def _upload_draft(
    system: System, stream: BinaryIO, filename: str | None, wd: Path, expected_symbol: str | None
) -> drafts.DraftFile:
    mime = spool_upload(
        system,
        stream,
        filename,
        wd / "upload",
        (*DRAFT_TYPES, "application/zip", "application/octet-stream"),
    )
    return drafts.ready(system.settings, wd / "upload", mime, filename, wd, expected_symbol)


def _expected_symbol(s: Session, user: User, meta: DraftMeta) -> str | None:
    """The symbol numbering will give this draft (checked against the one it prints)."""
    agency = s.get(Agency, user.agency_id)
    try:
        t = doc_type(s, meta.type_code)
        unit = unit_by_code(s, user.agency_id, meta.drafting_unit) if meta.drafting_unit else None
        return symbol(
            t.code, agency.abbreviation if agency else "", unit.abbreviation if unit else None
        )
    except EdmsError:
        return None  # the draft's metadata is refused with its own reason later


def create_from_template(
    system: System,
    actor: str,
    meta: DraftMeta,
    body: list[str],
    *,
    parts: Mapping[str, Any] | None = None,
) -> Document:
    """A new outgoing document whose draft is generated in the Decree 30 layout
    (:mod:`edms.templates`); ``parts`` gives the structured parts (``parent``,
    ``authority_line``, ``bases``, ``articles``, ``addressees``)."""
    from ..authority import agency_facts

    with workdir(system) as wd, system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "officer", "leader", "clerk", action="create a draft")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        t = doc_type(s, meta.type_code)
        unit = unit_by_code(s, agency.id, meta.drafting_unit) if meta.drafting_unit else None
        path = render_draft(
            wd / "draft.pdf",
            content_for(
                issuer=agency.name,
                type_name=t.name.split(" (")[0],
                is_cong_van=t.abbreviation is None,
                subject=meta.subject,
                body=body,
                recipients=[r.name for r in meta.recipients],
                head_title=agency_facts(agency.name).head_title,
                archive_unit=unit.abbreviation if unit else "",
                copies=meta.issued_amount,
                priority=meta.priority,
                secrecy=meta.secrecy,
                parts=dict(parts or {}),
            ),
        )
        s.close()
        pages = pdf_facts(path, need_fields=True)
        return new_outgoing(
            system, actor, path, f"du-thao-{t.code}.pdf", meta, pages, search.extract_pdf_text(path)
        )


def new_outgoing(
    system: System,
    actor: str,
    path: Path,
    filename: str,
    meta: DraftMeta,
    pages: int,
    content: str,
    source: tuple[Path, str] | None = None,
) -> Document:
    subject = check_text(meta.subject, "subject (trích yếu)", 500)
    check_levels(meta.priority, meta.secrecy)

    def work(s: Session, puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        t = doc_type(s, meta.type_code)
        unit_id = None
        if meta.drafting_unit:
            unit_id = unit_by_code(s, user.agency_id, meta.drafting_unit).id
        elif t.abbreviation is None:
            raise ClientError(
                f"a {t.name} needs its drafting unit (its symbol is issuer-UNIT, e.g. UBND-VX)"
            )
        if meta.response_for_id is not None:
            load_document(s, user, meta.response_for_id)
        if meta.replaces_id is not None:
            old = load_document(s, user, meta.replaces_id)
            if old.direction != OUTGOING or old.state not in ("registered", "issued") or old.frozen:
                raise InvalidTransition(
                    f"document {old.id} is not an issued document that can be replaced"
                )
        now = now_utc()
        doc = Document(
            agency_id=user.agency_id,
            direction=OUTGOING,
            state="draft",
            type_code=t.code,
            subject=subject,
            description=meta.description.strip(),
            priority=meta.priority,
            secrecy=meta.secrecy,
            due_date=meta.due_date,
            issued_amount=meta.issued_amount,
            page_amount=pages,
            recipients=json.dumps(
                [{"name": r.name, "organ_id": r.organ_id} for r in meta.recipients],
                ensure_ascii=False,
            ),
            drafting_unit_id=unit_id,
            response_for_id=meta.response_for_id,
            replaces_id=meta.replaces_id,
            organ_name=s.get(Agency, user.agency_id).name,  # type: ignore[union-attr]
            created_by=user.id,
            created_at=now,
            updated_at=now,
        )
        s.add(doc)
        s.flush()
        main_name = filename
        if source is not None:  # the officer's Word/OpenDocument file, kept with the draft
            record_file(
                system,
                s,
                puts,
                doc,
                source[0],
                filename,
                "source",
                "draft",
                user,
                allowed=(source[1], "application/zip"),
            )
            main_name = f"{Path(filename).stem}.pdf"
        f = record_file(system, s, puts, doc, path, main_name, "main", "draft", user)
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=now,
                actor_id=user.id,
                action="create",
                from_state=None,
                to_state="draft",
            )
        )
        audit.record(
            s,
            user.username,
            "document.create",
            "document",
            str(doc.id),
            {
                "direction": OUTGOING,
                "type": t.code,
                "sha256": f.sha256,
                **({"replaces": meta.replaces_id} if meta.replaces_id else {}),
            },
        )
        index_document(s, doc, content)
        return doc

    doc: Document = run_in_transaction(system, work)
    return doc


def add_attachment(
    system: System, actor: str, doc_id: int, stream: BinaryIO, filename: str
) -> DocumentFile:
    """An attachment in a separate file (phụ lục); it gets the agency's attachment
    signature, with the main document's number, when the document is sealed."""
    with workdir(system) as wd:
        path = spool_pdf(system, stream, filename, wd / "attachment.pdf")
        pdf_facts(path, need_fields=False)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> DocumentFile:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            require_role(user, "officer", "leader", "clerk", action="attach a file")
            if doc.direction != OUTGOING or doc.state != "draft" or doc.frozen:
                raise InvalidTransition("attachments are added to an outgoing draft only")
            f = record_file(system, s, puts, doc, path, filename, "attachment", "draft", user)
            audit.record(
                s,
                user.username,
                "document.attach",
                "document",
                str(doc.id),
                {"file": f.id, "sha256": f.sha256, "name": f.name},
            )
            return f

        result: DocumentFile = run_in_transaction(system, work)
        return result


def revise_draft(
    system: System, actor: str, doc_id: int, stream: BinaryIO, filename: str
) -> Document:
    """Replace the draft file of a document still in draft (a new version; the old one
    stays in the history). The new file is any draft :func:`create_draft` takes."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            old = load_document(s, user, doc_id)
            unit = s.get(OrgUnit, old.drafting_unit_id) if old.drafting_unit_id else None
            expected = _expected_symbol(
                s,
                user,
                DraftMeta(old.type_code, old.subject, drafting_unit=unit.code if unit else None),
            )
        draft = _upload_draft(system, stream, filename, wd, expected)
        path, source_name = draft.pdf, filename
        if draft.source_mime:
            filename = f"{Path(filename).stem}.pdf"
        pages = pdf_facts(path, need_fields=True)
        content = search.extract_pdf_text(path)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> Document:
            user = load_user(s, actor)
            doc = load_document(s, user, doc_id)
            require_role(user, "officer", "leader", "clerk", action="revise a draft")
            if doc.direction != OUTGOING or doc.state != "draft" or doc.frozen:
                raise InvalidTransition(f"document {doc_id} is not a draft any more")
            if draft.source_mime:  # the Word/OpenDocument file it was made from
                record_file(
                    system,
                    s,
                    puts,
                    doc,
                    wd / "upload",
                    source_name,
                    "source",
                    "draft",
                    user,
                    allowed=(draft.source_mime, "application/zip"),
                )
            f = record_file(system, s, puts, doc, path, filename, "main", "draft", user)
            doc.page_amount = pages
            doc.updated_at = now_utc()
            audit.record(
                s, user.username, "document.revise", "document", str(doc.id), {"sha256": f.sha256}
            )
            index_document(s, doc, content)
            return doc

        result: Document = run_in_transaction(system, work)
        return result


def submit(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    return simple_step(system, actor, doc_id, "submit", note)


def approve(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    return simple_step(system, actor, doc_id, "approve", note)


def reject(system: System, actor: str, doc_id: int, reason: str) -> Document:
    return simple_step(system, actor, doc_id, "reject", reason, need_note=True)


def discard_draft(system: System, actor: str, doc_id: int) -> None:
    """Delete a draft that was never submitted (its creator or an admin)."""
    keys: list[str] = []

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> None:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        if doc.created_by != user.id and "admin" not in user.role_set:
            raise Forbidden("only the draft's author or an admin may discard it")
        if doc.state != "draft" or doc.legal_hold:
            raise InvalidTransition(f"document {doc_id} is not a draft that can be discarded")
        if s.scalars(
            select(StatusEvent).where(
                StatusEvent.document_id == doc.id, StatusEvent.action == "submit"
            )
        ).first():
            raise InvalidTransition("a draft that was once submitted is kept in the record")
        files = list(s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc.id)))
        for ev in s.scalars(select(StatusEvent).where(StatusEvent.document_id == doc.id)):
            s.delete(ev)
        for f in files:
            s.delete(f)
        search.index_for(s).remove(s, doc.id)
        s.flush()
        for sha in {f.sha256 for f in files}:
            if s.scalars(select(DocumentFile).where(DocumentFile.sha256 == sha)).first():
                continue
            blob = s.get(Blob, sha)
            if blob is not None and blob.retain_until is None and not blob.legal_hold:
                keys.append(blob.storage_key)
                s.delete(blob)
        s.delete(doc)
        audit.record(
            s,
            user.username,
            "document.discard",
            "document",
            str(doc_id),
            {"files": [f.sha256 for f in files]},
        )

    run_in_transaction(system, work)
    for key in keys:
        with contextlib.suppress(Exception):
            system.store.delete(key)
