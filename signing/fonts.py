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


def font_engine(writer: object, bold: bool = False) -> object:
    """A subsetting, shaping font engine for ``writer`` with correct PDF metrics.

    pyHanko 0.38's GlyphAccumulator writes glyph widths and kerning adjustments in the
    font's own units; PDF wants thousandths of an em. For a 1000-unit font (most CFF
    fonts) that is the same thing, but Liberation Serif, like most TrueType fonts, has
    2048 units per em, and every glyph would be spaced about twice too wide. This engine
    asks HarfBuzz for positions in 1000 units and scales the widths to match.
    """
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

    class _ThousandUnitAccumulator(GlyphAccumulator):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._width_scale = 1000 / self.units_per_em
            self.units_per_em = 1000
            self.hb_font.scale = (1000, 1000)

        def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
            cached = self._glyphs.get(glyph_id)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
            cid, width = super()._get_cid_and_width(glyph_id)
            result = (cid, round(width * self._width_scale))
            self._glyphs[glyph_id] = result
            return result

    obj_stream = None
    if getattr(writer, "stream_xrefs", False):
        obj_stream = writer.prepare_object_stream()  # type: ignore[attr-defined]
    return _ThousandUnitAccumulator(
        writer=writer, font_handle=open(serif_font_path(bold), "rb"),
        font_size=10, obj_stream=obj_stream,
    )
