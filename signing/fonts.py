"""Fonts for signature appearances: Liberation Serif (metric-compatible with Times New
Roman, as Decree 30 asks; Debian ``fonts-liberation2``), which covers Vietnamese."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_STYLES = {
    (False, False): ("Regular", ""),
    (True, False): ("Bold", "-Bold"),
    (False, True): ("Italic", "-Italic"),
    (True, True): ("BoldItalic", "-BoldItalic"),
}
_CANDIDATES = {
    key: [
        f"/usr/share/fonts/truetype/liberation2/LiberationSerif-{lib}.ttf",
        f"/usr/share/fonts/truetype/liberation/LiberationSerif-{lib}.ttf",
        f"/usr/share/fonts/truetype/dejavu/DejaVuSerif{dejavu}.ttf",
    ]
    for key, (lib, dejavu) in _STYLES.items()
}


class FontMissing(RuntimeError):
    pass


@cache
def serif_font_path(bold: bool = False, italic: bool = False) -> str:
    """The serif font file of a style; an italic that is not installed falls back to the
    upright style (Decree 30's italic lines then come out upright, never missing)."""
    for candidate in _CANDIDATES[(bold, italic)] + (_CANDIDATES[(bold, False)] if italic else []):
        if Path(candidate).is_file():
            return candidate
    raise FontMissing(
        "no serif font with Vietnamese glyphs found: install Debian package "
        "fonts-liberation2 (`make setup` does it when run as root)"
    )


# What Vietnamese official documents need: ASCII, Latin-1 letters, the Vietnamese letters
# (Latin Extended-A/B: Ă Đ Ĩ Ũ Ơ Ư ..., Latin Extended Additional: Ạ..ỹ), combining marks,
# typographic punctuation.
_REPERTOIRE = (
    list(range(0x20, 0x7F))
    + list(range(0xA0, 0x180))
    + list(range(0x1A0, 0x1B1))
    + list(range(0x300, 0x324))
    + list(range(0x1EA0, 0x1EFA))
    + [0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2026, 0x20AB]
)


@dataclass(frozen=True)
class EmbeddableFont:
    """A serif font subset to the Vietnamese repertoire, built and compressed once per
    process, then embedded in each document as ready-made bytes.

    pyHanko's GlyphAccumulator re-subsets the whole TrueType font for every document
    (tens of milliseconds) and, in pyHanko 0.38, writes widths in font units instead of
    thousandths of an em (every glyph of a 2048-unit font such as Liberation Serif would
    be spaced twice too wide). Vietnamese in NFC needs no complex shaping, so a cmap
    lookup is all the layout a signature line needs.
    """

    ps_name: str
    font_file: bytes  # zlib-compressed TrueType subset (glyph ids retained)
    length1: int
    cmap: dict[int, int]  # code point -> glyph id
    widths: dict[int, int]  # glyph id -> advance in 1/1000 em
    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]
    to_unicode: bytes  # zlib-compressed ToUnicode CMap
    italic_angle: int = 0

    def glyphs(self, text: str) -> list[int]:
        text = unicodedata.normalize("NFC", text)
        fallback = self.cmap.get(ord("?"), 0)
        return [self.cmap.get(ord(ch), fallback) for ch in text]

    def width(self, text: str, size: float) -> float:
        """Advance of ``text`` at ``size`` points."""
        return sum(self.widths.get(g, 0) for g in self.glyphs(text)) * size / 1000

    def show(self, text: str) -> bytes:
        """The operand and operator that show ``text`` (Identity-H glyph ids)."""
        return b"<" + "".join(f"{g:04x}" for g in self.glyphs(text)).encode() + b"> Tj"

    def add_to(self, writer: Any) -> Any:
        """Embed in ``writer``; returns the reference of the Type0 font dictionary."""
        from pyhanko.pdf_utils import generic
        from pyhanko.pdf_utils.generic import pdf_name

        def num(v: float) -> Any:
            return generic.NumberObject(int(v))

        font_file = generic.StreamObject(
            {
                pdf_name("/Length1"): num(self.length1),
                pdf_name("/Filter"): pdf_name("/FlateDecode"),
            },
            encoded_data=self.font_file,
        )
        descriptor = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/FontDescriptor"),
                pdf_name("/FontName"): pdf_name("/" + self.ps_name),
                # serif, non-symbolic, italic when slanted
                pdf_name("/Flags"): num(34 | (64 if self.italic_angle else 0)),
                pdf_name("/FontBBox"): generic.ArrayObject([num(v) for v in self.bbox]),
                pdf_name("/ItalicAngle"): num(self.italic_angle),
                pdf_name("/Ascent"): num(self.ascent),
                pdf_name("/Descent"): num(self.descent),
                pdf_name("/CapHeight"): num(self.cap_height),
                pdf_name("/StemV"): num(80),
                pdf_name("/FontFile2"): writer.add_object(font_file),
            }
        )
        w_array = generic.ArrayObject()
        for gid in sorted(self.widths):
            w_array.append(num(gid))
            w_array.append(generic.ArrayObject([num(self.widths[gid])]))
        cid_font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
                pdf_name("/BaseFont"): pdf_name("/" + self.ps_name),
                pdf_name("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        pdf_name("/Registry"): generic.pdf_string("Adobe"),
                        pdf_name("/Ordering"): generic.pdf_string("Identity"),
                        pdf_name("/Supplement"): num(0),
                    }
                ),
                pdf_name("/FontDescriptor"): writer.add_object(descriptor),
                pdf_name("/W"): w_array,
                pdf_name("/CIDToGIDMap"): pdf_name("/Identity"),
            }
        )
        to_unicode = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=self.to_unicode
        )
        return writer.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Font"),
                    pdf_name("/Subtype"): pdf_name("/Type0"),
                    pdf_name("/BaseFont"): pdf_name("/" + self.ps_name),
                    pdf_name("/Encoding"): pdf_name("/Identity-H"),
                    pdf_name("/DescendantFonts"): generic.ArrayObject(
                        [writer.add_object(cid_font)]
                    ),
                    pdf_name("/ToUnicode"): writer.add_object(to_unicode),
                }
            )
        )


