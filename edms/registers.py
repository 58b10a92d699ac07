"""The registers of Decree 30, Appendix IV, exported for a date range: print-ready A4 PDF
(landscape, every column with its full Appendix IV heading, header row repeated on every
page, page numbers) for binding, and CSV (UTF-8 with BOM, so spreadsheet programs read the
diacritics) for further work.

* outgoing (sổ đăng ký văn bản đi), 10 columns;
* incoming (sổ đăng ký văn bản đến), 10 columns;
* follow-up (sổ theo dõi giải quyết văn bản đến), 7 columns.

The exported book opens with its cover (bìa sổ): the agency, the register's name, the year,
the days of the first and last entries and their numbers (from number – to number); the
cover page is not numbered. Column "Đơn vị, người nhận bản lưu" is the unit given when the
document was entered in the register, else — whichever way it was entered, web or CLI —
the clerk who entered it and their unit, read from the document's history.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import transaction
from .documents import INCOMING, OUTGOING, PRIORITY_VI, SECRECY_VI, STATE_NAMES_VI
from .errors import ClientError
from .models import (
    Agency,
    Assignment,
    DocType,
    Document,
    OrgUnit,
    Register,
    StatusEvent,
    User,
)
from .numbering import VN_TZ
from .orgs import SECRET_READERS, load_user, require_role
from .render import register_fonts
from .system import System

KINDS = ("outgoing", "incoming", "follow-up")


@dataclass(frozen=True)
class RegisterLayout:
    title: str
    columns: tuple[str, ...]
    widths: tuple[float, ...]  # relative


LAYOUTS = {
    "outgoing": RegisterLayout(
        "SỔ ĐĂNG KÝ VĂN BẢN ĐI",
        (
            "Số, ký hiệu văn bản",
            "Ngày tháng văn bản",
            "Tên loại và trích yếu nội dung văn bản",
            "Người ký",
            "Nơi nhận văn bản",
            "Đơn vị, người nhận bản lưu",
            "Số lượng bản",
            "Ngày chuyển",
            "Ký nhận",
            "Ghi chú",
        ),
        (2.2, 1.6, 5.0, 2.2, 3.0, 2.0, 1.2, 1.6, 1.4, 2.0),
    ),
    "incoming": RegisterLayout(
        "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN",
        (
            "Ngày đến",
            "Số đến",
            "Tác giả",
            "Số, ký hiệu văn bản",
            "Ngày tháng văn bản",
            "Tên loại và trích yếu nội dung văn bản",
            "Đơn vị hoặc người nhận",
            "Ngày chuyển",
            "Ký nhận",
            "Ghi chú",
        ),
        (1.6, 1.1, 3.0, 2.2, 1.6, 5.0, 2.6, 1.6, 1.4, 2.0),
    ),
    "follow-up": RegisterLayout(
        "SỔ THEO DÕI GIẢI QUYẾT VĂN BẢN ĐẾN",
        (
            "Số đến",
            "Tên loại, số, ký hiệu, ngày tháng và cơ quan ban hành văn bản",
            "Đơn vị hoặc người nhận",
            "Thời hạn giải quyết",
            "Tiến độ giải quyết",
            "Số, ký hiệu văn bản trả lời",
            "Ghi chú",
        ),
        (1.2, 6.5, 3.2, 1.8, 2.6, 2.4, 2.4),
    ),
}


@dataclass(frozen=True)
class Cover:
    """The cover of the bound book (bìa sổ): the first and last numbers entered and the
    days of the first and last entries (the period's bounds when it has none)."""

    first_number: str
    last_number: str
    opened: date
    closed: date

    def year_text(self) -> str:
        a, b = self.opened.year, self.closed.year
        return f"Năm {a}" if a == b else f"Năm {a} – {b}"


@dataclass
class RegisterExport:
    kind: str
    agency: str
    start: date
    end: date
    rows: list[list[str]]
    cover: Cover | None = None  # printed as the book's first page when present

    @property
    def layout(self) -> RegisterLayout:
        return LAYOUTS[self.kind]


def _d(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(VN_TZ).date()
    return value.strftime("%d/%m/%Y")


def _vn_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    lo = datetime.combine(start, time.min, VN_TZ).astimezone(UTC)
    hi = datetime.combine(end, time.max, VN_TZ).astimezone(UTC)
    return lo, hi


def _notes(doc: Document) -> str:
    parts = []
    if doc.secrecy:
        parts.append(SECRECY_VI[doc.secrecy])
    if doc.priority:
        parts.append(PRIORITY_VI[doc.priority])
    if doc.state in ("revoked", "replaced", "returned"):
        parts.append(STATE_NAMES_VI[doc.state])
    if doc.frozen_reason:
        parts.append(doc.frozen_reason)
    return "; ".join(parts)


def _number(doc: Document) -> str:
    if doc.code_number and doc.code_notation:
        return f"{doc.code_number}/{doc.code_notation}"
    return doc.code_notation or doc.code_number or ""


SECRET_SUBJECT = "(văn bản mật: trích yếu không hiển thị)"


def _type_and_subject(types: dict[str, str], doc: Document, hide_secret: bool) -> str:
    subject = SECRET_SUBJECT if doc.secrecy and hide_secret else doc.subject
    return f"{types.get(doc.type_code, doc.type_code).split(' (')[0]}: {subject}"


def _handlers(s: Session, doc: Document) -> tuple[str, Assignment | None]:
    a = s.scalars(
        select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
    ).first()
    if a is None:
        return "", None
    units = [s.get(OrgUnit, a.lead_unit_id)] + [
        s.get(OrgUnit, i) for i in json.loads(a.co_unit_ids)
    ]
    names = [u.name for u in units if u is not None]
    text = names[0] + (f" (chủ trì); phối hợp: {', '.join(names[1:])}" if names[1:] else "")
    return text, a


def _outgoing_docs(s: Session, agency_id: int, start: date, end: date) -> list[Document]:
    regs = select(Register.id).where(
        Register.agency_id == agency_id, Register.kind.in_(("outgoing", "secret"))
    )
    return list(
        s.scalars(
            select(Document)
            .where(
                Document.agency_id == agency_id,
                Document.direction == OUTGOING,
                Document.register_id.in_(regs),
                Document.issued_date >= start,
                Document.issued_date <= end,
            )
            .order_by(Document.issued_date, Document.number)
        )
    )


def _keepers(s: Session, docs: list[Document]) -> dict[int, str]:
    """Column "Đơn vị, người nhận bản lưu" per document: the unit given when it was entered
    in the register; when none was given, the person who last entered it (the clerk keeps
    the file copy) and their unit, from the documents' history (one query for all)."""
    registered_by: dict[int, int | None] = {}
    without = [d.id for d in docs if not d.holder]
    if without:
        for doc_id, actor_id in s.execute(
            select(StatusEvent.document_id, StatusEvent.actor_id)
            .where(StatusEvent.document_id.in_(without), StatusEvent.action == "register")
            .order_by(StatusEvent.id)
        ):
            registered_by[doc_id] = actor_id  # the last one counts

    def keeper(doc: Document) -> str:
        if doc.holder:
            return doc.holder
        by = registered_by.get(doc.id)
        user = s.get(User, by) if by is not None else None  # the few clerks: loaded once
        if user is None:
            return ""
        unit = s.get(OrgUnit, user.unit_id) if user.unit_id is not None else None
        return f"{unit.name}, {user.full_name}" if unit is not None else user.full_name

    return {d.id: keeper(d) for d in docs}


def _rows_outgoing(
    s: Session, agency_id: int, start: date, end: date, types: dict[str, str], hide_secret: bool
) -> list[list[str]]:
    docs = _outgoing_docs(s, agency_id, start, end)
    keepers = _keepers(s, docs)
    rows = []
    for d in docs:
        recipients = "; ".join(r["name"] for r in json.loads(d.recipients))
        signer = ", ".join(p for p in (d.signer_position, d.signer_name) if p)
        rows.append(
            [
                _number(d),
                _d(d.issued_date),
                _type_and_subject(types, d, hide_secret),
                signer,
                recipients,
                keepers[d.id],
                str(d.issued_amount or ""),
                _d(d.sent_at),
                "",
                _notes(d),
            ]
        )
    return rows


def _incoming_docs(s: Session, agency_id: int, start: date, end: date) -> list[Document]:
    lo, hi = _vn_bounds(start, end)
    return list(
        s.scalars(
            select(Document)
            .where(
                Document.agency_id == agency_id,
                Document.direction == INCOMING,
                Document.arrival_number.is_not(None),
                Document.arrival_at >= lo,
                Document.arrival_at <= hi,
            )
            .order_by(Document.arrival_at, Document.arrival_number)
        )
    )


def _rows_incoming(
    s: Session, agency_id: int, start: date, end: date, types: dict[str, str], hide_secret: bool
) -> list[list[str]]:
    rows = []
    for d in _incoming_docs(s, agency_id, start, end):
        handlers, _a = _handlers(s, d)
        rows.append(
            [
                _d(d.arrival_at),
                f"{d.arrival_number:02d}",
                d.organ_name,
                _number(d),
                _d(d.issued_date),
                _type_and_subject(types, d, hide_secret),
                handlers,
                _d(d.passed_on_at),
                "",
                _notes(d),
            ]
        )
    return rows


def _rows_follow_up(
    s: Session, agency_id: int, start: date, end: date, types: dict[str, str], hide_secret: bool
) -> list[list[str]]:
    rows = []
    for d in _incoming_docs(s, agency_id, start, end):
        handlers, a = _handlers(s, d)
        reply = s.scalars(
            select(Document).where(Document.response_for_id == d.id, Document.number.is_not(None))
        ).first()
        ident = (
            f"{types.get(d.type_code, d.type_code).split(' (')[0]} số {_number(d)} "
            f"ngày {_d(d.issued_date)} của {d.organ_name}"
        )
        progress = STATE_NAMES_VI[d.state]
        if d.completed_at is not None:
            progress += f" ngày {_d(d.completed_at)}"
        deadline = a.deadline if a is not None and a.deadline else d.due_date
        rows.append(
            [
                f"{d.arrival_number:02d}",
                ident,
                handlers,
                _d(deadline),
                progress,
                _number(reply) if reply else "",
                _notes(d),
            ]
        )
    return rows


_ROWS: dict[str, Callable[[Session, int, date, date, dict[str, str], bool], list[list[str]]]] = {
    "outgoing": _rows_outgoing,
    "incoming": _rows_incoming,
    "follow-up": _rows_follow_up,
}


def _cover(s: Session, agency_id: int, kind: str, start: date, end: date) -> Cover:
    if kind == "outgoing":
        entries = [
            (d.number, d.issued_date)
            for d in _outgoing_docs(s, agency_id, start, end)
            if d.number is not None and d.issued_date is not None
        ]
    else:
        entries = [
            (d.arrival_number, d.arrival_at.astimezone(VN_TZ).date())
            for d in _incoming_docs(s, agency_id, start, end)
            if d.arrival_number is not None and d.arrival_at is not None
        ]
    if not entries:
        return Cover("", "", start, end)
    numbers = [n for n, _ in entries]
    days = [day for _, day in entries]
    return Cover(f"{min(numbers):02d}", f"{max(numbers):02d}", min(days), max(days))


def collect(system: System, actor: str, kind: str, start: date, end: date) -> RegisterExport:
    """The register's rows for documents of the actor's agency in [start, end] (Vietnam
    dates); the export is audited."""
    if kind not in KINDS:
        raise ClientError(f"unknown register {kind!r} (outgoing, incoming, follow-up)")
    if end < start:
        raise ClientError("the end date is before the start date")
    with transaction(system.sessions) as s:
        user: User = load_user(s, actor)
        require_role(user, "clerk", "leader", "admin", action="export registers")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        types = {t.code: t.name for t in s.scalars(select(DocType))}
        # Who may not read secret documents (an admin) gets their rows, not their subjects.
        hide = not user.role_set & SECRET_READERS
        rows = _ROWS[kind](s, agency.id, start, end, types, hide)
        audit.record(
            s,
            user.username,
            "register.export",
            "register",
            kind,
            {"from": start.isoformat(), "to": end.isoformat(), "rows": len(rows)},
        )
        cover = _cover(s, agency.id, kind, start, end)
        return RegisterExport(kind, agency.name, start, end, rows, cover)


# A spreadsheet runs a cell starting with these as a formula ("CSV injection"): such a
# cell is written with a leading apostrophe, which spreadsheets show as plain text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(export: RegisterExport) -> bytes:
    """The register as CSV (UTF-8 with BOM, for spreadsheets); no cell can start a
    formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(export.layout.columns)
    w.writerows([csv_cell(c) for c in row] for row in export.rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def cover_lines(export: RegisterExport, cover: Cover) -> list[str]:
    """The cover's lines under the title (the page and the PDF say the same)."""
    numbers = (
        f"Từ số {cover.first_number} đến số {cover.last_number}"
        if cover.first_number
        else "Chưa có văn bản được vào sổ"
    )
    return [
        cover.year_text(),
        f"Từ ngày {_d(cover.opened)} đến ngày {_d(cover.closed)}",
        numbers,
    ]


def _cover_page(export: RegisterExport, cover: Cover, font: str) -> list[Flowable]:
    """The bound book's cover (bìa sổ, Appendix IV): the agency, the register's name, the
    year, the dates and numbers of its first and last entries."""
    agency = ParagraphStyle(
        "ca", fontName=f"{font}-Bold", fontSize=16, leading=22, alignment=TA_CENTER
    )
    title = ParagraphStyle(
        "ct", fontName=f"{font}-Bold", fontSize=28, leading=36, alignment=TA_CENTER
    )
    line = ParagraphStyle("cl", fontName=font, fontSize=15, leading=24, alignment=TA_CENTER)
    flow: list[Flowable] = [
        Spacer(1, 12 * mm),
        Paragraph(escape(export.agency.upper()), agency),
        Spacer(1, 38 * mm),
        Paragraph(export.layout.title, title),
        Spacer(1, 14 * mm),
    ]
    flow += [Paragraph(escape(text), line) for text in cover_lines(export, cover)]
    flow.append(PageBreak())
    return flow


def write_pdf(export: RegisterExport, target: Path) -> Path:
    font = register_fonts()
    layout = export.layout
    page = landscape(A4)
    margin = 12 * mm
    usable = page[0] - 2 * margin
    total = sum(layout.widths)
    widths = [usable * w / total for w in layout.widths]
    head = ParagraphStyle("h", fontName=f"{font}-Bold", fontSize=9, leading=11, alignment=TA_CENTER)
    cell = ParagraphStyle("c", fontName=font, fontSize=9, leading=11)
    title = ParagraphStyle(
        "t", fontName=f"{font}-Bold", fontSize=15, leading=20, alignment=TA_CENTER
    )
    sub = ParagraphStyle(
        "s", fontName=f"{font}-Italic", fontSize=11, leading=14, alignment=TA_CENTER
    )
    agency = ParagraphStyle("a", fontName=f"{font}-Bold", fontSize=11, leading=14)
    data: list[list[Any]] = [[Paragraph(escape(c), head) for c in layout.columns]]
    data.append([Paragraph(f"({i})", head) for i in range(1, len(layout.columns) + 1)])
    for row in export.rows:
        data.append([Paragraph(escape(v), cell) for v in row])
    if not export.rows:
        data.append(
            [Paragraph("Không có văn bản trong khoảng thời gian này.", cell)]
            + [""] * (len(layout.columns) - 1)
        )
    table = LongTable(data, colWidths=widths, repeatRows=2)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 1), colors.Color(0.92, 0.92, 0.92)),
    ]
    if not export.rows:
        style.append(("SPAN", (0, 2), (-1, 2)))
    table.setStyle(TableStyle(style))
    story: list[Flowable] = []
    if export.cover is not None:
        story += _cover_page(export, export.cover, font)
    story += [
        Paragraph(escape(export.agency.upper()), agency),
        Spacer(1, 4 * mm),
        Paragraph(layout.title, title),
        Paragraph(f"Từ ngày {_d(export.start)} đến ngày {_d(export.end)}", sub),
        Spacer(1, 5 * mm),
        table,
    ]

    skip = 1 if export.cover is not None else 0  # the cover is not numbered

    def footer(canvas: Any, doc: Any) -> None:
        if doc.page <= skip:
            return
        canvas.setFont(font, 9)
        canvas.drawRightString(page[0] - margin, 7 * mm, f"Trang {doc.page - skip}")
        canvas.drawString(margin, 7 * mm, f"{layout.title.capitalize()} – {export.agency}")

    doc = SimpleDocTemplate(
        str(target),
        pagesize=page,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=14 * mm,
        title=f"{layout.title} {_d(export.start)}–{_d(export.end)}",
        author=export.agency,
        lang="vi",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return target
