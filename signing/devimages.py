"""Drawn (not copied) images for the development PKI: a leader's handwritten-style
signature in blue and an agency's round red seal, both on transparent PNG backgrounds.

DEVELOPMENT ONLY: real agencies upload scans of their own signature and seal.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .fonts import serif_font_path

SEAL_DPI = 300
SEAL_DIAMETER_MM = 38.0
SIGNATURE_BLUE = (18, 52, 160, 255)
SEAL_RED = (210, 20, 30, 255)


def _bezier(
    p0: tuple[float, float],
    p1: tuple[float, float],
    p2: tuple[float, float],
    p3: tuple[float, float],
    steps: int = 40,
) -> list[tuple[float, float]]:
    pts = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        pts.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return pts


def draw_signature(
    name: str, target: Path, *, seed: int = 0, size: tuple[int, int] = (900, 360)
) -> Path:
    """A flowing blue scribble in the style of a Vietnamese signature: an initial loop, a
    run of connected waves, and an underline flourish. Deterministic for a seed and name."""
    rng = random.Random(f"{seed}:{name}")
    w, h = size
    scale = 3  # draw large, downsample: smooth anti-aliased strokes
    img = Image.new("RGBA", (w * scale, h * scale), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    width = int(7 * scale)
    mid = h * scale * 0.5

    # the initial: a tall loop
    x0 = w * scale * 0.12
    loop = _bezier(
        (x0, mid + 60 * scale),
        (x0 - 70 * scale, mid - 180 * scale),
        (x0 + 120 * scale, mid - 200 * scale),
        (x0 + 40 * scale, mid + 40 * scale),
    )
    d.line(loop, fill=SIGNATURE_BLUE, width=width, joint="curve")
    # connected waves whose count follows the letters of the name
    x = x0 + 40 * scale
    y = mid + 40 * scale
    letters = max(5, min(12, len(name.replace(" ", "")) // 2))
    for _ in range(letters):
        dx = rng.uniform(38, 62) * scale
        up = rng.uniform(60, 130) * scale
        seg = _bezier(
            (x, y),
            (x + dx * 0.2, y - up),
            (x + dx * 0.8, y - up * 0.6),
            (x + dx, y + rng.uniform(-15, 25) * scale),
        )
        d.line(seg, fill=SIGNATURE_BLUE, width=width, joint="curve")
        x, y = seg[-1]
    # the flourish: a long underline sweeping back left
    flourish = _bezier(
        (x, y),
        (x + 60 * scale, y + 70 * scale),
        (x0 + 40 * scale, mid + 140 * scale),
        (x0 - 20 * scale, mid + 90 * scale),
    )
    d.line(flourish, fill=SIGNATURE_BLUE, width=int(width * 0.8), joint="curve")
    img = img.filter(ImageFilter.GaussianBlur(scale * 0.6))
    # fit the drawing to the canvas with a small margin
    bbox = img.getbbox() or (0, 0, img.width, img.height)
    drawing = img.crop(bbox)
    margin = 0.06
    fit = (
        min(
            w * (1 - 2 * margin) / drawing.width * scale,
            h * (1 - 2 * margin) / drawing.height * scale,
        )
        / scale
    )
    drawing = drawing.resize(
        (max(1, int(drawing.width * fit)), max(1, int(drawing.height * fit))),
        Image.Resampling.LANCZOS,
    )
    out = Image.new("RGBA", size, (0, 0, 0, 0))
    out.alpha_composite(drawing, ((w - drawing.width) // 2, (h - drawing.height) // 2))
    out.save(target, dpi=(300, 300))
    return target


def _text_on_circle(
    img: Image.Image,
    text: str,
    center: tuple[float, float],
    radius: float,
    font: ImageFont.FreeTypeFont,
) -> None:
    """Upper-case text running clockwise along the top of a circle, centred at the top."""
    advances = [font.getlength(ch) for ch in text]
    total = sum(advances) * 1.08
    span = min(total / radius, math.radians(300))
    angle = -math.pi / 2 - span / 2
    per_unit = span / sum(advances)
    for ch, adv in zip(text, advances, strict=True):
        theta = angle + adv * per_unit / 2
        angle += adv * per_unit
        if ch == " ":
            continue
        bbox = font.getbbox(ch)
        cw, chh = bbox[2] - bbox[0] + 8, font.size * 2
        glyph = Image.new("RGBA", (int(cw) + 8, int(chh)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((4 - bbox[0], font.size * 0.5), ch, font=font, fill=SEAL_RED)
        rotated = glyph.rotate(
            -math.degrees(theta) - 90, resample=Image.Resampling.BICUBIC, expand=True
        )
        px = center[0] + radius * math.cos(theta) - rotated.width / 2
        py = center[1] + radius * math.sin(theta) - rotated.height / 2
        img.alpha_composite(rotated, (int(px), int(py)))


def draw_seal(
    agency: str,
    target: Path,
    *,
    diameter_mm: float = SEAL_DIAMETER_MM,
    dpi: int = SEAL_DPI,
    centre_text: str = "DEV",
) -> Path:
    """A round red seal at real size (``diameter_mm`` at ``dpi``): double outer ring, the
    agency's name around the top, a five-pointed star in the centre."""
    px = round(diameter_mm / 25.4 * dpi)
    img = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c = px / 2
    ring = max(4, px // 70)
    d.ellipse((ring, ring, px - ring, px - ring), outline=SEAL_RED, width=ring)
    inner = px * 0.15
    d.ellipse((inner, inner, px - inner, px - inner), outline=SEAL_RED, width=max(2, ring // 2))
    font = ImageFont.truetype(serif_font_path(bold=True), size=max(12, int(px * 0.062)))
    # the name runs in the band between the inner ring (0.35) and the outer ring (0.48)
    _text_on_circle(img, agency, (c, c), px * 0.418, font)
    # five-pointed star
    r_out, r_in = px * 0.13, px * 0.05
    pts = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        a = -math.pi / 2 + i * math.pi / 5
        pts.append((c + r * math.cos(a), c - px * 0.02 + r * math.sin(a)))
    d.polygon(pts, fill=SEAL_RED)
    small = ImageFont.truetype(serif_font_path(bold=True), size=max(10, int(px * 0.06)))
    tw = d.textlength(centre_text, font=small)
    d.text((c - tw / 2, c + px * 0.14), centre_text, font=small, fill=SEAL_RED)
    img.save(target, dpi=(dpi, dpi))
    return target
