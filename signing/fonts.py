"""Fonts for signature appearances: Liberation Serif (metric-compatible with Times New
Roman, as Decree 30 asks; Debian ``fonts-liberation2``), which covers Vietnamese."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_CANDIDATES = {
    False: [
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    ],
    True: [
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    ],
}


class FontMissing(RuntimeError):
    pass


@cache
def serif_font_path(bold: bool = False) -> str:
    for candidate in _CANDIDATES[bold]:
        if Path(candidate).is_file():
            return candidate
    raise FontMissing(
        "no serif font with Vietnamese glyphs found: install Debian package "
        "fonts-liberation2 (`make setup` does it when run as root)"
    )
