"""The archive status of every kept document: its level, what its proof rests on and
when it is due.

Invariants: read-only; the classification follows :class:`~edms.archive.policy.Policy`
only, so the status page, ``edms archive status`` and the renewal agree on what is due.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..models import ArchiveFile, Document, DocumentFile
from ..system import System
from .facts import current_files, facts_for
from .policy import Limit, Policy, _iso, is_kept, policy_for


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
