"""Measuring rendered pages (poppler's pdftoppm), as an inspector looking at the paper
would: where the blue signature ink and the red seal ink are, how tall and how heavy a
line of text is, whether it slants."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom (pixels)


def render(pdf: Path, page: int, dpi: int, out_dir: Path, name: str = "page") -> Image.Image:
    """Page ``page`` (1-based) of ``pdf`` as an RGB image at ``dpi``."""
    stem = out_dir / f"{name}-{page}-{dpi}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(pdf),
            str(stem),
        ],
        check=True,
        timeout=120,
    )
    with Image.open(stem.with_suffix(".png")) as im:
        return im.convert("RGB")


def is_blue(p: tuple[int, int, int]) -> bool:
    r, g, b = p
    return b > 110 and b > r + 45 and b > g + 20


def is_red(p: tuple[int, int, int]) -> bool:
    r, g, b = p
    return r > 140 and r > g + 70 and r > b + 70


def ink_box(image: Image.Image, test: object, within: Box | None = None) -> Box | None:
    """The bounding box of the pixels ``test`` accepts (optionally inside ``within``)."""
    left, top, right, bottom = within or (0, 0, image.width, image.height)
    px = image.load()
    xs, ys = [], []
    for y in range(top, bottom):
        for x in range(left, right):
            if test(px[x, y]):  # type: ignore[operator,index]
                xs.append(x)
                ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


@dataclass(frozen=True)
class SealOverlap:
    ink: Box  # the signature's blue ink
    seal: Box  # the seal's red ink
    ratio: float  # how far into the signature ink's width the seal reaches, from its left


def seal_overlap(image: Image.Image) -> SealOverlap:
    ink = ink_box(image, is_blue)
    assert ink is not None, "no blue signature ink on the page"
    # the seal: red ink around the signature
    pad = image.width // 4
    around = (
        max(0, ink[0] - pad),
        max(0, ink[1] - pad),
        min(image.width, ink[2] + pad),
        min(image.height, ink[3] + pad),
    )
    seal = ink_box(image, is_red, around)
    assert seal is not None, "no red seal ink near the signature"
    return SealOverlap(ink, seal, (seal[2] - ink[0]) / (ink[2] - ink[0]))


def dark(p: tuple[int, int, int]) -> bool:
    """Black ink (not the blue signature nor the red seal)."""
    return max(p) < 110


def text_metrics(image: Image.Image, box: Box) -> tuple[int, float]:
    """Of the black text inside ``box``: the height of its capital letters' ink (rows
    where at least a tenth of the densest row is inked, which leaves out diacritics above
    capitals and the few descenders), and its ink density (dark pixels per pixel of the
    inked rows) — bold text is about twice as dense as regular text of the same size."""
    crop = image.crop(box)
    px = crop.load()
    rows = [sum(1 for x in range(crop.width) if dark(px[x, y])) for y in range(crop.height)]
    peak = max(rows) if rows else 0
    if peak == 0:
        return 0, 0.0
    inked = [y for y, n in enumerate(rows) if n >= peak * 0.1]
    # the longest run of consecutive inked rows: the letters' body
    best, run, start = (0, 0), 0, 0
    for i, y in enumerate(inked):
        if i and y == inked[i - 1] + 1:
            run += 1
        else:
            run, start = 1, y
        if run > best[1]:
            best = (start, run)
    height = best[1]
    rows_ink = sum(rows[best[0] : best[0] + height])
    cols = [
        x
        for x in range(crop.width)
        if any(dark(px[x, y]) for y in range(best[0], best[0] + height))
    ]
    width = (max(cols) - min(cols) + 1) if cols else 1
    return height, rows_ink / (height * width)


def slant(image: Image.Image, box: Box) -> float:
    """The slant of the text inside ``box`` in degrees, positive when it leans right
    (italic Liberation Serif: about 12-16; upright: about 0): the shear that makes the
    ink's columns most vertical (each row shifted back by its height times the slope)."""
    import math

    crop = image.crop(box).convert("L")
    w, h = crop.size
    data = crop.tobytes()
    ink = [[x for x in range(w) if data[y * w + x] < 110] for y in range(h)]
    best, best_score = 0.0, -1
    for tenth in range(-100, 260, 10):
        k = math.tan(math.radians(tenth / 10))
        hist: dict[int, int] = {}
        for y, xs in enumerate(ink):
            shift = round(k * (h - y))
            for x in xs:
                hist[x - shift] = hist.get(x - shift, 0) + 1
        score = sum(v * v for v in hist.values())
        if score > best_score:
            best, best_score = tenth / 10, score
    return best


def words(pdf: Path, page: int = 1) -> list[tuple[str, float, float, float, float]]:
    """pdftotext's words of a page: (text, xMin, yMin, xMax, yMax) in points, top-left
    origin (form field appearances included)."""
    html = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-bbox", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (m[5], float(m[1]), float(m[2]), float(m[3]), float(m[4]))
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)', html
        )
    ]


def box_of(found: list[tuple[str, float, float, float, float]], dpi: int) -> Box:
    """The pixel box around words (points → pixels at ``dpi``)."""
    s = dpi / 72
    return (
        int(min(w[1] for w in found) * s) - 2,
        int(min(w[2] for w in found) * s) - 2,
        int(max(w[3] for w in found) * s) + 2,
        int(max(w[4] for w in found) * s) + 2,
    )
