"""Signature appearances as Decree 30 (Appendix I) lays them out.

* ``personal``: the leader's blue signature image centred between the authority/title
  lines (upper case, bold) above and the full name (bold) below.
* ``organization``: the agency's red seal at real size, placed over the left third of the
  leader's signature image (see :func:`seal_rect_for`).
* ``attachment`` and ``copy``: no image; a serif 10 pt text block at the top right of the
  first page.

Text is set in Liberation Serif (metric-compatible with Times New Roman), embedded as a
subset, so Vietnamese diacritics render in every viewer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from .fonts import font_engine, serif_font_path

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MM = 72 / 25.4

# the leader's signature box (points) and its inner layout
PERSONAL_WIDTH = 220.0
PERSONAL_HEIGHT = 130.0
TITLE_SIZE = 11.0
NAME_SIZE = 11.0
IMAGE_TOP_GAP = 2 * TITLE_SIZE * 1.25 + 6  # below the two title lines
IMAGE_BOTTOM_GAP = NAME_SIZE * 1.25 + 6  # above the name line
SEAL_DIAMETER = 38 * MM


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
class ImagePlacement:
    image: Image.Image
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


def fit_image(img_w: int, img_h: int, x: float, y: float, w: float, h: float
              ) -> tuple[float, float, float, float]:
    """Largest rectangle of the image's aspect ratio centred in (x, y, w, h)."""
    scale = min(w / img_w, h / img_h)
    fw, fh = img_w * scale, img_h * scale
    return x + (w - fw) / 2, y + (h - fh) / 2, fw, fh


def personal_image_rect(width: float, height: float, img_w: int, img_h: int
                        ) -> tuple[float, float, float, float]:
    """Where the signature image sits inside the leader's signature box."""
    band_h = height - IMAGE_TOP_GAP - IMAGE_BOTTOM_GAP
    return fit_image(img_w, img_h, 4, IMAGE_BOTTOM_GAP, width - 8, band_h)


def personal_spec(authority: str, title: str, full_name: str, image: Image.Image,
                  width: float = PERSONAL_WIDTH, height: float = PERSONAL_HEIGHT) -> StampSpec:
    lines = []
    top = height - TITLE_SIZE
    for text in (authority, title):
        if text:
            lines.append(TextLine(text.upper(), TITLE_SIZE, True, width / 2, top))
            top -= TITLE_SIZE * 1.25
    lines.append(TextLine(full_name, NAME_SIZE, True, width / 2, NAME_SIZE * 0.3 + 2))
    x, y, w, h = personal_image_rect(width, height, image.width, image.height)
    return StampSpec(width, height, tuple(lines), ImagePlacement(image, x, y, w, h))


def seal_spec(seal: Image.Image, diameter: float = SEAL_DIAMETER) -> StampSpec:
    ratio = seal.height / seal.width
    return StampSpec(diameter, diameter * ratio,
                     image=ImagePlacement(seal, 0, 0, diameter, diameter * ratio))


def seal_rect_for(image_rect_on_page: tuple[float, float, float, float],
                  diameter: float = SEAL_DIAMETER) -> tuple[float, float, float, float]:
    """The seal's page rectangle (x1, y1, x2, y2): its right edge at one third of the
    signature image's width, vertically centred on the image — so it covers the left
    third of the signature, as Decree 30 shows it."""
    x, y, w, h = image_rect_on_page
    right = x + w / 3
    cy = y + h / 2
    return (right - diameter, cy - diameter / 2, right, cy + diameter / 2)


def text_block_spec(lines: list[str], size: float = 10.0, padding: float = 3.0) -> StampSpec:
    """A plain, right-aligned block of serif text (attachment and copy signatures)."""
    from fontTools.ttLib import TTFont

    font = TTFont(serif_font_path(False), lazy=True)
    cmap = font.getBestCmap()
    hmtx = font["hmtx"]
    upem = font["head"].unitsPerEm

    def width(s: str) -> float:
        return sum(hmtx[cmap.get(ord(ch), cmap[ord("?")])][0] for ch in s) * size / upem

    lines = [unicodedata.normalize("NFC", t) for t in lines]
    w = max(width(t) for t in lines) + 2 * padding
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

    def create_stamp(self, writer: BasePdfFileWriter, box: layout.BoxConstraints,
                     text_params: dict[str, object]) -> Decree30Stamp:
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
            img = PdfImage(p.image, writer=self.writer, box=layout.BoxConstraints(p.width,
                                                                                 p.height))
            drawn = img.render()
            self.import_resources(img.resources)
            out.append(b"q 1 0 0 1 %g %g cm %s Q" % (p.x, p.y, drawn))
        engines = {}
        for bold in {line.bold for line in spec.lines}:
            name = "/EdmsSerifBold" if bold else "/EdmsSerif"
            engine = font_engine(self.writer, bold)
            engines[bold] = (name, engine)
        for line in spec.lines:
            name, engine = engines[line.bold]
            engine.font_size = line.size
            shaped = engine.shape(line.text)
            width = shaped.x_advance * line.size
            if line.anchor == "center":
                x = line.x - width / 2
            elif line.anchor == "right":
                x = line.x - width
            else:
                x = line.x
            out.append(b"BT 0 0 0 rg %s %g Tf 1 0 0 1 %g %g Tm %s ET" % (
                name.encode(), line.size, x, line.y, shaped.graphics_ops))
        for bold, (name, engine) in engines.items():
            del bold
            self.set_resource(ResourceType.FONT, pdf_name(name), engine.as_resource())
        out.append(b"Q")
        return out
