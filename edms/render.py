"""Rendering: PDFs made by the System (draft templates, register exports: ReportLab with
the Vietnamese serif fonts, Liberation Serif, metric-compatible with Times New Roman,
which Decree 30 prescribes, registered once per process), and page previews of stored
documents.

A preview is rendered by poppler (``pdftoppm``) in a child process under a memory limit
(``EDMS_RENDER_MEMORY_MB``), a CPU limit and a timeout, at a bounded size whatever the
page declares, once per file version and page: the PNG (or, for an hour, the failure) is kept in a
content-addressed cache (``EDMS_DATA_DIR/cache/previews``), so a costly page costs once.
"""

from __future__ import annotations

import os
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from signing.fonts import serif_font_path

from .errors import EdmsError, ServiceUnavailable
from .limits import run_limited

if TYPE_CHECKING:
    from .system import System

SERIF = "EdmsSerif"
PREVIEW_PIXELS = 1100  # the longer side of a preview, whatever the page's size
PREVIEW_SECONDS = 20
MAX_PREVIEW_PAGE = 500
FAILURE_KEPT = 3600  # seconds a failed page is not tried again


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


class PreviewUnavailable(EdmsError):
    status = 422
    title = "No preview"
    type_slug = "preview-unavailable"


def page_preview(system: System, actor: str, doc_id: int, page: int) -> bytes:
    """Page ``page`` (1-based) of the document's current PDF as a PNG, for ``actor``
    (the same access check and audit as a download)."""
    from . import blobs
    from .documents import open_file

    if not 1 <= page <= MAX_PREVIEW_PAGE:
        raise PreviewUnavailable(f"pages 1 to {MAX_PREVIEW_PAGE} can be previewed")
    f, _blob = open_file(system, actor, doc_id)
    cache_dir = system.settings.data_dir / "cache" / "previews"
    cache_dir.mkdir(parents=True, exist_ok=True)
    png, failed = cache_dir / f"{f.sha256}-{page}.png", cache_dir / f"{f.sha256}-{page}.fail"
    if png.is_file():
        return png.read_bytes()
    if failed.is_file() and time.time() - failed.stat().st_mtime < FAILURE_KEPT:
        raise PreviewUnavailable(failed.read_text(errors="replace"))
    with blobs.workdir(system, "preview") as wd:
        blobs.export_to_file(system, f.sha256, wd / "doc.pdf")
        reason = _render(system, wd / "doc.pdf", page, wd / "p")
        if reason is not None:
            failed.write_text(reason)
            raise PreviewUnavailable(reason)
        os.replace(wd / "p.png", png)
    return png.read_bytes()


def _render(system: System, pdf: Path, page: int, out: Path) -> str | None:
    """Render one page to ``out``.png; the reason when it cannot be."""
    cmd = [
        "pdftoppm",
        "-png",
        "-scale-to",
        str(PREVIEW_PIXELS),
        "-f",
        str(page),
        "-l",
        str(page),
        "-singlefile",
        str(pdf),
        str(out),
    ]
    try:
        done = run_limited(cmd, memory_mb=system.settings.render_memory_mb, timeout=PREVIEW_SECONDS)
    except subprocess.TimeoutExpired:
        return f"page {page} takes longer than {PREVIEW_SECONDS} s to draw"
    if done.returncode != 0 or not out.with_suffix(".png").is_file():
        return (
            f"page {page} cannot be drawn (no such page, or it needs more than the memory allowed)"
        )
    return None
