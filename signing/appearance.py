"""Signature appearances as Decree 30 (Appendix I) lays them out.

* ``personal``: the leader's blue signature image centred between the authority/title
  lines (upper case, bold, 14 pt) above and the full name (bold, 14 pt) below. When the
  page itself prints the title lines and the name (a draft written in Word), the
  appearance draws only what the page lacks: the image alone, centred in the blank space
  the field covers.
* ``organization``: the agency's red seal at real size, its visible ring over the left
  third of the visible signature *ink* (not of the image's padded box; see
  :func:`seal_rect_for` and :func:`signature_ink_on_page`).
* ``attachment`` and ``copy``: no image; a serif 10 pt text block at the top right of the
  first page.

Text is set in Liberation Serif (metric-compatible with Times New Roman), embedded as a
subset, so Vietnamese diacritics render in every viewer.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from PIL import Image
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from .fonts import vietnamese_serif

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MM = 72 / 25.4

# the leader's signature box (points) and its inner layout: Appendix I sets the
# authority/title lines and the signer's name in 13-14 pt bold
PERSONAL_WIDTH = 240.0
PERSONAL_HEIGHT = 150.0
TITLE_SIZE = 14.0
NAME_SIZE = 14.0
LEADING = 1.2
IMAGE_TOP_GAP = 2 * TITLE_SIZE * LEADING + 6  # below the two title lines
IMAGE_BOTTOM_GAP = NAME_SIZE * LEADING + 6  # above the name line
SEAL_DIAMETER = 38 * MM
SEAL_OVERLAP = 1 / 3  # of the signature ink's width, on its left
INK_ALPHA = 48  # an image pixel at least this opaque is ink


def vn_time(t: datetime) -> str:
    """ISO 8601 with the Vietnam offset, to the second: 2026-11-22T09:30:15+07:00."""
    return t.astimezone(VN_TZ).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TextLine:
    text: str
    size: float
    bold: bool
    x: float  # anchor in box coordinates
    y: float  # baseline
    anchor: str = "center"  # "center" | "left" | "right"


@dataclass(frozen=True)
class EncodedImage:
    """A signature or seal image, decoded and compressed once per process: each document
    then embeds the ready-made streams (RGB plus an alpha soft mask)."""

    width: int
    height: int
    rgb: bytes  # zlib-compressed 8-bit RGB samples
    alpha: bytes | None  # zlib-compressed 8-bit alpha samples, when not fully opaque
    # the visible ink: (left, top, right, bottom) in pixels, PIL's orientation
    ink: tuple[int, int, int, int] | None = None

    def ink_fraction(self) -> tuple[float, float, float, float]:
        """The ink box as fractions of the image, PDF orientation: (x1, y1, x2, y2)
        with y from the bottom."""
        left, top, right, bottom = self.ink or (0, 0, self.width, self.height)
        return (
            left / self.width,
            1 - bottom / self.height,
            right / self.width,
            1 - top / self.height,
        )

    def add_to(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        def image(data: bytes, colour: str) -> generic.StreamObject:
            return generic.StreamObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Image"),
                    pdf_name("/Width"): generic.NumberObject(self.width),
                    pdf_name("/Height"): generic.NumberObject(self.height),
                    pdf_name("/ColorSpace"): pdf_name(colour),
                    pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                    pdf_name("/Filter"): pdf_name("/FlateDecode"),
                },
                encoded_data=data,
            )

        main = image(self.rgb, "/DeviceRGB")
        if self.alpha is not None:
            main[pdf_name("/SMask")] = writer.add_object(image(self.alpha, "/DeviceGray"))
        return writer.add_object(main)


MAX_IMAGE_PIXELS = 4000 * 4000


@lru_cache(maxsize=64)
def _encode_image(path: str, mtime_ns: int) -> EncodedImage:
    del mtime_ns  # part of the cache key: a replaced file is read again
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"{path}: image too large ({img.width}x{img.height})")
            rgba = img.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from exc
    alpha = rgba.getchannel("A")
    opaque = alpha.getextrema() == (255, 255)
    return EncodedImage(
        rgba.width,
        rgba.height,
        zlib.compress(rgba.convert("RGB").tobytes(), 6),
        None if opaque else zlib.compress(alpha.tobytes(), 6),
        ink_box(rgba),
    )


def ink_box(img: Image.Image) -> tuple[int, int, int, int] | None:
    """Where an image is inked: its opaque pixels, or, for an image without transparency
    (a scan on white), its pixels clearly darker than paper."""
    rgba = img.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema() != (255, 255):
        mask = alpha.point(lambda v: 255 if v >= INK_ALPHA else 0)
    else:
        mask = rgba.convert("L").point(lambda v: 255 if v < 200 else 0)
    return mask.getbbox()


def load_image(path: str | Path) -> EncodedImage:
    p = Path(path)
    return _encode_image(str(p.resolve()), p.stat().st_mtime_ns)


@dataclass(frozen=True)
class ImagePlacement:
    image: EncodedImage
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class StampSpec:
    width: float
    height: float
    lines: tuple[TextLine, ...] = ()
    image: ImagePlacement | None = None


def fit_image(
    img_w: int, img_h: int, x: float, y: float, w: float, h: float
) -> tuple[float, float, float, float]:
    """Largest rectangle of the image's aspect ratio centred in (x, y, w, h)."""
    scale = min(w / img_w, h / img_h)
    fw, fh = img_w * scale, img_h * scale
    return x + (w - fw) / 2, y + (h - fh) / 2, fw, fh


