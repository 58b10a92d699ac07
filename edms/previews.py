"""Page previews of stored documents, for the web page of a document.

A preview is rendered by poppler (``pdftoppm``) in a child process under a memory limit
(``EDMS_RENDER_MEMORY_MB``), a CPU limit and a timeout, at a bounded size whatever the
page declares, once per file version and page: the PNG (or, for an hour, the failure) is
kept in a content-addressed cache (``EDMS_DATA_DIR/cache/previews``), so a costly page
costs once. Reading the page takes the same access check and audit as a download
(:func:`edms.documents.open_file`).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ClientError
from .limits import run_limited

if TYPE_CHECKING:
    from .system import System

PREVIEW_PIXELS = 1100  # the longer side of a preview, whatever the page's size
PREVIEW_SECONDS = 20
MAX_PREVIEW_PAGE = 500
FAILURE_KEPT = 3600  # seconds a failed page is not tried again


class PreviewUnavailable(ClientError):
    """The page cannot be drawn (no such page, too costly): the reason says which."""

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
