"""Drafts generated in the Decree 30 layout (Appendix I), ready for the outgoing lifecycle.

The layout, as Appendix I sets it (A4, margins 20-25 mm top and bottom, 30-35 mm left,
15-20 mm right; Liberation Serif, metric-compatible with Times New Roman):

* **Header, page 1.** Left: the governing body (upper case), the issuing body (upper case,
  bold) with a solid rule under it 1/3 to 1/2 as long as its line; the number line
  ``Số: 01/QĐ-UBND`` (13 pt); for a công văn the trích yếu ``V/v ...`` (12 pt) under the
  number, wrapped within the left column; the secrecy and urgency marks (bold, framed)
  when set. Right: the national title and motto with a rule as long as the motto, and on
  the number's line the place-and-date line (14 pt italic).
* **Title block.** The type (``QUYẾT ĐỊNH``, bold), the trích yếu (bold) with a short rule
  under it (1/3 to 1/2 of the line), and for a decision the issuing authority line
  (``CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH ...``, bold).
* **Body** (14 pt, justified, first-line indent): the legal bases (``Căn cứ ...``, italic),
  ``QUYẾT ĐỊNH:`` (bold), the articles with ``Điều 1.`` in bold; a công văn has its
  ``Kính gửi:`` block before the body.
* **End.** ``Nơi nhận:`` (12 pt bold italic) with its list (11 pt) ending in
  ``- Lưu: VT, <drafting unit>, (<copies>).``, beside the signature block; the block is
  kept on one page with the last lines of the body.
* **Page numbers** from page 2, centred in the top margin (13 pt).

A generated draft carries what the System needs later: an empty text field for the number
line, one for the place-and-date line, and an empty signature field in the signer's block,
where the leader's appearance (authority and title lines 14 pt bold, the signature image,
the name 14 pt bold) will be drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from signing.appearance import PERSONAL_HEIGHT, PERSONAL_WIDTH

from .drafting.places import DATE_FIELD, NUMBER_FIELD, SIGNATURE_FIELD, NewField, add_fields
from .render import register_fonts

__all__ = ["DATE_FIELD", "NUMBER_FIELD", "SIGNATURE_FIELD", "DraftContent", "render_draft"]

LEFT, RIGHT, TOP, BOTTOM = 30 * mm, 15 * mm, 20 * mm, 20 * mm
TEXT_WIDTH = A4[0] - LEFT - RIGHT
LEFT_COL = (LEFT - 10 * mm, LEFT + 70 * mm)  # the issuing body's column
RIGHT_COL = (A4[0] - RIGHT - 100 * mm, A4[0] - RIGHT)  # the national title's column
AGENCY_RULE = 0.4  # of the issuing body's line (Appendix I: 1/3 to 1/2)
SUBJECT_RULE = 0.4  # of the trích yếu's line
NUMBER_SIZE, DATE_SIZE, BODY_SIZE = 13.0, 14.0, 14.0
PRIORITY_MARK = {1: "KHẨN", 2: "THƯỢNG KHẨN", 3: "HỎA TỐC"}
SECRECY_MARK = {1: "MẬT", 2: "TỐI MẬT", 3: "TUYỆT MẬT"}
_ARTICLE = re.compile(r"^(Điều\s+\d+[a-z]?\.)\s*(.*)$", re.S)
_BASIS = re.compile(r"^(Căn cứ|Theo đề nghị|Xét đề nghị|Xét)\b")


@dataclass(frozen=True)
class DraftContent:
    issuer: str  # "Ủy ban nhân dân tỉnh Tuyên Quang"
    type_name: str  # "Quyết định", "Công văn", ...
    subject: str  # trích yếu
    body: list[str]  # paragraphs; "Căn cứ ..." and "Điều 1. ..." are recognised
    parent: str | None = None  # the governing body above the issuer, if any
    recipients: list[str] = field(default_factory=list)  # Nơi nhận
    is_cong_van: bool = False
    authority_line: str = ""  # a decision's issuing authority ("CHỦ TỊCH ỦY BAN ...")
    bases: list[str] = field(default_factory=list)  # Căn cứ ... (italic)
    articles: list[str] = field(default_factory=list)  # Điều 1. ... (bold "Điều 1.")
    addressees: list[str] = field(default_factory=list)  # Kính gửi (công văn)
    archive_unit: str = ""  # the drafting unit in "Lưu: VT, <unit>, (n)."
    copies: int | None = None  # the (n) of the archive line: copies issued
    priority: int = 0  # 1 khẩn, 2 thượng khẩn, 3 hỏa tốc
    secrecy: int = 0  # 1 mật, 2 tối mật, 3 tuyệt mật


def issuer_lines(issuer: str) -> list[str]:
    """The issuing body's name in upper case, on two lines where Appendix I breaks it."""
    up = issuer.upper()
    for prefix in ("ỦY BAN NHÂN DÂN ", "UỶ BAN NHÂN DÂN ", "HỘI ĐỒNG NHÂN DÂN "):
        if up.startswith(prefix):
            return [prefix.strip(), up[len(prefix) :]]
    return simpleSplit(up, f"{register_fonts()}-Bold", 13, LEFT_COL[1] - LEFT_COL[0]) or [up]