def title_lines(authority: str, title: str) -> list[str]:
    """The upper-case lines above the signature: the authority (one or more lines,
    ``TM. ỦY BAN NHÂN DÂN`` / ``KT. CHỦ TỊCH``) and the signer's own title."""
    lines = [line.strip().upper() for line in authority.splitlines() if line.strip()]
    if title.strip():
        lines.append(title.strip().upper())
    return lines


def personal_image_rect(
    width: float,
    height: float,
    img_w: int,
    img_h: int,
    n_title_lines: int = 2,
    titles: bool = True,
    name: bool = True,
) -> tuple[float, float, float, float]:
    """Where the signature image sits inside the leader's signature box: between the
    title lines and the name, or (what the page prints itself is not drawn) in the
    whole box less a small margin."""
    top = (n_title_lines * TITLE_SIZE * LEADING + 6) if titles else 4
    bottom = (NAME_SIZE * LEADING + 6) if name else 4
    return fit_image(img_w, img_h, 4, bottom, width - 8, max(8.0, height - top - bottom))


def personal_spec(
    authority: str,
    title: str,
    full_name: str,
    image: EncodedImage,
    width: float = PERSONAL_WIDTH,
    height: float = PERSONAL_HEIGHT,
    *,
    titles: bool = True,
    name: bool = True,
) -> StampSpec:
    """The leader's appearance. ``titles``/``name`` False: the page prints them already
    (above and below the field), so only the image is drawn."""
    lines = []
    heads = title_lines(authority, title) if titles else []
    top = height - TITLE_SIZE
    for text in heads:
        lines.append(TextLine(text, TITLE_SIZE, True, width / 2, top))
        top -= TITLE_SIZE * LEADING
    if name:
        lines.append(TextLine(full_name, NAME_SIZE, True, width / 2, NAME_SIZE * 0.3 + 2))
    x, y, w, h = personal_image_rect(
        width, height, image.width, image.height, len(heads), titles=bool(heads), name=name
    )
    return StampSpec(width, height, tuple(lines), ImagePlacement(image, x, y, w, h))


def seal_spec(seal: EncodedImage, diameter: float = SEAL_DIAMETER) -> StampSpec:
    ratio = seal.height / seal.width
    return StampSpec(
        diameter, diameter * ratio, image=ImagePlacement(seal, 0, 0, diameter, diameter * ratio)
    )


def seal_rect_for(
    ink_on_page: tuple[float, float, float, float],
    seal: EncodedImage,
    diameter: float = SEAL_DIAMETER,
) -> tuple[float, float, float, float]:
    """The seal image's page rectangle (x1, y1, x2, y2) such that the seal's visible
    right edge (its ink, not the image's transparent margin) lies at one third of the
    signature ink's width, and the seal's ink is centred on the signature ink's
    height: the seal covers the left third of the signature, as Decree 30 shows it.
    ``ink_on_page`` is (x1, y1, x2, y2) in page space."""
    x1, y1, x2, y2 = ink_on_page
    height = diameter * seal.height / seal.width
    _fx1, fy1, fx2, fy2 = seal.ink_fraction()
    right_ink = x1 + (x2 - x1) * SEAL_OVERLAP
    left = right_ink - fx2 * diameter
    cy = (y1 + y2) / 2
    bottom = cy - (fy1 + fy2) / 2 * height
    return (left, bottom, left + diameter, bottom + height)


