"""What a stored signed file's long-term proof rests on, read once per file.

Invariants: facts are keyed by the file's SHA-256 (content-addressed, so they never go
stale) and read from the object store only when not recorded yet; a file that cannot be
read is recorded with the problem, never raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import SigningError
from signing.ltv import FileFacts, file_facts

from .. import blobs
from ..db import transaction
from ..models import ArchiveFile, DocumentFile
from ..system import System


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
    from ..documents import workdir

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
