"""Where the System writes on a draft it did not lay out itself (a PDF exported from Word,
a converted .docx/.odt), found from the text of its pages; and what it writes there.

Decree 30 (Appendix I) fixes where the parts of a document are, and agencies' drafts
follow it: under the issuing body's name a line ``Số:      /QĐ-UBND`` with a blank for the
number; under the national motto the line ``Tuyên Quang, ngày    tháng    năm 2026`` with
blanks for the day and month (and the year); at the end, in the right half, the signature
block: the authority and title lines in upper case (``KT. CHỦ TỊCH`` / ``PHÓ CHỦ TỊCH``), a
blank space to sign in, the signer's name.

Invariants:

* **Fields go into blanks only.** The number and date fields cover the blank space of
  their lines and never a printed word (a filled field over signed words is what a shadow
  attack does, and the validator rejects it); the signature field covers the blank signing
  space between the title lines and the name.
* **What the page prints is not written again.** The values filled after the leader
  signs, and the leader's appearance, are worked out from the words printed around each
  field (:func:`number_text`, :func:`date_texts`, :func:`signature_context`): a page that
  prints ``Số:`` and ``/QĐ-UBND`` gets only ``01`` between them; a signature block that
  prints its title lines and the name gets only the signature image.
* **Existing fields are used as they are.** A PDF with its own number and date fields is
  not searched (only a missing signature field is looked for).
* **A place that is not found is named.** The officer is told in Vietnamese which line is
  missing and where the System looked (page and area, also as data: ``looked``).

Finding the lines is :mod:`.locate`'s work; this module adds the fields and plans what
is written in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf

from ..errors import ClientError
from .locate import (
    AUTHORITY_PREFIXES,
    DATE_FIELD,
    MM,
    MONTH_FIELD,
    NUMBER_FIELD,
    SIGNATURE_FIELD,
    YEAR_FIELD,
    YEAR_WORD,
    Found,
    NewField,
    PlaceNotFound,
    find_date_line,
    find_number_line,
    find_signature_block,
    is_upper_line,
    looked_at,
    norm,
)
from .textlayer import Line, Page, Word, read_pages

__all__ = [  # what other modules use from here (the finding itself is in .locate)
    "AUTHORITY_PREFIXES",
    "DATE_FIELD",
    "NUMBER_FIELD",
    "SIGNATURE_FIELD",
    "NewField",
    "PlaceNotFound",
    "Placed",
    "Prepared",
    "SignatureContext",
    "add_fields",
    "existing_fields",
    "fill_plan",
    "prepare",
    "signature_context",
]


def existing_fields(path: Path) -> dict[str, tuple[str, int, tuple[float, float, float, float]]]:
    """The draft's form fields with a widget: name → (type, page, rect)."""
    out: dict[str, tuple[str, int, tuple[float, float, float, float]]] = {}
    with pikepdf.open(path) as pdf:
        for index, page in enumerate(pdf.pages):
            for annot in page.obj.get("/Annots", pikepdf.Array()):
                if annot.get("/Subtype") != "/Widget":
                    continue
                holder = annot if "/T" in annot else annot.get("/Parent")
                if holder is None or "/T" not in holder:
                    continue
                ft = str(holder.get("/FT", annot.get("/FT", "")))
                rect = [float(v) for v in annot.Rect]
                out.setdefault(
                    str(holder.T),
                    (
                        ft,
                        index,
                        (
                            min(rect[0], rect[2]),
                            min(rect[1], rect[3]),
                            max(rect[0], rect[2]),
                            max(rect[1], rect[3]),
                        ),
                    ),
                )
    return out


def add_fields(path: Path, new: list[NewField]) -> None:
    """Add empty text and signature fields (pikepdf, in place), keeping the form's own."""
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        helv = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        if "/AcroForm" not in pdf.Root:
            pdf.Root.AcroForm = pdf.make_indirect(
                pikepdf.Dictionary(
                    Fields=pikepdf.Array(),
                    DA=pikepdf.String("/Helv 12 Tf 0 g"),
                    DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv)),
                )
            )
        form = pdf.Root.AcroForm
        if "/Fields" not in form:
            form.Fields = pikepdf.Array()
        for f in new:
            page = pdf.pages[f.page].obj
            entries: dict[str, Any] = {
                "/FT": pikepdf.Name(f.kind),
                "/T": pikepdf.String(f.name),
                "/Type": pikepdf.Name.Annot,
                "/Subtype": pikepdf.Name.Widget,
                "/Rect": pikepdf.Array([round(v, 2) for v in f.rect]),
                "/F": 4,
                "/P": page,
            }
            if f.kind == "/Tx":
                entries["/V"] = pikepdf.String("")
                entries["/DA"] = pikepdf.String("/Helv 13 Tf 0 g")
            obj = pdf.make_indirect(pikepdf.Dictionary(entries))
            form.Fields.append(obj)
            if "/Annots" not in page:
                page.Annots = pikepdf.Array()
            page.Annots.append(obj)
        pdf.save(path)


