"""Taking a backup while the service runs (``edms backup``).

Invariants: the database is snapshotted first; objects are copied afterwards, each hashed
on the way and skipped when the target already has it; the manifest (and its signature)
is written last, so a snapshot without one is incomplete.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage import (
    ObjectNotFound,
    StorageError,
)

from .. import __version__, audit, db
from ..errors import EdmsError
from ..system import System
from .database import StoredObject, snapshot_database
from .reading import Check, list_snapshots, load_snapshot, read_object_list
from .targets import (
    FORMAT,
    MANIFEST,
    OBJECT_LIST,
    OBJECTS,
    SIGNATURE,
    SNAPSHOTS,
    BackupError,
    BackupFailed,
    BackupRefused,
    Target,
    object_key,
    open_target,
)

log = logging.getLogger("edms.backup")


@dataclass
class BackupResult:
    snapshot: str
    target: str
    database: str
    objects: int
    objects_copied: int
    bytes_copied: int
    audit_seq: int
    signed_by: str | None
    source_problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.source_problems

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "complete": self.complete}


def _new_snapshot_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}"


def _agency_signer(system: System, agency_code: str | None) -> tuple[str, Any] | None:
    """The agency whose seal key signs the manifest: ``agency_code``, else the first
    agency (oldest) with a seal key this process can open."""
    from sqlalchemy import select

    from ..models import Agency
    from ..orgs import active_key, open_key

    with system.sessions() as s:
        agencies = list(s.scalars(select(Agency).order_by(Agency.id)))
        if agency_code is not None:
            agencies = [a for a in agencies if a.code == agency_code]
            if not agencies:
                raise BackupRefused(f"no agency {agency_code}")
        for a in agencies:
            try:
                key = active_key(s, agency_id=a.id)
                return a.code, open_key(system, key).key
            except EdmsError as exc:
                if agency_code is not None:
                    raise BackupFailed(
                        f"the seal key of {agency_code} cannot sign the manifest: {exc.message}"
                    ) from None
    return None


class _Vanished(Exception):
    """An object of the snapshot was deleted (with its record) after the snapshot."""


def _present(target: Target, rescan: bool) -> set[str]:
    """The objects the target holds: those its newest complete snapshot lists (one read,
    however large the target), or with ``rescan`` a listing of the whole target. An
    object missing from a listed snapshot is named by `edms backup verify --quick`."""
    if not rescan:
        done, _incomplete = list_snapshots(target)
        if done:
            try:
                snap = load_snapshot(target, done[-1])
                listed = read_object_list(target, snap, check := Check())
                if check.ok:
                    lost = {p["sha256"] for p in snap.manifest.get("source_problems", [])}
                    return {object_key(sha) for sha, _size in listed if sha not in lost}
            except (BackupError, StorageError, ValueError):
                pass  # fall back to listing the target
    return target.keys(OBJECTS)


def _copy_objects(
    system: System,
    target: Target,
    objects: list[StoredObject],
    progress: Callable[[int, int], None] | None,
    workers: int,
    rescan: bool = False,
) -> tuple[int, int, list[dict[str, str]]]:
    present = _present(target, rescan)
    todo = [o for o in objects if object_key(o.sha256) not in present]
    problems: list[dict[str, str]] = []
    copied = 0
    copied_bytes = 0
    total = len(todo)

    def one(o: StoredObject) -> tuple[StoredObject, str | None]:
        key = object_key(o.sha256)
        try:
            with system.store.open(o.key) as src:
                sha, size = target.put_stream(key, src)
        except ObjectNotFound:
            from .. import blobs

            if not blobs.is_recorded(system, o.sha256):
                raise _Vanished(o.sha256) from None
            return o, "missing from the store"
        if sha != o.sha256 or size != o.size:
            target.delete(key)
            return o, f"corrupted in the store (hashes to {sha}, {size} bytes)"
        return o, None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, (o, problem) in enumerate(pool.map(one, todo), 1):
            if problem is None:
                copied += 1
                copied_bytes += o.size
            else:
                problems.append({"sha256": o.sha256, "problem": problem})
            if progress:
                progress(n, total)
    return copied, copied_bytes, problems


def backup(
    system: System,
    spec: str,
    *,
    actor: str = "system",
    agency_code: str | None = None,
    workers: int = 8,
    rescan: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Take a backup of the running installation into ``spec`` (see the module
    docstring). Raises :class:`BackupError` if it cannot; returns a result whose
    ``source_problems`` list objects the store could not provide intact."""
    from signing.ltv import sign_detached

    from ..documents import workdir

    target = open_target(system, spec)
    signer = _agency_signer(system, agency_code)
    for attempt in range(3):
        with workdir(system) as wd:
            now = datetime.now(UTC)
            snap = snapshot_database(system, wd)
            try:
                copied, copied_bytes, problems = _copy_objects(
                    system, target, snap.objects, progress, workers, rescan
                )
            except _Vanished:
                # Deleted with its record after the snapshot (a discarded draft): take a
                # new snapshot; objects already copied are not copied again.
                log.info("an object vanished during backup attempt %d; retrying", attempt + 1)
                continue
            snapshot_id = _new_snapshot_id(now)
            base = f"{SNAPSHOTS}{snapshot_id}/"
            db_name = snap.path.name
            with open(snap.path, "rb") as f:
                db_sha, db_size = target.put_stream(base + db_name, f)
            listing = "".join(f"{o.sha256}\t{o.size}\n" for o in snap.objects).encode()
            target.put_stream(base + OBJECT_LIST, io.BytesIO(listing))
            target.flush()
            manifest = {
                "format": FORMAT,
                "snapshot": snapshot_id,
                "created_at": now.isoformat(timespec="seconds"),
                "edms_version": __version__,
                "schema_revision": snap.revision,
                "database": {"kind": snap.kind, "file": db_name, "sha256": db_sha, "size": db_size},
                "objects": {
                    "file": OBJECT_LIST,
                    "count": len(snap.objects),
                    "bytes": sum(o.size for o in snap.objects),
                    "sha256": hashlib.sha256(listing).hexdigest(),
                },
                "audit_head": {"seq": snap.audit_seq, "hash": snap.audit_hash},
                "counts": snap.counts,
                "source": {"store": system.store.backend, "database": snap.kind},
                "source_problems": problems,
                "signed_by": signer[0] if signer else None,
            }
            data = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
            if signer is not None:
                target.put_bytes(base + SIGNATURE, sign_detached(signer[1], data))
            target.put_bytes(base + MANIFEST, data)  # last: the snapshot now exists
            target.flush()
            result = BackupResult(
                snapshot_id,
                target.description,
                snap.kind,
                len(snap.objects),
                copied,
                copied_bytes,
                snap.audit_seq,
                signer[0] if signer else None,
                problems,
            )
            with db.transaction(system.sessions) as s:
                audit.record(
                    s,
                    actor,
                    "backup.create",
                    "backup",
                    snapshot_id,
                    {
                        "target": target.description,
                        "objects": len(snap.objects),
                        "copied": copied,
                        "audit_seq": snap.audit_seq,
                        "manifest_sha256": hashlib.sha256(data).hexdigest(),
                        "complete": result.complete,
                    },
                )
            return result
    raise BackupFailed(
        "objects kept vanishing while the backup ran (drafts being discarded?); try again"
    )
