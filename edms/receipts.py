"""The receipt of a citizen's dossier (Giấy tiếp nhận hồ sơ và hẹn trả kết quả), printed
at the desk on A4 or A5, in the layout of the one-stop desks' form (Circular 01/2018/
TT-VPCP, Form 01) with Decree 30's presentation: the issuing body and the national motto
side by side, the place-and-date line, the title, the papers handed in, the processing
time, the date the result is promised for, and both signatures.

Below the papers, a box with a QR code that opens the dossier's look-up page (its URL
holds the dossier code only) and the look-up secret the citizen types there. The secret
exists only in the :class:`~edms.reception.Receipt` handed to this module: the PDF is made
for the clerk's browser and not stored (a lost receipt is reissued with a new secret).

Fonts: Liberation Serif (signing.fonts, metric-compatible with Times New Roman), which
covers Vietnamese; the QR code is vector squares (segno), sharp at any printer resolution.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import segno
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, A5
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

from .documents import date_line
from .errors import ClientError
from .numbering import VN_TZ
from .reception import CHANNELS, PAPER_FORMS, Receipt, vn_date
from .render import register_fonts

PAPERS = {"A4": A4, "A5": A5}
WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
TITLE = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"


class QrCode(Flowable):
    """A QR code drawn as vector squares (segno's matrix), ``size`` wide, quiet zone
    included."""

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        self.qr = segno.make(data, error="m", micro=False)
        self.width = self.height = size

    def draw(self) -> None:
        matrix = [list(row) for row in self.qr.matrix]
        quiet = 2
        n = len(matrix) + 2 * quiet
        module = self.width / n
        c = self.canv
        c.setFillGray(1)
        c.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        c.setFillGray(0)
        for r, row in enumerate(matrix):
            for col, dark in enumerate(row):
                if dark:
                    c.rect(
                        (col + quiet) * module,
                        self.height - (r + quiet + 1) * module,
                        module,
                        module,
                        stroke=0,
                        fill=1,
                    )


def _agency_lines(name: str) -> list[str]:
    """The agency's name in capitals, broken where Decree 30 breaks a People's Committee's
    (``ỦY BAN NHÂN DÂN`` / ``TỈNH HÀ GIANG``)."""
    up = name.upper()
    for prefix in ("ỦY BAN NHÂN DÂN ", "UỶ BAN NHÂN DÂN "):
        if up.startswith(prefix):
            return [prefix.strip(), up[len(prefix) :]]
    return [up]


def _rule(width: float) -> Table:
    """The short line under the agency's name and under the motto."""
    t = Table([[""]], colWidths=[width], rowHeights=[1])
    t.setStyle(TableStyle([("LINEABOVE", (0, 0), (-1, -1), 0.6, "black")]))
    return t


def render(receipt: Receipt, paper: str = "A4") -> bytes:
    """The receipt as a PDF (one page for a usual list of papers)."""
    if paper not in PAPERS:
        raise ClientError("the receipt is printed on A4 or A5")
    page = PAPERS[paper]
    small = paper == "A5"
    size = 9.5 if small else 13
    lead = size * 1.25
    font = register_fonts()
    bold = f"{font}-Bold"
    left, right = (15 * mm, 10 * mm) if small else (30 * mm, 15 * mm)
    top = bottom = 10 * mm if small else 20 * mm
    width = page[0] - left - right

    def style(name: str, **kw: object) -> ParagraphStyle:
        return ParagraphStyle(name, **{"fontName": font, "fontSize": size, "leading": lead, **kw})

    body = style("body", spaceAfter=1.5)
    centre = style("centre", alignment=TA_CENTER)
    centre_b = style("centre_b", alignment=TA_CENTER, fontName=bold)
    head = style("head", alignment=TA_CENTER, fontName=bold, fontSize=size - 1.5, leading=lead - 2)
    cell = style("cell", fontSize=size - 1, leading=lead - 1.5)
    cell_c = style("cell_c", fontSize=size - 1, leading=lead - 1.5, alignment=TA_CENTER)

    def p(text: str, st: ParagraphStyle = body) -> Paragraph:
        return Paragraph(text, st)

    def e(text: str) -> str:
        return escape(text)

    received = receipt.received_at.astimezone(VN_TZ)
    promised = receipt.promised_date
    col = width / 2
    header = Table(
        [
            [
                p("<br/>".join(e(line) for line in _agency_lines(receipt.agency_name)), head),
                p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", head),
            ],
            [p("BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ", head), p("Độc lập - Tự do - Hạnh phúc", head)],
            [_rule(col * 0.35), _rule(col * 0.6)],
            [
                "",
                p(
                    f"<i>{e(date_line(receipt.agency_place, vn_date(receipt.received_at)))}</i>",
                    centre,
                ),
            ],
        ],
        colWidths=[col * 0.96, col * 1.04],
    )
    header.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 2), (-1, 2), 3),
                ("BOTTOMPADDING", (0, 0), (-1, 1), 0),
            ]
        )
    )
    story: list[Flowable] = [
        header,
        Spacer(1, 3 * mm),
        p(TITLE, ParagraphStyle("t", centre_b, fontSize=size + 1, leading=lead + 1)),
        p(f"Mã hồ sơ: <b>{e(receipt.code)}</b>", centre),
        Spacer(1, 3 * mm),
    ]
    story.append(
        p(f"Bộ phận tiếp nhận và trả kết quả của {e(receipt.agency_name)} đã tiếp nhận hồ sơ của:")
    )
    story.append(p(f"Ông/Bà: <b>{e(receipt.applicant_name)}</b>"))
    if receipt.applicant_id:
        story.append(p(f"Số định danh cá nhân / mã số: {e(receipt.applicant_id)}"))
    if receipt.address:
        story.append(p(f"Địa chỉ: {e(receipt.address)}"))
    contact = [f"Số điện thoại: {e(receipt.phone)}"] if receipt.phone else []
    contact += [f"Thư điện tử: {e(receipt.email)}"] if receipt.email else []
    if contact:
        story.append(p("; ".join(contact)))
    story.append(
        p(
            f"Nội dung yêu cầu giải quyết: {e(receipt.procedure_name)} "
            f"(mã thủ tục {e(receipt.procedure_code)})."
        )
    )
    story.append(p("1. Thành phần hồ sơ nộp gồm:"))
    rows: list[list[object]] = [
        [p("TT", cell_c), p("Tên giấy tờ", cell_c), p("Hình thức", cell_c), p("Số lượng", cell_c)]
    ]
    for i, paper_item in enumerate(receipt.papers, 1):
        rows.append(
            [
                p(str(i), cell_c),
                p(e(paper_item.name), cell),
                p(PAPER_FORMS.get(paper_item.form, paper_item.form), cell_c),
                p(f"{paper_item.count:02d}", cell_c),
            ]
        )
    if not receipt.papers:
        rows.append(["", p("(không có giấy tờ kèm theo)", cell), "", ""])
    papers = Table(
        rows, colWidths=[width * 0.08, width * 0.57, width * 0.22, width * 0.13], repeatRows=1
    )
    papers.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
        )
    )
    story += [papers, Spacer(1, 2 * mm)]
    story.append(p(f"2. Thời gian giải quyết hồ sơ theo quy định: {e(receipt.time_vi)}."))
    story.append(
        p(
            f"3. Thời gian nhận hồ sơ: {received:%H} giờ {received:%M} phút, ngày "
            f"{received:%d/%m/%Y}."
        )
    )
    story.append(
        p(
            f"4. Thời gian trả kết quả giải quyết hồ sơ: <b>ngày "
            f"{promised:%d/%m/%Y}</b> ({WEEKDAYS_VI[promised.weekday()]}), trong giờ "
            "hành chính."
        )
    )
    if receipt.channels:
        story.append(
            p(
                "5. Nhận thông báo về hồ sơ qua: "
                + ", ".join(CHANNELS[c] for c in receipt.channels)
                + "."
            )
        )
    qr_size = (24 if small else 28) * mm
    lookup = Table(
        [
            [
                QrCode(receipt.lookup_url, qr_size),
                [
                    p("<b>Tra cứu tình trạng hồ sơ và nhận kết quả điện tử</b>", cell),
                    p(f"Quét mã QR hoặc truy cập: {e(receipt.lookup_url)}", cell),
                    p(f"Mã hồ sơ: <b>{e(receipt.code)}</b>", cell),
                    p(f"Mã tra cứu: <b>{e(receipt.secret)}</b>", cell),
                    p(
                        "<i>Giữ kín mã tra cứu: chỉ người có cả hai mã này mới xem được hồ sơ và "
                        "tải kết quả.</i>",
                        cell,
                    ),
                ],
            ]
        ],
        colWidths=[qr_size + 4 * mm, width - qr_size - 4 * mm],
    )
    lookup.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, "black"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), 2 * mm),
            ]
        )
    )
    story += [Spacer(1, 3 * mm), lookup, Spacer(1, 4 * mm)]
    signatures = Table(
        [
            [p("<b>NGƯỜI NỘP HỒ SƠ</b>", centre), p("<b>NGƯỜI TIẾP NHẬN HỒ SƠ</b>", centre)],
            [p("<i>(Ký và ghi rõ họ tên)</i>", centre), p("<i>(Ký và ghi rõ họ tên)</i>", centre)],
            [Spacer(1, (12 if small else 20) * mm), ""],
            [
                p(f"<b>{e(receipt.applicant_name)}</b>", centre),
                p(f"<b>{e(receipt.clerk_name)}</b>", centre),
            ],
        ],
        colWidths=[col, col],
    )
    signatures.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story.append(KeepTogether([signatures]))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=left,
        rightMargin=right,
        topMargin=top,
        bottomMargin=bottom,
        title=f"{TITLE.capitalize()} {receipt.code}",
        author=receipt.agency_name,
        creator="EDMS",
        lang="vi",
    )
    doc.build(story)
    return out.getvalue()
