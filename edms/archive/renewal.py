"""Renewing archive timestamps (``edms archive renew`` and the daily task).

Invariants: renewing adds a new stored version (stage ``renewed``) of each signed current
file, checked offline as B-LTA before it is stored; the versions and the audit event are
committed together, only if the document's current files are still those renewed; a
refusal is recorded on the file's facts; ``dry_run`` writes nothing at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import SigningError, TrustServiceError
from signing.ltv import TimestampFacts, renew_archive_timestamp, tsa_facts

from .. import audit, blobs
from ..db import transaction
from ..errors import ClientError, Conflict, EdmsError, InternalError, NotFound, ServiceUnavailable
from ..models import ArchiveFile, Document, DocumentFile
from ..system import System
from .facts import current_files, facts_for
from .policy import RENEW_ACTION, RENEWED_STAGE, _iso, is_kept, policy_for
from .survey import status

log = logging.getLogger("edms.archive")


@dataclass
class RenewOutcome:
    document_id: int
    number: str
    action: str  # renewed | would_renew | failed | skipped
    detail: str
    new_sha256: list[str] = field(default_factory=list)


@dataclass
class RenewReport:
    dry_run: bool
    due_within_days: int
    tsa: dict[str, Any] | None
    outcomes: list[RenewOutcome] = field(default_factory=list)
    not_renewable: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "due_within_days": self.due_within_days,
            "tsa": self.tsa,
            "error": self.error,
            "renewed": self.count("renewed"),
            "would_renew": self.count("would_renew"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "outcomes": [asdict(o) for o in self.outcomes],
            "not_renewable": self.not_renewable,
        }


def _tsa_json(t: TimestampFacts, until: datetime) -> dict[str, Any]:
    return {
        "name": t.tsa,
        "certificate_expires": _iso(t.tsa_expires),
        "algorithms": list(t.algorithms),
        "protects_until": _iso(until),
    }


def renew(
    system: System,
    *,
    due_within_days: int | None = None,
    dry_run: bool = False,
    actor: str = "system",
    agency_id: int | None = None,
    progress: Callable[[RenewOutcome], None] | None = None,
) -> RenewReport:
    """Renew every due document (see the module docstring); ``dry_run``: say what would
    be renewed, write nothing. A failure of one document is recorded and the run goes on;
    an unreachable trust service stops the run (:class:`ServiceUnavailable`)."""
    from ..signatures import trust_services

    policy = policy_for(system)
    window = policy.renew_before_days if due_within_days is None else due_within_days
    st = status(system, agency_id=agency_id, due_within_days=window, record=not dry_run)
    report = RenewReport(dry_run=dry_run, due_within_days=window, tsa=None)
    report.not_renewable = [
        {"document_id": d.document_id, "number": d.number, "status": d.status, "reason": d.reason}
        for d in st.documents
        if d.status in ("not_renewable", "expired", "unreadable")
    ]

    # A refused renewal is tried again on each run (its cause may have been fixed).
    now = st.checked_at
    due = [
        d
        for d in st.documents
        if d.status == "due" or (d.refused and d.due_at is not None and d.due_at <= now)
    ]
    if not due:
        return report
    services = trust_services(system.settings)
    try:
        tsa = tsa_facts(services)
    except (TrustServiceError, SigningError) as exc:
        report.error = f"the timestamp authority cannot be used: {exc}"
        if dry_run:
            return report
        raise ServiceUnavailable(report.error) from None
    tsa_until = policy.tsa_until(tsa)
    report.tsa = _tsa_json(tsa, tsa_until)
    for d in due:
        if d.protected_until is not None and tsa_until <= d.protected_until:
            outcome = RenewOutcome(
                d.document_id,
                d.number,
                "skipped",
                f"the configured TSA's certificate or algorithms end {tsa_until:%Y-%m-%d}, "
                f"no later than this document's current proof ({d.protected_until:%Y-%m-%d})"
                ": configure a TSA with a newer certificate",
            )
        elif dry_run:
            outcome = RenewOutcome(d.document_id, d.number, "would_renew", d.reason)
        else:
            try:
                shas = renew_document(system, d.document_id, actor=actor, reason=d.reason)
                outcome = RenewOutcome(d.document_id, d.number, "renewed", d.reason, shas)
            except ServiceUnavailable as exc:
                report.error = exc.message
                report.outcomes.append(RenewOutcome(d.document_id, d.number, "failed", exc.message))
                raise ServiceUnavailable(exc.message, report=report.to_json()) from None
            except EdmsError as exc:
                outcome = RenewOutcome(d.document_id, d.number, "failed", exc.message)
        report.outcomes.append(outcome)
        if progress:
            progress(outcome)
    return report


def _signed(row: ArchiveFile) -> bool:
    return row.level not in ("none",) and not row.problem


def renew_document(
    system: System, doc_id: int, *, actor: str = "system", reason: str = ""
) -> list[str]:
    """Renew one document's signed current files (one transaction, see the invariants).
    Returns the new files' SHA-256. A refusal is recorded on the file's facts."""
    from signing.validation import validate_file

    from ..documents import run_in_transaction, workdir
    from ..signatures import trust_roots, trust_services

    with system.sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id}")
        if not is_kept(doc):
            raise Conflict(f"document {doc_id} is still in its signing workflow")
        files = current_files(s, [doc_id]).get(doc_id, [])
        for f in files:
            s.expunge(f)
    facts = facts_for(system, [f.sha256 for f in files])
    todo = [f for f in files if _signed(facts[f.sha256])]
    if not todo:
        raise ClientError(f"document {doc_id} has no signed file to renew")
    services = trust_services(system.settings)
    roots = list(trust_roots(system.settings))
    with workdir(system) as wd:
        renewed: list[tuple[DocumentFile, Path, TimestampFacts]] = []
        try:
            for f in todo:
                src = wd / f"{f.id}.pdf"
                dst = wd / f"{f.id}-renewed.pdf"
                blobs.export_to_file(system, f.sha256, src)
                ts = renew_archive_timestamp(src, dst, services)
                report = validate_file(dst, roots, allow_fetching=False)
                levels = {sig.level for sig in report.signatures}
                if report.errors or levels != {"B-LTA"}:
                    raise SigningError(
                        "the renewed file does not validate offline as "
                        f"B-LTA (levels {sorted(levels)}; "
                        f"{'; '.join(report.errors) or 'no error'})"
                    )
                renewed.append((f, dst, ts))
        except TrustServiceError as exc:
            raise ServiceUnavailable(
                f"renewing document {doc_id} failed, nothing was stored: {exc}"
            ) from None
        except SigningError as exc:
            _record_refusal(system, [f.sha256 for f in todo], str(exc))
            raise InternalError(f"document {doc_id} cannot be renewed: {exc}") from None

        def work(s: Session, puts: list[blobs.PutOutcome]) -> tuple[list[str], Any]:
            doc = s.get(Document, doc_id)
            assert doc is not None
            now_files = current_files(s, [doc_id]).get(doc_id, [])
            if [f.id for f in now_files] != [f.id for f in files]:
                raise Conflict(
                    f"document {doc_id} changed while it was being renewed; "
                    "it is renewed on the next run"
                )
            shas = []
            for f, path, _ts in renewed:
                put = blobs.add_file(system, s, path, name=f.name)
                puts.append(put)
                s.add(
                    DocumentFile(
                        document_id=doc_id,
                        role=f.role,
                        stage=RENEWED_STAGE,
                        attachment_of=f.id if f.role == "attachment" else None,
                        sha256=put.sha256,
                        name=f.name,
                        created_by=None,
                        created_at=datetime.now(UTC),
                    )
                )
                shas.append(put.sha256)
            last = renewed[0][2]
            audit.record(
                s,
                actor,
                RENEW_ACTION,
                "document",
                str(doc_id),
                {
                    "reason": reason,
                    "previous": [f.sha256 for f, _p, _t in renewed],
                    "sha256": shas,
                    "tsa": last.tsa,
                    "timestamp": _iso(last.time),
                    "tsa_certificate_expires": _iso(last.tsa_expires),
                    "algorithms": list(last.algorithms),
                },
            )
            return shas, (doc.retain_until, doc.legal_hold)

        shas, (retain_until, legal_hold) = run_in_transaction(system, work)
        for _f, path, _ts in renewed:
            path.unlink(missing_ok=True)
    # Like every stored file of a kept document: protected as long as the document is.
    for sha in shas:
        try:
            if retain_until is not None:
                blobs.apply_retention(system, sha, retain_until)
            if legal_hold:
                with transaction(system.sessions) as s:
                    blobs.set_legal_hold(system, s, sha, True)
        except Exception:  # the renewal is committed; `edms doc retention` applies it again
            log.exception("retention of the renewed file %s could not be applied", sha)
    facts_for(system, shas)
    return shas


def _record_refusal(system: System, shas: list[str], reason: str) -> None:
    with transaction(system.sessions) as s:
        for sha in shas:
            row = s.get(ArchiveFile, sha)
            if row is not None:
                row.renew_error = reason[:2000]
                row.renew_attempted_at = datetime.now(UTC)


def clear_refusals(system: System, document_id: int) -> None:
    """Forget recorded refusals of a document's files (after the cause was fixed), so the
    next run tries again."""
    with transaction(system.sessions) as s:
        files = current_files(s, [document_id]).get(document_id, [])
        for f in files:
            row = s.get(ArchiveFile, f.sha256)
            if row is not None:
                row.renew_error = None


def renewal_history(system: System, doc_id: int) -> list[dict[str, Any]]:
    """The document's renewals, oldest first (from the audit trail)."""
    from ..models import AuditEvent

    with system.sessions() as s:
        return [
            {"at": _iso(e.at), **json.loads(e.details)}
            for e in s.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == RENEW_ACTION,
                    AuditEvent.object_type == "document",
                    AuditEvent.object_id == str(doc_id),
                )
                .order_by(AuditEvent.seq)
            )
        ]
