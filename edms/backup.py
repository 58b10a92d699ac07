"""Backups of a whole installation, taken while it runs, and their restore and verification.

A backup target (a directory, or an S3 bucket: ``s3://bucket``) holds::

    objects/sha256/ab/<hex>             every stored object once, shared by all snapshots
    snapshots/<id>/database.sqlite3     the database (SQLite online backup), or
    snapshots/<id>/database.pgdump      (pg_dump, custom format)
    snapshots/<id>/objects.tsv          the objects the database refers to: sha256, size
    snapshots/<id>/manifest.json        what the snapshot holds, with the hashes of the above
    snapshots/<id>/manifest.json.p7s    a detached CMS signature of the manifest (agency key)

Invariants:

* the database is copied first, as one consistent snapshot (SQLite's online backup API;
  on PostgreSQL, ``pg_dump`` joins the exported snapshot of a repeatable-read transaction
  that also lists the stored objects and the audit chain's head), while the service keeps
  writing; everything written after it is absent from the backup, cleanly;
* objects are immutable and content-addressed: each one the snapshot refers to is copied
  unless the target already has it (incremental for free: what the newest snapshot there
  lists, or with ``rescan`` what a listing of the target finds), and hashed on the way; one
  the store has lost or corrupted is listed in the manifest (``source_problems``) and the
  backup reports failure;
* the manifest is written last: a snapshot without one is incomplete and never restored;
* :func:`restore` goes into an empty installation only, checks the manifest's hash and
  signature, every object's hash as it copies it, and the restored audit chain against the
  manifest's head before it reports success; a failed restore leaves the installation
  empty again.

The signing keys themselves (PKCS #12 files, tokens, HSMs) are not in the database and
are not backed up here: keep them as the deployment documentation says (docs/archive.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from storage import (
    CHUNK_SIZE,
    ObjectNotFound,
    Retention,
    RetentionMode,
    S3Store,
    StorageError,
    UnsupportedOperation,
    content_key,
)

from . import __version__, audit, db
from .errors import EdmsError
from .models import AuditEvent
from .system import System

log = logging.getLogger(__name__)
FORMAT = "edms-backup/1"
OBJECTS = "objects/"
SNAPSHOTS = "snapshots/"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
OBJECT_LIST = "objects.tsv"
_SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}$")


class BackupError(EdmsError):
    title = "Backup failed"
    type_slug = "backup-failed"


# -- targets ------------------------------------------------------------------------------


class Target(ABC):
    """Where backups are kept (see the module docstring for the layout)."""

    description: str

    @abstractmethod
    def keys(self, prefix: str) -> set[str]: ...

    @abstractmethod
    def put_stream(self, key: str, stream: IO[bytes]) -> tuple[str, int]:
        """Store everything ``stream`` yields under ``key``; returns (SHA-256, size)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO: ...

    @abstractmethod
    def flush(self) -> None:
        """Make everything put so far durable (before the manifest is written)."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_stream(key, io.BytesIO(data))

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        return key in self.keys(key)


def _syncfs(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            os.sync()
    except (OSError, AttributeError):
        os.sync()
    finally:
        os.close(fd)


class DirectoryTarget(Target):
    """A directory (a mounted backup disk, an NFS share). Objects are written to a
    temporary name and renamed into place; :meth:`flush` syncs the filesystem once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)
        self._tmp = root / ".incoming"
        self._dirs: set[Path] = set()

    def _ready(self) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)

    def keys(self, prefix: str) -> set[str]:
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = os.path.join(self.root, head) if head else str(self.root)
        found: set[str] = set()
        if os.path.isfile(base):
            return {head} if head.startswith(prefix) else found
        strip = len(str(self.root)) + 1
        stack = [base]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != ".incoming":
                            stack.append(entry.path)
                    elif entry.path[strip:].startswith(prefix):
                        found.add(entry.path[strip:])
        return found

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise BackupError(f"invalid key {key!r}")
        return self.root / key

    def put_stream(self, key: str, stream: IO[bytes]) -> tuple[str, int]:
        self._ready()
        final = self._path(key)
        if final.parent not in self._dirs:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(final.parent)
        tmp = self._tmp / uuid.uuid4().hex
        h = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return h.hexdigest(), size

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def flush(self) -> None:
        if self.root.exists():
            _syncfs(self.root)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Target(Target):
    """A bucket of its own (created if missing; Object Lock if the server offers it)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.description = f"s3://{store.bucket} ({store.endpoint})"
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self.store.ensure_ready()
            self._ready = True

    def keys(self, prefix: str) -> set[str]:
        self._ensure()
        return {o.key for o in self.store.list(prefix)}

    def put_stream(self, key: str, stream: IO[bytes]) -> tuple[str, int]:
        self._ensure()
        result = self.store.put(key, stream)
        return result.sha256, result.size

    def open(self, key: str) -> BinaryIO:
        return self.store.open(key)

    def flush(self) -> None:
        return None  # an acknowledged S3 put is durable

    def delete(self, key: str) -> None:
        with contextlib.suppress(ObjectNotFound):
            self.store.delete(key)


def open_target(system: System, spec: str) -> Target:
    """``s3://bucket`` (the EDMS_BACKUP_S3_* server, default the installation's S3
    server) or a directory."""
    if spec.startswith("s3://"):
        bucket = spec[5:].strip("/")
        if not bucket or "/" in bucket:
            raise BackupError(f"{spec}: name a bucket of its own, s3://BUCKET")
        s = system.settings
        endpoint = s.backup_s3_endpoint or s.s3_endpoint
        access = s.backup_s3_access_key or s.s3_access_key
        secret = s.backup_s3_secret_key or s.s3_secret_key
        if not (access and secret):
            raise BackupError(
                "an S3 backup target needs EDMS_BACKUP_S3_ACCESS_KEY and "
                "EDMS_BACKUP_S3_SECRET_KEY (or the installation's S3 keys)"
            )
        secure = s.s3_secure if s.backup_s3_secure is None else s.backup_s3_secure
        return S3Target(
            S3Store(
                endpoint,
                access,
                secret,
                bucket,
                secure=secure,
                region=s.s3_region,
                ca_bundle=s.s3_ca_bundle,
                part_size=s.s3_part_size_mb * 1024 * 1024,
            )
        )
    return DirectoryTarget(Path(spec).expanduser())


def object_key(sha256: str) -> str:
    return OBJECTS + content_key(sha256)


# -- the database snapshot ---------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    key: str  # its key in the source store


@dataclass
class DbSnapshot:
    kind: str  # sqlite | postgresql
    path: Path
    revision: str | None
    objects: list[StoredObject]
    audit_seq: int
    audit_hash: str
    counts: dict[str, int]


def _pg_url(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    u = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(password=None).render_as_string(hide_password=False), env


def _pg_tool(system: System, name: str) -> str:
    if system.settings.pg_bin_dir is not None:
        return str(system.settings.pg_bin_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools or set EDMS_PG_BIN_DIR"
        )
    return found


_FACTS_SQL = {
    "objects": "SELECT sha256, size, storage_key FROM blobs ORDER BY sha256",
    "head": "SELECT seq, hash FROM audit_head WHERE id = 1",
    "revision": "SELECT version_num FROM alembic_version",
}


def _facts(conn: Any) -> tuple[list[StoredObject], int, str, str | None, dict[str, int]]:
    cur = conn.cursor()
    cur.execute(_FACTS_SQL["objects"])
    objects = [StoredObject(sha, int(size), key) for sha, size, key in cur.fetchall()]
    cur.execute(_FACTS_SQL["head"])
    row = cur.fetchone()
    seq, head = (int(row[0]), str(row[1])) if row else (0, audit.GENESIS)
    cur.execute(_FACTS_SQL["revision"])
    rev_row = cur.fetchone()
    try:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    except Exception:  # SQLite
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    existing = {row[0] for row in cur.fetchall()}
    counts = {}
    for table in db.Base.metadata.sorted_tables:
        if table.name in existing:  # (a snapshot of an older schema lacks newer tables)
            cur.execute(f"SELECT count(*) FROM {table.name}")
            counts[table.name] = int(cur.fetchone()[0])
    cur.close()
    return objects, seq, head, rev_row[0] if rev_row else None, counts


def snapshot_database(system: System, work: Path) -> DbSnapshot:
    """One consistent copy of the database in ``work``, with what it refers to."""
    url = make_url(system.settings.database_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        target = work / "database.sqlite3"
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(target)
        # A work file: made durable where it lands, in the target (see Target.flush).
        dst.execute("PRAGMA synchronous=OFF")
        dst.execute("PRAGMA journal_mode=OFF")
        try:
            src.backup(dst)  # one step: a consistent snapshot under a read transaction
        finally:
            src.close()
        try:
            dst.execute("PRAGMA journal_mode=DELETE")
            objects, seq, head, rev, counts = _facts(dst)
        finally:
            dst.close()
        return DbSnapshot("sqlite", target, rev, objects, seq, head, counts)
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")
    target = work / "database.pgdump"
    conn = system.engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute("SHOW transaction_isolation")
        level = cur.fetchone()
        if level is None or level[0] != "repeatable read":  # the driver began one already
            raise BackupError(f"the database snapshot is not repeatable read ({level})")
        cur.execute("SELECT pg_export_snapshot()")
        exported = cur.fetchone()
        assert exported is not None
        snapshot_id = exported[0]
        uri, env = _pg_url(system.settings.database_url)
        # pg_dump reads exactly what this transaction sees, while it stays open.
        done = subprocess.run(
            [
                _pg_tool(system, "pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
                uri,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[:2000]}")
        objects, seq, head, rev, counts = _facts(conn)
        cur.execute("COMMIT")
    finally:
        conn.close()
    return DbSnapshot("postgresql", target, rev, objects, seq, head, counts)


# -- taking a backup -----------------------------------------------------------------------


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

    from .models import Agency
    from .orgs import active_key, open_key

    with system.sessions() as s:
        agencies = list(s.scalars(select(Agency).order_by(Agency.id)))
        if agency_code is not None:
            agencies = [a for a in agencies if a.code == agency_code]
            if not agencies:
                raise BackupError(f"no agency {agency_code}")
        for a in agencies:
            try:
                key = active_key(s, agency_id=a.id)
                return a.code, open_key(system, key).key
            except EdmsError as exc:
                if agency_code is not None:
                    raise BackupError(
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
            from . import blobs

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

    from .documents import workdir

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
    raise BackupError(
        "objects kept vanishing while the backup ran (drafts being discarded?); try again"
    )


# -- reading a backup ---------------------------------------------------------------------


@dataclass
class Snapshot:
    id: str
    manifest: dict[str, Any]
    manifest_bytes: bytes
    signature: bytes | None

    @property
    def base(self) -> str:
        return f"{SNAPSHOTS}{self.id}/"


def list_snapshots(target: Target) -> tuple[list[str], list[str]]:
    """(complete snapshot ids, incomplete ones), oldest first."""
    keys = target.keys(SNAPSHOTS)
    ids = sorted({k.split("/")[1] for k in keys if k.count("/") >= 2})
    done = [i for i in ids if f"{SNAPSHOTS}{i}/{MANIFEST}" in keys]
    return done, [i for i in ids if i not in done]


def load_snapshot(target: Target, snapshot: str | None) -> Snapshot:
    done, _incomplete = list_snapshots(target)
    if not done:
        raise BackupError(f"{target.description} holds no complete backup")
    sid = snapshot or done[-1]
    if not _SNAPSHOT_ID.match(sid) or sid not in done:
        raise BackupError(
            f"{target.description} holds no complete snapshot {sid!r} (have: {', '.join(done)})"
        )
    base = f"{SNAPSHOTS}{sid}/"
    data = target.get_bytes(base + MANIFEST)
    try:
        signature: bytes | None = target.get_bytes(base + SIGNATURE)
    except (ObjectNotFound, StorageError):
        signature = None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BackupError(f"snapshot {sid}: the manifest is not JSON") from None
    if manifest.get("format") != FORMAT or manifest.get("snapshot") != sid:
        raise BackupError(f"snapshot {sid}: not an EDMS backup manifest of this format")
    return Snapshot(sid, manifest, data, signature)


@dataclass
class Check:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_manifest(
    system: System, snap: Snapshot, check: Check, allow_unsigned: bool = False
) -> None:
    """The manifest's signature (agency key, trusted at the time it was made) and what
    it records about the source."""
    from signing.ltv import verify_detached

    from .signatures import trust_roots

    m = snap.manifest
    check.notes.append(f"manifest SHA-256 {hashlib.sha256(snap.manifest_bytes).hexdigest()}")
    if snap.signature is None:
        msg = "the manifest is not signed (no agency seal key was bound when it was made)"
        (check.notes if allow_unsigned else check.problems).append(msg)
    else:
        at = datetime.fromisoformat(m["created_at"])
        verdict = verify_detached(
            snap.manifest_bytes,
            snap.signature,
            list(trust_roots(system.settings)),
            at,
            allow_fetching=system.settings.revocation_fetching,
        )
        if not verdict.intact:
            check.problems.append(
                "the manifest's signature does not match it: the manifest "
                f"was changed after it was signed ({verdict.summary})"
            )
        elif not verdict.trusted:
            check.problems.append(
                f"the manifest is signed by {verdict.signer}, whose "
                "certificate does not chain to a trusted root "
                f"(EDMS_TRUST_*): {verdict.summary}"
            )
        else:
            check.notes.append(f"manifest signed by {verdict.signer}")
    for p in m.get("source_problems", []):
        check.problems.append(
            f"object {p['sha256']} was {p['problem']} when the backup "
            "was taken: the backup is incomplete"
        )


def read_object_list(target: Target, snap: Snapshot, check: Check) -> list[tuple[str, int]]:
    m = snap.manifest["objects"]
    data = target.get_bytes(snap.base + m["file"])
    if hashlib.sha256(data).hexdigest() != m["sha256"]:
        check.problems.append("the list of objects does not match the manifest's hash")
        return []
    out = []
    for line in data.decode().splitlines():
        sha, size = line.split("\t")
        out.append((sha, int(size)))
    if len(out) != m["count"]:
        check.problems.append(f"the list names {len(out)} objects, the manifest {m['count']}")
    return out


def fetch_database(target: Target, snap: Snapshot, work: Path, check: Check) -> Path | None:
    d = snap.manifest["database"]
    path = work / d["file"]
    h = hashlib.sha256()
    size = 0
    try:
        with target.open(snap.base + d["file"]) as src, open(path, "wb") as out:
            while chunk := src.read(CHUNK_SIZE):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except ObjectNotFound:
        check.problems.append(f"the database file {d['file']} is missing")
        return None
    if h.hexdigest() != d["sha256"] or size != d["size"]:
        check.problems.append(
            f"the database file {d['file']} does not match the manifest "
            f"(hashes to {h.hexdigest()}, {size} bytes)"
        )
        return None
    return path


def _unescape_copy(value: str) -> str | None:
    """A field of PostgreSQL's COPY text format."""
    if value == "\\N":
        return None
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c != "\\" or i + 1 == len(value):
            out.append(c)
            i += 1
            continue
        n = value[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n == "x" and re.match(r"[0-9a-fA-F]{1,2}", value[i + 2 : i + 4]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", value[i + 2 : i + 4])
            assert digits is not None
            out.append(chr(int(digits.group(0), 16)))
            i += 2 + len(digits.group(0))
        elif n in "01234567":
            digits = re.match(r"[0-7]{1,3}", value[i + 1 : i + 4])
            assert digits is not None
            out.append(chr(int(digits.group(0), 8)))
            i += 1 + len(digits.group(0))
        else:
            out.append(n)
            i += 2
    return "".join(out)


def _pg_rows(system: System, dump: Path, table: str) -> Iterator[dict[str, str | None]]:
    """The rows of one table of a pg_dump archive, without a database server."""
    proc = subprocess.Popen(
        [_pg_tool(system, "pg_restore"), "--data-only", f"--table={table}", "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdout is not None
    columns: list[str] | None = None
    done = False
    try:
        for line in proc.stdout:  # read to the end: pg_restore must not die of SIGPIPE
            line = line.rstrip("\n")
            if done:
                continue
            if columns is None:
                m = re.match(r"COPY [\w.\"]+ \((.*)\) FROM stdin;", line)
                if m:
                    columns = [c.strip().strip('"') for c in m.group(1).split(",")]
                continue
            if line == "\\.":
                done = True
                continue
            yield dict(zip(columns, map(_unescape_copy, line.split("\t")), strict=True))
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0:
            raise BackupError(f"pg_restore cannot read {dump.name}: {err.strip()[:500]}")


def _utc(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass
class DumpFacts:
    chain: audit.ChainCheck
    head: tuple[int, str] | None
    objects: set[str]


def dump_facts(system: System, kind: str, path: Path) -> DumpFacts:
    """The audit chain, its head and the recorded objects, read from a database copy."""
    check = audit.ChainCheck()
    if kind == "sqlite":
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as conn:
                for event in conn.execute(
                    text(
                        "SELECT seq, at, actor, action, object_type, object_id, details, "
                        "prev_hash, hash FROM audit_events ORDER BY seq"
                    )
                ).mappings():
                    check.add(AuditEvent(**{**event, "at": _utc(str(event["at"]))}))
                head_row = conn.execute(text("SELECT seq, hash FROM audit_head")).first()
                objects = {r[0] for r in conn.execute(text("SELECT sha256 FROM blobs"))}
        finally:
            engine.dispose()
        head = (int(head_row[0]), str(head_row[1])) if head_row else None
        return DumpFacts(check, head, objects)
    # COPY writes rows in storage order, not in the chain's order.
    rows = sorted(_pg_rows(system, path, "audit_events"), key=lambda r: int(r["seq"] or 0))
    for row in rows:
        check.add(
            AuditEvent(
                seq=int(row["seq"] or 0),
                at=_utc(row["at"] or ""),
                actor=row["actor"],
                action=row["action"],
                object_type=row["object_type"],
                object_id=row["object_id"],
                details=row["details"],
                prev_hash=row["prev_hash"],
                hash=row["hash"],
            )
        )
    heads = list(_pg_rows(system, path, "audit_head"))
    head = (int(heads[0]["seq"] or 0), str(heads[0]["hash"])) if heads else None
    objects = {str(r["sha256"]) for r in _pg_rows(system, path, "blobs")}
    return DumpFacts(check, head, objects)


def check_dump(
    system: System, snap: Snapshot, path: Path, listed: list[tuple[str, int]], check: Check
) -> None:
    """The dumped database's audit chain is intact and ends at the manifest's head; it
    records exactly the objects listed."""
    facts = dump_facts(system, snap.manifest["database"]["kind"], path)
    want = snap.manifest["audit_head"]
    problems = facts.chain.finish(
        facts.head[0] if facts.head else None, facts.head[1] if facts.head else None
    )
    for p in problems[:20]:
        check.problems.append(f"audit event {p.seq}: {p.detail}")
    if facts.head != (want["seq"], want["hash"]):
        check.problems.append(
            f"the database's audit head {facts.head} is not the "
            f"manifest's ({want['seq']}, {want['hash']})"
        )
    listed_shas = {sha for sha, _ in listed}
    if facts.objects != listed_shas:
        check.problems.append(
            f"the database records {len(facts.objects - listed_shas)} object(s) not listed "
            f"and lists {len(listed_shas - facts.objects)} it does not record"
        )
    check.notes.append(f"audit chain: {facts.chain.checked} events, head {want['seq']}")


def _check_objects(
    target: Target,
    listed: list[tuple[str, int]],
    check: Check,
    rehash: bool,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    present = target.keys(OBJECTS)
    missing = [sha for sha, _ in listed if object_key(sha) not in present]
    for sha in missing[:20]:
        check.problems.append(f"object {sha} is missing from the backup")
    if len(missing) > 20:
        check.problems.append(f"... and {len(missing) - 20} more objects are missing")
    if not rehash:
        return
    todo = [(sha, size) for sha, size in listed if object_key(sha) in present]

    def one(item: tuple[str, int]) -> str | None:
        sha, size = item
        h = hashlib.sha256()
        n = 0
        with target.open(object_key(sha)) as f:
            while chunk := f.read(CHUNK_SIZE):
                h.update(chunk)
                n += len(chunk)
        if h.hexdigest() != sha or n != size:
            return f"object {sha} is corrupted in the backup (hashes to {h.hexdigest()})"
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, problem in enumerate(pool.map(one, todo), 1):
            if problem:
                check.problems.append(problem)
            if progress:
                progress(i, len(todo))


def verify(
    system: System,
    spec: str,
    *,
    snapshot: str | None = None,
    quick: bool = False,
    allow_unsigned: bool = False,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Snapshot, Check]:
    """Check a backup without restoring it: the manifest (hash and signature), the
    database file, its audit chain against the manifest's head, and every object
    (re-hashed, or only present with ``quick``)."""
    from .documents import workdir

    target = open_target(system, spec)
    snap = load_snapshot(target, snapshot)
    check = Check()
    check_manifest(system, snap, check, allow_unsigned)
    listed = read_object_list(target, snap, check)
    with workdir(system) as wd:
        path = fetch_database(target, snap, wd, check)
        if path is not None:
            check_dump(system, snap, path, listed, check)
    _check_objects(target, listed, check, not quick, workers, progress)
    return snap, check


# -- restoring -------------------------------------------------------------------------------


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
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:2000]}")


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
    from .documents import workdir

    url = make_url(system.settings.database_url)
    target = open_target(system, spec)
    snap = load_snapshot(target, snapshot)
    m = snap.manifest
    kind = "sqlite" if url.get_backend_name() == "sqlite" else url.get_backend_name()
    if m["database"]["kind"] != kind:
        raise BackupError(
            f"snapshot {snap.id} holds a {m['database']['kind']} database; "
            f"this installation uses {kind}"
        )
    system.settings.data_dir.mkdir(parents=True, exist_ok=True)
    system.store.ensure_ready()
    not_empty = _installation_empty(system)
    if not_empty:
        raise BackupError("restore goes into an empty installation only: " + "; ".join(not_empty))
    check = Check()
    check_manifest(system, snap, check, allow_unsigned)
    listed = read_object_list(target, snap, check)
    if not check.ok:
        raise BackupError(
            "the backup does not check out, nothing was restored: " + "; ".join(check.problems[:5]),
            problems=check.problems,
        )
    with workdir(system) as wd:
        path = fetch_database(target, snap, wd, check)
        if path is not None:
            check_dump(system, snap, path, listed, check)
        if path is None or not check.ok:
            raise BackupError(
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
                raise BackupError(
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
            raise BackupError(
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

    from .models import AuditHead, Blob

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
