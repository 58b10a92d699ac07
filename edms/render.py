"""Rendering the PDFs made by the System (draft templates, register exports, receipts):
ReportLab with the Vietnamese serif fonts, Liberation Serif, metric-compatible with Times
New Roman, which Decree 30 prescribes, registered once per process.

A leaf of the domain: it imports no other ``edms`` module but the errors, so every
module that draws a PDF may use it. Page previews of stored documents are in
:mod:`edms.previews`.
"""

from __future__ import annotations

import os
from functools import cache

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from signing.fonts import serif_font_path

from .errors import ServiceUnavailable

SERIF = "EdmsSerif"


@cache
def register_fonts() -> str:
    """Register regular, bold, italic and bold italic; returns the family name."""
    regular = serif_font_path(False)
    bold = serif_font_path(True)
    variants = {
        SERIF: regular,
        f"{SERIF}-Bold": bold,
        f"{SERIF}-Italic": regular.replace("-Regular", "-Italic"),
        f"{SERIF}-BoldItalic": regular.replace("-Regular", "-BoldItalic"),
    }
    for name, path in variants.items():
        if not os.path.isfile(path):
            path = bold if "Bold" in name else regular
        try:
            pdfmetrics.registerFont(TTFont(name, path))
        except Exception as exc:  # a missing or broken font must say so, not crash later
            raise ServiceUnavailable(
                f"cannot load the serif font {path}: {exc}; install fonts-liberation2"
            ) from exc
    addMapping(SERIF, 0, 0, SERIF)
    addMapping(SERIF, 1, 0, f"{SERIF}-Bold")
    addMapping(SERIF, 0, 1, f"{SERIF}-Italic")
    addMapping(SERIF, 1, 1, f"{SERIF}-BoldItalic")
    return SERIF
