"""The registers of Decree 30, Appendix IV, exported for a date range: print-ready A4 PDF
(landscape, every column, Vietnamese headings, header row repeated on every page, page
numbers) for binding, and CSV (UTF-8 with BOM, so spreadsheet programs read the
diacritics) for further work.

* outgoing (sổ đăng ký văn bản đi), 10 columns;
* incoming (sổ đăng ký văn bản đến), 10 columns;
* follow-up (sổ theo dõi giải quyết văn bản đến), 7 columns.
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
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import transaction
from .documents import INCOMING, OUTGOING, PRIORITY_VI, SECRECY_VI, STATE_NAMES_VI
from .errors import EdmsError
from .models import Agency, Assignment, DocType, Document, OrgUnit, Register, User
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
            "Số, ký hiệu",
            "Ngày tháng",
            "Tên loại và trích yếu nội dung",
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


@dataclass
class RegisterExport:
    kind: str
    agency: str
    start: date
    end: date
    rows: list[list[str]]

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


def _rows_outgoing(
    s: Session, agency_id: int, start: date, end: date, types: dict[str, str], hide_secret: bool
) -> list[list[str]]:
    regs = select(Register.id).where(
        Register.agency_id == agency_id, Register.kind.in_(("outgoing", "secret"))
    )
    docs = s.scalars(
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
                d.holder,
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


def collect(system: System, actor: str, kind: str, start: date, end: date) -> RegisterExport:
    """The register's rows for documents of the actor's agency in [start, end] (Vietnam
    dates); the export is audited."""
    if kind not in KINDS:
        raise EdmsError(f"unknown register {kind!r} (outgoing, incoming, follow-up)")
    if end < start:
        raise EdmsError("the end date is before the start date")
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
        return RegisterExport(kind, agency.name, start, end, rows)


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
    story = [
        Paragraph(escape(export.agency.upper()), agency),
        Spacer(1, 4 * mm),
        Paragraph(layout.title, title),
        Paragraph(f"Từ ngày {_d(export.start)} đến ngày {_d(export.end)}", sub),
        Spacer(1, 5 * mm),
        table,
    ]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.setFont(font, 9)
        canvas.drawRightString(page[0] - margin, 7 * mm, f"Trang {doc.page}")
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
