"""Finding the places on a draft's pages: the number line (``Số:      /QĐ-UBND``), the date
line (``..., ngày    tháng    năm 2026``) and the signature block, from the words of its
text layer (:mod:`.textlayer`). :mod:`.places` puts fields there and fills them.

Invariants: a place is found from the words printed around it, never from fixed
coordinates; a place that is not found is recorded with where the System looked
(:class:`Looked`: page and area), so that the officer can be told in Vietnamese which line
is missing. Nothing here writes to a PDF.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ..errors import ClientError
from .textlayer import Line, Page, Word

NUMBER_FIELD = "SoKyHieu"
DATE_FIELD = "NgayThang"  # the whole date line, or (blanks) the day
MONTH_FIELD = "NgayThang_Thang"
YEAR_FIELD = "NgayThang_Nam"
SIGNATURE_FIELD = "ChuKyLanhDao"

MM = 72 / 25.4
HEADER_PART = 0.45  # the number and date lines are in the top 45 % of page 1
MIN_SIGNING_SPACE = 15 * MM
SIGN_WIDTH = 62 * MM  # the signature field's width, when the block allows it
AUTHORITY_PREFIXES = ("TM.", "KT.", "Q.", "TL.", "TUQ.")


class PlaceNotFound(ClientError):
    status = 422
    title = "Draft places not found"
    type_slug = "draft-places-not-found"


@dataclass(frozen=True)
class Looked:
    """Where the System looked for a line: page (1-based) and area in millimetres from the
    page's top-left corner."""

    line: str
    page: int
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float

    def json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "page": self.page,
            "area_mm": [round(v) for v in (self.x_mm, self.y_mm, self.width_mm, self.height_mm)],
        }

    def words(self) -> str:
        return (
            f"trang {self.page}, vùng cách mép trái {self.x_mm:.0f} mm, mép trên "
            f"{self.y_mm:.0f} mm, rộng {self.width_mm:.0f} mm, cao {self.height_mm:.0f} mm"
        )


def looked_at(line: str, page: Page, x1: float, y1: float, x2: float, y2: float) -> Looked:
    return Looked(
        line, page.index + 1, x1 / MM, (page.height - y2) / MM, (x2 - x1) / MM, (y2 - y1) / MM
    )


@dataclass(frozen=True)
class NewField:
    name: str
    page: int
    rect: tuple[float, float, float, float]
    kind: str = "/Tx"  # or "/Sig"


@dataclass
class Found:
    fields: list[NewField] = field(default_factory=list)
    problems: list[tuple[str, Looked]] = field(default_factory=list)
    printed_symbol: str | None = None
    printed_year: int | None = None


