"""Dossiers (hồ sơ, Appendix VI): documents grouped for keeping, with a retention period,
exported in time order as a ZIP holding ``hoso.xml`` (the dossier's and each document's
Appendix VI metadata, with the SHA-256 of every file) and the documents' signed PDFs.

Signed PDFs are exported as they are, each in its own file: concatenating them into one
PDF would break every signature in it.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, blobs
from .db import transaction
from .documents import apply_document_retention, main_file
from .errors import ClientError, Conflict, InvalidTransition, NotFound
from .models import DocType, Document, DocumentFile, Dossier
from .orgs import load_user, require_role
from .system import System


@dataclass(frozen=True)
class DossierMeta:
    file_code: str
    title: str
    maintenance: str  # "Vĩnh viễn", "20 năm", ...
    retention_years: int | None = None  # None: permanent
    rights: str = ""
    creator: str = ""
    description: str = ""


CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def validate_code(value: str, what: str = "file code", limit: int = 60) -> str:
    """A dossier code (a dossier's file code, a procedure dossier's MaHoSo): ASCII
    letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most
    ``limit`` characters. It goes into URLs, file names and XML: nothing else is taken."""
    code = value.strip()
    if not code or len(code) > limit or not CODE.match(code):
        raise ClientError(
            f"the {what} is 1 to {limit} characters: letters A-Z, digits, '.', "
            f"'_' or '-', starting with a letter or digit (got {code[:80]!r})"
        )
    return code


def create(system: System, actor: str, meta: DossierMeta) -> Dossier:
    code = validate_code(meta.file_code)
    if not meta.title.strip():
        raise ClientError("a dossier needs a file code (up to 60 characters) and a title")
    if meta.retention_years is not None and meta.retention_years < 1:
        raise ClientError("the retention period is at least one year (or permanent)")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "clerk", "officer", "admin", action="open a dossier")
        if s.scalars(
            select(Dossier).where(Dossier.agency_id == user.agency_id, Dossier.file_code == code)
        ).first():
            raise Conflict(f"dossier {code} already exists")
        d = Dossier(
            agency_id=user.agency_id,
            file_code=code,
            title=meta.title.strip()[:500],
            maintenance=meta.maintenance.strip()[:30],
            retention_years=meta.retention_years,
            rights=meta.rights[:30],
            creator=meta.creator[:30],
            description=meta.description[:500],
        )
        s.add(d)
        s.flush()
        audit.record(s, user.username, "dossier.create", "dossier", str(d.id), {"file_code": code})
        return d


def _dossier(s: Session, agency_id: int, code: str) -> Dossier:
    d = s.scalars(
        select(Dossier).where(Dossier.agency_id == agency_id, Dossier.file_code == code)
    ).first()
    if d is None:
        raise NotFound(f"no dossier {code}")
    return d


def view(system: System, actor: str, code: str) -> dict[str, Any]:
    """The dossier of the actor's agency with this file code, and the ids of its documents
    (another agency's dossier is not found)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        d = _dossier(s, user.agency_id, code)
        ids = list(
            s.scalars(select(Document.id).where(Document.dossier_id == d.id).order_by(Document.id))
        )
        return {
            "file_code": d.file_code,
            "title": d.title,
            "maintenance": d.maintenance,
            "start_date": d.start_date.isoformat() if d.start_date else None,
            "end_date": d.end_date.isoformat() if d.end_date else None,
            "documents": ids,
        }


def add_documents(system: System, actor: str, code: str, doc_ids: list[int]) -> Dossier:
    """File documents in the dossier; the dossier's dates follow its documents."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "clerk", "officer", "admin", action="file documents")
        d = _dossier(s, user.agency_id, code)
        for doc_id in doc_ids:
            doc = s.get(Document, doc_id)
            if doc is None or doc.agency_id != user.agency_id:
                raise NotFound(f"no document {doc_id}")
            if doc.state in ("draft", "submitted", "approved"):
                raise InvalidTransition(
                    f"document {doc_id} is a draft: only documents that "
                    "were issued or received are filed"
                )
            if doc.dossier_id not in (None, d.id):
                raise Conflict(f"document {doc_id} is already filed in another dossier")
            doc.dossier_id = d.id
            day = doc.issued_date or (doc.arrival_at.date() if doc.arrival_at else None)
            if day is not None:
                d.start_date = min(d.start_date or day, day)
                d.end_date = max(d.end_date or day, day)
        audit.record(s, user.username, "dossier.add", "dossier", str(d.id), {"documents": doc_ids})
        dossier_id = d.id
    _apply_retention(system, dossier_id)
    return d


def _apply_retention(system: System, dossier_id: int) -> None:
    """A dossier kept longer than its documents' types extends their retention."""
    with system.sessions() as s:
        d = s.get(Dossier, dossier_id)
        assert d is not None
        years = d.retention_years or system.settings.retention_permanent_years
        docs = list(s.scalars(select(Document).where(Document.dossier_id == dossier_id)))
    for doc in docs:
        until = apply_document_retention(system, doc.id)
        start = doc.sent_at or doc.arrival_at or datetime.now(UTC)
        wanted = start + timedelta(days=round(365.25 * years))
        if until is not None and wanted > until:
            with system.sessions() as s:
                shas = {
                    f.sha256
                    for f in s.scalars(
                        select(DocumentFile).where(DocumentFile.document_id == doc.id)
                    )
                }
            for sha in shas:
                blobs.apply_retention(system, sha, wanted)


def _text(parent: ET.Element, tag: str, value: object) -> None:
    el = ET.SubElement(parent, tag)
    if isinstance(value, date | datetime):
        value = value.strftime("%Y/%m/%d")
    el.text = "" if value is None else str(value)


def export(system: System, actor: str, code: str, target: Path) -> Path:
    """Write the dossier ZIP to ``target`` (atomically: complete or absent)."""
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "clerk", "leader", "admin", action="export dossiers")
        d = _dossier(s, user.agency_id, code)
        docs = list(s.scalars(select(Document).where(Document.dossier_id == d.id)))
        docs.sort(key=lambda x: (x.issued_date or date.min, x.arrival_at or x.created_at, x.id))
        types = {t.code: t.name for t in s.scalars(select(DocType))}
        files = [(doc, main_file(s, doc.id)) for doc in docs]
        audit.record(
            s,
            user.username,
            "dossier.export",
            "dossier",
            str(d.id),
            {"documents": [doc.id for doc in docs]},
        )
    root = ET.Element("HoSo")
    for tag, value in (
        ("FileCode", d.file_code),
        ("Title", d.title),
        ("Maintenance", d.maintenance),
        ("Rights", d.rights),
        ("Creator", d.creator),
        ("Language", d.language),
        ("StartDate", d.start_date),
        ("EndDate", d.end_date),
        ("DocTotal", len(docs)),
        ("PageTotal", sum(doc.page_amount or 0 for doc in docs)),
        ("Description", d.description),
    ):
        _text(root, tag, value)
    items = ET.SubElement(root, "VanBan")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with (
            open(fd, "wb") as raw,
            zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z,
            blobs.workdir(system, "export") as work,
        ):
            for ordinal, (doc, f) in enumerate(files, 1):
                slug = re.sub(r"[^0-9A-Za-z]+", "-", (doc.code_notation or "vb"))[:30]
                name = f"{ordinal:03d}_{doc.code_number or doc.arrival_number or doc.id}_{slug}.pdf"
                local = Path(work) / name
                blobs.export_to_file(system, f.sha256, local)
                z.write(local, f"vanban/{name}")
                item = ET.SubElement(items, "Document")
                for tag, value in (
                    ("DocOrdinal", ordinal),
                    ("TypeName", types.get(doc.type_code)),
                    ("CodeNumber", doc.code_number),
                    ("CodeNotation", doc.code_notation),
                    ("IssuedDate", doc.issued_date),
                    ("OrganName", doc.organ_name),
                    ("Subject", doc.subject),
                    ("Language", doc.language),
                    ("PageAmount", doc.page_amount),
                    ("Direction", doc.direction),
                    ("ArrivalNumber", doc.arrival_number),
                    ("SignerPosition", doc.signer_position),
                    ("SignerFullName", doc.signer_name),
                    ("FileName", f"vanban/{name}"),
                    ("Sha256", f.sha256),
                ):
                    _text(item, tag, value)
            ET.indent(root)
            z.writestr("hoso.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
