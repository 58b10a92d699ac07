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

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
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
class EncodedImage:
    """A signature or seal image, decoded and compressed once per process: each document
    then embeds the ready-made streams (RGB plus an alpha soft mask)."""

    width: int
    height: int
    rgb: bytes  # zlib-compressed 8-bit RGB samples
    alpha: bytes | None  # zlib-compressed 8-bit alpha samples, when not fully opaque

    def add_to(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        def image(data: bytes, colour: str) -> generic.StreamObject:
            return generic.StreamObject({
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(self.width),
                pdf_name("/Height"): generic.NumberObject(self.height),
                pdf_name("/ColorSpace"): pdf_name(colour),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                pdf_name("/Filter"): pdf_name("/FlateDecode"),
            }, encoded_data=data)

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
        rgba.width, rgba.height,
        zlib.compress(rgba.convert("RGB").tobytes(), 6),
        None if opaque else zlib.compress(alpha.tobytes(), 6),
    )


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


def personal_spec(authority: str, title: str, full_name: str, image: EncodedImage,
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


def seal_spec(seal: EncodedImage, diameter: float = SEAL_DIAMETER) -> StampSpec:
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
            self.set_resource(ResourceType.XOBJECT, pdf_name("/EdmsImg"),
                              p.image.add_to(self.writer))
            out.append(b"q %g 0 0 %g %g %g cm /EdmsImg Do Q" % (p.width, p.height, p.x, p.y))
        for bold in sorted({line.bold for line in spec.lines}):
            name = "/EdmsSerifBold" if bold else "/EdmsSerif"
            self.set_resource(ResourceType.FONT, pdf_name(name),
                              vietnamese_serif(bold).add_to(self.writer))
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
            out.append(b"BT 0 0 0 rg %s %g Tf 1 0 0 1 %g %g Tm %s ET" % (
                name.encode(), line.size, x, line.y, font.show(line.text)))
        out.append(b"Q")
        return out
