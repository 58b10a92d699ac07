"""Reading documents: one document with its files, signatures and history, file
downloads, lists and full-text search.

Invariants: reads are scoped to the actor's agency and secrecy clearance (a document the
actor may not see does not exist: 404); viewing and downloading are audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit, blobs, search
from ..db import transaction
from ..errors import (
    NotFound,
)
from ..models import (
    Assignment,
    Blob,
    DigitizedCopy,
    Document,
    DocumentFile,
    SignatureRecord,
    SigningKey,
    StatusEvent,
    User,
    ValidationRecord,
)
from ..orgs import (
    load_user,
    visible_documents,
)
from ..system import System
from . import designation
from .files import main_file
from .incoming import latest_validation
from .lifecycle import current_assignment, load_document


@dataclass
class DocumentView:
    document: Document
    files: list[DocumentFile]
    signatures: list[SignatureRecord]
    history: list[StatusEvent]
    assignment: Assignment | None
    validation: ValidationRecord | None
    digitized: DigitizedCopy | None = None
    # who is named in the view (history actors, the designated signer, the approvers):
    # user id -> (user name, full name, title)
    people: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    waiting_for: int | None = None  # the person the draft waits for now, if named


def get_document(system: System, actor: str, doc_id: int) -> DocumentView:
    """A document with its files, signatures and history; the view is audited."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        view = DocumentView(
            doc,
            list(
                s.scalars(
                    select(DocumentFile)
                    .where(DocumentFile.document_id == doc.id)
                    .order_by(DocumentFile.id)
                )
            ),
            list(
                s.scalars(
                    select(SignatureRecord)
                    .where(SignatureRecord.document_id == doc.id)
                    .order_by(SignatureRecord.id)
                )
            ),
            list(
                s.scalars(
                    select(StatusEvent)
                    .where(StatusEvent.document_id == doc.id)
                    .order_by(StatusEvent.id)
                )
            ),
            current_assignment(s, doc.id),
            latest_validation(s, doc.id),
            s.scalars(select(DigitizedCopy).where(DigitizedCopy.document_id == doc.id)).first(),
        )
        named = {h.actor_id for h in view.history} | set(designation.approver_ids(doc))
        named |= {doc.designated_signer_id, doc.created_by}
        view.people = {
            u.id: (u.username, u.full_name, u.title)
            for u in s.scalars(select(User).where(User.id.in_([i for i in named if i])))
        }
        view.waiting_for = designation.waiting_for(s, doc)
        audit.record(s, user.username, "document.read", "document", str(doc.id))
        return view


def open_file(
    system: System, actor: str, doc_id: int, file_id: int | None = None
) -> tuple[DocumentFile, Blob]:
    """The document's current PDF (or one of its files) for download; audited. The
    caller streams ``blob`` from the store (the API, with HTTP Range)."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        if file_id is None:
            f = main_file(s, doc.id)
        else:
            found = s.get(DocumentFile, file_id)
            if found is None or found.document_id != doc.id:
                raise NotFound(f"document {doc_id} has no file {file_id}")
            f = found
        blob = s.get(Blob, f.sha256)
        if blob is None:
            raise NotFound(f"file {f.id} is recorded but its content is missing")
        audit.record(
            s,
            user.username,
            "document.download",
            "document",
            str(doc.id),
            {"file": f.id, "sha256": f.sha256},
        )
        return f, blob


def download(
    system: System, actor: str, doc_id: int, target: Path, file_id: int | None = None
) -> DocumentFile:
    """Copy the document's current PDF (or one of its files) to ``target``, checking its
    hash; the download is audited."""
    f, _blob = open_file(system, actor, doc_id, file_id)
    blobs.export_to_file(system, f.sha256, target)
    return f


def list_documents(
    system: System,
    actor: str,
    *,
    direction: str | None = None,
    states: tuple[str, ...] = (),
    limit: int = 100,
) -> list[Document]:
    """Work queues: e.g. the leader's "waiting for my signature" (approved), the clerk's
    "to number" (signed) and "to seal" (numbered). Most urgent first."""
    with system.sessions() as s:
        user = load_user(s, actor)
        q = select(Document).where(visible_documents(user))
        if direction:
            q = q.where(Document.direction == direction)
        if states:
            q = q.where(Document.state.in_(states))
        return list(
            s.scalars(
                q.order_by(Document.priority.desc(), Document.updated_at.desc()).limit(
                    min(max(limit, 1), 1000)
                )
            )
        )


def waiting_for_me(system: System, actor: str, step: str, limit: int = 100) -> list[Document]:
    """The drafts waiting for this user: ``step`` "sign" (approved, designated to them or
    to nobody, for a leader) or "approve" (submitted, and they are the next approver, or
    the designated signer with nobody before them). Most urgent first."""
    state = {"sign": "approved", "approve": "submitted"}[step]
    with system.sessions() as s:
        user = load_user(s, actor)
        q = select(Document).where(
            visible_documents(user), Document.direction == "outgoing", Document.state == state
        )
        if step == "sign":
            q = q.where(
                or_(
                    Document.designated_signer_id == user.id,
                    Document.designated_signer_id.is_(None),
                )
            )
        found = s.scalars(q.order_by(Document.priority.desc(), Document.updated_at.desc()))
        return [d for d in found if designation.may_act(s, user, d)][: min(max(limit, 1), 1000)]


@dataclass(frozen=True)
class Colleague:
    username: str
    full_name: str
    title: str
    leader: bool


def drafting_people(system: System, actor: str) -> list[Colleague]:
    """Who a drafter may name: the active users of their agency (leaders may sign)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        return [
            Colleague(u.username, u.full_name, u.title, "leader" in u.role_set)
            for u in s.scalars(
                select(User)
                .where(User.agency_id == user.agency_id, User.active.is_(True))
                .order_by(User.full_name)
            )
        ]


def signing_key_of(s: Session, record: SignatureRecord) -> SigningKey | None:
    return s.get(SigningKey, record.signing_key_id)


def search_documents(
    system: System,
    actor: str,
    query: str,
    filters: search.SearchFilters | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[int, list[Document]]:
    """Full-text search in the actor's agency; the query is audited (who looked for
    what), the results are the documents' metadata."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        found = search.search(s, user.agency_id, query, filters, page, per_page, viewer=user)
        if query.strip():
            audit.record(
                s,
                user.username,
                "document.search",
                "agency",
                str(user.agency_id),
                {"q": query[:200], "total": found.total},
            )
        return found.total, found.documents
