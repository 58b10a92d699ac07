"""Stored originals: every upload is type-checked, stored once by its SHA-256 and recorded.

The order of the steps keeps storage and database in agreement: the object is stored
first (invisible until complete), then its row is committed; if the row cannot be
committed, an object this upload created is removed again. Retention is applied only after
the commit, so a failed upload never leaves a locked, unreferenced object behind.

Nothing is left behind either by work that fails later:

* uploads stored ahead of a job (scans to digitize, a large file to verify) are *staged*
  (:func:`staging`): if the request fails before the job is queued they are discarded, and
  the job discards them when it ends (:func:`discard_unreferenced`), unless a document
  refers to them by then;
* files being worked on live in private work folders (:func:`workdir`) named after their
  process, so the folders of a killed process are recognised and removed
  (``edms storage verify`` names them, ``edms storage cleanup`` and ``edms serve`` remove
  them);
* every original name is normalised (:func:`clean_filename`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Column, bindparam, select
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
from .errors import ClientError, Conflict, NotFound, UploadTooLarge
from .filetypes import detect, ensure_allowed, peek
from .models import Blob, Job
from .system import System

log = logging.getLogger(__name__)


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
        blob.sha256,
        blob.size,
        blob.media_type,
        blob.storage_key,
        blob.original_name,
        new,
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
        result = store.put_content(
            peeked, content_type=detected.mime, known=lambda digest: is_recorded(system, digest)
        )
    except ObjectTooLarge as exc:
        raise UploadTooLarge(
            f"the upload is larger than the limit of {exc.limit // (1024 * 1024)} MiB; "
            "nothing was stored",
            limit=exc.limit,
        ) from None
    name = clean_filename(filename, "upload") if filename else None
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


_RECORDED = select(Blob.__table__.c.sha256).where(Blob.__table__.c.sha256 == bindparam("d"))


def is_recorded(system: System, sha256: str) -> bool:
    """Whether the database records stored content with this digest (the dedupe index).
    A Core query on a pooled connection: it runs once per upload, on the hot path."""
    with system.engine.connect() as conn:
        return conn.execute(_RECORDED, {"d": sha256}).first() is not None


def get_blob(system: System, sha256: str) -> StoredFile:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ClientError(f"{sha256!r} is not a SHA-256 digest (64 hexadecimal characters)")
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


def add_file(
    system: System,
    session: Session,
    path: Path,
    *,
    name: str | None = None,
    allowed: tuple[str, ...] = ("application/pdf",),
) -> PutOutcome:
    """Store a local file and record it in the caller's transaction (no retention yet: it
    is applied once the record is committed). If the transaction fails, the caller
    removes the object with :func:`undo_put` so nothing is left behind."""
    with open(path, "rb") as f:
        peeked = peek(f)
        detected = detect(peeked.head)
        ensure_allowed(detected, allowed, name or path.name)
        try:
            result = system.store.put_content(
                peeked, content_type=detected.mime, known=lambda digest: is_recorded(system, digest)
            )
        except ObjectTooLarge as exc:
            raise UploadTooLarge(
                f"the file is larger than the limit of "
                f"{exc.limit // (1024 * 1024)} MiB; nothing was stored",
                limit=exc.limit,
            ) from None
    outcome = PutOutcome(result.sha256, result.key, result.size, detected.mime, result.created)
    if session.get(Blob, result.sha256) is None:
        blob = Blob(
            sha256=result.sha256,
            storage_key=result.key,
            size=result.size,
            media_type=detected.mime,
            original_name=clean_filename(name, path.name) if name else None,
            version_id=result.version_id,
        )
        if session.get_bind().dialect.name == "sqlite":
            # Writers are serialised from their first write: nobody recorded it meanwhile.
            session.add(blob)
            session.flush()
        else:
            try:
                # The same content recorded meanwhile by a concurrent transaction is not
                # an error: the row is there, this transaction refers to it.
                with session.begin_nested():
                    session.add(blob)
            except IntegrityError:
                if session.get(Blob, result.sha256) is None:
                    raise
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
        if not o.created:
            continue
        # Another transaction may have recorded the same content meanwhile: its row now
        # refers to this object. (A database that cannot be asked is down: the failed
        # transaction is what brought us here, so nothing refers to the object.)
        try:
            recorded = is_recorded(system, o.sha256)
        except Exception:
            recorded = False
        if not recorded:
            with contextlib.suppress(Exception):
                system.store.delete(o.key)


def set_legal_hold(system: System, session: Session, sha256: str, on: bool) -> None:
    blob = session.get(Blob, sha256)
    if blob is None:
        raise NotFound(f"no stored object with SHA-256 {sha256}")
    with contextlib.suppress(UnsupportedOperation):
        system.store.set_legal_hold(blob.storage_key, on)
    blob.legal_hold = on


# -- names --------------------------------------------------------------------------------

# Characters that change how a name is displayed or where it points: bidirectional
# controls (a "gnp.exe" shown as "exe.png"), zero-width marks, the byte-order mark.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b"
        "\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069"
        "\ufeff",
    )
)


def clean_filename(name: str | None, fallback: str) -> str:
    """A file name safe to keep and to show: Unicode NFC; no directory part (``/`` or
    ``\\``), control characters (NUL ...), bidirectional or zero-width marks; no leading
    dots or surrounding spaces; at most 255 characters (the extension kept). An empty
    result is ``fallback``."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in text.translate(_INVISIBLE)
    )
    text = " ".join(text.split()).lstrip(".").strip()
    if len(text) > 255:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: 255 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else text[:255]
    return text or fallback


