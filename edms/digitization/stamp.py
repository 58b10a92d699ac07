"""Stage 3, before signing: the dossier metadata in the PDF's XMP, the place of the copy
signature's text ("SAO Y", the copying agency, the signing time) and the QR code that points
to the copy's public verification page.

The metadata uses only properties PDF/A-2 predefines (Dublin Core and the PDF schema), so
no XMP extension schema is needed and the file stays PDF/A-2b: ``dc:identifier`` is the
dossier code, ``dc:subject`` carries ``MaHoSo:``, ``MaTTHC:``, ``MaKetQua:`` keywords,
``dc:source`` identifies the paper original, ``dc:type`` the copy type. The document
information dictionary's ``/Producer`` and XMP's ``pdf:Producer`` are set to the same
value, the one the signing library keeps on every later revision, so they still agree
after signing (PDF/A requires it).

Invariants (the copy keeps the original readable):

* **Never over ink.** Page 1 is rendered and its ink found; the copy signature's text goes
  into a blank area at the top right (Appendix I Part II), the QR code into a blank area,
  bottom left first; each keeps :data:`CLEARANCE` from any ink.
* **Else a band.** When page 1 has no such blank area, a band is added above the scan
  (its page box grows; the scan stays at 100 % scale, where it was) and both go there.
* The QR code is vector page content (black squares, no image, font or transparency),
  covered by the signature that follows.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pikepdf
import segno
from PIL import Image

from signing.appearance import copy_block_size

from ..limits import run_limited

MM = 72 / 25.4
QR_SIZE = 22 * MM  # large enough for a phone camera at arm's length
QR_MARGIN = 8 * MM
CLEARANCE = 2 * MM  # blank kept between what is added and the scan's ink
EDGE = 6 * MM  # kept from the page's edges
DPI = 50  # enough to see ink at CLEARANCE
INK_LEVEL = 170  # grey level below which a rendered pixel is ink
RENDER_MEMORY_MB = 1024


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


@dataclass(frozen=True)
class Placement:
    """Where the copy signature's text block goes (page 1, PDF user space) and where the
    QR code was drawn; ``band`` is the height of the band added above the scan (0: none)."""

    copy_box: tuple[float, float, float, float]
    qr_box: tuple[float, float, float, float] | None
    band: float


def producer() -> str:
    """The producer string the signing library writes on each revision."""
    from pyhanko.pdf_utils.metadata.model import VENDOR

    return str(VENDOR)


def apply(path: Path, facts: CopyFacts, verify_url: str | None) -> Placement:
    """Write the XMP metadata and the QR code into ``path`` (in place); returns where the
    copy signature's text goes."""
    block = copy_block_size(facts.copy_type, facts.agency)
    qr = (QR_SIZE, QR_SIZE) if verify_url else None
    with pikepdf.open(path) as pdf:
        box = [float(v) for v in pdf.pages[0].mediabox]
    page_box = (box[0], box[1], box[2], box[3])
    ink = _ink(path, page_box)
    place = _place(ink, page_box, block, qr)
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
            meta["dc:subject"] = [
                k
                for k in (
                    f"MaHoSo:{facts.dossier_code}",
                    f"MaTTHC:{facts.procedure_code}" if facts.procedure_code else "",
                    f"MaKetQua:{facts.result_code}" if facts.result_code else "",
                )
                if k
            ]
            meta["dc:description"] = (
                f"{facts.copy_type} từ bản giấy: {source}; chủ hồ sơ: {facts.holder_name}"
            )
            meta["pdf:Keywords"] = ", ".join(meta["dc:subject"])
            meta["pdf:Producer"] = producer()
        pdf.docinfo["/Producer"] = producer()
        if place.band:
            _add_band(pdf, place.band)
        if verify_url and place.qr_box is not None:
            _draw_qr(pdf, verify_url, place.qr_box)
        pdf.save(path)
    return place


def _add_band(pdf: pikepdf.Pdf, band: float) -> None:
    """Grow page 1 upwards by ``band`` points: the scan keeps its place and scale."""
    page = pdf.pages[0]
    x1, y1, x2, y2 = (float(v) for v in page.mediabox)
    page.mediabox = pikepdf.Array([x1, y1, x2, y2 + band])
    if "/CropBox" in page.obj:
        del page.obj["/CropBox"]
    for name in ("/TrimBox", "/BleedBox", "/ArtBox"):
        if name in page.obj:
            del page.obj[name]


# -- where the page has ink ------------------------------------------------------------------


@dataclass(frozen=True)
class _Ink:
    """Page 1's ink at :data:`DPI`, dilated by :data:`CLEARANCE`, with a summed-area table
    to ask "is this rectangle blank?" in constant time."""

    width: int
    height: int
    table: list[list[int]] | None  # None: the page could not be rendered

    def blank(
        self, page_box: tuple[float, float, float, float], rect: tuple[float, float, float, float]
    ) -> bool:
        if self.table is None:
            return False  # unknown: never assume blank
        x0, _y0, _x1, y1 = page_box
        s = DPI / 72
        a = max(0, int((rect[0] - x0) * s))
        b = min(self.width, int((rect[2] - x0) * s) + 1)
        top = max(0, int((y1 - rect[3]) * s))
        bottom = min(self.height, int((y1 - rect[1]) * s) + 1)
        if a >= b or top >= bottom:
            return False
        t = self.table
        return t[bottom][b] - t[top][b] - t[bottom][a] + t[top][a] == 0


