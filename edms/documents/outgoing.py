"""Outgoing drafts (văn bản đi): create from an upload or a template, attach, revise,
submit, approve, reject, discard.

Invariants: a draft is a readable, unencrypted PDF carrying the number and date fields (a
Word/OpenDocument source is converted and kept beside it); only drafts are revised or
discarded; every step runs through :mod:`.lifecycle` checks in one transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
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
from . import designation
from .files import index_document, pdf_facts, record_file, spool_pdf, spool_upload, workdir
from .labels import OUTGOING, now_utc
from .lifecycle import (
    Step,
    advance,
    check_levels,
    check_text,
    doc_type,
    load_document,
    simple_step,
)
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
    designated_signer: str | None = None  # the leader who signs (username); None: any
    approvers: tuple[str, ...] = ()  # who approves first, in order (usernames)


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


def new_outgoing(
    system: System,
    actor: str,
    path: Path,
    filename: str,
    meta: DraftMeta,
    pages: int,
    content: str,
    source: tuple[Path, str] | None = None,
    template: dict[str, Any] | None = None,
) -> Document:
    """Record a new draft. ``source``: the Word or OpenDocument file it was made from,
    with its MIME type; ``template``: the template's text it was made from (recorded with
    the audit event, for revising it later)."""
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
        signer_id, approver_ids = designation.resolve_people(
            s, user.agency_id, meta.designated_signer, meta.approvers
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
            designated_signer_id=signer_id,
            approver_ids=json.dumps(approver_ids),
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
                **({"signer": meta.designated_signer} if signer_id else {}),
                **({"approvers": list(meta.approvers)} if approver_ids else {}),
                **({"template": template} if template is not None else {}),
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
    system: System,
    actor: str,
    doc_id: int,
    stream: BinaryIO,
    filename: str,
    *,
    designated_signer: str | None = None,
    approvers: Sequence[str] | None = None,
) -> Document:
    """Replace the draft file of a document still in draft (a new version; the old one
    stays in the history). The new file is any draft :func:`create_draft` takes.
    ``designated_signer`` and ``approvers`` replace the draft's own when given."""
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
        source = (wd / "upload", filename, draft.source_mime) if draft.source_mime else None
        if draft.source_mime:
            filename = f"{Path(filename).stem}.pdf"
        return commit_revision(
            system, actor, doc_id, draft.pdf, filename, designated_signer, approvers, source=source
        )


def commit_revision(
    system: System,
    actor: str,
    doc_id: int,
    path: Path,
    filename: str,
    designated_signer: str | None,
    approvers: Sequence[str] | None,
    *,
    source: tuple[Path, str, str] | None = None,
    template: dict[str, Any] | None = None,
) -> Document:
    """Record a new version of the draft (with the Word file or the template's text it
    was made from), in one transaction."""
    pages = pdf_facts(path, need_fields=True)
    content = search.extract_pdf_text(path)

    def work(s: Session, puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        require_role(user, "officer", "leader", "clerk", action="revise a draft")
        if doc.direction != OUTGOING or doc.state != "draft" or doc.frozen:
            raise InvalidTransition(f"document {doc_id} is not a draft any more")
        changed: dict[str, Any] = {}
        if designated_signer is not None or approvers is not None:
            keep = s.get(User, doc.designated_signer_id) if doc.designated_signer_id else None
            signer_id, approver_ids = designation.resolve_people(
                s,
                doc.agency_id,
                designated_signer
                if designated_signer is not None
                else (keep.username if keep else None),
                approvers
                if approvers is not None
                else [
                    u.username
                    for u in (s.get(User, i) for i in designation.approver_ids(doc))
                    if u is not None
                ],
            )
            doc.designated_signer_id, doc.approver_ids = signer_id, json.dumps(approver_ids)
            changed = {"signer": signer_id, "approvers": approver_ids}
        if source is not None:  # the Word/OpenDocument file it was made from
            record_file(
                system,
                s,
                puts,
                doc,
                source[0],
                source[1],
                "source",
                "draft",
                user,
                allowed=(source[2], "application/zip"),
            )
        f = record_file(system, s, puts, doc, path, filename, "main", "draft", user)
        doc.page_amount = pages
        doc.updated_at = now_utc()
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=doc.updated_at,
                actor_id=user.id,
                action="revise",
                from_state="draft",
                to_state="draft",
            )
        )
        audit.record(
            s,
            user.username,
            "document.revise",
            "document",
            str(doc.id),
            {
                "sha256": f.sha256,
                **changed,
                **({"template": template} if template is not None else {}),
            },
        )
        index_document(s, doc, content)
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def submit(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """To the first approver named, else to the designated signer (else any leader)."""
    return simple_step(system, actor, doc_id, "submit", note)


def approve(system: System, actor: str, doc_id: int, note: str = "") -> Document:
    """By the person the draft waits for (:mod:`.designation`); the last approval makes
    it ``approved``, an earlier one passes it to the next approver."""
    return _designated_step(system, actor, doc_id, designation.check_approve, note)


def reject(system: System, actor: str, doc_id: int, reason: str) -> Document:
    """Back to the drafter with a reason, by the person it waits for or its signer."""
    if not reason.strip():
        raise ClientError("a reason is required for this step")
    return _designated_step(system, actor, doc_id, designation.check_reject, reason)


def _designated_step(
    system: System,
    actor: str,
    doc_id: int,
    check: Callable[[Session, User, Document], Step],
    note: str,
) -> Document:
    """A step only the person the draft waits for may take (``check``, :mod:`.designation`)."""

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        advance(s, user, doc, check(s, user, doc), note.strip())
        return doc

    result: Document = run_in_transaction(system, work)
    return result


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
