"""The object-store interface shared by every backend.

An :class:`ObjectStore` keeps immutable objects under string keys. Originals are
*content-addressed*: :meth:`ObjectStore.put_content` streams the data once, computing
its SHA-256 on the way, and stores it under ``sha256/ab/<hex>`` (256 fan-out directories,
as git does) so identical content is kept once. Backends implement a handful of
primitives; the content addressing, the size limit and the hashing live here so they
behave the same everywhere.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1024 * 1024
CONTENT_PREFIX = "sha256/"
_KEY_RE = re.compile(r"^[A-Za-z0-9!\-_.*'()/]+$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


class StorageError(Exception):
    """Base class of every error raised by a store."""


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key}")
        self.key = key


class ObjectRetained(StorageError):
    """Deletion or overwrite refused: the object is under retention or legal hold."""

    def __init__(self, key: str, until: datetime | None, legal_hold: bool) -> None:
        why = "a legal hold" if legal_hold else f"retention until {until:%Y-%m-%dT%H:%M:%SZ}"
        super().__init__(f"object {key} is protected by {why}")
        self.key = key
        self.until = until
        self.legal_hold = legal_hold


class ObjectTooLarge(StorageError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"upload exceeds the size limit of {limit} bytes")
        self.limit = limit


class StorageUnavailable(StorageError):
    """The backend cannot be reached or is not usable."""


class UnsupportedOperation(StorageError):
    pass


class InvalidKey(StorageError, ValueError):
    pass


class RetentionMode(StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """Keep an object (no delete, no overwrite) until ``until`` (timezone-aware, UTC)."""

    until: datetime
    mode: RetentionMode = RetentionMode.GOVERNANCE

    def __post_init__(self) -> None:
        if self.until.tzinfo is None:
            raise ValueError("retention date must be timezone-aware")


@dataclass(frozen=True)
class PutResult:
    key: str
    sha256: str
    size: int
    version_id: str | None = None
    created: bool = True  # False when identical content was already stored


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    sha256: str | None = None
    content_type: str = "application/octet-stream"
    version_id: str | None = None
    retention: Retention | None = None
    legal_hold: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    backend: str
    detail: str


DigestIndex = Callable[[str], bool]
"""Answers whether content with this SHA-256 hex digest is already stored."""


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def content_key(sha256_hex: str) -> str:
    """The key of a content-addressed object: ``sha256/ab/<hex>``."""
    if not _HEX_RE.match(sha256_hex):
        raise InvalidKey(f"not a SHA-256 hex digest: {sha256_hex!r}")
    return f"{CONTENT_PREFIX}{sha256_hex[:2]}/{sha256_hex}"


def sha256_of_key(key: str) -> str | None:
    """The digest a content-addressed key names, or None for other keys."""
    if not key.startswith(CONTENT_PREFIX):
        return None
    tail = key.rsplit("/", 1)[-1]
    return tail if _HEX_RE.match(tail) and key == content_key(tail) else None


def validate_key(key: str) -> str:
    if (
        not key
        or len(key) > 512
        or key.startswith("/")
        or not _KEY_RE.match(key)
        or any(part in ("", ".", "..") for part in key.split("/"))
    ):
        raise InvalidKey(f"invalid object key: {key!r}")
    return key


class HashingReader:
    """Wraps a stream: hashes and counts what passes through, enforcing a size limit.

    ``read`` never returns more than asked, so it can be handed to clients that need an
    exact-length reader (the MinIO client's multipart upload reads part-size chunks).

    Large chunks are hashed on a helper thread while the caller writes them out (hashlib
    and file/socket writes both release the GIL), so hashing costs almost no wall time on
    a machine with a spare core. :meth:`hexdigest` waits for the last chunk.
    """

    _BACKGROUND_MIN = 256 * 1024

    def __init__(self, stream: Readable, max_size: int | None = None) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self._max = max_size
        self.size = 0
        self._pending: Future[None] | None = None

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(CHUNK_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        data = self._stream.read(n)
        # Some streams (pipes, sockets) return short reads; fill up to n so that part
        # boundaries stay where the caller expects them.
        while data and len(data) < n:
            more = self._stream.read(n - len(data))
            if not more:
                break
            data += more
        if data:
            self.size += len(data)
            if self._max is not None and self.size > self._max:
                raise ObjectTooLarge(self._max)
            self._update(data)
        return data

    def _update(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        if len(data) >= self._BACKGROUND_MIN:
            self._pending = _hash_pool().submit(self._hash.update, data)
        else:
            self._hash.update(data)

    def hexdigest(self) -> str:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        return self._hash.hexdigest()


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _hash_pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="edms-hash"
            )
        return _POOL


class ObjectStore(ABC):
    """One interface for the embedded local store and the S3/MinIO store."""

    backend: str = "abstract"

    def __init__(self, *, max_object_size: int | None = None) -> None:
        self.max_object_size = max_object_size

    # -- primitives each backend provides ---------------------------------------------

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create what the store needs (directories, bucket, versioning, lock)."""

    @abstractmethod
    def health(self) -> Health:
        """Cheap check that the store is reachable and usable; never raises."""

    @abstractmethod
    def _put_stream(
        self,
        key: str | None,
        reader: HashingReader,
        *,
        content_type: str,
        metadata: dict[str, str],
        known: DigestIndex | None = None,
    ) -> PutResult:
        """Store everything ``reader`` yields.

        With ``key=None`` the object is content-addressed: the backend stores it under
        :func:`content_key` of the digest it learned while streaming, keeping an existing
        object with that key (``created=False``). Nothing may be visible under the final
        key until the whole stream has been stored durably.
        """

    @abstractmethod
    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        """A readable stream of the object's bytes ``start..end`` (inclusive), as in HTTP
        Range. The caller closes it."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    @abstractmethod
    def set_retention(self, key: str, retention: Retention) -> None: ...

    @abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None: ...

    def presigned_url(self, key: str, *, expires_seconds: int = 3600) -> str:
        raise UnsupportedOperation(f"the {self.backend} store has no presigned URLs")

    @abstractmethod
    def cleanup_incomplete(self, older_than_seconds: int = 3600) -> int:
        """Remove leftovers of interrupted uploads; returns how many were removed."""

    @abstractmethod
    def incomplete_uploads(self) -> builtins.list[str]:  # (list: the method above)
        """Uploads in progress or interrupted (never listed as objects)."""

    # -- the shared behaviour ----------------------------------------------------------

    def put(
        self,
        key: str,
        stream: Readable,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> PutResult:
        """Store a stream of unknown length under ``key``."""
        validate_key(key)
        return self._put(key, stream, content_type, metadata, retention, legal_hold)

    def put_content(
        self,
        stream: Readable,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
        known: DigestIndex | None = None,
    ) -> PutResult:
        """Store a stream content-addressed by its SHA-256, computed while streaming.

        ``known`` is an optional index of stored digests (EDMS passes a database lookup).
        When given, the store trusts it to tell new content from stored content instead
        of asking the backend, which on S3 saves a conditional request per object. A
        wrong "new" answer (a race) only costs a duplicate write of identical bytes."""
        return self._put(None, stream, content_type, metadata, retention, legal_hold, known)

    def _put(
        self,
        key: str | None,
        stream: Readable,
        content_type: str,
        metadata: dict[str, str] | None,
        retention: Retention | None,
        legal_hold: bool,
        known: DigestIndex | None = None,
    ) -> PutResult:
        reader = HashingReader(stream, self.max_object_size)
        result = self._put_stream(
            key, reader, content_type=content_type, metadata=dict(metadata or {}), known=known
        )
        if retention is not None:
            self.set_retention(result.key, retention)
        if legal_hold:
            self.set_legal_hold(result.key, True)
        return result

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str, *, now: datetime | None = None) -> None:
        """Delete an object; refused with :class:`ObjectRetained` while it is protected."""
        info = self.stat(key)
        moment = now or datetime.now(UTC)
        if info.legal_hold or (info.retention is not None and info.retention.until > moment):
            raise ObjectRetained(
                key, info.retention.until if info.retention else None, info.legal_hold
            )
        self._delete(key)

    def sha256_of(self, key: str) -> tuple[str, int]:
        """Re-hash an object by streaming it; returns (hex digest, size)."""
        h = hashlib.sha256()
        size = 0
        with self.open(key) as f:
            while chunk := f.read(CHUNK_SIZE):
                h.update(chunk)
                size += len(chunk)
        return h.hexdigest(), size