def signature_ink_on_page(
    source: str | Path | BinaryIO, field_name: str
) -> tuple[int, tuple[float, float, float, float]] | None:
    """The page and the page rectangle (x1, y1, x2, y2) of the visible ink of the images
    a signature field's appearance draws, measured on the images' pixels (alpha), through
    every transformation (annotation rectangle, form matrices, ``cm``); None when the
    field draws no image."""
    import pikepdf

    with pikepdf.open(source) as pdf:
        for index, page in enumerate(pdf.pages):
            for annot in page.obj.get("/Annots", pikepdf.Array()):
                name = annot.get("/T")
                if name is None and "/Parent" in annot:
                    name = annot.Parent.get("/T")
                if name is None or str(name) != field_name or "/AP" not in annot:
                    continue
                ap = annot.AP.get("/N")
                if not isinstance(ap, pikepdf.Stream):
                    return None
                rects = _images_ink(ap, _annotation_matrix(annot, ap), 0)
                if not rects:
                    return None
                return index, (
                    min(r[0] for r in rects),
                    min(r[1] for r in rects),
                    max(r[2] for r in rects),
                    max(r[3] for r in rects),
                )
    return None


Matrix = tuple[float, float, float, float, float, float]


def _mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF row-vector convention: p' = p·m·n)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _bounds(
    m: Matrix, x1: float, y1: float, x2: float, y2: float
) -> tuple[float, float, float, float]:
    pts = [_apply(m, x, y) for x, y in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))]
    return (
        min(p[0] for p in pts),
        min(p[1] for p in pts),
        max(p[0] for p in pts),
        max(p[1] for p in pts),
    )


def _annotation_matrix(annot: object, ap: object) -> Matrix:
    """PDF 32000 §12.5.5: the appearance's BBox, transformed by its Matrix, is fitted
    onto the annotation's Rect."""
    rect = [float(v) for v in annot.Rect]  # type: ignore[attr-defined]
    rx1, ry1, rx2, ry2 = (
        min(rect[0], rect[2]),
        min(rect[1], rect[3]),
        max(rect[0], rect[2]),
        max(rect[1], rect[3]),
    )
    form_m = tuple(float(v) for v in ap.get("/Matrix", [1, 0, 0, 1, 0, 0]))  # type: ignore[attr-defined]
    bx1, by1, bx2, by2 = (float(v) for v in ap.BBox)  # type: ignore[attr-defined]
    tx1, ty1, tx2, ty2 = _bounds(form_m, bx1, by1, bx2, by2)  # type: ignore[arg-type]
    sx = (rx2 - rx1) / (tx2 - tx1) if tx2 > tx1 else 1.0
    sy = (ry2 - ry1) / (ty2 - ty1) if ty2 > ty1 else 1.0
    fit: Matrix = (sx, 0, 0, sy, rx1 - tx1 * sx, ry1 - ty1 * sy)
    return _mul(form_m, fit)  # type: ignore[arg-type]