@dataclass(frozen=True)
class Prepared:
    added: list[str]
    printed_symbol: str | None
    printed_year: int | None


def prepare(path: Path, *, expected_symbol: str | None = None, memory_mb: int = 1024) -> Prepared:
    """Give a draft the number, date and signature fields it lacks (in place), found from
    its text; refuse, naming each missing line and where it was looked for."""
    have = existing_fields(path)
    need_number = NUMBER_FIELD not in have
    need_date = DATE_FIELD not in have
    need_sig = not any(ft == "/Sig" for ft, _, _ in have.values())
    if not (need_number or need_date or need_sig):
        return Prepared([], None, None)
    pages = read_pages(path, memory_mb=memory_mb)
    if not pages or not any(p.lines for p in pages):
        if need_number or need_date:
            raise PlaceNotFound(
                "Dự thảo không có lớp chữ (bản quét hoặc chữ đã chuyển thành hình), nên Hệ "
                'thống không tìm được dòng "Số:", dòng ngày tháng và khối chữ ký; hãy '
                "xuất PDF từ Word hoặc tải lên tệp .docx/.odt",
                looked=[],
            )
        return Prepared([], None, None)
    found = Found()
    if need_number:
        find_number_line(pages[0], found)
    if need_date:
        find_date_line(pages[0], found)
    if need_sig:
        find_signature_block(pages, found)
        if not (need_number or need_date):
            # Existing number and date fields: a block that is not found leaves the
            # leader's appearance in its default place, as before.
            found.problems = [p for p in found.problems if p[1].line != "khoi_chu_ky"]
    if expected_symbol and found.printed_symbol and found.printed_symbol != norm(expected_symbol):
        line = next((f for f in found.fields if f.name == NUMBER_FIELD), None)
        found.problems.append(
            (
                f'Dòng "Số:" ghi ký hiệu "/{found.printed_symbol}" nhưng Hệ thống sẽ cấp '
                f'ký hiệu "/{expected_symbol}" cho loại văn bản và đơn vị soạn thảo đã chọn',
                looked_at("so_ky_hieu", pages[0], *(line.rect if line else (0, 0, 0, 0))),
            )
        )
    if found.problems:
        message = "Không chuẩn bị được dự thảo để ký: " + "; ".join(
            f"{what} (Hệ thống đã tìm ở {where.words()})" for what, where in found.problems
        )
        raise PlaceNotFound(
            message + ". Không lưu gì.", looked=[where.json() for _, where in found.problems]
        )
    if found.fields:
        add_fields(path, found.fields)
    return Prepared([f.name for f in found.fields], found.printed_symbol, found.printed_year)


# -- what to write, worked out from the page ---------------------------------------------------


def _near(
    page: Page, rect: tuple[float, float, float, float]
) -> tuple[Line | None, Word | None, Word | None]:
    """The line crossing a field's rectangle, and the printed words just left and right
    of it on that line."""
    x1, y1, x2, y2 = rect
    best: tuple[Line, Word | None, Word | None] | None = None
    for line in page.lines:
        if not (y1 - 1 <= line.baseline <= y2):
            continue
        left = [w for w in line.words if w.x2 <= x1 + 1.5 and x1 - w.x2 < 2.5 * w.size]
        right = [w for w in line.words if w.x1 >= x2 - 1.5 and w.x1 - x2 < 2.5 * w.size]
        if left or right:
            best = (line, left[-1] if left else None, right[0] if right else None)
            break
    if best is None:
        return None, None, None
    return best


@dataclass(frozen=True)
class Placed:
    """A value for a field: the text and how it sits (see :class:`signing.forms.FieldText`)."""

    value: str
    size: float
    italic: bool
    align: str
    padding: float
    baseline: float | None


