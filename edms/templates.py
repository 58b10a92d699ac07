"""Drafts generated in the Decree 30 layout (Appendix I), ready for the outgoing lifecycle.

A generated draft carries what the System needs later, in the places Decree 30 puts them:
an empty text field for the number and symbol (under the issuing body's name), an empty
text field for the place-and-date line (under the national motto), and an empty signature
field in the signer's block, where the leader's personal signature appearance (title,
signature image, name) will be drawn. The body is typeset with Liberation Serif.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pikepdf
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
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

from .render import register_fonts

NUMBER_FIELD = "SoKyHieu"
DATE_FIELD = "NgayThang"
SIGNATURE_FIELD = "ChuKyLanhDao"

LEFT, RIGHT, TOP, BOTTOM = 30 * mm, 15 * mm, 20 * mm, 20 * mm
HEADER_HEIGHT = 62 * mm
LEFT_COL = (LEFT - 12 * mm, LEFT + 68 * mm)  # centre column of the issuing body
RIGHT_COL = (A4[0] - RIGHT - 100 * mm, A4[0] - RIGHT)


@dataclass(frozen=True)
class DraftContent:
    issuer: str  # "Ủy ban nhân dân tỉnh Hà Giang"
    type_name: str  # "Quyết định", "Công văn", ...
    subject: str  # trích yếu
    body: list[str]
    parent: str | None = None  # the governing body above the issuer, if any
    recipients: list[str] = field(default_factory=list)
    is_cong_van: bool = False


def _issuer_lines(issuer: str) -> list[str]:
    up = issuer.upper()
    for prefix in ("ỦY BAN NHÂN DÂN ", "UỶ BAN NHÂN DÂN "):
        if up.startswith(prefix):
            return [prefix.strip(), up[len(prefix):]]
    return [up]


class _SignatureSlot(Flowable):
    """Reserves the signer's block and records where it landed (page, rectangle)."""

    def __init__(self, sink: dict[str, Any]) -> None:
        super().__init__()
        self.width, self.height = PERSONAL_WIDTH, PERSONAL_HEIGHT
        self.sink = sink

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self.sink["page"] = self.canv.getPageNumber() - 1
        self.sink["rect"] = [x, y, x + self.width, y + self.height]


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=14, leading=18)
    return {
        "title": ParagraphStyle("title", base, fontName=f"{font}-Bold", alignment=TA_CENTER,
                                fontSize=14, leading=18),
        "subject": ParagraphStyle("subject", base, fontName=f"{font}-Bold",
                                  alignment=TA_CENTER, fontSize=14, leading=18,
                                  spaceAfter=4 * mm),
        "cv_subject": ParagraphStyle("cv", base, fontSize=12, leading=15,
                                     alignment=TA_CENTER),
        "body": ParagraphStyle("body", base, alignment=TA_JUSTIFY, firstLineIndent=12 * mm,
                               spaceAfter=6),
        "recipients_head": ParagraphStyle("rh", base, fontName=f"{font}-BoldItalic",
                                          fontSize=12, leading=14, alignment=TA_LEFT),
        "recipients": ParagraphStyle("r", base, fontSize=11, leading=13),
    }


def render_draft(target: Path, content: DraftContent) -> Path:
    """Write the draft PDF to ``target``."""
    font = register_fonts()
    st = _styles(font)
    slot: dict[str, Any] = {}
    story: list[Flowable] = [Spacer(1, HEADER_HEIGHT - TOP)]
    if not content.is_cong_van:
        story.append(Paragraph(escape(content.type_name.upper()), st["title"]))
        story.append(Paragraph(escape(content.subject), st["subject"]))
    story += [Paragraph(escape(p), st["body"]) for p in content.body if p.strip()]
    recipients = [Paragraph("Nơi nhận:", st["recipients_head"])] + [
        Paragraph(f"- {escape(r)};", st["recipients"]) for r in content.recipients
    ] + [Paragraph("- Lưu: VT.", st["recipients"])]
    block = Table([[recipients, _SignatureSlot(slot)]],
                  colWidths=[A4[0] - LEFT - RIGHT - PERSONAL_WIDTH, PERSONAL_WIDTH])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story += [Spacer(1, 6 * mm), KeepTogether([block])]

    def header(canvas: Any, _doc: Any) -> None:
        top = A4[1] - TOP
        cx = sum(LEFT_COL) / 2
        y = top - 13
        if content.parent:
            canvas.setFont(font, 12)
            canvas.drawCentredString(cx, y, content.parent.upper())
            y -= 15
        canvas.setFont(f"{font}-Bold", 12)
        lines = _issuer_lines(content.issuer)
        for line in lines:
            canvas.drawCentredString(cx, y, line)
            y -= 15
        canvas.line(cx - 15 * mm, y + 10, cx + 15 * mm, y + 10)
        rx = sum(RIGHT_COL) / 2
        canvas.setFont(f"{font}-Bold", 12)
        canvas.drawCentredString(rx, top - 13, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        canvas.setFont(f"{font}-Bold", 13)
        canvas.drawCentredString(rx, top - 29, "Độc lập - Tự do - Hạnh phúc")
        canvas.line(rx - 30 * mm, top - 33, rx + 30 * mm, top - 33)
        if content.is_cong_van:
            canvas.setFont(font, 12)
            canvas.drawCentredString(cx, top - 78, f"V/v {content.subject}"[:90])

    doc = SimpleDocTemplate(str(target), pagesize=A4, leftMargin=LEFT, rightMargin=RIGHT,
                            topMargin=TOP, bottomMargin=BOTTOM, title=content.subject,
                            author=content.issuer, lang="vi")
    doc.build(story, onFirstPage=header)
    _add_fields(target, slot)
    return target


def _add_fields(path: Path, slot: dict[str, Any]) -> None:
    """The number and date text fields on page 1, the empty signature field in the signer's
    block (pikepdf, in place)."""
    top = A4[1] - TOP
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        helv = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica))
        fields = []
        placed = (
            (NUMBER_FIELD, 0, [LEFT_COL[0], top - 62, LEFT_COL[1], top - 44], "/Tx"),
            (DATE_FIELD, 0, [RIGHT_COL[0], top - 58, RIGHT_COL[1], top - 40], "/Tx"),
            (SIGNATURE_FIELD, slot["page"], slot["rect"], "/Sig"),
        )
        for name, page_no, rect, ft in placed:
            page = pdf.pages[page_no].obj
            entries: dict[str, Any] = {
                "/FT": pikepdf.Name(ft), "/T": pikepdf.String(name),
                "/Type": pikepdf.Name.Annot, "/Subtype": pikepdf.Name.Widget,
                "/Rect": pikepdf.Array([round(v, 2) for v in rect]), "/F": 4, "/P": page,
            }
            if ft == "/Tx":
                entries["/V"] = pikepdf.String("")
                entries["/DA"] = pikepdf.String("/Helv 13 Tf 0 g")
            f = pdf.make_indirect(pikepdf.Dictionary(entries))
            fields.append(f)
            if "/Annots" not in page:
                page.Annots = pikepdf.Array()
            page.Annots.append(f)
        pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(
            Fields=pikepdf.Array(fields), DA=pikepdf.String("/Helv 12 Tf 0 g"),
            DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv))))
        pdf.save(path)
