"""Keeping: retention periods and legal holds.

Invariants: retention is computed from the document type's period once the document is
sent; a legal hold freezes the document (no step applies) until it is lifted, and both
are audited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, blobs
from ..db import transaction
from ..errors import (
    ClientError,
    NotFound,
)
from ..models import (
    Document,
    DocumentFile,
)
from ..orgs import (
    load_user,
    require_role,
)
from ..system import System
from .labels import now_utc
from .lifecycle import doc_type, load_document
from .transaction import run_in_transaction

log = logging.getLogger(__name__)


def apply_document_retention(system: System, doc_id: int) -> datetime | None:
    """Protect every stored file of the document for its type's retention period, from
    the date it became a record (issue or arrival). Logged, not raised, if the store
    cannot apply it now: the step itself has been committed."""
    with system.sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id}")
        t = doc_type(s, doc.type_code)
        years = t.retention_years or system.settings.retention_permanent_years
        start = doc.sent_at or doc.arrival_at or now_utc()
        shas = {
            f.sha256
            for f in s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc_id))
        }
    until = start + timedelta(days=round(365.25 * years))
    try:
        for sha in sorted(shas):
            blobs.apply_retention(system, sha, until)
        with transaction(system.sessions) as s:
            d = s.get(Document, doc_id)
            assert d is not None
            d.retain_until = until
            audit.record(
                s,
                "system",
                "document.retention",
                "document",
                str(doc_id),
                {"until": until.isoformat(timespec="seconds"), "years": years},
            )
        return until
    except Exception:  # the step succeeded; `edms doc retention` applies it again
        log.exception("retention of document %s could not be applied", doc_id)
        return None


def set_legal_hold(system: System, actor: str, doc_id: int, on: bool, reason: str) -> Document:
    """A legal hold blocks deletion of every file of the document until it is lifted."""
    if not reason.strip():
        raise ClientError("a reason is required for a legal hold")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        require_role(user, "admin", "clerk", action="place or lift a legal hold")
        for sha in {
            f.sha256
            for f in s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc.id))
        }:
            blobs.set_legal_hold(system, s, sha, on)
        doc.legal_hold = on
        audit.record(
            s,
            user.username,
            "document.legal_hold",
            "document",
            str(doc.id),
            {"on": on, "reason": reason.strip()},
        )
        return doc

    result: Document = run_in_transaction(system, work)
    return result
