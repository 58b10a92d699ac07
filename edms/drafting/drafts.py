"""An uploaded draft made ready for the outgoing lifecycle: whatever the officer uploads
(a PDF with or without form fields, a .docx, an .odt) becomes a PDF carrying the number
and date fields and the leader's signature field, in the places the draft itself keeps
for them (:mod:`.places`).

Invariant: the result is checked like every uploaded PDF (:mod:`edms.pdfsafety`) before
anything reads it; a draft whose places cannot be found is refused with the reason, and
nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import DisallowedFileType
from ..filetypes import DetectedType
from ..pdfsafety import check_pdf
from . import convert, places


@dataclass(frozen=True)
class DraftFile:
    pdf: Path  # the draft as the lifecycle uses it
    source_mime: str | None  # the Word/OpenDocument original, when converted
    added_fields: tuple[str, ...]


def ready(
    settings: Settings,
    upload: Path,
    mime: str,
    filename: str | None,
    workdir: Path,
    expected_symbol: str | None,
) -> DraftFile:
    """The draft PDF in ``workdir`` from an upload whose content type is ``mime``."""
    kind = None if mime == convert.PDF else convert.office_kind(upload, mime)
    if mime != convert.PDF and kind is None:
        detected = DetectedType(mime, mime)
        name = f"'{Path(filename).name}'" if filename else "the upload"
        suffix = Path(filename).suffix.lower() if filename else ""
        disguise = f" despite its {suffix} name" if suffix else ""
        raise DisallowedFileType(
            f"{name} is {detected.name}{disguise}, not an allowed type (PDF, Word .docx, "
            "OpenDocument .odt); nothing was stored",
            detected_mime=mime,
            detected_name=detected.name,
        )
    if kind is None:
        pdf = workdir / "draft.pdf"
        upload.replace(pdf)
    else:
        pdf = convert.to_pdf(upload, kind, workdir)
    check_pdf(pdf, settings, filename)
    prepared = places.prepare(
        pdf, expected_symbol=expected_symbol, memory_mb=settings.render_memory_mb
    )
    return DraftFile(pdf, kind, tuple(prepared.added))