def norm(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def is_upper_line(line: Line) -> bool:
    letters = [ch for ch in line.text if ch.isalpha()]
    return len(letters) >= 2 and all(ch == ch.upper() for ch in letters)


# -- the number line ---------------------------------------------------------------------------

_SO = re.compile(r"^Số\s*:?$")


def find_number_line(page: Page, found: Found) -> None:
    header = page.height * (1 - HEADER_PART)
    for line in page.lines:
        if line.baseline < header:
            continue
        words = [norm(w.text) for w in line.words]
        if not words or (not _SO.match(words[0]) and not words[0].startswith("Số:")):
            continue
        first = line.words[0]
        rest = line.words[1:]
        glued = norm(first.text)[3:] if norm(first.text).startswith("Số:") else ""
        if glued.startswith("/"):
            found.problems.append(
                (
                    'Dòng "Số:" không có chỗ trống để ghi số: hãy để trống vài khoảng cách '
                    f'giữa "Số:" và "{glued}"',
                    looked_at("so_ky_hieu", page, line.x1, line.bottom, line.x2, line.top),
                )
            )
            return
        start = first.x2 + 1.0
        if words[0] == "Số" and rest and norm(rest[0].text) == ":":
            start, rest = rest[0].x2 + 1.0, rest[1:]
        size = line.size
        if rest and norm(rest[0].text).startswith("/"):
            end = rest[0].x1  # the number then ends where the symbol begins
            found.printed_symbol = norm(rest[0].text)[1:]
        elif rest:
            found.problems.append(
                (
                    f'Dòng "{line.text}" không có chỗ trống để ghi số trước ký hiệu '
                    '("Số:      /QĐ-...")',
                    looked_at("so_ky_hieu", page, line.x1, line.bottom, line.x2, line.top),
                )
            )
            return
        else:
            end = min(start + 60 * MM, page.width / 2 + 10 * MM)
        if end - start < size * 1.0:
            found.problems.append(
                (
                    f'Chỗ trống để ghi số trên dòng "{line.text}" quá hẹp (cần ít nhất hai chữ số)',
                    looked_at("so_ky_hieu", page, line.x1, line.bottom, line.x2, line.top),
                )
            )
            return
        found.fields.append(
            NewField(
                NUMBER_FIELD,
                page.index,
                (start, line.baseline - size * 0.3, end, line.baseline + size * 0.95),
            )
        )
        return
    found.problems.append(
        (
            'Không tìm thấy dòng số, ký hiệu văn bản ("Số:      /QĐ-...")',
            looked_at("so_ky_hieu", page, 0, header, page.width / 2, page.height),
        )
    )


# -- the date line ----------------------------------------------------------------------------

YEAR_WORD = re.compile(r"^(\d{4})[.,;]?$")


def find_date_line(page: Page, found: Found) -> None:
    header = page.height * (1 - HEADER_PART)
    for line in page.lines:
        if line.baseline < header:
            continue
        words = [norm(w.text).lower() for w in line.words]
        if "ngày" not in words or "tháng" not in words or "năm" not in words:
            continue
        i_day, i_month = words.index("ngày"), words.index("tháng")
        i_year = len(words) - 1 - words[::-1].index("năm")
        if not i_day < i_month < i_year:
            continue
        size = line.size
        where = looked_at("ngay_thang", page, line.x1, line.bottom, line.x2, line.top)
        if i_month != i_day + 1 or i_year != i_month + 1:
            found.problems.append(
                (
                    f'Dòng "{line.text}" đã ghi sẵn ngày hoặc tháng: Hệ thống ghi ngày ban '
                    "hành sau khi ký, hãy để trống ngày và tháng",
                    where,
                )
            )
            return
        slots: list[tuple[str, Word, Word | None]] = [
            (DATE_FIELD, line.words[i_day], line.words[i_month]),
            (MONTH_FIELD, line.words[i_month], line.words[i_year]),
        ]
        after_year = line.words[i_year + 1 :]
        if after_year:
            m = YEAR_WORD.match(after_year[0].text)
            if m is None:
                found.problems.append((f'Dòng "{line.text}" có chữ lạ sau "năm"', where))
                return
            found.printed_year = int(m.group(1))
        else:
            slots.append((YEAR_FIELD, line.words[i_year], None))
        new = []
        for name, before, after in slots:
            start = before.x2 + 1.0
            end = after.x1 - 0.5 if after is not None else min(start + 25 * MM, page.width - 5 * MM)
            if end - start < size * (1.0 if after is not None else 2.0):
                found.problems.append(
                    (
                        f'Chỗ trống sau "{before.text}" trên dòng "{line.text}" quá hẹp để '
                        "ghi ngày tháng",
                        where,
                    )
                )
                return
            new.append(
                NewField(
                    name,
                    page.index,
                    (start, line.baseline - size * 0.3, end, line.baseline + size * 0.95),
                )
            )
        found.fields += new
        return
    found.problems.append(
        (
            'Không tìm thấy dòng địa danh và ngày tháng ("..., ngày    tháng    năm ...")',
            looked_at(
                "ngay_thang", page, page.width / 2 - 20 * MM, header, page.width, page.height
            ),
        )
    )


# -- the signature block ----------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: int
    titles: list[Line]
    name: Line
    space: tuple[float, float, float, float]


def _blocks(page: Page) -> list[Block]:
    """Signature blocks of a page: in its right half, upper-case lines, a blank space at
    least :data:`MIN_SIGNING_SPACE` high, then a name line, all roughly centred on one
    axis."""
    right = [ln for ln in page.lines if ln.centre > page.width * 0.5 and ln.x1 > page.width * 0.35]
    right.sort(key=lambda ln: -ln.baseline)
    found = []
    for i, name in enumerate(right):
        if is_upper_line(name) or not any(ch.isalpha() for ch in name.text):
            continue
        above = right[:i]
        if not above:
            continue
        last = above[-1]
        if not is_upper_line(last) or last.bottom - name.top < MIN_SIGNING_SPACE:
            continue
        if abs(last.centre - name.centre) > 30 * MM:
            continue
        titles = [last]
        for prev in reversed(above[:-1]):
            if (
                is_upper_line(prev)
                and titles[0].bottom - prev.top < prev.size * 1.2
                and abs(prev.centre - last.centre) < 30 * MM
            ):
                titles.insert(0, prev)
            else:
                break
        axis = (titles[-1].centre + name.centre) / 2
        half = SIGN_WIDTH / 2
        x1, x2 = max(axis - half, page.width * 0.45), min(axis + half, page.width - 5 * MM)
        y1, y2 = name.top + 2, last.bottom - 2
        # nothing else printed in the signing space
        blockers = [
            ln for ln in page.lines if ln.top > y1 and ln.bottom < y2 and ln.x2 > x1 and ln.x1 < x2
        ]
        for ln in blockers:
            if ln.x1 >= axis:
                x2 = min(x2, ln.x1 - 2)
            else:
                x1 = max(x1, ln.x2 + 2)
        if x2 - x1 < 30 * MM:
            continue
        found.append(Block(page.index, titles, name, (x1, y1, x2, y2)))
    return found


def find_signature_block(pages: list[Page], found: Found) -> None:
    for page in reversed(pages):
        blocks = _blocks(page)
        if blocks:
            block = blocks[-1]
            found.fields.append(NewField(SIGNATURE_FIELD, block.page, block.space, "/Sig"))
            return
    last = next((p for p in reversed(pages) if p.lines), pages[-1] if pages else None)
    if last is None:
        return
    found.problems.append(
        (
            "Không tìm thấy khối chữ ký: các dòng thẩm quyền và chức vụ viết hoa (ví dụ "
            '"KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"), bên dưới là khoảng trống để ký cao ít nhất '
            f"{MIN_SIGNING_SPACE / MM:.0f} mm, rồi dòng họ tên người ký",
            looked_at("khoi_chu_ky", last, last.width * 0.45, 0, last.width, last.height),
        )
    )


# -- reading and writing fields -------------------------------------------------------------------
