"""Where backups go: a directory or an S3 bucket, and the layout inside one.

Invariants: a target holds ``objects/`` (every object once, content-addressed by SHA-256,
shared by all snapshots) and ``snapshots/<id>/``; a directory target writes each file
under a temporary name, syncs it and renames it, so a file is either whole or absent.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import re
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, BinaryIO

from storage import (
    CHUNK_SIZE,
    ObjectNotFound,
    S3Store,
    content_key,
)

from ..errors import ClientError, EdmsError, InternalError
from ..system import System

FORMAT = "edms-backup/1"


OBJECTS = "objects/"


SNAPSHOTS = "snapshots/"


MANIFEST = "manifest.json"


SIGNATURE = "manifest.json.p7s"


OBJECT_LIST = "objects.tsv"


_SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}$")


class BackupError(EdmsError):
    """A backup, verification or restore that cannot go on (the message says why), raised as
    one of its two kinds; ``except BackupError`` catches both."""

    title = "Backup failed"
    type_slug = "backup-failed"


class BackupRefused(BackupError, ClientError):
    """What was asked or given is wrong: a bad target, a missing setting, a backup that is
    incomplete or does not check out, an installation that is not empty."""


class BackupFailed(BackupError, InternalError):
    """Our own side failed: a database tool missing or failing, a seal key that cannot
    sign, a restored installation that does not check out."""


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
            raise BackupRefused(f"invalid key {key!r}")
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
            raise BackupRefused(f"{spec}: name a bucket of its own, s3://BUCKET")
        s = system.settings
        endpoint = s.backup_s3_endpoint or s.s3_endpoint
        access = s.backup_s3_access_key or s.s3_access_key
        secret = s.backup_s3_secret_key or s.s3_secret_key
        if not (access and secret):
            raise BackupRefused(
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