@cache
def vietnamese_serif(bold: bool = False, italic: bool = False) -> EmbeddableFont:
    import io
    import zlib

    from fontTools import subset
    from fontTools.ttLib import TTFont

    path = serif_font_path(bold, italic)
    font = TTFont(path)
    full_cmap = font.getBestCmap()
    upem = font["head"].unitsPerEm
    wanted = [cp for cp in _REPERTOIRE if cp in full_cmap]
    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.drop_tables += ["FFTM", "DSIG"]
    options.layout_features = []
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    raw = buf.getvalue()
    order = font.getGlyphOrder()
    cmap = {cp: font.getGlyphID(full_cmap[cp]) for cp in wanted}
    hmtx = font["hmtx"]
    widths = {gid: round(hmtx[order[gid]][0] * 1000 / upem) for gid in set(cmap.values())}
    head, os2 = font["head"], font["OS/2"]

    def scale(v: float) -> int:
        return round(v * 1000 / upem)

    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    pairs = sorted({gid: cp for cp, gid in cmap.items()}.items())
    for i in range(0, len(pairs), 100):
        chunk = pairs[i : i + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{gid:04x}> <{cp:04x}>" for gid, cp in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    base = font["name"].getDebugName(6) or ("LiberationSerif" + _STYLES[(bold, italic)][1])
    return EmbeddableFont(
        ps_name=f"EDMSVN+{base}",
        font_file=zlib.compress(raw, 6),
        length1=len(raw),
        cmap=cmap,
        widths=widths,
        ascent=scale(os2.sTypoAscender),
        descent=scale(os2.sTypoDescender),
        cap_height=scale(getattr(os2, "sCapHeight", 0) or os2.sTypoAscender * 0.7),
        bbox=(scale(head.xMin), scale(head.yMin), scale(head.xMax), scale(head.yMax)),
        to_unicode=zlib.compress("\n".join(lines).encode()),
        italic_angle=round(font["post"].italicAngle),
    )