def _images_ink(form: Any, ctm: Matrix, depth: int) -> list[tuple[float, float, float, float]]:
    import pikepdf

    if depth > 6:
        return []
    xobjects = form.get("/Resources", {}).get("/XObject", {})
    found: list[tuple[float, float, float, float]] = []
    stack: list[Matrix] = []
    current = ctm
    for instruction in pikepdf.parse_content_stream(form):
        operands = list(getattr(instruction, "operands", ()))
        name = str(instruction.operator)
        if name == "q":
            stack.append(current)
        elif name == "Q" and stack:
            current = stack.pop()
        elif name == "cm" and len(operands) == 6:
            current = _mul(tuple(float(v) for v in operands), current)  # type: ignore[arg-type]
        elif name == "Do" and operands:
            xobj = xobjects.get(str(operands[0]))
            if xobj is None:
                continue
            if xobj.get("/Subtype") == "/Image":
                ink = _pdf_image_ink(xobj)
                if ink is not None:
                    found.append(_bounds(current, *ink))
            elif xobj.get("/Subtype") == "/Form":
                m = tuple(float(v) for v in xobj.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                found += _images_ink(xobj, _mul(m, current), depth + 1)  # type: ignore[arg-type]
    return found


def _pdf_image_ink(xobj: Any) -> tuple[float, float, float, float] | None:
    """An image XObject's ink box in its unit square (x1, y1, x2, y2), y up."""
    import pikepdf

    try:
        smask = xobj.get("/SMask")
        if smask is not None:
            alpha = pikepdf.PdfImage(smask).as_pil_image().convert("L")
            mask = alpha.point(lambda v: 255 if v >= INK_ALPHA else 0)
            box = mask.getbbox()
            size = alpha.size
        else:
            img = pikepdf.PdfImage(xobj).as_pil_image()
            box = ink_box(img)
            size = img.size
    except Exception:  # an image we cannot decode: its whole square counts as ink
        return (0.0, 0.0, 1.0, 1.0)
    if box is None:
        return None
    w, h = size
    left, top, right, bottom = box
    return (left / w, 1 - bottom / h, right / w, 1 - top / h)


def copy_lines(copy_type: str, agency: str, t: datetime) -> list[str]:
    """The text of an electronic copy's signature (Appendix I Part II): copy type, the
    copying agency, the signing time in Vietnam time."""
    return [copy_type.upper(), agency, f"Thời gian ký: {vn_time(t)}"]


def copy_block_size(copy_type: str, agency: str) -> tuple[float, float]:
    """The size of the copy signature's text block (the time's digits all have the same
    width, so any time gives the same size): where it fits is found before signing."""
    spec = text_block_spec(copy_lines(copy_type, agency, datetime(2000, 1, 1, tzinfo=VN_TZ)))
    return spec.width, spec.height


def text_block_spec(lines: list[str], size: float = 10.0, padding: float = 3.0) -> StampSpec:
    """A plain, right-aligned block of serif text (attachment and copy signatures)."""
    font = vietnamese_serif(False)
    w = max(font.width(t, size) for t in lines) + 2 * padding
    leading = size * 1.2
    h = leading * len(lines) + 2 * padding
    spec_lines = tuple(
        TextLine(t, size, False, w - padding, h - padding - size * 0.95 - i * leading, "right")
        for i, t in enumerate(lines)
    )
    return StampSpec(w, h, spec_lines)


@dataclass(frozen=True)
class Decree30StampStyle(BaseStampStyle):
    """A stamp drawn from a :class:`StampSpec`: no border, no background."""

    spec: StampSpec = field(default_factory=lambda: StampSpec(1, 1))
    border_width: int = 0

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, object]
    ) -> Decree30Stamp:
        return Decree30Stamp(writer, self, box)


class Decree30Stamp(BaseStamp):
    style: Decree30StampStyle

    def _render_inner_content(self) -> list[bytes]:
        spec = self.style.spec
        box = self.box
        sx = box.width / spec.width if box.width_defined else 1.0
        sy = box.height / spec.height if box.height_defined else 1.0
        out: list[bytes] = [b"q %g 0 0 %g 0 0 cm" % (sx, sy)]
        if spec.image is not None:
            p = spec.image
            if self.writer is None:  # pyHanko always renders a stamp for a writer
                raise ValueError("the signature appearance has no PDF writer to draw into")
            self.set_resource(
                ResourceType.XOBJECT, pdf_name("/EdmsImg"), p.image.add_to(self.writer)
            )
            out.append(b"q %g 0 0 %g %g %g cm /EdmsImg Do Q" % (p.width, p.height, p.x, p.y))
        for bold in sorted({line.bold for line in spec.lines}):
            name = "/EdmsSerifBold" if bold else "/EdmsSerif"
            self.set_resource(
                ResourceType.FONT, pdf_name(name), vietnamese_serif(bold).add_to(self.writer)
            )
        for line in spec.lines:
            font = vietnamese_serif(line.bold)
            name = "/EdmsSerifBold" if line.bold else "/EdmsSerif"
            width = font.width(line.text, line.size)
            if line.anchor == "center":
                x = line.x - width / 2
            elif line.anchor == "right":
                x = line.x - width
            else:
                x = line.x
            out.append(
                b"BT 0 0 0 rg %s %g Tf 1 0 0 1 %g %g Tm %s ET"
                % (name.encode(), line.size, x, line.y, font.show(line.text))
            )
        out.append(b"Q")
        return out
