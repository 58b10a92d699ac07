"""Keeping signed documents verifiable for decades: archive status and timestamp renewal.

A signature stays verifiable long after its certificates expire only through PAdES-LTA
(ETSI EN 319 142-1): validation data for everything, then a document timestamp over the
whole file, renewed before that timestamp's TSA certificate expires or the algorithms it
rests on weaken. This module watches every kept document and renews what is due.

The renewal policy lives here and nowhere else (:class:`Policy`, documented in
docs/archive.md): a document is *due* ``EDMS_ARCHIVE_RENEW_DAYS`` (default 180) days before
the first of

* the expiry of the TSA certificate of the timestamp that currently protects it (its last
  document timestamp; without one, each signature's own timestamp);
* for a B-T file (no validation data embedded), the expiry of a signing certificate;
* the sunset date of an algorithm its proof rests on (:data:`DIGEST_SUNSET`,
  :func:`key_sunset`): SHA-1 and RSA below 2048 bits are already past theirs.

Invariants:

* renewing adds a new stored version (role unchanged, stage ``renewed``) of each signed
  current file of the document; the previous bytes stay stored and recorded;
* the versions and the audit event ``document.archive_renew`` are committed together, and
  only if the document's current files are still those that were renewed; an object put
  for a failed renewal is removed again;
* a renewed file is checked offline before it is stored: every signature B-LTA, every
  document timestamp intact;
* nothing is renewed with a TSA whose own certificate or algorithms would not protect the
  document longer than it already is; ``dry_run`` writes nothing at all.

Only *kept* documents are renewed: outgoing ones once registered (and later issued,
revoked or replaced), every incoming document and every digitized copy. Documents still
in their signing workflow are left to it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import SigningError, TrustServiceError
from signing.ltv import FileFacts, TimestampFacts, file_facts, renew_archive_timestamp, tsa_facts

from . import audit, blobs
from .db import transaction
from .errors import Conflict, EdmsError, ServiceUnavailable
from .models import ArchiveFile, Document, DocumentFile
from .system import System

log = logging.getLogger(__name__)

# -- the policy -----------------------------------------------------------------------------

# After these dates a digest no longer protects anything new (NIST SP 800-131A rev. 2,
# NIST SP 800-57 part 1 rev. 5: 112-bit security is acceptable through 2030).
DIGEST_SUNSET: dict[str, date] = {
    "md5": date(2004, 12, 31),
    "sha1": date(2013, 12, 31),
    "sha224": date(2030, 12, 31),
}


def key_sunset(algorithm: str) -> date | None:
    """The sunset of a public-key algorithm named as :func:`signing.ltv.key_algorithm`
    names it: RSA below 2048 bits ended in 2013, RSA below 3072 bits (112-bit security)
    ends with 2030; EC curves below 224 bits ended in 2013."""
    kind, _, size = algorithm.partition("-")
    if kind == "rsa" and size.isdigit():
        bits = int(size)
        if bits < 2048:
            return date(2013, 12, 31)
        if bits < 3072:
            return date(2030, 12, 31)
        return None
    if kind == "ec" and size in ("secp192r1", "prime192v1", "secp160r1"):
        return date(2013, 12, 31)
    return None


def sunset(algorithm: str) -> date | None:
    return DIGEST_SUNSET.get(algorithm) or key_sunset(algorithm)


@dataclass(frozen=True)
class Limit:
    """The end of a file's protection: when, and what ends it (``tsa``: its TSA
    certificate expires; ``signer``: a signing certificate expires, B-T only;
    ``algorithm``: an algorithm's sunset), ``subject`` naming the TSA or algorithm."""

    at: datetime
    cause: str
    subject: str
    text: str