def subject_line(subject: str) -> str:
    """A công văn's trích yếu: ``V/v`` once, however the clerk typed it."""
    text = re.sub(r"^\s*(v\s*/\s*v|về việc)\s*[:.]?\s*", "", subject.strip(), flags=re.I)
    return f"V/v {text}"


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=BODY_SIZE, leading=BODY_SIZE * 1.2)
    bold = f"{font}-Bold"
    return {
        "title": ParagraphStyle("title", base, fontName=bold, alignment=TA_CENTER),
        "subject": ParagraphStyle(
            "subject", base, fontName=bold, alignment=TA_CENTER, spaceAfter=3
        ),
        "authority": ParagraphStyle(
            "authority",
            base,
            fontName=bold,
            alignment=TA_CENTER,
            spaceBefore=4 * mm,
            spaceAfter=4 * mm,
        ),
        "basis": ParagraphStyle(
            "basis",
            base,
            fontName=f"{font}-Italic",
            alignment=TA_JUSTIFY,
            firstLineIndent=10 * mm,
            spaceAfter=6,
        ),
        "proclaim": ParagraphStyle(
            "proclaim",
            base,
            fontName=bold,
            alignment=TA_CENTER,
            spaceBefore=3 * mm,
            spaceAfter=3 * mm,
        ),
        "body": ParagraphStyle(
            "body", base, alignment=TA_JUSTIFY, firstLineIndent=10 * mm, spaceAfter=6
        ),
        "kinh_gui": ParagraphStyle(
            "kg", base, alignment=TA_LEFT, leftIndent=25 * mm, firstLineIndent=-25 * mm
        ),
        "kinh_gui_item": ParagraphStyle("kgi", base, alignment=TA_LEFT, leftIndent=25 * mm),
        "recipients_head": ParagraphStyle(
            "rh", base, fontName=f"{font}-BoldItalic", fontSize=12, leading=14, alignment=TA_LEFT
        ),
        "recipients": ParagraphStyle("r", base, fontSize=11, leading=13),
    }


class _SignatureSlot(Flowable):
    """Reserves the signer's block and records where it landed (page, rectangle)."""

    def __init__(self, sink: dict[str, Any]) -> None:
        super().__init__()
        self.width, self.height = PERSONAL_WIDTH, PERSONAL_HEIGHT
        self.sink = sink

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self.sink["page"] = self.canv.getPageNumber() - 1
        self.sink["rect"] = (x, y, x + self.width, y + self.height)


