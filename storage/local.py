"""The embedded object store: a directory on the local filesystem.

Layout under the root directory::

    objects/<key>     the object's bytes (read-only once written)
    tmp/              uploads in progress; never visible as objects
    meta/<key>.json   metadata, only on filesystems without user extended attributes

A put streams into a temporary file in ``tmp/`` (same filesystem), marks it complete with
its metadata (content type, SHA-256, final key) in an extended attribute, fsyncs it once,
then links it to its final name. A crash or SIGKILL at any moment leaves either no object or
the complete one: never a partial object under a final name.

Durability costs one fsync per object. The link itself is not fsynced: on a journaling
filesystem (ext4, XFS, btrfs) metadata operations reach the disk in order, so after a power
loss an object whose put had returned is either in place or still complete under ``tmp/``,
where :meth:`LocalStore.recover` (run by :meth:`ensure_ready` and by
:meth:`cleanup_incomplete`) verifies its hash and links it into place. A temporary file
without the completion mark is an interrupted upload; ``cleanup_incomplete`` removes it.
On filesystems without user extended attributes metadata goes to ``meta/`` and each put
also fsyncs the directory.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from .base import (
    CHUNK_SIZE,
    CONTENT_PREFIX,
    DigestIndex,
    HashingReader,
    Health,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    PutResult,
    Retention,
    RetentionMode,
    content_key,
    sha256_of_key,
    validate_key,
)

_XATTR = "user.edms.meta"
_PART = ".part"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()


class RangeReader:
    """A file object limited to ``length`` bytes from its current position."""

    def __init__(self, f: BinaryIO, length: int | None) -> None:
        self._f = f
        self._left = length

    def read(self, n: int = -1, /) -> bytes:
        if self._left is None:
            return self._f.read(n)
        if self._left <= 0:
            return b""
        if n is None or n < 0 or n > self._left:
            n = self._left
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(ObjectStore):
    backend = "local"

    def __init__(self, root: str | os.PathLike[str], *, max_object_size: int | None = None):
        super().__init__(max_object_size=max_object_size)
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._meta_dir = self.root / "meta"
        self._xattrs: bool | None = None
        self._known_dirs: set[Path] = set()

    # -- setup and health --------------------------------------------------------------

    def ensure_ready(self) -> None:
        for d in (self._objects, self._tmp):
            d.mkdir(parents=True, exist_ok=True)
        # The 256 fan-out directories of content keys exist up front: no put pays a mkdir.
        fanout = self._objects / CONTENT_PREFIX.rstrip("/")
        for i in range(256):
            d = fanout / f"{i:02x}"
            d.mkdir(parents=True, exist_ok=True)
            self._known_dirs.add(d)
        self.recover()

    def health(self) -> Health:
        try:
            if not self._objects.is_dir() or not self._tmp.is_dir():
                return Health(False, self.backend, f"store directory missing under {self.root}")
            probe = self._tmp / f".health-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return Health(False, self.backend, f"{self.root}: {exc.strerror or exc}")
        return Health(True, self.backend, str(self.root))

    # -- paths and metadata ------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._objects / validate_key(key)

    def _uses_xattrs(self) -> bool:
        if self._xattrs is None:
            probe = self._tmp / f".xattr-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            try:
                os.setxattr(probe, "user.edms.probe", b"1")
                self._xattrs = True
            except OSError:
                self._xattrs = False
            finally:
                probe.unlink()
        return self._xattrs

    def _write_meta(self, path: Path, key: str, meta: dict[str, Any], fd: int | None = None):
        blob = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
        if self._uses_xattrs():
            os.setxattr(fd if fd is not None else path, _XATTR, blob)
            return
        side = self._meta_dir / f"{key}.json"
        side.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"meta-{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, side)
        _fsync_dir(side.parent)

    def _read_meta(self, path: Path, key: str) -> dict[str, Any]:
        try:
            if self._uses_xattrs():
                return dict(json.loads(os.getxattr(path, _XATTR)))
            return dict(json.loads((self._meta_dir / f"{key}.json").read_bytes()))
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOENT):
                return {}
            raise

    # -- primitives --------------------------------------------------------------------

    def _ensure_dir(self, directory: Path) -> None:
        if directory not in self._known_dirs:
            directory.mkdir(parents=True, exist_ok=True)
            self._known_dirs.add(directory)

    def _put_stream(
        self,
        key: str | None,
        reader: HashingReader,
        *,
        content_type: str,
        metadata: dict[str, str],
        known: DigestIndex | None = None,
    ) -> PutResult:
        # ``known`` is not needed here: linking to the content key is itself an atomic,
        # free existence check.
        tmp = self._tmp / f"{uuid.uuid4().hex}{_PART}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            try:
                while chunk := reader.read(CHUNK_SIZE):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                digest = reader.hexdigest()
                final_key = key if key is not None else content_key(digest)
                final = self._path(final_key)
                meta = {
                    "content_type": content_type,
                    "sha256": digest,
                    "key": final_key,
                    "metadata": metadata,
                }
                if self._uses_xattrs():
                    # Written last: a temporary file that carries it is complete.
                    self._write_meta(tmp, final_key, meta, fd)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._ensure_dir(final.parent)
            if key is None:
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    return PutResult(final_key, digest, reader.size, None, created=False)
            else:
                self._refuse_if_retained(final_key, final)
                os.replace(tmp, final)
            if not self._uses_xattrs():
                self._write_meta(final, final_key, meta)
                _fsync_dir(final.parent)
            return PutResult(final_key, digest, reader.size, None, created=True)
        finally:
            tmp.unlink(missing_ok=True)

    def recover(self, min_age_seconds: float = 60.0) -> int:
        """Finish uploads whose data was made durable but whose final link may not have
        been (a power loss right after a put). Returns how many objects were restored."""
        if not self._tmp.is_dir() or not self._uses_xattrs():
            return 0
        cutoff = time.time() - min_age_seconds
        restored = 0
        for entry in os.scandir(self._tmp):
            if not entry.name.endswith(_PART):
                continue
            path = Path(entry.path)
            try:
                if entry.stat().st_mtime > cutoff:
                    continue
                meta = json.loads(os.getxattr(path, _XATTR))
                key, digest = meta["key"], meta["sha256"]
            except (OSError, ValueError, KeyError):
                continue  # incomplete: no completion mark; `cleanup_incomplete` removes it
            if _sha256_file(path) != digest:
                continue
            final = self._path(key)
            self._ensure_dir(final.parent)
            if sha256_of_key(key) is not None:
                try:
                    os.link(path, final)
                    restored += 1
                except FileExistsError:
                    pass
                path.unlink(missing_ok=True)
            else:
                try:
                    self._refuse_if_retained(key, final)
                except ObjectRetained:
                    continue
                os.replace(path, final)
                restored += 1
            _fsync_dir(final.parent)
        if restored:
            _fsync_dir(self._tmp)
        return restored

    def _refuse_if_retained(self, key: str, path: Path) -> None:
        if not path.exists():
            return
        info = self.stat(key)
        if info.legal_hold or (info.retention and info.retention.until > datetime.now(UTC)):
            raise ObjectRetained(
                key, info.retention.until if info.retention else None, info.legal_hold
            )

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        path = self._path(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - handed to the caller
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except IsADirectoryError:
            raise ObjectNotFound(key) from None
        if start:
            f.seek(start)
        length = None if end is None else max(0, end - start + 1)
        return RangeReader(f, length)  # type: ignore[return-value]

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        if not path.is_file():
            raise ObjectNotFound(key)
        return self._info(key, path, st)

    def _info(self, key: str, path: Path, st: os.stat_result) -> ObjectInfo:
        meta = self._read_meta(path, key)
        retention = None
        if meta.get("retain_until"):
            retention = Retention(
                datetime.fromisoformat(meta["retain_until"]),
                RetentionMode(meta.get("retention_mode", "GOVERNANCE")),
            )
        return ObjectInfo(
            key=key,
            size=st.st_size,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type", "application/octet-stream"),
            retention=retention,
            legal_hold=bool(meta.get("legal_hold", False)),
            metadata=dict(meta.get("metadata", {})),
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix and (prefix.startswith("/") or ".." in prefix.split("/")):
            raise InvalidKey(f"invalid prefix: {prefix!r}")
        # Walk from the deepest directory the prefix names completely.
        base_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self._objects / base_rel if base_rel else self._objects
        if not base.is_dir():
            return
        yield from self._walk(base, prefix)

    def _walk(self, directory: Path, prefix: str) -> Iterator[ObjectInfo]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for entry in entries:
            rel = Path(entry.path).relative_to(self._objects).as_posix()
            if entry.is_dir(follow_symlinks=False):
                if rel.startswith(prefix) or prefix.startswith(rel + "/"):
                    yield from self._walk(Path(entry.path), prefix)
            elif entry.is_file(follow_symlinks=False) and rel.startswith(prefix):
                try:
                    yield self._info(rel, Path(entry.path), entry.stat())
                except FileNotFoundError:
                    continue  # deleted while listing

    def _delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        if not self._uses_xattrs():
            (self._meta_dir / f"{key}.json").unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def _update_meta(self, key: str, **changes: Any) -> None:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        meta = self._read_meta(path, key)
        meta.update(changes)
        if self._uses_xattrs():
            fd = os.open(path, os.O_RDONLY)
            try:
                self._write_meta(path, key, meta, fd)
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            self._write_meta(path, key, meta)

    def set_retention(self, key: str, retention: Retention) -> None:
        info = self.stat(key)
        if (
            info.retention is not None
            and info.retention.mode is RetentionMode.COMPLIANCE
            and retention.until < info.retention.until
        ):
            raise ObjectRetained(key, info.retention.until, info.legal_hold)
        self._update_meta(
            key,
            retain_until=retention.until.astimezone(UTC).isoformat(),
            retention_mode=retention.mode.value,
        )

    def set_legal_hold(self, key: str, on: bool) -> None:
        self._update_meta(key, legal_hold=on)

    def cleanup_incomplete(self, older_than_seconds: int = 3600) -> int:
        if not self._tmp.is_dir():
            return 0
        self.recover(min_age_seconds=older_than_seconds)
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in os.scandir(self._tmp):
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def incomplete_uploads(self) -> builtins.list[str]:  # (list: the method above)
        """Temporary files of uploads in progress or interrupted."""
        if not self._tmp.is_dir():
            return []
        return sorted(e.name for e in os.scandir(self._tmp) if e.is_file())