@dataclass(frozen=True)
class Policy:
    """When a document is due for renewal (see the module docstring)."""

    renew_before_days: int = 180

    def protected_until(self, facts: ArchiveFile) -> Limit | None:
        """Until when the file's current proof holds, and what ends it first."""
        limits: list[Limit] = []
        if facts.tsa_expires_at is not None:
            limits.append(
                Limit(
                    facts.tsa_expires_at,
                    "tsa",
                    facts.tsa,
                    f"the TSA certificate ({facts.tsa}) expires",
                )
            )
        if facts.level == "B-T" and facts.signer_expires_at is not None:
            limits.append(
                Limit(
                    facts.signer_expires_at,
                    "signer",
                    "",
                    "a signing certificate expires (B-T: no validation data embedded)",
                )
            )
        for a in filter(None, facts.algorithms.split(",")):
            end = sunset(a)
            if end is not None:
                limits.append(
                    Limit(
                        datetime.combine(end, time.max, UTC).replace(microsecond=0),
                        "algorithm",
                        a,
                        f"the algorithm {a} is deprecated",
                    )
                )
        return min(limits, key=lambda x: x.at) if limits else None

    def tsa_until(self, tsa: TimestampFacts) -> datetime:
        """Until when a new timestamp of this TSA would protect a file."""
        ends = [tsa.tsa_expires] + [
            datetime.combine(d, time.max, UTC).replace(microsecond=0)
            for d in map(sunset, tsa.algorithms)
            if d is not None
        ]
        return min(ends)


def policy_for(system: System) -> Policy:
    return Policy(renew_before_days=system.settings.archive_renew_days)


# Outgoing documents become records when registered; incoming ones and copies on arrival.
KEPT_OUTGOING = ("registered", "issued", "revoked", "replaced")
RENEWED_STAGE = "renewed"
RENEW_ACTION = "document.archive_renew"


def is_kept(doc: Document) -> bool:
    return doc.direction != "outgoing" or doc.state in KEPT_OUTGOING


# -- facts of stored files ------------------------------------------------------------------


def _record_facts(sha256: str, facts: FileFacts | None, problem: str | None) -> ArchiveFile:
    row = ArchiveFile(
        sha256=sha256,
        level="none",
        signatures=0,
        document_timestamps=0,
        tsa="",
        algorithms="",
        analysed_at=datetime.now(UTC),
        problem=problem,
    )
    if facts is None:
        return row
    row.level = facts.level
    row.signatures = len(facts.signatures)
    row.document_timestamps = len(facts.document_timestamps)
    last = facts.last_timestamp
    row.last_timestamp_at = last.time if last else None
    # What protects the file now: its last document timestamp, else every signature's
    # own timestamp (the first to expire ends the protection).
    protecting = facts.document_timestamps[-1:] or [
        s.timestamp for s in facts.signatures if s.timestamp is not None
    ]
    if protecting:
        first = min(protecting, key=lambda t: t.tsa_expires)
        row.tsa, row.tsa_expires_at = first.tsa[:200], first.tsa_expires
    if facts.signatures:
        row.signer_expires_at = min(s.signer_expires for s in facts.signatures)
    row.algorithms = ",".join(facts.algorithms)[:200]
    return row


def analyse_file(system: System, sha256: str, work: Path) -> ArchiveFile:
    """Read a stored file's facts (not recorded)."""
    target = work / f"{sha256}.pdf"
    try:
        blobs.export_to_file(system, sha256, target)
        try:
            return _record_facts(sha256, file_facts(target), None)
        except SigningError as exc:
            return _record_facts(sha256, None, str(exc))
    finally:
        target.unlink(missing_ok=True)


def facts_for(
    system: System, shas: Iterable[str], *, record: bool = True
) -> dict[str, ArchiveFile]:
    """The facts of each stored file, read from the store for files never analysed
    (and then recorded unless ``record`` is False)."""
    from .documents import workdir

    wanted = sorted(set(shas))
    found: dict[str, ArchiveFile] = {}
    with system.sessions() as s:
        for i in range(0, len(wanted), 500):
            for row in s.scalars(
                select(ArchiveFile).where(ArchiveFile.sha256.in_(wanted[i : i + 500]))
            ):
                s.expunge(row)
                found[row.sha256] = row
    missing = [sha for sha in wanted if sha not in found]
    if missing:
        with workdir(system) as wd:
            for sha in missing:
                found[sha] = analyse_file(system, sha, wd)
        if record:
            _store_facts(system, [found[sha] for sha in missing])
    return found


