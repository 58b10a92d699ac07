"""Scanned paper, made here: Vietnamese text rendered into page images at a chosen
resolution (as a scanner would deliver them), and broken or disguised files."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signing.fonts import serif_font_path

A4_INCHES = (8.27, 11.69)


def scan_page(
    path: Path, lines: list[str], dpi: int = 300, fmt: str = "PNG", colour: bool = True
) -> Path:
    """One A4 page with ``lines`` of text at 14 pt, saved at ``dpi``."""
    w, h = int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi)
    im = Image.new("RGB" if colour else "L", (w, h), "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(serif_font_path(False), size=int(14 * dpi / 72))
    y = int(1.2 * dpi)
    for line in lines:
        draw.text((int(0.9 * dpi), y), line, fill=(0, 0, 0) if colour else 0, font=font)
        y += int(0.32 * dpi)
    if colour:  # a red stamp, as on real results: colour must survive
        r = int(0.5 * dpi)
        cx, cy = int(5.5 * dpi), y + 2 * r
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(200, 0, 0), width=8)
    im.save(path, fmt, dpi=(dpi, dpi))
    return path


def multipage_tiff(path: Path, pages: list[list[str]], dpi: int = 300) -> Path:
    frames = []
    for i, lines in enumerate(pages):
        frames.append(Image.open(scan_page(path.with_name(f".tif{i}.png"), lines, dpi)))
    frames[0].save(
        path,
        "TIFF",
        save_all=True,
        append_images=frames[1:],
        dpi=(dpi, dpi),
        compression="tiff_deflate",
    )
    return path


def corrupt_tiff(path: Path) -> Path:
    good = multipage_tiff(path.with_name("good.tif"), [["Trang hỏng"]])
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # truncated in transfer
    return path