@dataclass
class _Header:
    """Page 1's header, laid out before the body so the body starts under it."""

    font: str
    content: DraftContent
    number_baseline: float = 0.0
    bottom: float = 0.0
    ops: list[tuple[str, Any]] = field(default_factory=list)

    def layout(self) -> _Header:
        c, font, bold = self.content, self.font, f"{self.font}-Bold"
        top = A4[1] - TOP
        cx, rx = sum(LEFT_COL) / 2, sum(RIGHT_COL) / 2
        y = top - 13
        if c.parent:
            self.ops.append(("text", (font, 13, cx, y, c.parent.upper())))
            y -= 15
        lines = issuer_lines(c.issuer)
        for line in lines:
            self.ops.append(("text", (bold, 13, cx, y, line)))
            y -= 15
        widest = max(stringWidth(line, bold, 13) for line in lines)
        rule_y = y + 15 - 8  # 8 pt under the last line of the name
        self.ops.append(("rule", (cx, rule_y, widest * AGENCY_RULE)))
        self.number_baseline = rule_y - 22
        left_bottom = self.number_baseline - 4
        if c.is_cong_van:
            vv = simpleSplit(subject_line(c.subject), font, 12, LEFT_COL[1] - LEFT_COL[0] - 6 * mm)
            y = self.number_baseline - 18
            for line in vv:
                self.ops.append(("text", (font, 12, cx, y, line)))
                y -= 14
            left_bottom = y + 10
        for mark in (SECRECY_MARK.get(c.secrecy), PRIORITY_MARK.get(c.priority)):
            if mark:
                y = left_bottom - 22
                self.ops.append(("mark", (bold, 13, cx, y, mark)))
                left_bottom = y - 5
        self.ops.append(("text", (bold, 13, rx, top - 13, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")))
        motto = "Độc lập - Tự do - Hạnh phúc"
        self.ops.append(("text", (bold, 14, rx, top - 30, motto)))
        self.ops.append(("rule", (rx, top - 38, stringWidth(motto, bold, 14))))
        self.bottom = min(left_bottom, self.number_baseline - 6) - 8 * mm
        return self

    def draw(self, canvas: Any) -> None:
        for kind, args in self.ops:
            if kind == "text":
                name, size, x, y, text = args
                canvas.setFont(name, size)
                canvas.drawCentredString(x, y, text)
            elif kind == "rule":
                x, y, length = args
                canvas.setLineWidth(0.6)
                canvas.line(x - length / 2, y, x + length / 2, y)
            else:  # a framed mark: bold upper case in a rectangle
                name, size, x, y, text = args
                w = stringWidth(text, name, size)
                canvas.setFont(name, size)
                canvas.drawCentredString(x, y, text)
                canvas.setLineWidth(0.8)
                canvas.rect(x - w / 2 - 2 * mm, y - 4, w + 4 * mm, size + 6)

    def fields(self) -> list[NewField]:
        b = self.number_baseline
        return [
            NewField(NUMBER_FIELD, 0, (LEFT_COL[0], b - 4, LEFT_COL[1], b + NUMBER_SIZE)),
            NewField(DATE_FIELD, 0, (RIGHT_COL[0], b - 4.5, RIGHT_COL[1], b + DATE_SIZE)),
        ]


def _is_proclamation(p: str) -> bool:
    return p.endswith(":") and p == p.upper() and any(ch.isalpha() for ch in p)


def _classify(c: DraftContent) -> tuple[list[str], list[str], list[str]]:
    """The body's bases, proclamation and the rest (articles and their clauses), from the
    structured parts, or recognised in plain paragraphs (``Căn cứ ...``, ``QUYẾT ĐỊNH:``,
    ``Điều 1. ...``). Structured articles without ``Điều N.`` are numbered."""
    bases: list[str] = list(c.bases)
    proclaim: list[str] = []
    rest: list[str] = []
    for p in (p.strip() for p in c.body if p.strip()):
        if _BASIS.match(p) and not rest:
            bases.append(p)
        elif _is_proclamation(p) and not rest:
            proclaim.append(p)
        else:
            rest.append(p)
    for i, a in enumerate(a.strip() for a in c.articles if a.strip()):
        rest.append(a if _ARTICLE.match(a) else f"Điều {i + 1}. {a}")
    return bases, proclaim, rest


def _paragraph(text: str, st: dict[str, ParagraphStyle]) -> Paragraph:
    m = _ARTICLE.match(text)
    if m:
        return Paragraph(f"<b>{escape(m.group(1))}</b> {escape(m.group(2))}", st["body"])
    return Paragraph(escape(text), st["body"])


def _end_block(c: DraftContent, st: dict[str, ParagraphStyle], slot: dict[str, Any]) -> Table:
    archive = "- Lưu: VT"
    if c.archive_unit:
        archive += f", {c.archive_unit}"
    if c.copies:
        archive += f", ({c.copies:02d})" if c.copies < 10 else f", ({c.copies})"
    recipients = (
        [Paragraph("Nơi nhận:", st["recipients_head"])]
        + [Paragraph(f"- {escape(r)};", st["recipients"]) for r in c.recipients]
        + [Paragraph(escape(archive + "."), st["recipients"])]
    )
    block = Table(
        [[recipients, _SignatureSlot(slot)]],
        colWidths=[TEXT_WIDTH - PERSONAL_WIDTH, PERSONAL_WIDTH],
    )
    block.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return block


class _Rule(Flowable):
    """A centred solid rule (under the trích yếu)."""

    def __init__(self, length: float) -> None:
        super().__init__()
        self.length, self.width, self.height = length, TEXT_WIDTH, 6

    def draw(self) -> None:
        self.canv.setLineWidth(0.6)
        x = (self.width - self.length) / 2
        self.canv.line(x, 1, x + self.length, 1)


def render_draft(target: Path, content: DraftContent) -> Path:
    """Write the draft PDF to ``target``."""
    font = register_fonts()
    st = _styles(font)
    header = _Header(font, content).layout()
    slot: dict[str, Any] = {}
    c = content
    story: list[Flowable] = [Spacer(1, A4[1] - TOP - header.bottom)]
    if not c.is_cong_van:
        story.append(Paragraph(escape(c.type_name.upper()), st["title"]))
        lines = simpleSplit(c.subject, f"{font}-Bold", BODY_SIZE, TEXT_WIDTH)
        story.append(Paragraph(escape(c.subject), st["subject"]))
        widest = max((stringWidth(line, f"{font}-Bold", BODY_SIZE) for line in lines), default=0.0)
        story.append(_Rule(widest * SUBJECT_RULE))
        if c.authority_line:
            story.append(Paragraph(escape(c.authority_line.upper()), st["authority"]))
        else:
            story.append(Spacer(1, 4 * mm))
    else:
        addressees = c.addressees or c.recipients
        if addressees:
            story.append(Spacer(1, 2 * mm))
            if len(addressees) == 1:
                story.append(Paragraph(f"Kính gửi: {escape(addressees[0])}.", st["kinh_gui"]))
            else:
                story.append(Paragraph("Kính gửi:", st["kinh_gui"]))
                story += [
                    Paragraph(
                        f"- {escape(a)}{'.' if i == len(addressees) - 1 else ';'}",
                        st["kinh_gui_item"],
                    )
                    for i, a in enumerate(addressees)
                ]
            story.append(Spacer(1, 4 * mm))
    bases, proclaim, rest = _classify(c)
    body: list[Flowable] = [Paragraph(escape(b), st["basis"]) for b in bases]
    if proclaim or (not c.is_cong_van and any(_ARTICLE.match(p) for p in rest)):
        body.append(
            Paragraph(
                escape(proclaim[0] if proclaim else f"{c.type_name.upper()}:"), st["proclaim"]
            )
        )
    body += [_paragraph(p, st) for p in rest]
    end = _end_block(c, st, slot)
    # the signature block stays on one page with the last lines of the body
    tail = body[-2:] if len(body) >= 2 else body
    story += body[: len(body) - len(tail)]
    story.append(KeepTogether([*tail, Spacer(1, 4 * mm), end]))

    def first(canvas: Any, _doc: Any) -> None:
        header.draw(canvas)

    def later(canvas: Any, doc: Any) -> None:
        canvas.setFont(font, 13)
        canvas.drawCentredString(LEFT + TEXT_WIDTH / 2, A4[1] - 12 * mm, str(doc.page))

    doc = SimpleDocTemplate(
        str(target),
        pagesize=A4,
        leftMargin=LEFT,
        rightMargin=RIGHT,
        topMargin=TOP,
        bottomMargin=BOTTOM,
        title=c.subject,
        author=c.issuer,
        lang="vi",
    )
    doc.build(story, onFirstPage=first, onLaterPages=later)
    add_fields(
        target, [*header.fields(), NewField(SIGNATURE_FIELD, slot["page"], slot["rect"], "/Sig")]
    )
    return target


def content_for(
    *,
    issuer: str,
    type_name: str,
    is_cong_van: bool,
    subject: str,
    body: list[str],
    recipients: list[str],
    head_title: str,
    archive_unit: str = "",
    copies: int | None = None,
    priority: int = 0,
    secrecy: int = 0,
    parts: dict[str, Any] | None = None,
) -> DraftContent:
    """The content of a template draft from a document's metadata and the structured parts
    given (``parent``, ``authority_line``, ``bases``, ``articles``, ``addressees``)."""
    parts = parts or {}
    authority = parts.get("authority_line")
    if authority is None and type_name.lower().startswith("quyết định"):
        authority = f"{head_title} {issuer}".upper()
    return DraftContent(
        issuer=issuer,
        type_name=type_name,
        subject=subject,
        body=body,
        parent=parts.get("parent"),
        recipients=recipients,
        is_cong_van=is_cong_van,
        authority_line=authority or "",
        bases=list(parts.get("bases") or ()),
        articles=list(parts.get("articles") or ()),
        addressees=list(parts.get("addressees") or ()),
        archive_unit=archive_unit,
        copies=copies,
        priority=priority,
        secrecy=secrecy,
    )
