"""Stage 3, before signing: the dossier metadata in the PDF's XMP, and the QR code that
points to the copy's public verification page.

The metadata uses only properties PDF/A-2 predefines (Dublin Core and the PDF schema), so
no XMP extension schema is needed and the file stays PDF/A-2b: ``dc:identifier`` is the
dossier code, ``dc:subject`` carries ``MaHoSo:``, ``MaTTHC:``, ``MaKetQua:`` keywords,
``dc:source`` identifies the paper original, ``dc:type`` the copy type.

The QR code is drawn as vector page content (black squares, no image, no font, no
transparency) at the bottom left of page 1, away from the copy signature at the top
right; it is covered by the signature that follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pikepdf
import segno

MM = 72 / 25.4
QR_SIZE = 22 * MM  # large enough for a phone camera at arm's length
QR_MARGIN = 8 * MM


@dataclass(frozen=True)
class CopyFacts:
    dossier_code: str
    procedure_code: str
    result_code: str
    holder_name: str
    original_type: str
    original_number: str
    original_date: date | None
    subject: str
    agency: str
    copy_type: str


def apply(path: Path, facts: CopyFacts, verify_url: str | None) -> None:
    """Write the XMP metadata and the QR code into ``path`` (in place)."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = facts.subject or facts.original_type
            meta["dc:creator"] = [facts.agency]
            meta["dc:identifier"] = facts.dossier_code
            meta["dc:type"] = [f"Bản sao điện tử ({facts.copy_type})"]
            meta["dc:language"] = ["vi"]
            source = facts.original_type
            if facts.original_number:
                source += f" số {facts.original_number}"
            if facts.original_date:
                source += f" ngày {facts.original_date:%d/%m/%Y}"
            meta["dc:source"] = source
            meta["dc:subject"] = [k for k in (
                f"MaHoSo:{facts.dossier_code}",
                f"MaTTHC:{facts.procedure_code}" if facts.procedure_code else "",
                f"MaKetQua:{facts.result_code}" if facts.result_code else "") if k]
            meta["dc:description"] = (
                f"{facts.copy_type} từ bản giấy: {source}; chủ hồ sơ: {facts.holder_name}")
            meta["pdf:Keywords"] = ", ".join(meta["dc:subject"])
        if verify_url:
            _draw_qr(pdf, verify_url)
        pdf.save(path)


def _draw_qr(pdf: pikepdf.Pdf, url: str) -> None:
    qr = segno.make(url, error="m", micro=False)
    matrix = list(qr.matrix)
    n = len(matrix)
    quiet = 2
    module = QR_SIZE / (n + 2 * quiet)
    page = pdf.pages[0]
    x0, y0 = float(page.mediabox[0]) + QR_MARGIN, float(page.mediabox[1]) + QR_MARGIN
    ops = [b"q 1 g", b"%.3f %.3f %.3f %.3f re f" % (x0, y0, QR_SIZE, QR_SIZE), b"0 g"]
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x = x0 + (c + quiet) * module
                y = y0 + QR_SIZE - (r + quiet + 1) * module
                ops.append(b"%.3f %.3f %.3f %.3f re" % (x, y, module, module))
    ops.append(b"f Q")
    # Isolate the page's own content, so its graphics state cannot move the code.
    page.contents_add(pikepdf.Stream(pdf, b"q"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"Q"), prepend=False)
    page.contents_add(pikepdf.Stream(pdf, b"\n".join(ops)), prepend=False)
