"""`edms storage verify`: re-hash every stored object and compare store and database;
`edms storage cleanup`: remove what failed or interrupted work left behind.

Problems found:

* ``missing``       a database row refers to an object the store does not have;
* ``corrupted``     an object's content no longer hashes to its recorded SHA-256, or its
  size differs from the record;
* ``orphaned``      an object no database row refers to;
* ``unreferenced``  a recorded object that nothing refers to (no document, key image,
  exchange package or unfinished job) and that no retention or legal hold protects: an
  upload whose work failed;
* ``stale-work``    a work folder under ``EDMS_DATA_DIR/tmp`` whose process is gone (it
  may hold plaintext copies of documents).

Objects and folders younger than ``older_than`` seconds are not named (work may still be
using them), except folders of a process known to be gone. Uploads still in progress (or
interrupted) are counted apart: they are not objects. Cleanup removes incomplete uploads,
unreferenced objects and stale work folders, never a referenced or protected object. It
leaves orphaned objects alone: an object without its row may be a document whose record
is to be restored (a database brought back from an older backup); the operator decides.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from storage import ObjectInfo, ObjectNotFound, StorageError, sha256_of_key

from .blobs import HOST_ID, WORK_NAME, referenced, remove_blob, work_root
from .models import Blob
from .system import System

DEFAULT_AGE = 3600  # seconds: younger objects and folders may still be in use
MAX_WORK_AGE = 86400  # a work folder older than a day is abandoned whoever made it


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | corrupted | orphaned | unreferenced | stale-work
    key: str
    detail: str


@dataclass
class StorageReport:
    checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    incomplete_uploads: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "clean": self.clean,
            "checked": self.checked,
            "bytes_checked": self.bytes_checked,
            "incomplete_uploads": self.incomplete_uploads,
            "problems": [p.__dict__ for p in self.problems],
        }


@dataclass(frozen=True)
class _Expected:
    key: str
    sha256: str
    size: int


def _check_one(system: System, exp: _Expected) -> tuple[Problem | None, int]:
    try:
        digest, size = system.store.sha256_of(exp.key)
    except ObjectNotFound:
        return Problem("missing", exp.key, f"recorded object {exp.sha256} is not in the store"), 0
    except StorageError as exc:
        return Problem("missing", exp.key, f"cannot be read: {exc}"), 0
    if digest != exp.sha256:
        return Problem(
            "corrupted", exp.key, f"content hashes to {digest}, recorded {exp.sha256}"
        ), size
    if size != exp.size:
        return Problem("corrupted", exp.key, f"size {size} bytes, recorded {exp.size}"), size
    return None, size


def verify_storage(
    system: System,
    *,
    workers: int = 4,
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    older_than: int = DEFAULT_AGE,
) -> StorageReport:
    """Check every recorded object, look for unrecorded and unreferenced ones and for
    stale work folders.

    ``on_total`` receives the number of bytes to hash, ``on_progress`` each object's size
    as it is done (for a progress bar)."""
    report = StorageReport()
    with system.sessions() as session:
        rows = session.execute(select(Blob.storage_key, Blob.sha256, Blob.size)).all()
    expected = {key: _Expected(key, sha, size) for key, sha, size in rows}
    for blob in unreferenced_blobs(system, older_than):
        report.problems.append(
            Problem(
                "unreferenced",
                blob.storage_key,
                f"recorded {blob.created_at:%Y-%m-%d %H:%M} UTC ({blob.size} bytes, "
                f"{blob.original_name or 'no name'}); nothing refers to it",
            )
        )
    for folder in stale_work(system, older_than):
        report.problems.append(Problem("stale-work", str(folder.path), folder.detail))

    stored: dict[str, ObjectInfo] = {info.key: info for info in system.store.list("")}
    report.incomplete_uploads = len(system.store.incomplete_uploads())

    # Objects nobody refers to: still hashed, so a corrupted orphan is named as such too.
    for key, info in stored.items():
        if key not in expected:
            digest = sha256_of_key(key)
            detail = "no database row refers to it"
            report.problems.append(Problem("orphaned", key, detail))
            if digest is not None:
                expected_orphan = _Expected(key, digest, info.size)
                expected.setdefault(key, expected_orphan)

    if on_total:
        on_total(sum(e.size for e in expected.values()))
    todo = list(expected.values())
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for exp, (problem, size) in zip(
            todo, pool.map(lambda e: _check_one(system, e), todo), strict=True
        ):
            report.checked += 1
            report.bytes_checked += size
            if problem is not None:
                report.problems.append(problem)
            if on_progress:
                on_progress(exp.size)  # the bar reaches its end even past missing objects
    report.problems.sort(key=lambda p: (p.kind, p.key))
    return report


# -- what failed or interrupted work left behind ----------------------------------------------


def unreferenced_blobs(system: System, older_than: int = DEFAULT_AGE) -> list[Blob]:
    """Recorded objects older than ``older_than`` seconds that nothing refers to and
    nothing protects (retention, legal hold)."""
    now = datetime.now(UTC)
    with system.sessions() as session:
        keep = referenced(session)
        rows = session.scalars(
            select(Blob)
            .where(
                Blob.created_at <= now - timedelta(seconds=older_than), Blob.legal_hold.is_(False)
            )
            .order_by(Blob.created_at)
        )
        return [
            b
            for b in rows
            if b.sha256 not in keep and (b.retain_until is None or b.retain_until <= now)
        ]


@dataclass(frozen=True)
class WorkFolder:
    path: Path
    size: int
    detail: str


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stale_work(system: System, older_than: int = DEFAULT_AGE) -> list[WorkFolder]:
    """Work folders (and files) under ``EDMS_DATA_DIR/tmp`` that no running process uses:
    made by a process of this host that is gone, or older than ``older_than`` seconds
    when their maker cannot be told (a day, for another host's)."""
    root = work_root(system)
    if not root.is_dir():
        return []
    now = time.time()
    out = []
    for entry in sorted(root.iterdir()):
        try:
            age = now - entry.stat().st_mtime
            m = WORK_NAME.match(entry.name)
            if m and m["host"] == HOST_ID:
                gone = not _alive(int(m["pid"]))
                stale, why = (
                    gone or age > MAX_WORK_AGE,
                    (f"its process {m['pid']} is gone" if gone else "older than a day"),
                )
            elif m:
                stale, why = age > max(older_than, MAX_WORK_AGE), "another host's, older than a day"
            else:
                stale, why = age >= older_than, f"left {int(age)} s ago"
            if stale:
                size = _size(entry)
                out.append(WorkFolder(entry, size, f"{why}; {size} bytes of work files"))
        except FileNotFoundError:
            continue  # removed meanwhile by its own process
    return out


@dataclass
class Cleanup:
    incomplete_uploads: int = 0
    unreferenced: int = 0
    work_folders: int = 0
    work_bytes: int = 0

    def summary(self) -> str:
        return (
            f"removed {self.incomplete_uploads} incomplete upload(s), "
            f"{self.unreferenced} unreferenced object(s), {self.work_folders} stale "
            f"work folder(s) ({self.work_bytes} bytes)"
        )


def remove_stale_work(system: System, older_than: int = DEFAULT_AGE) -> tuple[int, int]:
    """Remove stale work folders; returns (how many, bytes)."""
    count = size = 0
    for folder in stale_work(system, older_than):
        if folder.path.is_dir():
            shutil.rmtree(folder.path, ignore_errors=True)
        else:
            folder.path.unlink(missing_ok=True)
        if not folder.path.exists():
            count, size = count + 1, size + folder.size
    return count, size


def cleanup(system: System, older_than: int = DEFAULT_AGE) -> Cleanup:
    """Remove what :func:`verify_storage` names as left behind (never a referenced or a
    protected object)."""
    done = Cleanup(incomplete_uploads=system.store.cleanup_incomplete(older_than))
    done.unreferenced = sum(
        remove_blob(system, b.sha256) for b in unreferenced_blobs(system, older_than)
    )
    done.work_folders, done.work_bytes = remove_stale_work(system, older_than)
    return done
