"""`edms storage verify`: re-hash every stored object and compare store and database.

Problems found:

* ``missing``   a database row refers to an object the store does not have;
* ``corrupted`` an object's content no longer hashes to its recorded SHA-256, or its size
  differs from the record;
* ``orphaned``  an object no database row refers to.

Uploads still in progress (or interrupted) are listed apart: they are not objects.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select

from storage import ObjectInfo, ObjectNotFound, StorageError, sha256_of_key

from .models import Blob
from .system import System


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | corrupted | orphaned
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
) -> StorageReport:
    """Check every recorded object and look for unrecorded ones.

    ``on_total`` receives the number of bytes to hash, ``on_progress`` each object's size
    as it is done (for a progress bar)."""
    report = StorageReport()
    with system.sessions() as session:
        rows = session.execute(select(Blob.storage_key, Blob.sha256, Blob.size)).all()
    expected = {key: _Expected(key, sha, size) for key, sha, size in rows}

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
