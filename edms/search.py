"""Full-text search over documents, insensitive to Vietnamese diacritics and case.

``quyet dinh`` finds ``Quyết định``: the indexed text and the query go through the same
:func:`fold` (Unicode decomposition, combining marks dropped, ``đ`` → ``d``, lower case).
Folding in Python, rather than with PostgreSQL's ``unaccent`` rules file, gives the same
answers on both engines and needs no database extension (no superuser step in production).

One interface, two indexes behind it:

* SQLite (embedded default): an FTS5 table ``document_fts`` (rowid = document id).
* PostgreSQL: ``document_search`` with a ``tsvector`` of the folded text under the
  ``simple`` configuration (no stemming: Vietnamese words are syllables) and a GIN index.

The index is written in the caller's transaction, so a document and its index entry commit
or roll back together.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy.orm import Session

from .errors import ClientError, InternalError
from .models import Document, Register, User

MAX_INDEXED_CHARS = 400_000
_WORD = re.compile(r"\w+", re.UNICODE)


def fold(value: str) -> str:
    """Lower case without diacritics: ``Quyết định`` → ``quyet dinh``."""
    value = value.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(_WORD.findall(stripped.lower()))


def extract_pdf_text(path: Path, *, max_pages: int = 300, timeout: float = 60.0) -> str:
    """The text layer of a PDF (poppler's ``pdftotext``), or "" when it has none or cannot
    be read in time: a document without text is still indexed by its metadata."""
    try:
        done = subprocess.run(
            ["pdftotext", "-q", "-enc", "UTF-8", "-l", str(max_pages), str(path), "-"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if done.returncode != 0:
        return ""
    return done.stdout.decode("utf-8", "replace")[:MAX_INDEXED_CHARS]


def _terms(query: str) -> list[str]:
    terms = fold(query).split()
    if not terms:
        raise ClientError("the search query has no words")
    if len(terms) > 32:
        raise ClientError("the search query has too many words (at most 32)")
    return terms


class SearchIndex(ABC):
    """Where the folded text of each document is indexed and matched."""

    @abstractmethod
    def put(self, session: Session, document_id: int, folded: str) -> None: ...

    @abstractmethod
    def remove(self, session: Session, document_id: int) -> None: ...

    @abstractmethod
    def matching(self, terms: list[str]) -> ColumnElement[bool]:
        """A condition on ``Document.id`` that holds for documents containing every term
        (the last one also as a prefix, for search-as-you-type)."""


class SqliteFtsIndex(SearchIndex):
    def put(self, session: Session, document_id: int, folded: str) -> None:
        self.remove(session, document_id)
        session.execute(
            text("INSERT INTO document_fts(rowid, body) VALUES (:id, :body)"),
            {"id": document_id, "body": folded},
        )

    def remove(self, session: Session, document_id: int) -> None:
        session.execute(text("DELETE FROM document_fts WHERE rowid = :id"), {"id": document_id})

    def matching(self, terms: list[str]) -> ColumnElement[bool]:
        # Every term quoted: FTS5 query syntax in the user's words has no effect.
        quoted = [f'"{t}"' for t in terms]
        quoted[-1] += "*"
        sub = text("SELECT rowid FROM document_fts WHERE document_fts MATCH :q").bindparams(
            q=" ".join(quoted)
        )
        return Document.id.in_(sub.columns(rowid=Document.id.type).subquery().select())


class PostgresFtsIndex(SearchIndex):
    def put(self, session: Session, document_id: int, folded: str) -> None:
        session.execute(
            text(
                "INSERT INTO document_search (document_id, vector) "
                "VALUES (:id, to_tsvector('simple', :body)) "
                "ON CONFLICT (document_id) DO UPDATE SET vector = EXCLUDED.vector"
            ),
            {"id": document_id, "body": folded},
        )

    def remove(self, session: Session, document_id: int) -> None:
        session.execute(
            text("DELETE FROM document_search WHERE document_id = :id"), {"id": document_id}
        )

    def matching(self, terms: list[str]) -> ColumnElement[bool]:
        # Terms are \w+ runs after folding: no tsquery operators can reach the query.
        q = " & ".join(f"'{t}'" for t in terms[:-1])
        q = f"{q} & '{terms[-1]}':*" if q else f"'{terms[-1]}':*"
        sub = text(
            "SELECT document_id FROM document_search WHERE vector @@ to_tsquery('simple', :q)"
        ).bindparams(q=q)
        return Document.id.in_(sub.columns(document_id=Document.id.type).subquery().select())


def index_for(session: Session) -> SearchIndex:
    name = session.get_bind().dialect.name
    if name == "sqlite":
        return SqliteFtsIndex()
    if name == "postgresql":
        return PostgresFtsIndex()
    raise InternalError(f"no full-text index for the {name} database")


def document_text(doc: Document, type_name: str, content: str) -> str:
    """The folded text indexed for a document: its metadata and its PDF text."""
    parts = [
        doc.subject,
        doc.description,
        type_name,
        doc.organ_name,
        doc.organ_id or "",
        doc.signer_name,
        doc.signer_position,
        doc.code_notation or "",
        f"{doc.number:02d}" if doc.number else "",
        doc.code_number or "",
        doc.to_places,
        doc.recipients,
        content,
    ]
    return fold(" ".join(p for p in parts if p))


def reindex(session: Session, doc: Document, type_name: str, content: str | None = None) -> None:
    """(Re)index one document; ``content`` None keeps the PDF text indexed before."""
    if content is None:
        # The stored search_text ends with the PDF text: keep it, refresh the metadata.
        content = doc.search_text
    doc.search_text = document_text(doc, type_name, content)[:MAX_INDEXED_CHARS]
    session.flush()
    index_for(session).put(session, doc.id, doc.search_text)


@dataclass(frozen=True)
class SearchFilters:
    type_code: str | None = None
    register_kind: str | None = None  # outgoing | incoming | copies | secret
    state: str | None = None
    states: tuple[str, ...] = ()  # any of these (work queues)
    direction: str | None = None
    organ: str | None = None  # the issuing / sending agency: identifier or part of its name
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class SearchPage:
    total: int
    page: int
    per_page: int
    documents: list[Document]


def search(
    session: Session,
    agency_id: int,
    query: str,
    filters: SearchFilters | None = None,
    page: int = 1,
    per_page: int = 20,
    viewer: User | None = None,
) -> SearchPage:
    """Documents of one agency matching every word of ``query``, newest first; with
    ``viewer``, only those that user may see (secret documents: see edms.orgs)."""
    if page < 1 or not 1 <= per_page <= 100:
        raise ClientError("page starts at 1; per_page is between 1 and 100")
    f = filters or SearchFilters()
    stmt: Select[Document] = select(Document).where(Document.agency_id == agency_id)
    if viewer is not None:
        from .orgs import visible_documents

        stmt = stmt.where(visible_documents(viewer))
    if query.strip():
        stmt = stmt.where(index_for(session).matching(_terms(query)))
    if f.type_code:
        stmt = stmt.where(Document.type_code == f.type_code)
    if f.state:
        stmt = stmt.where(Document.state == f.state)
    if f.states:
        stmt = stmt.where(Document.state.in_(f.states))
    if f.direction:
        stmt = stmt.where(Document.direction == f.direction)
    if f.register_kind:
        regs = select(Register.id).where(Register.kind == f.register_kind)
        stmt = stmt.where(
            or_(Document.register_id.in_(regs), Document.arrival_register_id.in_(regs))
        )
    if f.organ:
        needle = f"%{f.organ.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Document.organ_id) == f.organ.lower(),
                func.lower(Document.organ_name).like(needle),
            )
        )
    day = func.coalesce(
        Document.issued_date, func.date(Document.arrival_at), func.date(Document.created_at)
    )
    if f.date_from:
        stmt = stmt.where(day >= f.date_from)
    if f.date_to:
        stmt = stmt.where(day <= f.date_to)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    docs = session.scalars(
        stmt.order_by(Document.created_at.desc(), Document.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return SearchPage(int(total), page, per_page, list(docs))
