"""Does a widget added or changed after signing paint over content that was signed?

Shadow attacks fill a form field, and sneaky-signature attacks add a signature widget,
whose appearance covers text that the signer saw. Structurally that is "form filling",
which validators accept. This check reads the words of the page *as signed* (the signed revision is
exactly the file's first bytes up to the end of the signature's byte range; pdftotext
ignores annotations) and looks for words under each widget's rectangle.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def text_under_bytes(
    signed: bytes,
    page_index: int,
    rects: list[tuple[float, float, float, float]],
    page_box: tuple[float, float, float, float],
) -> list[bool]:
    """For each rectangle (PDF user space of page ``page_index``), whether the page of the
    signed revision (``signed``: the file's bytes up to the end of the byte range) shows
    text there.

    Text, not any ink: form fields usually sit on boxes and underlines drawn in the page
    content, and filling them is legitimate; covering words is what shadow attacks do."""
    with tempfile.TemporaryDirectory(prefix="edms-overlay-") as tmp:
        src = Path(tmp) / "signed.pdf"
        src.write_bytes(signed)
        n = page_index + 1
        try:
            res = subprocess.run(
                ["pdftotext", "-f", str(n), "-l", str(n), "-bbox", str(src), "-"],
                check=True,
                capture_output=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            return [False for _ in rects]  # cannot read the page: no claim either way
    html = res.stdout.decode("utf-8", "replace")
    x0, y0, _x1, y1 = page_box
    height = y1 - y0
    words = []
    for m in _WORD.finditer(html):
        if not m.group(5).strip():
            continue
        wx1, wy1, wx2, wy2 = (float(m.group(i)) for i in range(1, 5))
        # pdftotext measures from the top-left corner; PDF user space from bottom-left
        words.append((x0 + wx1, y0 + height - wy2, x0 + wx2, y0 + height - wy1))
    out = []
    for rx1, ry1, rx2, ry2 in rects:
        ax1, ax2 = sorted((rx1, rx2))
        ay1, ay2 = sorted((ry1, ry2))
        out.append(
            any(
                min(ax2, wx2) - max(ax1, wx1) > 1 and min(ay2, wy2) - max(ay1, wy1) > 1
                for wx1, wy1, wx2, wy2 in words
            )
        )
    return out