def _store_facts(system: System, rows: list[ArchiveFile]) -> None:
    with transaction(system.sessions) as s:
        for row in rows:
            s.merge(row)


# -- status -----------------------------------------------------------------------------------


@dataclass
class DocumentStatus:
    document_id: int
    agency_id: int
    direction: str
    state: str
    number: str
    subject: str
    status: str  # ok | due | expired | not_renewable | unreadable
    reason: str
    level: str
    files: int  # signed current files
    document_timestamps: int
    last_timestamp_at: datetime | None
    tsa: str
    tsa_expires_at: datetime | None
    algorithms: list[str]
    protected_until: datetime | None
    due_at: datetime | None
    refused: bool = False  # not renewable because the last attempt was refused: retried
    # what ends the protection or blocks renewal: tsa | signer | algorithm |
    # no_timestamp | refused | unreadable (see Limit)
    cause: str = ""
    cause_subject: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("last_timestamp_at", "tsa_expires_at", "protected_until", "due_at"):
            d[k] = _iso(d[k])
        return d


@dataclass
class ArchiveStatus:
    checked_at: datetime
    renew_before_days: int
    documents: list[DocumentStatus] = field(default_factory=list)
    unsigned: int = 0  # kept documents with no signed file
    in_workflow: int = 0  # documents still in their signing workflow

    def count(self, status: str) -> int:
        return sum(1 for d in self.documents if d.status == status)

    @property
    def healthy(self) -> bool:
        return all(d.status == "ok" for d in self.documents)

    @property
    def next_due(self) -> datetime | None:
        dues = [d.due_at for d in self.documents if d.status == "ok" and d.due_at]
        return min(dues) if dues else None

    def summary(self) -> dict[str, Any]:
        return {
            "checked_at": _iso(self.checked_at),
            "renew_before_days": self.renew_before_days,
            "documents": len(self.documents),
            **{k: self.count(k) for k in ("ok", "due", "expired", "not_renewable", "unreadable")},
            "unsigned": self.unsigned,
            "in_workflow": self.in_workflow,
            "next_due": _iso(self.next_due),
            "healthy": self.healthy,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "documents": [d.to_json() for d in self.documents]}


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t else None


def current_files(s: Session, doc_ids: list[int]) -> dict[int, list[DocumentFile]]:
    """Each document's current files: its newest main file and the attachments of the
    same stage (as sent and shown)."""
    by_doc: dict[int, list[DocumentFile]] = {}
    for i in range(0, len(doc_ids), 500):
        for f in s.scalars(
            select(DocumentFile)
            .where(
                DocumentFile.document_id.in_(doc_ids[i : i + 500]),
                DocumentFile.role.in_(("main", "attachment")),
            )
            .order_by(DocumentFile.id)
        ):
            by_doc.setdefault(f.document_id, []).append(f)
    out: dict[int, list[DocumentFile]] = {}
    for doc_id, files in by_doc.items():
        mains = [f for f in files if f.role == "main"]
        if not mains:
            continue
        main = mains[-1]
        out[doc_id] = [main] + [
            f for f in files if f.role == "attachment" and f.stage == main.stage
        ]
    return out


_LEVEL_RANK = {"none": -1, "B-B": 0, "B-T": 1, "B-LT": 2, "B-LTA": 3}


