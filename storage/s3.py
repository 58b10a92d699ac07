"""Object store on S3 (MinIO in production; SeaweedFS in the tests) through the MinIO client.

* Objects up to ``single_put_limit`` are read into memory once (hashing on the way) and sent
  in one PUT. Duplicates are recognised before sending when the caller passes an index of
  stored digests (EDMS passes its database); without one the PUT is conditional
  (``If-None-Match: *``), so the server refuses a duplicate and it is never written twice.
* Larger objects stream as a multipart upload to a temporary key under ``tmp/`` while
  being hashed, then are copied server-side to their content key and the temporary
  object is removed. Nothing is visible under the final key until the copy completes;
  an interrupted upload leaves only an incomplete multipart upload (invisible, aborted by
  :meth:`S3Store.cleanup_incomplete` or a bucket lifecycle rule).
* Only the MinIO client's public API is used; the three requests it has no public method
  for (conditional PUT, list and abort multipart uploads) are signed by :mod:`.s3rest`.
* When the bucket is created by us it gets versioning and Object Lock; retention is then
  enforced by the server (governance mode by default).
"""

from __future__ import annotations

import builtins
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE, CopySource
from minio.error import MinioException, S3Error
from minio.helpers import DictType
from minio.retention import Retention as MinioRetention
from minio.versioningconfig import VersioningConfig

from .base import (
    CHUNK_SIZE,
    DigestIndex,
    HashingReader,
    Health,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    PutResult,
    Retention,
    RetentionMode,
    StorageError,
    StorageUnavailable,
    UnsupportedOperation,
    content_key,
    sha256_of_key,
    validate_key,
)
from .s3rest import S3Requests

TMP_PREFIX = "tmp/uploads/"
MIN_PART_SIZE = 5 * 1024 * 1024
_META_SHA = "x-amz-meta-sha256"
_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NoSuchVersion", "ResourceNotFound"}


class _StreamingBody:
    """A urllib3 response as a closeable binary stream that releases its connection."""

    def __init__(self, response: Any) -> None:
        self._r = response

    def read(self, n: int = -1, /) -> bytes:
        return bytes(self._r.read(None if n is None or n < 0 else n))

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._r.close()
        self._r.release_conn()

    def __enter__(self) -> _StreamingBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk


class _Chain:
    """Bytes already read, followed by the rest of a reader."""

    def __init__(self, head: bytes, rest: HashingReader) -> None:
        self._head = io.BytesIO(head)
        self._rest = rest

    def read(self, n: int = -1, /) -> bytes:
        data = self._head.read(n)
        if n is None or n < 0:
            return data + self._rest.read()
        if len(data) < n:
            data += self._rest.read(n - len(data))
        return data


def _is_not_found(exc: S3Error) -> bool:
    return exc.code in _NOT_FOUND


def _pool(timeout: float, retries: int, maxsize: int, ca_bundle: str | None) -> Any:
    kwargs: dict[str, Any] = {
        "timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
        "maxsize": maxsize,
        "retries": urllib3.Retry(
            total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
        ),
    }
    if ca_bundle:
        kwargs["cert_reqs"] = "CERT_REQUIRED"
        kwargs["ca_certs"] = ca_bundle
    return urllib3.PoolManager(**kwargs)