# -- work folders ---------------------------------------------------------------------------

HOST_ID = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
WORK_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-")


def work_root(system: System) -> Path:
    return system.settings.data_dir / "tmp"


@contextlib.contextmanager
def workdir(system: System, kind: str = "doc") -> Iterator[Path]:
    """A private folder under ``EDMS_DATA_DIR/tmp`` for files being worked on (they may
    be plaintext copies of documents), removed when the work ends. Its name carries this
    process's id and host (``doc-<pid>-<host>-…``): if the process is killed, the folder
    is recognised as stale."""
    base = work_root(system)
    base.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-{HOST_ID}-", dir=base))
    try:
        yield d
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)


# -- what refers to a stored object ---------------------------------------------------------

_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def _reference_columns() -> list[Column[Any]]:
    """Every column that holds a stored object's SHA-256: the foreign keys to
    ``blobs.sha256`` of every table (found in the model, so new tables count too)."""
    from .db import Base

    target = Blob.__table__.c.sha256
    return [
        fk.parent
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column is target
    ]


def referenced(session: Session, *, except_job: str | None = None) -> set[str]:
    """The digests something refers to: a row of any table, or a job not yet finished
    (its uploads are staged for it)."""
    found: set[str] = set()
    for col in _reference_columns():
        found.update(v for v in session.scalars(select(col).where(col.isnot(None)).distinct()) if v)
    jobs = select(Job.id, Job.params).where(Job.state.in_(("queued", "running")))
    for job_id, params in session.execute(jobs):
        if job_id != except_job:
            found.update(_HEX64.findall(params))
    return found


def discard_unreferenced(
    system: System, digests: Iterable[str], *, except_job: str | None = None
) -> list[str]:
    """Remove the stored objects among ``digests`` that nothing refers to (and that no
    retention or legal hold protects): staged uploads whose work has ended or failed.
    Never raises; returns the digests removed (what could not be removed is named by
    ``edms storage verify``)."""
    wanted = {d for d in digests if d}
    if not wanted:
        return []
    try:
        with system.sessions() as session:
            candidates = sorted(wanted - referenced(session, except_job=except_job))
    except Exception:
        log.exception("staged uploads could not be checked")
        return []
    return [sha for sha in candidates if remove_blob(system, sha)]


def remove_blob(system: System, sha256: str) -> bool:
    """Delete one unprotected stored object and its row (one transaction: the row is
    only gone if the object is). Never raises."""
    try:
        with transaction(system.sessions) as session:
            blob = session.get(Blob, sha256)
            if (
                blob is None
                or blob.legal_hold
                or (blob.retain_until is not None and blob.retain_until > datetime.now(UTC))
            ):
                return False
            session.delete(blob)
            session.flush()
            system.store.delete(blob.storage_key)
        return True
    except Exception:
        log.exception("stored object %s could not be removed", sha256)
        return False


@contextlib.contextmanager
def staging(system: System) -> Iterator[list[str]]:
    """Collect the digests of uploads stored ahead of a job; if the block fails (a later
    file refused, the job not queued), they are discarded again."""
    staged: list[str] = []
    try:
        yield staged
    except BaseException:
        discard_unreferenced(system, staged)
        raise


def job_uploads(params: str | dict[str, object]) -> list[str]:
    """The digests a job's parameters name (its staged uploads)."""
    text = params if isinstance(params, str) else json.dumps(params)
    return _HEX64.findall(text)