def fill_plan(
    path: Path,
    number: int,
    symbol: str,
    date_line: str,
    day: str,
    month: str,
    year: int,
    *,
    memory_mb: int = 1024,
) -> dict[str, Placed]:
    """The values of the number and date fields of a signed draft, leaving out what the
    page prints around each field. Raises when the page's printed symbol or year
    disagrees with what the System assigns."""
    have = existing_fields(path)
    pages_needed = sorted({have[n][1] for n in (NUMBER_FIELD, DATE_FIELD) if n in have})
    pages = {p.index: p for p in read_pages(path, pages_needed, memory_mb=memory_mb)}
    plan: dict[str, Placed] = {}
    if NUMBER_FIELD in have:
        _ft, index, rect = have[NUMBER_FIELD]
        page = pages.get(index)
        line, left, right = _near(page, rect) if page else (None, None, None)
        size = line.size if line else 13.0
        baseline = line.baseline - rect[1] if line else None
        has_so = (left is not None and norm(left.text).rstrip(":") in ("Số", "Số:")) or (
            left is not None and norm(left.text) == ":"
        )
        if right is not None and norm(right.text).startswith("/"):
            printed = norm(right.text)[1:].rstrip(".,;")
            if printed != norm(symbol):
                raise ClientError(
                    f'dự thảo ghi ký hiệu "/{printed}" nhưng ký hiệu được cấp là '
                    f'"/{symbol}"; không thay đổi gì'
                )
            # no gap: text extraction reads "01/QĐ-UBND" as one word, as printed
            plan[NUMBER_FIELD] = Placed(f"{number:02d}", size, False, "right", 0.0, baseline)
        elif has_so:
            plan[NUMBER_FIELD] = Placed(
                f"{number:02d}/{symbol}", size, False, "left", 3.0, baseline
            )
        else:
            plan[NUMBER_FIELD] = Placed(
                f"Số: {number:02d}/{symbol}", 13.0, False, "center", 2.0, baseline
            )
    if DATE_FIELD in have and MONTH_FIELD in have:
        for name, value in ((DATE_FIELD, day), (MONTH_FIELD, month), (YEAR_FIELD, str(year))):
            if name not in have:
                continue
            _ft, index, rect = have[name]
            page = pages.get(index) or next(
                iter(read_pages(path, [index], memory_mb=memory_mb)), None
            )
            line, _left, _right = _near(page, rect) if page else (None, None, None)
            size = line.size if line else 14.0
            # the year has no printed word after it: it follows "năm" after a space
            plan[name] = Placed(
                value,
                size,
                True,
                "left" if name == YEAR_FIELD else "center",
                size * 0.25,
                line.baseline - rect[1] if line else None,
            )
        if YEAR_FIELD not in have:
            _check_year(pages.get(have[DATE_FIELD][1]), have[MONTH_FIELD][2], year)
    elif DATE_FIELD in have:
        _ft, index, rect = have[DATE_FIELD]
        page = pages.get(index)
        line, left, _right = _near(page, rect) if page else (None, None, None)
        value = date_line
        if left is not None and norm(left.text).endswith(","):
            value = date_line.split(", ", 1)[-1]  # the place is printed
        plan[DATE_FIELD] = Placed(
            value,
            line.size if line else 14.0,
            True,
            "left" if left is not None else "center",
            3.0,
            line.baseline - rect[1] if line else None,
        )
    return plan


def _check_year(
    page: Page | None, month_rect: tuple[float, float, float, float], year: int
) -> None:
    if page is None:
        return
    line, _left, right = _near(page, month_rect)
    if line is None or right is None:
        return
    after = [w for w in line.words if w.x1 > right.x2]
    m = YEAR_WORD.match(after[0].text) if after else None
    if m and int(m.group(1)) != year:
        raise ClientError(
            f'dự thảo ghi sẵn "năm {m.group(1)}" nhưng văn bản được ban hành '
            f"năm {year}; hãy trình ký lại dự thảo để trống năm; không thay đổi gì"
        )


@dataclass(frozen=True)
class SignatureContext:
    """What the page prints around the leader's signature field."""

    titles: tuple[str, ...] = ()
    name: str | None = None

    @property
    def authority_prefix(self) -> str | None:
        for line in self.titles:
            for prefix in AUTHORITY_PREFIXES:
                if line.startswith(prefix):
                    return prefix
        return None


def signature_context(
    path: Path, rect: tuple[float, float, float, float], page_index: int, *, memory_mb: int = 1024
) -> SignatureContext:
    """The upper-case lines printed just above the field and the name printed just below
    it, within the field's width."""
    pages = read_pages(path, [page_index], memory_mb=memory_mb)
    if not pages:
        return SignatureContext()
    x1, y1, x2, y2 = rect
    inside = [ln for ln in pages[0].lines if ln.x1 >= x1 - 15 * MM and ln.x2 <= x2 + 15 * MM]
    upward = sorted((ln for ln in inside if ln.bottom >= y2 - 1), key=lambda ln: ln.baseline)
    titles: list[Line] = []
    for ln in upward:
        limit = y2 + 2.5 * ln.size if not titles else titles[-1].top + ln.size * 1.2
        if ln.bottom > limit or not is_upper_line(ln):
            break
        titles.append(ln)
    below = sorted(
        (ln for ln in inside if y1 - 2.5 * ln.size <= ln.top <= y1 + 1), key=lambda ln: -ln.baseline
    )
    name = below[0].text if below and not is_upper_line(below[0]) else None
    return SignatureContext(
        tuple(norm(t.text) for t in reversed(titles)), norm(name) if name else None
    )