class S3Store(ObjectStore):
    backend = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
        ca_bundle: str | None = None,
        object_lock: str = "auto",  # "auto" | "on" | "off"
        part_size: int = 16 * 1024 * 1024,
        max_object_size: int | None = None,
        max_connections: int = 16,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(max_object_size=max_object_size)
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes")
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.object_lock_setting = object_lock
        self.part_size = part_size
        self.single_put_limit = part_size
        http = _pool(timeout, 2, max_connections, ca_bundle)
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._requests = S3Requests(
            endpoint, access_key, secret_key, secure=secure, region=region, http=http
        )
        # The health probe must answer quickly and must not retry for minutes.
        self._probe = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_pool(3.0, 0, 2, ca_bundle),
        )
        self._lock_enabled: bool | None = None

    @property
    def client(self) -> Minio:
        return self._client

    # -- setup and health --------------------------------------------------------------

    def ensure_ready(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                want_lock = self.object_lock_setting != "off"
                try:
                    self._client.make_bucket(self.bucket, object_lock=want_lock)
                except S3Error as exc:
                    if not want_lock or self.object_lock_setting == "on":
                        raise
                    if exc.code not in ("InvalidRequest", "NotImplemented", "InvalidArgument"):
                        raise
                    self._client.make_bucket(self.bucket)
            try:
                self._client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
            except S3Error as exc:
                if self.object_lock_setting == "on":
                    raise StorageError(f"bucket {self.bucket}: versioning refused: {exc}") from exc
            if self.object_lock_setting == "on" and not self.object_lock_enabled():
                raise StorageError(
                    f"EDMS_S3_OBJECT_LOCK=on but bucket {self.bucket} has no Object Lock "
                    "(Object Lock can only be enabled when a bucket is created)"
                )
        except MinioException as exc:
            raise StorageUnavailable(f"S3 {self.endpoint}: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 {self.endpoint} unreachable: {exc}") from exc

    def object_lock_enabled(self) -> bool:
        if self._lock_enabled is None:
            try:
                self._client.get_object_lock_config(self.bucket)
                self._lock_enabled = True
            except S3Error:
                self._lock_enabled = False
        return self._lock_enabled

    def health(self) -> Health:
        try:
            if not self._probe.bucket_exists(self.bucket):
                return Health(False, self.backend, f"bucket {self.bucket} does not exist")
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = type(exc).__name__ if isinstance(exc, urllib3.exceptions.HTTPError) else exc
            return Health(False, self.backend, f"S3 {self.endpoint} unreachable: {reason}")
        return Health(True, self.backend, f"{self.endpoint}/{self.bucket}")

    # -- primitives --------------------------------------------------------------------

    def _put_stream(
        self,
        key: str | None,
        reader: HashingReader,
        *,
        content_type: str,
        metadata: dict[str, str],
        known: DigestIndex | None = None,
    ) -> PutResult:
        try:
            head = reader.read(self.single_put_limit + 1)
            if len(head) <= self.single_put_limit:
                return self._put_small(key, head, reader, content_type, metadata, known)
            return self._put_large(key, _Chain(head, reader), reader, content_type, metadata, known)
        except S3Error as exc:
            if exc.code == "AccessDenied" and key is not None:
                info = self._stat_or_none(key)
                if info and (info.legal_hold or info.retention):
                    raise ObjectRetained(
                        key, info.retention.until if info.retention else None, info.legal_hold
                    ) from exc
            raise StorageError(f"S3 put failed: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 {self.endpoint} unreachable: {exc}") from exc

    @staticmethod
    def _user_headers(digest: str, metadata: dict[str, str]) -> DictType:
        """The object's metadata as ``x-amz-meta-*`` headers (its digest included)."""
        headers: DictType = {_META_SHA: digest}
        for k, v in metadata.items():
            headers[f"x-amz-meta-{k.lower()}"] = v
        return headers

    def _put_bytes(self, key: str, data: bytes, content_type: str, meta: DictType) -> str | None:
        """One PUT of ``data`` (public ``put_object``: one part, sent as a single request)."""
        res = self._client.put_object(
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=meta,
            part_size=self.part_size,
        )
        return res.version_id

    def _put_small(
        self,
        key: str | None,
        data: bytes,
        reader: HashingReader,
        content_type: str,
        metadata: dict[str, str],
        known: DigestIndex | None,
    ) -> PutResult:
        digest = reader.hexdigest()
        meta = self._user_headers(digest, metadata)
        if key is None:
            final_key = content_key(digest)
            if known is not None:
                if known(digest):
                    return PutResult(final_key, digest, len(data), None, created=False)
                version = self._put_bytes(final_key, data, content_type, meta)
            else:
                # No index: let the server refuse a duplicate (one lookup on its side).
                headers = {"Content-Type": content_type, **{k: str(v) for k, v in meta.items()}}
                try:
                    version = self._requests.put_if_absent(self.bucket, final_key, data, headers)
                except S3Error as exc:
                    if exc.code == "PreconditionFailed":
                        return PutResult(final_key, digest, len(data), None, created=False)
                    raise
        else:
            final_key = key
            if self.object_lock_enabled():
                self._refuse_if_retained(key)
            version = self._put_bytes(final_key, data, content_type, meta)
        return PutResult(final_key, digest, len(data), version, created=True)

    def _put_large(
        self,
        key: str | None,
        stream: _Chain,
        reader: HashingReader,
        content_type: str,
        metadata: dict[str, str],
        known: DigestIndex | None,
    ) -> PutResult:
        if key is not None:
            if self.object_lock_enabled():
                self._refuse_if_retained(key)
            meta: DictType = {k: v for k, v in metadata.items()}
            res = self._client.put_object(
                self.bucket,
                key,
                cast(BinaryIO, stream),  # put_object only calls read()
                -1,
                content_type=content_type,
                metadata=meta,
                part_size=self.part_size,
            )
            # The digest is known only now: record it with a metadata-replacing copy would
            # double the cost, so named large objects carry it in the database only.
            return PutResult(key, reader.hexdigest(), reader.size, res.version_id, True)
        tmp_key = f"{TMP_PREFIX}{uuid.uuid4().hex}"
        tmp = self._client.put_object(
            self.bucket,
            tmp_key,
            cast(BinaryIO, stream),
            -1,
            content_type=content_type,
            part_size=self.part_size,
        )
        try:
            digest = reader.hexdigest()
            final_key = content_key(digest)
            exists = (
                known(digest) if known is not None else (self._stat_or_none(final_key) is not None)
            )
            if exists:
                return PutResult(final_key, digest, reader.size, None, created=False)
            from minio.commonconfig import REPLACE

            copied: DictType = {"Content-Type": content_type, "sha256": digest, **metadata}
            res = self._client.copy_object(
                self.bucket,
                final_key,
                CopySource(self.bucket, tmp_key, version_id=tmp.version_id),
                metadata=copied,
                metadata_directive=REPLACE,
            )
            return PutResult(final_key, digest, reader.size, res.version_id, created=True)
        finally:
            self._purge(tmp_key)

    def _refuse_if_retained(self, key: str) -> None:
        info = self._stat_or_none(key)
        if info is None:
            return
        if info.legal_hold or (info.retention and info.retention.until > datetime.now(UTC)):
            raise ObjectRetained(
                key, info.retention.until if info.retention else None, info.legal_hold
            )

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> BinaryIO:
        validate_key(key)
        length = 0 if end is None else max(0, end - start + 1)
        if end is not None and length == 0:
            return io.BytesIO(b"")
        try:
            resp = self._client.get_object(self.bucket, key, offset=start, length=length)
        except S3Error as exc:
            if _is_not_found(exc):
                raise ObjectNotFound(key) from None
            raise StorageError(f"S3 get failed: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 {self.endpoint} unreachable: {exc}") from exc
        return _StreamingBody(resp)  # type: ignore[return-value]

    def _stat_or_none(self, key: str) -> ObjectInfo | None:
        try:
            return self.stat(key)
        except ObjectNotFound:
            return None

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            st = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if _is_not_found(exc):
                raise ObjectNotFound(key) from None
            raise StorageError(f"S3 stat failed: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 {self.endpoint} unreachable: {exc}") from exc
        if st.is_delete_marker:
            raise ObjectNotFound(key)
        headers = {k.lower(): v for k, v in (st.metadata or {}).items()}
        retention = None
        mode = headers.get("x-amz-object-lock-mode")
        until = headers.get("x-amz-object-lock-retain-until-date")
        if mode and until:
            retention = Retention(
                datetime.fromisoformat(until.replace("Z", "+00:00")), RetentionMode(mode.upper())
            )
        user = {
            k[len("x-amz-meta-") :]: v
            for k, v in headers.items()
            if k.startswith("x-amz-meta-") and k != _META_SHA
        }
        return ObjectInfo(
            key=key,
            size=int(st.size or 0),
            last_modified=st.last_modified or datetime.now(UTC),
            sha256=headers.get(_META_SHA) or sha256_of_key(key),
            content_type=st.content_type or "application/octet-stream",
            version_id=st.version_id,
            retention=retention,
            legal_hold=headers.get("x-amz-object-lock-legal-hold", "").upper() == "ON",
            metadata=user,
        )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for obj in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.is_dir or obj.object_name is None:
                    continue
                if obj.object_name.startswith(TMP_PREFIX):
                    continue  # uploads in progress are not objects
                yield ObjectInfo(
                    key=obj.object_name,
                    size=int(obj.size or 0),
                    last_modified=obj.last_modified or datetime.now(UTC),
                    sha256=sha256_of_key(obj.object_name),
                    version_id=obj.version_id,
                )
        except S3Error as exc:
            raise StorageError(f"S3 list failed: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 {self.endpoint} unreachable: {exc}") from exc

    def _delete(self, key: str) -> None:
        try:
            self._purge(key)
        except S3Error as exc:
            if exc.code == "AccessDenied":
                raise ObjectRetained(key, None, False) from exc
            raise StorageError(f"S3 delete failed: {exc}") from exc

    def _purge(self, key: str) -> None:
        """Remove every version of ``key`` (a plain DELETE would only add a marker)."""
        versions = [
            o.version_id
            for o in self._client.list_objects(
                self.bucket, prefix=key, recursive=True, include_version=True
            )
            if o.object_name == key
        ]
        if not versions:
            versions = [None]
        for vid in versions:
            self._client.remove_object(self.bucket, key, version_id=vid)

    def set_retention(self, key: str, retention: Retention) -> None:
        if not self.object_lock_enabled():
            raise UnsupportedOperation(f"bucket {self.bucket} has no Object Lock")
        mode = GOVERNANCE if retention.mode is RetentionMode.GOVERNANCE else COMPLIANCE
        until = retention.until.astimezone(UTC).replace(microsecond=0)
        try:
            self._client.set_object_retention(self.bucket, key, MinioRetention(mode, until))
        except S3Error as exc:
            if _is_not_found(exc):
                raise ObjectNotFound(key) from None
            raise StorageError(f"S3 retention failed: {exc}") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        if not self.object_lock_enabled():
            raise UnsupportedOperation(f"bucket {self.bucket} has no Object Lock")
        try:
            if on:
                self._client.enable_object_legal_hold(self.bucket, key)
            else:
                self._client.disable_object_legal_hold(self.bucket, key)
        except S3Error as exc:
            if _is_not_found(exc):
                raise ObjectNotFound(key) from None
            raise StorageError(f"S3 legal hold failed: {exc}") from exc

    def presigned_url(self, key: str, *, expires_seconds: int = 3600) -> str:
        validate_key(key)
        return self._client.presigned_get_object(
            self.bucket, key, expires=timedelta(seconds=expires_seconds)
        )

    def incomplete_uploads(self) -> builtins.list[str]:  # (list: the method above)
        names = [
            o.object_name
            for o in self._client.list_objects(self.bucket, prefix=TMP_PREFIX, recursive=True)
            if o.object_name
        ]
        uploads = self._requests.multipart_uploads(self.bucket, TMP_PREFIX)
        names += [f"{u.object_name} (multipart {u.upload_id})" for u in uploads]
        return sorted(names)

    def cleanup_incomplete(self, older_than_seconds: int = 3600) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        removed = 0
        for obj in self._client.list_objects(self.bucket, prefix=TMP_PREFIX, recursive=True):
            if obj.object_name and obj.last_modified and obj.last_modified < cutoff:
                self._purge(obj.object_name)
                removed += 1
        for upload in list(self._requests.multipart_uploads(self.bucket, TMP_PREFIX)):
            initiated = upload.initiated_time
            if upload.object_name is None or upload.upload_id is None:
                continue
            if initiated is None or initiated < cutoff:
                self._requests.abort_upload(self.bucket, upload.object_name, upload.upload_id)
                removed += 1
        return removed
