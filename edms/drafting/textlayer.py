"""The words of a PDF page with their positions, font size, weight and slant, read by
PDFium in a child process under limits (address space, CPU time, wall clock), like every
other reading of an uploaded file's content (:mod:`edms.limits`).

Coordinates are PDF user space of the page (points, origin bottom left, the page's
CropBox corner at 0,0). A word is a run of characters on one baseline without a space or a
gap wider than a third of the font size; a line is a run of words on one baseline whose
gaps stay below :data:`COLUMN_GAP` font sizes, so the two columns of a Decree 30 header
are separate lines even when they share a baseline.

Invariant: nothing here changes the file; a file PDFium cannot read gives no words, and
the caller says what it looked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..limits import run_limited

COLUMN_GAP = 4.5  # font sizes: a wider gap on one baseline separates two columns
WORD_GAP = 0.3  # font sizes: a wider gap without a space character separates two words
TIMEOUT = 30.0
MAX_PAGES = 200


@dataclass(frozen=True)
class Word:
    text: str
    x1: float
    x2: float
    baseline: float
    size: float
    bold: bool
    italic: bool

    @property
    def top(self) -> float:
        return self.baseline + self.size * 0.75

    @property
    def bottom(self) -> float:
        return self.baseline - self.size * 0.25


@dataclass
class Line:
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def x1(self) -> float:
        return self.words[0].x1

    @property
    def x2(self) -> float:
        return self.words[-1].x2

    @property
    def baseline(self) -> float:
        return self.words[0].baseline

    @property
    def size(self) -> float:
        return max(w.size for w in self.words)

    @property
    def top(self) -> float:
        return max(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return min(w.bottom for w in self.words)

    @property
    def centre(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def bold(self) -> bool:
        return all(w.bold for w in self.words)

    @property
    def italic(self) -> bool:
        return all(w.italic for w in self.words)


@dataclass
class Page:
    index: int
    width: float
    height: float
    lines: list[Line]


def read_pages(path: Path, pages: list[int] | None = None, *, memory_mb: int = 1024) -> list[Page]:
    """The pages' words and lines (all pages, or the 0-based ``pages``), read in a
    limited child process; pages it cannot read come back without lines."""
    cmd = [sys.executable, "-m", "edms.drafting.textlayer", str(path)]
    if pages is not None:
        cmd += [str(p) for p in pages]
    try:
        done = run_limited(cmd, memory_mb=memory_mb, timeout=TIMEOUT, text=True)
    except subprocess.TimeoutExpired:
        return []
    if done.returncode != 0:
        return []
    try:
        data = json.loads(str(done.stdout))
    except ValueError:
        return []
    return [
        Page(
            p["index"],
            p["width"],
            p["height"],
            [Line([Word(**w) for w in line]) for line in p["lines"]],
        )
        for p in data["pages"]
    ]


# -- the child ------------------------------------------------------------------------------

Char = tuple[str, float, float, float, float, bool, bool]  # text, x1, x2, baseline, size, b, i


def _chars(textpage: Any, raw: Any) -> list[Char]:
    """(pdfium's raw ctypes bindings carry no types.)"""
    import ctypes

    tp = textpage.raw
    out = []
    buf = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    for i in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(tp, i)
        if code in (0, 0xFFFE, 0xFFFF) or code in (10, 13):
            continue
        ch = chr(code)
        size = float(raw.FPDFText_GetFontSize(tp, i))
        if size <= 0.5:
            continue
        ox, oy = ctypes.c_double(), ctypes.c_double()
        raw.FPDFText_GetCharOrigin(tp, i, ctypes.byref(ox), ctypes.byref(oy))
        left, right = ctypes.c_double(), ctypes.c_double()
        bottom, top = ctypes.c_double(), ctypes.c_double()
        raw.FPDFText_GetCharBox(
            tp,
            i,
            ctypes.byref(left),
            ctypes.byref(right),
            ctypes.byref(bottom),
            ctypes.byref(top),
        )
        raw.FPDFText_GetFontInfo(tp, i, buf, len(buf), ctypes.byref(flags))
        name = buf.value.decode("latin-1", "replace").lower()
        weight = int(raw.FPDFText_GetFontWeight(tp, i))
        bold = "bold" in name or "black" in name or "heavy" in name or weight >= 600
        italic = "italic" in name or "oblique" in name or bool(flags.value & 64)
        x1 = min(ox.value, left.value) if not ch.isspace() else ox.value
        x2 = max(right.value, x1)
        out.append((ch, x1, x2, oy.value, size, bold, italic))
    return out


def _word(chars: list[Char]) -> dict[str, object] | None:
    text = "".join(c[0] for c in chars).strip()
    if not text:
        return None
    inked = [c for c in chars if not c[0].isspace()]
    return {
        "text": text,
        "x1": chars[0][1],
        "x2": chars[-1][2],
        "baseline": chars[0][3],
        "size": max(c[4] for c in chars),
        "bold": all(c[5] for c in inked),
        "italic": all(c[6] for c in inked),
    }


def _split_row(row: list[Char]) -> list[list[dict[str, object]]]:
    """One baseline's characters → its lines (column gaps) of words."""
    lines: list[list[dict[str, object]]] = [[]]
    current: list[Char] = []
    last_x2: float | None = None
    for c in sorted(row, key=lambda c: c[1]):
        gap = c[1] - last_x2 if last_x2 is not None else 0.0
        if (current and (c[0].isspace() or gap > WORD_GAP * c[4])) or (
            last_x2 is not None and gap > COLUMN_GAP * c[4]
        ):
            word = _word(current)
            if word:
                lines[-1].append(word)
            current = []
        if last_x2 is not None and gap > COLUMN_GAP * c[4] and lines[-1]:
            lines.append([])
        last_x2 = c[2]
        if not c[0].isspace():
            current.append(c)
    word = _word(current)
    if word:
        lines[-1].append(word)
    return [ws for ws in lines if ws]


def _lines(chars: list[Char]) -> list[list[dict[str, object]]]:
    rows: list[list[Char]] = []
    for c in sorted(chars, key=lambda c: (-round(c[3], 1), c[1])):
        if rows and abs(rows[-1][0][3] - c[3]) <= 0.25 * max(c[4], rows[-1][0][4]):
            rows[-1].append(c)
        else:
            rows.append([c])
    return [line for row in rows for line in _split_row(row)]


def _main(argv: list[str]) -> int:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    doc = pdfium.PdfDocument(argv[0])
    wanted = [int(a) for a in argv[1:]] or list(range(min(len(doc), MAX_PAGES)))
    pages = []
    for index in wanted:
        if not 0 <= index < len(doc):
            continue
        page = doc[index]
        width, height = page.get_size()
        pages.append(
            {
                "index": index,
                "width": width,
                "height": height,
                "lines": _lines(_chars(page.get_textpage(), raw)),
            }
        )
    json.dump({"pages": pages}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
