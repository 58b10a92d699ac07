"""Stored originals: every upload is type-checked, stored once by its SHA-256 and recorded.

The order of the steps keeps storage and database in agreement: the object is stored
first (invisible until complete), then its row is committed; if the row cannot be
committed, an object this upload created is removed again. Retention is applied only after
the commit, so a failed upload never leaves a locked, unreferenced object behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import (
    CHUNK_SIZE,
    ObjectNotFound,
    ObjectTooLarge,
    Retention,
    RetentionMode,
    UnsupportedOperation,
)

from .db import transaction
from .errors import Conflict, EdmsError, NotFound, UploadTooLarge
from .filetypes import detect, ensure_allowed, peek
from .models import Blob
from .system import System


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str
    storage_key: str
    original_name: str | None
    new: bool  # False when identical content was already stored
    retain_until: datetime | None


def _as_stored(blob: Blob, new: bool) -> StoredFile:
    return StoredFile(
        blob.sha256, blob.size, blob.media_type, blob.storage_key, blob.original_name, new,
        blob.retain_until,
    )


def store_upload(
    system: System,
    stream: BinaryIO,
    *,
    filename: str | None = None,
    allowed: tuple[str, ...] | None = None,
    retention_years: int | None = None,
) -> StoredFile:
    """Type-check, store and record one upload. Raises ``DisallowedFileType`` (nothing is
    read past the first 64 KiB), ``UploadTooLarge`` (nothing stays behind)."""
    settings = system.settings
    peeked = peek(stream)
    detected = detect(peeked.head)
    ensure_allowed(detected, allowed or settings.allowed_types, filename)
    store = system.store
    try:
        result = store.put_content(peeked, content_type=detected.mime,
                                   known=lambda digest: is_recorded(system, digest))
    except ObjectTooLarge as exc:
        raise UploadTooLarge(
            f"the upload is larger than the limit of {exc.limit // (1024 * 1024)} MiB; "
            "nothing was stored",
            limit=exc.limit,
        ) from None
    name = Path(filename).name[:255] if filename else None
    try:
        with transaction(system.sessions) as session:
            blob = session.get(Blob, result.sha256)
            new_row = blob is None
            if blob is None:
                blob = Blob(
                    sha256=result.sha256,
                    storage_key=result.key,
                    size=result.size,
                    media_type=detected.mime,
                    original_name=name,
                    version_id=result.version_id,
                )
                session.add(blob)
    except IntegrityError:
        # A concurrent upload of the same content recorded it first.
        with system.sessions() as session:
            blob = session.get(Blob, result.sha256)
            new_row = False
            if blob is None:
                raise Conflict("concurrent upload conflict; try again") from None
    except BaseException:
        if result.created:
            store.delete(result.key)
        raise
    years = settings.retention_default_years if retention_years is None else retention_years
    if years > 0 and blob.retain_until is None:
        blob = apply_retention(
            system, blob.sha256, datetime.now(UTC) + timedelta(days=round(365.25 * years))
        )
    return _as_stored(blob, new_row)


def apply_retention(system: System, sha256: str, until: datetime) -> Blob:
    """Protect a stored original until ``until``: in the object store where it can enforce
    it (S3 Object Lock, local store metadata), and always in the database."""
    until = until.astimezone(UTC).replace(microsecond=0)
    with transaction(system.sessions) as session:
        blob = session.get(Blob, sha256)
        if blob is None:
            raise NotFound(f"no stored object with SHA-256 {sha256}")
        if blob.retain_until is not None and blob.retain_until >= until:
            return blob
        # A bucket without Object Lock cannot enforce it: the database record protects.
        with contextlib.suppress(UnsupportedOperation):
            system.store.set_retention(
                blob.storage_key, Retention(until, RetentionMode(system.settings.retention_mode))
            )
        blob.retain_until = until
        return blob


_RECORDED = select(Blob.__table__.c.sha256).where(
    Blob.__table__.c.sha256 == bindparam("d")
)


def is_recorded(system: System, sha256: str) -> bool:
    """Whether the database records stored content with this digest (the dedupe index).
    A Core query on a pooled connection: it runs once per upload, on the hot path."""
    with system.engine.connect() as conn:
        return conn.execute(_RECORDED, {"d": sha256}).first() is not None


def get_blob(system: System, sha256: str) -> StoredFile:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise EdmsError(f"{sha256!r} is not a SHA-256 digest (64 hexadecimal characters)")
    with system.sessions() as session:
        blob = session.get(Blob, sha256.lower())
        if blob is None:
            raise NotFound(f"no stored object with SHA-256 {sha256}")
        return _as_stored(blob, False)


def export_to_file(system: System, sha256: str, target: str | os.PathLike[str]) -> StoredFile:
    """Copy a stored original to a file, checking its SHA-256 on the way. The file appears
    only when complete and correct."""
    stored = get_blob(system, sha256)
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, system.store.open(stored.storage_key) as src:
            while chunk := src.read(CHUNK_SIZE):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != stored.sha256:
            raise Conflict(
                f"stored object {stored.sha256} is corrupted (its content hashes to "
                f"{h.hexdigest()}); run `edms storage verify`"
            )
        os.replace(tmp_name, target)
    except ObjectNotFound:
        raise NotFound(
            f"object {stored.sha256} is recorded but missing from the store; "
            "run `edms storage verify`"
        ) from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return stored




def add_file(system: System, session: Session, path: Path, *, name: str | None = None,
             allowed: tuple[str, ...] = ("application/pdf",)) -> PutOutcome:
    """Store a local file and record it in the caller's transaction (no retention yet: it
    is applied once the record is committed). If the transaction fails, the caller
    removes the object with :func:`undo_put` so nothing is left behind."""
    with open(path, "rb") as f:
        peeked = peek(f)
        detected = detect(peeked.head)
        ensure_allowed(detected, allowed, name or path.name)
        try:
            result = system.store.put_content(
                peeked, content_type=detected.mime,
                known=lambda digest: is_recorded(system, digest))
        except ObjectTooLarge as exc:
            raise UploadTooLarge(f"the file is larger than the limit of "
                                 f"{exc.limit // (1024 * 1024)} MiB; nothing was stored",
                                 limit=exc.limit) from None
    outcome = PutOutcome(result.sha256, result.key, result.size, detected.mime,
                         result.created)
    if session.get(Blob, result.sha256) is None:
        session.add(Blob(sha256=result.sha256, storage_key=result.key, size=result.size,
                         media_type=detected.mime,
                         original_name=Path(name).name[:255] if name else None,
                         version_id=result.version_id))
        session.flush()
    return outcome


@dataclass(frozen=True)
class PutOutcome:
    sha256: str
    key: str
    size: int
    media_type: str
    created: bool  # this call put the object (undo removes it again)


def undo_put(system: System, outcomes: list[PutOutcome]) -> None:
    """Remove objects put by a transaction that then failed; never raises (the failure
    that brought us here is what the caller must see)."""
    for o in outcomes:
        if o.created:
            with contextlib.suppress(Exception):
                system.store.delete(o.key)


def set_legal_hold(system: System, session: Session, sha256: str, on: bool) -> None:
    blob = session.get(Blob, sha256)
    if blob is None:
        raise NotFound(f"no stored object with SHA-256 {sha256}")
    with contextlib.suppress(UnsupportedOperation):
        system.store.set_legal_hold(blob.storage_key, on)
    blob.legal_hold = on