def _ink(path: Path, page_box: tuple[float, float, float, float]) -> _Ink:
    with tempfile.TemporaryDirectory(prefix="edms-stamp-") as tmp:
        out = Path(tmp) / "p"
        cmd = [
            "pdftoppm",
            "-gray",
            "-r",
            str(DPI),
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-png",
            str(path),
            str(out),
        ]
        try:
            done = run_limited(cmd, memory_mb=RENDER_MEMORY_MB, timeout=60)
        except subprocess.TimeoutExpired:
            return _Ink(0, 0, None)
        png = out.with_suffix(".png")
        if done.returncode != 0 or not png.is_file():
            return _Ink(0, 0, None)
        with Image.open(png) as im:
            grey = im.convert("L")
    from PIL import ImageFilter

    mask = grey.point(lambda v: 255 if v < INK_LEVEL else 0)
    grow = max(1, round(CLEARANCE / 72 * DPI))
    mask = mask.filter(ImageFilter.MaxFilter(2 * grow + 1))
    w, h = mask.size
    data = mask.tobytes()
    table = [[0] * (w + 1) for _ in range(h + 1)]
    for y in range(h):
        row, above, here = data[y * w : (y + 1) * w], table[y], table[y + 1]
        run = 0
        for x in range(w):
            run += 1 if row[x] else 0
            here[x + 1] = above[x + 1] + run
    return _Ink(w, h, table)


def _find(
    ink: _Ink,
    page_box: tuple[float, float, float, float],
    size: tuple[float, float],
    corner: str,
    taken: list[tuple[float, float, float, float]],
) -> tuple[float, float, float, float] | None:
    """A blank rectangle of ``size``, searched from a corner of the page (``tr``: top
    right, ``bl``: bottom left) in steps, rows nearest that corner first."""
    x0, y0, x1, y1 = page_box
    w, h = size
    step = 3 * MM
    xs = [x1 - EDGE - w - i * step for i in range(int((x1 - x0 - 2 * EDGE - w) / step) + 1)]
    ys = [y1 - EDGE - h - j * step for j in range(int((y1 - y0 - 2 * EDGE - h) / step) + 1)]
    if corner == "bl":
        xs, ys = xs[::-1], ys[::-1]
    half = [y for y in ys if (y + h / 2 > (y0 + y1) / 2) == (corner == "tr")]
    for y in half + [y for y in ys if y not in half]:
        for x in xs:
            rect = (x, y, x + w, y + h)
            if any(_overlap(rect, t) for t in taken):
                continue
            if ink.blank(page_box, rect):
                return rect
    return None


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return (
        min(a[2], b[2]) - max(a[0], b[0]) > -CLEARANCE
        and min(a[3], b[3]) - max(a[1], b[1]) > -CLEARANCE
    )


def _place(
    ink: _Ink,
    page_box: tuple[float, float, float, float],
    block: tuple[float, float],
    qr: tuple[float, float] | None,
) -> Placement:
    copy_box = _find(ink, page_box, block, "tr", [])
    qr_box = None
    if copy_box is not None and qr is not None:
        qr_box = _find(ink, page_box, qr, "bl", [copy_box])
    if copy_box is not None and (qr is None or qr_box is not None):
        return Placement(copy_box, qr_box, 0.0)
    # no room on the scan: a band above it, the text at its right, the code at its left
    x0, _y0, x1, y1 = page_box
    height = float(math.ceil(max(block[1], qr[1] if qr else 0.0) + 2 * EDGE))
    top = y1 + height
    copy_box = (x1 - EDGE - block[0], top - EDGE - block[1], x1 - EDGE, top - EDGE)
    if qr is not None:
        qr_box = (x0 + EDGE, top - EDGE - qr[1], x0 + EDGE + qr[0], top - EDGE)
    return Placement(copy_box, qr_box, height)


def _draw_qr(pdf: pikepdf.Pdf, url: str, box: tuple[float, float, float, float]) -> None:
    qr = segno.make(url, error="m", micro=False)
    matrix = list(qr.matrix)
    n = len(matrix)
    quiet = 2
    size = box[2] - box[0]
    module = size / (n + 2 * quiet)
    page = pdf.pages[0]
    x0, y0 = box[0], box[1]
    ops = [b"q 1 g", b"%.3f %.3f %.3f %.3f re f" % (x0, y0, size, size), b"0 g"]
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x = x0 + (c + quiet) * module
                y = y0 + size - (r + quiet + 1) * module
                ops.append(b"%.3f %.3f %.3f %.3f re" % (x, y, module, module))
    ops.append(b"f Q")
    # Isolate the page's own content, so its graphics state cannot move the code.
    page.contents_add(pikepdf.Stream(pdf, b"q"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, b"Q"), prepend=False)
    page.contents_add(pikepdf.Stream(pdf, b"\n".join(ops)), prepend=False)
