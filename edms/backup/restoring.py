"""Restoring a backup into an empty installation (``edms restore``).

Invariants: only an empty installation is restored into; the manifest's hash and
signature, every object's hash and the restored audit chain are checked before success
is reported, and a failed restore leaves the installation empty again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from storage import (
    Retention,
    RetentionMode,
    StorageError,
    UnsupportedOperation,
)

from .. import audit, db
from ..system import System
from .database import _pg_tool, _pg_url
from .reading import (
    Check,
    Snapshot,
    check_dump,
    check_manifest,
    fetch_database,
    load_snapshot,
    read_object_list,
)
from .targets import BackupFailed, BackupRefused, Target, object_key, open_target


@dataclass
class RestoreResult:
    snapshot: str
    objects: int
    audit_seq: int
    check: Check


def _installation_empty(system: System) -> list[str]:
    """What makes the installation not empty (nothing: it may be restored into)."""
    found = []
    engine = system.engine
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in ("agencies", "users", "documents", "blobs", "audit_events"):
            if table in tables and conn.execute(text(f"SELECT count(*) FROM {table}")).scalar():
                found.append(f"the database has {table}")
    with contextlib.suppress(StorageError):
        if next(iter(system.store.list("sha256/")), None) is not None:
            found.append("the object store holds objects")
    return found


def _reset_database(system: System) -> None:
    """Empty the installation's database (tables of `edms init`, or a failed restore)."""
    url = make_url(system.settings.database_url)
    system.engine.dispose()
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    with system.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    system.engine.dispose()


def _restore_database(system: System, kind: str, path: Path) -> None:
    url = make_url(system.settings.database_url)
    _reset_database(system)
    if kind == "sqlite":
        target = Path(url.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.restoring")
        shutil.copyfile(path, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return
    uri, env = _pg_url(system.settings.database_url)
    done = subprocess.run(
        [
            _pg_tool(system, "pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={uri}",
            str(path),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupFailed(f"pg_restore failed: {done.stderr.strip()[:2000]}")


def restore(
    system: System,
    spec: str,
    *,
    snapshot: str | None = None,
    allow_unsigned: bool = False,
    actor: str = "system",
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> RestoreResult:
    """Restore a snapshot into this (empty) installation; see the module docstring."""
    from ..documents import workdir

    url = make_url(system.settings.database_url)
    target = open_target(system, spec)
    snap = load_snapshot(target, snapshot)
    m = snap.manifest
    kind = "sqlite" if url.get_backend_name() == "sqlite" else url.get_backend_name()
    if m["database"]["kind"] != kind:
        raise BackupRefused(
            f"snapshot {snap.id} holds a {m['database']['kind']} database; "
            f"this installation uses {kind}"
        )
    system.settings.data_dir.mkdir(parents=True, exist_ok=True)
    system.store.ensure_ready()
    not_empty = _installation_empty(system)
    if not_empty:
        raise BackupRefused("restore goes into an empty installation only: " + "; ".join(not_empty))
    check = Check()
    check_manifest(system, snap, check, allow_unsigned)
    listed = read_object_list(target, snap, check)
    if not check.ok:
        raise BackupRefused(
            "the backup does not check out, nothing was restored: " + "; ".join(check.problems[:5]),
            problems=check.problems,
        )
    with workdir(system) as wd:
        path = fetch_database(target, snap, wd, check)
        if path is not None:
            check_dump(system, snap, path, listed, check)
        if path is None or not check.ok:
            raise BackupRefused(
                "the backup does not check out, nothing was restored: "
                + "; ".join(check.problems[:5]),
                problems=check.problems,
            )
        put_keys: list[str] = []
        try:
            _restore_objects(system, target, listed, put_keys, workers, progress)
            _restore_database(system, kind, path)
            db.upgrade(system.engine)
            _after_restore(system, snap, check)
            if not check.ok:
                raise BackupFailed(
                    "the restored installation does not check out: "
                    + "; ".join(check.problems[:5]),
                    problems=check.problems,
                )
        except BaseException:
            # Leave the installation empty again, as it was.
            with contextlib.suppress(Exception):
                _reset_database(system)
            for key in put_keys:
                with contextlib.suppress(Exception):
                    system.store.delete(key)
            raise
    with db.transaction(system.sessions) as s:
        audit.record(
            s,
            actor,
            "backup.restore",
            "backup",
            snap.id,
            {
                "source": target.description,
                "objects": len(listed),
                "audit_seq": m["audit_head"]["seq"],
                "manifest_sha256": hashlib.sha256(snap.manifest_bytes).hexdigest(),
            },
        )
    return RestoreResult(snap.id, len(listed), m["audit_head"]["seq"], check)


def _restore_objects(
    system: System,
    target: Target,
    listed: list[tuple[str, int]],
    put_keys: list[str],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    def one(item: tuple[str, int]) -> str:
        sha, size = item
        with target.open(object_key(sha)) as src:
            result = system.store.put_content(src)
        if result.created:
            put_keys.append(result.key)
        if result.sha256 != sha or result.size != size:
            raise BackupRefused(
                f"object {sha} is corrupted in the backup (hashes to "
                f"{result.sha256}); nothing was restored"
            )
        return sha

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, _sha in enumerate(pool.map(one, listed), 1):
            if progress:
                progress(i, len(listed))


def _after_restore(system: System, snap: Snapshot, check: Check) -> None:
    """The restored database against the manifest: the audit chain intact up to its head,
    every recorded object in the store; retention and legal holds applied again."""
    from sqlalchemy import select

    from ..models import AuditHead, Blob

    system.engine.dispose()
    want = snap.manifest["audit_head"]
    with system.sessions() as s:
        checked, problems = audit.verify_chain(s)
        head = s.get(AuditHead, 1)
        for p in problems[:20]:
            check.problems.append(f"audit event {p.seq}: {p.detail}")
        if head is None or (head.seq, head.hash) != (want["seq"], want["hash"]):
            check.problems.append("the restored audit head is not the manifest's")
        rows = list(
            s.execute(select(Blob.sha256, Blob.storage_key, Blob.retain_until, Blob.legal_hold))
        )
    stored = {o.key for o in system.store.list("sha256/")}
    lost = [sha for sha, key, _u, _h in rows if key not in stored]
    for sha in lost[:20]:
        check.problems.append(f"object {sha} is recorded but was not restored")
    check.notes.append(f"audit chain intact: {checked} events")
    now = datetime.now(UTC) + timedelta(seconds=1)
    for _sha, key, until, hold in rows:
        with contextlib.suppress(UnsupportedOperation):
            if until is not None and until > now:
                system.store.set_retention(
                    key, Retention(until, RetentionMode(system.settings.retention_mode))
                )
            if hold:
                system.store.set_legal_hold(key, True)
