"""The citizen's own look-up with the dossier code and the look-up secret.

Invariants: a wrong secret and an unknown code get the same answer after the same work;
attempts are limited per client address and per code typed; the answer holds the status,
the promised date, whether it is late and the result — nothing about the applicant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..auth import TooManyAttempts
from ..db import transaction
from ..errors import NotFound
from ..models import (
    Blob,
    DigitizedCopy,
    Document,
    DocumentFile,
    DossierLookup,
    ProcedureDossier,
)
from ..system import System
from .common import (
    DELIVERED,
    LOOKUP_WINDOW,
    MAX_FAILED_PER_CLIENT,
    MAX_FAILED_PER_CODE,
    MAX_PER_CLIENT,
    READY,
    STATUS_VI,
    _now,
    secret_matches,
)
from .queries import is_late


class LookupFailed(NotFound):
    """No dossier with this code and secret (one answer for both causes)."""

    title = "Not found"
    type_slug = "not-found"


LOOKUP_FAILED_VI = (
    "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này. Hãy kiểm tra lại "
    "hai mã in trên Phiếu tiếp nhận và hẹn trả kết quả."
)


@dataclass(frozen=True)
class PublicStatus:
    """All the look-up shows."""

    code: str
    status: str
    status_vi: str
    promised_date: date
    late: bool
    result_available: bool


def _limit(s: Session, client: str, code: str) -> None:
    since = _now() - LOOKUP_WINDOW
    recent = DossierLookup.at >= since
    failed = recent & DossierLookup.success.is_(False)
    by_client = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(
            DossierLookup.client == client, recent
        )
    ).one()
    failed_client = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(
            DossierLookup.client == client, failed
        )
    ).one()
    failed_code = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(DossierLookup.code == code, failed)
    ).one()
    for (count, first), limit in (
        (by_client, MAX_PER_CLIENT),
        (failed_client, MAX_FAILED_PER_CLIENT),
        (failed_code, MAX_FAILED_PER_CODE),
    ):
        if count >= limit:
            wait = max(1, int((first + LOOKUP_WINDOW - _now()).total_seconds()) + 1)
            raise TooManyAttempts("too many look-ups; try again later", retry_after=wait)


def _find(
    system: System, code: str, secret: str, client: str
) -> tuple[ProcedureDossier, Document | None]:
    """The dossier for ``code`` and ``secret``, the attempt recorded; else LookupFailed."""
    code = (code or "").strip().upper()[:60]
    client = (client or "?")[:64]
    with system.sessions() as s:
        _limit(s, client, code)
        d = (
            s.scalars(select(ProcedureDossier).where(ProcedureDossier.code == code)).first()
            if code
            else None
        )
    ok = secret_matches(d.secret_hash if d is not None else None, secret)
    with transaction(system.sessions) as s:
        s.add(DossierLookup(at=_now(), client=client, code=code, success=ok))
    if not ok or d is None:
        raise LookupFailed("no dossier with this code and look-up secret")
    with system.sessions() as s:
        doc = s.get(Document, d.result_document_id) if d.result_document_id else None
        if doc is not None:
            revoked = s.scalars(
                select(DigitizedCopy.revoked_at).where(DigitizedCopy.document_id == doc.id)
            ).first()
            if doc.state != "issued" or doc.frozen or revoked is not None:
                doc = None  # a revoked result is not handed out
    return d, doc


def lookup(system: System, code: str, secret: str, client: str) -> PublicStatus:
    """The citizen's look-up (no login): see the module's invariants."""
    d, doc = _find(system, code, secret, client)
    with transaction(system.sessions) as s:
        audit.record(
            s, "public", "dossier.lookup", "procedure_dossier", str(d.id), {"client": client[:64]}
        )
    return PublicStatus(
        d.code,
        d.status,
        STATUS_VI[d.status],
        d.promised_date,
        is_late(d),
        doc is not None and d.status in (READY, DELIVERED),
    )


def result_file(system: System, code: str, secret: str, client: str) -> tuple[Blob, str]:
    """The signed result file (its stored blob and a download name), for the holder of
    the code and secret."""
    d, doc = _find(system, code, secret, client)
    if doc is None or d.status not in (READY, DELIVERED):
        raise NotFound("the result of this dossier is not available yet")
    with transaction(system.sessions) as s:
        f = s.scalars(
            select(DocumentFile)
            .where(DocumentFile.document_id == doc.id, DocumentFile.role == "main")
            .order_by(DocumentFile.id.desc())
        ).first()
        blob = s.get(Blob, f.sha256) if f is not None else None
        if blob is None:
            raise NotFound("the result of this dossier is not available yet")
        audit.record(
            s,
            "public",
            "dossier.result_download",
            "procedure_dossier",
            str(d.id),
            {"document": doc.id, "sha256": blob.sha256, "client": client[:64]},
        )
        s.expunge(blob)
    return blob, f"ket-qua-{d.code}.pdf"


def purge_lookups(system: System, older_than: timedelta = timedelta(days=1)) -> int:
    """Look-up attempts are kept only as long as rate limiting needs them."""
    from sqlalchemy import delete
    from sqlalchemy.engine import CursorResult

    with transaction(system.sessions) as s:
        done = s.execute(delete(DossierLookup).where(DossierLookup.at < _now() - older_than))
        # a DELETE always yields a cursor result: it carries the number of rows removed
        return int(done.rowcount or 0) if isinstance(done, CursorResult) else 0
