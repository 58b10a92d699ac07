"""Files of documents: work folders, spooling uploads, recording stored files, exporting
them, validating our own output, and the search index.

Invariants: an upload is type-checked from its first bytes and size-limited before anything
is stored; :func:`record_file` appends each store put to the caller's ``puts`` so a failed
transaction can remove it; work folders are private to this process and removed on exit.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import Profile
from signing.validation import Report, validate_file

from .. import blobs, pdfsafety, search
from ..errors import (
    ClientError,
    EdmsError,
    NotFound,
    UploadTooLarge,
)
from ..filetypes import detect, ensure_allowed
from ..models import (
    Document,
    DocumentFile,
    SignatureRecord,
    SigningKey,
    User,
)
from ..signatures import trust_set
from ..system import System
from ..templates import DATE_FIELD, NUMBER_FIELD
from .labels import now_utc
from .lifecycle import doc_type


def main_file(s: Session, doc_id: int) -> DocumentFile:
    f = s.scalars(
        select(DocumentFile)
        .where(DocumentFile.document_id == doc_id, DocumentFile.role == "main")
        .order_by(DocumentFile.id.desc())
    ).first()
    if f is None:
        raise NotFound(f"document {doc_id} has no file")
    return f


def attachments_of(s: Session, doc_id: int, stage: str) -> list[DocumentFile]:
    return list(
        s.scalars(
            select(DocumentFile)
            .where(
                DocumentFile.document_id == doc_id,
                DocumentFile.role == "attachment",
                DocumentFile.stage == stage,
            )
            .order_by(DocumentFile.id)
        )
    )


@contextlib.contextmanager
def workdir(system: System) -> Iterator[Path]:
    """A private work folder (see :func:`edms.blobs.workdir`: named after this process,
    so a killed process's folders are found and removed)."""
    with blobs.workdir(system) as d:
        yield d


def spool_pdf(system: System, stream: BinaryIO, filename: str | None, target: Path) -> Path:
    """Copy an upload to a work file: type-checked from its first bytes, size-limited."""
    spool_upload(system, stream, filename, target, ("application/pdf",))
    pdfsafety.check_pdf(target, system.settings, filename)
    return target


def spool_upload(
    system: System, stream: BinaryIO, filename: str | None, target: Path, allowed: tuple[str, ...]
) -> str:
    """Copy an upload to ``target``, size-limited; its type (from its first bytes) must be
    one of ``allowed``, and is returned."""
    limit = system.settings.max_upload_bytes
    head = stream.read(65536)
    detected = detect(head)
    ensure_allowed(detected, allowed, filename)
    size = len(head)
    with open(target, "wb") as out:
        out.write(head)
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(
                    f"the upload is larger than the limit of "
                    f"{limit // (1024 * 1024)} MiB; nothing was stored",
                    limit=limit,
                )
            out.write(chunk)
    return detected.mime


def pdf_facts(path: Path, *, need_fields: bool) -> int:
    """Open a PDF as pyHanko will; return its page count. Drafts must carry the number
    and date fields the System fills after the leader signs."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        with open(path, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            if reader.encrypted:
                raise ClientError("the PDF is encrypted; upload it without a password")
            pages = int(reader.root["/Pages"]["/Count"])
            if need_fields:
                names = set()
                form = reader.root.get("/AcroForm")
                if form is not None:
                    for ref in form.get_object().get("/Fields", []):
                        names.add(str(ref.get_object().get("/T", "")))
                missing = [n for n in (NUMBER_FIELD, DATE_FIELD) if n not in names]
                if missing:
                    raise ClientError(
                        f"the draft has no text field {' or '.join(missing)}: the number "
                        "and date are filled into those fields after the leader signs "
                        "(use `edms doc new --template` or add the fields)"
                    )
            return pages
    except EdmsError:
        raise
    except Exception as exc:
        raise ClientError(f"not a readable PDF: {type(exc).__name__}: {exc}") from None


def record_file(
    system: System,
    s: Session,
    puts: list[blobs.PutOutcome],
    doc: Document,
    path: Path,
    name: str,
    role: str,
    stage: str,
    user: User | None,
    attachment_of: int | None = None,
    allowed: tuple[str, ...] = ("application/pdf",),
) -> DocumentFile:
    name = blobs.clean_filename(name, f"{doc.id}.pdf")
    put = blobs.add_file(system, s, path, name=name, allowed=allowed)
    puts.append(put)
    f = DocumentFile(
        document_id=doc.id,
        role=role,
        stage=stage,
        sha256=put.sha256,
        name=name,
        attachment_of=attachment_of,
        created_by=user.id if user else None,
        created_at=now_utc(),
    )
    s.add(f)
    s.flush()
    return f


def signature_record(
    doc: Document,
    f: DocumentFile,
    profile: Profile,
    result: Any,
    user: User,
    key: SigningKey,
    report: Report,
) -> SignatureRecord:
    """The record of a signature the System applied, with our validator's report."""
    return SignatureRecord(
        document_id=doc.id,
        file_id=f.id,
        profile=profile.value,
        field_name=result.field_name,
        user_id=user.id,
        signing_key_id=key.id,
        signed_at=result.signing_time,
        level=result.level.value,
        valid=report.valid,
        report=json.dumps(report.to_json(), ensure_ascii=False),
    )


def export_file(system: System, f: DocumentFile, target: Path) -> Path:
    blobs.export_to_file(system, f.sha256, target)
    return target


def validate_own(system: System, path: Path) -> Report:
    """Our own output is validated in-process against the configured trust roots."""
    return validate_file(
        path, trust_set(system.settings), allow_fetching=system.settings.revocation_fetching
    )


def problems(report: Report) -> str:
    msgs = [m for sig in report.signatures for m in sig.messages] + report.errors
    return "; ".join(msgs[:4]) or "no detail"


def index_document(s: Session, doc: Document, content: str | None = None) -> None:
    search.reindex(s, doc, doc_type(s, doc.type_code).name, content)