def _classify(
    doc: Document,
    files: list[DocumentFile],
    facts: dict[str, ArchiveFile],
    policy: Policy,
    now: datetime,
    window: int,
) -> DocumentStatus | None:
    rows = [facts[f.sha256] for f in files]
    signed = [r for r in rows if r.level != "none" or r.problem]
    if not signed:
        return None
    number = (
        f"{doc.code_number}/{doc.code_notation}" if doc.code_notation else (doc.code_number or "")
    )
    status, reason, refused, cause = "ok", "", False, ""
    limit: Limit | None = None
    tsa_row = None
    for r in signed:
        lim = None if r.problem else policy.protected_until(r)
        if lim is not None and (limit is None or lim.at < limit.at):
            limit, tsa_row = lim, r
    until = limit.at if limit else None
    weakest = min(signed, key=lambda r: _LEVEL_RANK.get(r.level, -1))
    due_at = until - timedelta(days=window) if until else None
    main_row = facts[files[0].sha256]
    if any(r.problem for r in signed):
        status, cause = "unreadable", "unreadable"
        reason = next(r.problem for r in signed if r.problem) or ""
    elif weakest.level == "B-B":
        status, cause = "not_renewable", "no_timestamp"
        reason = "a signature has no timestamp (B-B): it cannot be raised to a long-term level"
    elif limit is not None and limit.at <= now:
        status, cause = "expired", limit.cause
        reason = f"{limit.text} on {limit.at:%Y-%m-%d}: the proof can no longer be renewed"
    elif any(r.renew_error for r in signed):
        status, refused, cause = "not_renewable", True, "refused"
        reason = next(r.renew_error for r in signed if r.renew_error) or ""
    elif limit is not None and due_at is not None and due_at <= now:
        status, cause = "due", limit.cause
        reason = f"{limit.text} on {limit.at:%Y-%m-%d}"
    elif limit is not None:
        cause = limit.cause
    show = tsa_row or main_row
    return DocumentStatus(
        document_id=doc.id,
        agency_id=doc.agency_id,
        direction=doc.direction,
        state=doc.state,
        number=number,
        subject=doc.subject[:120],
        status=status,
        reason=reason,
        level=weakest.level,
        files=len(signed),
        document_timestamps=main_row.document_timestamps,
        last_timestamp_at=max(
            (r.last_timestamp_at for r in signed if r.last_timestamp_at), default=None
        ),
        tsa=show.tsa,
        tsa_expires_at=show.tsa_expires_at,
        algorithms=[a for a in show.algorithms.split(",") if a],
        protected_until=until,
        due_at=due_at,
        refused=refused,
        cause=cause,
        cause_subject=limit.subject if limit else "",
    )


def status(
    system: System,
    *,
    agency_id: int | None = None,
    due_within_days: int | None = None,
    now: datetime | None = None,
    record: bool = True,
) -> ArchiveStatus:
    """The archive's state per kept signed document and overall. Files never analysed are
    read from the store (their facts recorded unless ``record`` is False)."""
    policy = policy_for(system)
    window = policy.renew_before_days if due_within_days is None else due_within_days
    now = now or datetime.now(UTC)
    result = ArchiveStatus(checked_at=now, renew_before_days=window)
    with system.sessions() as s:
        q = select(Document)
        if agency_id is not None:
            q = q.where(Document.agency_id == agency_id)
        docs = list(s.scalars(q.order_by(Document.id)))
        for d in docs:
            s.expunge(d)
        kept = [d for d in docs if is_kept(d)]
        result.in_workflow = len(docs) - len(kept)
        files = current_files(s, [d.id for d in kept])
        for fs in files.values():
            for f in fs:
                s.expunge(f)
    facts = facts_for(system, (f.sha256 for fs in files.values() for f in fs), record=record)
    for d in kept:
        st = (
            _classify(d, files.get(d.id, []), facts, policy, now, window) if d.id in files else None
        )
        if st is None:
            result.unsigned += 1
        else:
            result.documents.append(st)
    return result


# -- renewal ----------------------------------------------------------------------------------


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
    from .signatures import trust_services

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

    from .documents import run_in_transaction, workdir
    from .signatures import trust_roots, trust_services

    with system.sessions() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise EdmsError(f"no document {doc_id}")
        if not is_kept(doc):
            raise Conflict(f"document {doc_id} is still in its signing workflow")
        files = current_files(s, [doc_id]).get(doc_id, [])
        for f in files:
            s.expunge(f)
    facts = facts_for(system, [f.sha256 for f in files])
    todo = [f for f in files if _signed(facts[f.sha256])]
    if not todo:
        raise EdmsError(f"document {doc_id} has no signed file to renew")
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
            raise EdmsError(f"document {doc_id} cannot be renewed: {exc}") from None

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
    from .models import AuditEvent

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
