"""Revoking an electronic copy (thu hồi bản sao điện tử): a copy made in error, or whose
original was annulled, stops being valid. Its record and files are kept (frozen, state
``revoked``); its public page then says, first, that it was revoked, on which day and
why, whatever the file's signature says. A refused revocation changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, blobs
from ..documents import STATE_NAMES_VI, run_in_transaction
from ..documents.lifecycle import load_document
from ..errors import ClientError, InvalidTransition
from ..models import DigitizedCopy, Document, StatusEvent
from ..numbering import VN_TZ
from ..orgs import load_user, require_role
from ..system import System
from .pipeline import PublicCheck, public_check


def revoke_copy(system: System, actor: str, doc_id: int, reason: str) -> Document:
    """Revoke the electronic copy ``doc_id`` (clerks and leaders of its agency)."""
    reason = reason.strip()
    if not reason:
        raise ClientError("a reason is required to revoke a copy")

    def work(s: Session, _puts: list[blobs.PutOutcome]) -> Document:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        require_role(user, "clerk", "leader", action="revoke an electronic copy")
        row = s.scalars(select(DigitizedCopy).where(DigitizedCopy.document_id == doc.id)).first()
        if row is None:
            raise InvalidTransition(f"document {doc_id} is not an electronic copy")
        if row.revoked_at is not None or doc.frozen:
            raise InvalidTransition(
                f"copy {doc_id} is {STATE_NAMES_VI['revoked']} already"
                if row.revoked_at
                else f"document {doc_id} is frozen"
            )
        now = datetime.now(UTC)
        before = doc.state
        row.revoked_at, row.revoked_reason = now, reason[:1000]
        doc.state, doc.frozen, doc.frozen_reason = "revoked", True, f"thu hồi: {reason}"
        doc.updated_at = now
        s.flush()
        s.add(
            StatusEvent(
                document_id=doc.id,
                at=now,
                actor_id=user.id,
                action="revoke",
                from_state=before,
                to_state="revoked",
                note=reason,
            )
        )
        audit.record(
            s,
            user.username,
            "copy.revoke",
            "document",
            str(doc.id),
            {"public_id": row.public_id, "reason": reason},
        )
        return doc

    result: Document = run_in_transaction(system, work)
    return result


def public_status(system: System, public_id: str, uploaded: Path | None = None) -> PublicCheck:
    """:func:`public_check`, and a revoked copy said to be revoked, first."""
    result = public_check(system, public_id, uploaded)
    with system.sessions() as s:
        row = s.scalars(select(DigitizedCopy).where(DigitizedCopy.public_id == public_id)).first()
        revoked_at, reason = (row.revoked_at, row.revoked_reason) if row else (None, None)
    if revoked_at is not None:
        day = revoked_at.astimezone(VN_TZ).strftime("%d/%m/%Y")
        result.authentic = False
        result.headline = (
            f"KHÔNG CÒN GIÁ TRỊ: bản sao điện tử này đã bị {result.agency} "
            f"thu hồi ngày {day} (lý do: {reason})."
        )
    return result
