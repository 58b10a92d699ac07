"""Drafts as agencies write them in Word: a .docx made with python-docx in the Decree 30
layout (a borderless two-column header table with the "Số:" and date lines, the body, a
two-column table with "Nơi nhận" and the signature block), and its PDF exported by
LibreOffice without any form field."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

CENTER, LEFT, JUSTIFY = (
    WD_ALIGN_PARAGRAPH.CENTER,
    WD_ALIGN_PARAGRAPH.LEFT,
    WD_ALIGN_PARAGRAPH.JUSTIFY,
)


def _fixed_table(doc: object, widths_mm: tuple[float, float]) -> object:
    table = doc.add_table(rows=1, cols=2)  # type: ignore[attr-defined]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout)
    for cell, w in zip(table.rows[0].cells, widths_mm, strict=True):
        cell.width = Mm(w)
    for col, w in zip(table.columns, widths_mm, strict=True):
        col.width = Mm(w)
    return table


def _para(
    container: object,
    text: str,
    *,
    bold: bool = False,
    italic: bool = False,
    size: float = 14,
    align: object = CENTER,
    first: bool = False,
) -> None:
    p = container.paragraphs[0] if first else container.add_paragraph()  # type: ignore[attr-defined]
    p.alignment = align
    p.paragraph_format.space_after = Pt(0)
    run = p.add_run(text)
    run.bold, run.italic, run.font.size = bold, italic, Pt(size)


def decision_docx(
    target: Path,
    *,
    symbol: str = "QĐ-UBND",
    signer: str = "Trần Thị Hồng Nhung",
    titles: tuple[str, ...] = ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"),
    number_line: str | None = None,
    date_line: str | None = None,
    year: str = "",
) -> Path:
    """A Quyết định drafted in Word: "Số:" with a blank before the symbol, the date line
    with blanks for the day and month, the signature block with a blank signing space."""
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(14)
    head = _fixed_table(doc, (62, 103))
    left, right = head.rows[0].cells  # type: ignore[attr-defined]
    _para(left, "ỦY BAN NHÂN DÂN", size=13, first=True)
    _para(left, "TỈNH TUYÊN QUANG", bold=True, size=13)
    _para(left, "")
    _para(left, number_line or f"Số:        /{symbol}", size=13)
    _para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=13, first=True)
    _para(right, "Độc lập - Tự do - Hạnh phúc", bold=True)
    _para(right, "")
    _para(
        right,
        date_line
        or f"Tuyên Quang, ngày       tháng       năm {year}".rstrip()
        + ("" if year else "         "),
        italic=True,
    )
    _para(doc, "")
    _para(doc, "QUYẾT ĐỊNH", bold=True)
    _para(doc, "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027", bold=True)
    _para(doc, "")
    _para(doc, "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG", bold=True)
    _para(doc, "")
    for text in (
        "Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;",
        "Theo đề nghị của Giám đốc Sở Khoa học và Công nghệ.",
    ):
        _para(doc, text, italic=True, align=JUSTIFY)
    _para(doc, "")
    _para(doc, "QUYẾT ĐỊNH:", bold=True)
    _para(doc, "")
    for text in (
        "Điều 1. Phê duyệt Kế hoạch chuyển đổi số năm 2027 của tỉnh Tuyên Quang "
        "kèm theo Quyết định này.",
        "Điều 2. Quyết định này có hiệu lực kể từ ngày ký. Chánh Văn phòng Ủy ban "
        "nhân dân tỉnh, Giám đốc Sở Khoa học và Công nghệ chịu trách nhiệm thi "
        "hành Quyết định này.",
    ):
        _para(doc, text, align=JUSTIFY)
    _para(doc, "")
    tail = _fixed_table(doc, (80, 85))
    left, right = tail.rows[0].cells  # type: ignore[attr-defined]
    _para(left, "Nơi nhận:", bold=True, italic=True, size=12, align=LEFT, first=True)
    for text in ("- Như Điều 2;", "- Chủ tịch, các PCT UBND tỉnh;", "- Lưu: VT, VP, (2)."):
        _para(left, text, size=11, align=LEFT)
    for i, text in enumerate(titles):
        _para(right, text, bold=True, first=i == 0)
    for _ in range(5):
        _para(right, "")
    _para(right, signer, bold=True)
    doc.save(target)
    return target


def export_pdf(docx: Path, target: Path) -> Path:
    """The .docx exported to PDF by LibreOffice (as "Save as PDF" does: no form fields)."""
    work = target.parent / f".lo-{target.stem}"
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            shutil.which("soffice") or "soffice",
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(work / 'profile').resolve().as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work),
            str(docx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    shutil.move(work / f"{docx.stem}.pdf", target)
    shutil.rmtree(work, ignore_errors=True)
    return target
