"""A Decree-30 inspection of what the System issues, on rendered pages (pdftoppm): the
signature block's text at 13-14 pt bold, the italic date line, page numbers from page 2,
the rules at their lengths, the seal over a third of the signature ink, the V/v line of an
official letter within the left column; digitized copies whose "SAO Y" text and QR code
never cover the scan's ink, and whose Info and XMP metadata agree. The rendered decision
and letter are kept in test-artifacts/layout/ (git-ignored) for a person to look at."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.system import System
from edms.templates import LEFT_COL, content_for, render_draft
from signing.fonts import serif_font_path
from tests.support.agency import BODY, draft_meta, sign
from tests.support.pages import (
    box_of,
    dark,
    render,
    seal_overlap,
    slant,
    text_metrics,
    words,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "layout"
DPI = 200
PT = DPI / 72
ARTICLES = [
    f"Điều {i}. " + "Giao các sở, ban, ngành và Ủy ban nhân dân các xã, phường tổ "
    "chức thực hiện nhiệm vụ chuyển đổi số theo kế hoạch được phê duyệt; định kỳ "
    "báo cáo kết quả về Sở Khoa học và Công nghệ để tổng hợp. " * 2
    for i in range(1, 9)
]


@pytest.fixture(scope="module")
def agency(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("layout")
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_PUBLIC_URL": "https://edms.tuyenquang.gov.vn",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    yield system
    system.close()


@pytest.fixture(scope="module")
def issued_decision(agency: System, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page template decision signed by the deputy (KT.), numbered and sealed."""
    system = agency
    doc = docs.create_from_template(
        system,
        "chuyenvien",
        draft_meta(drafting_unit="VX", issued_amount=8, priority=1),
        BODY[:2],
        parts={"articles": ARTICLES},
    )
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "phochutich", doc.id)
    sign(system, "phochutich", doc.id)
    docs.number(system, "vanthu", doc.id)
    docs.seal(system, "vanthu", doc.id)
    out = tmp_path_factory.mktemp("decision") / "quyet-dinh.pdf"
    docs.download(system, "vanthu", doc.id, out)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with pikepdf.open(out) as pdf:
        pages = len(pdf.pages)
    for page in range(1, pages + 1):
        render(out, page, 100, out.parent).save(ARTIFACTS / f"quyet-dinh-trang-{page}.png")
    return out


def _find(
    found: list[tuple[str, float, float, float, float]], text: str
) -> list[tuple[str, float, float, float, float]]:
    """The words of the first line (same baseline) that reads ``text``."""
    parts = text.split()
    for i, w in enumerate(found):
        if w[0] != parts[0]:
            continue
        run = [w]
        for nxt in found[i + 1 :]:
            if len(run) == len(parts):
                break
            if nxt[0] == parts[len(run)] and abs(nxt[4] - w[4]) < 2:
                run.append(nxt)
        if len(run) == len(parts):
            return run
    raise AssertionError(f"no line {text!r} on the page")


def _size_pt(cap_px: int) -> float:
    """Font size from the rendered height of capital letters (Liberation Serif: cap
    height 0.655 em, Bold 0.655 em)."""
    return cap_px / PT / 0.655


def _first_capital(image: Image.Image, line: list[tuple[str, float, float, float, float]]) -> int:
    """The rendered ink height of a line's first letter, a capital without diacritics
    (K, P, T, ...): its cap height."""
    x1, y1, _x2, y2 = box_of(line[:1], DPI)
    cap, _ = text_metrics(image, (x1, y1, x1 + int(7 * PT), y2))
    return cap


def test_signature_block_and_date_line_as_appendix_i(issued_decision: Path, tmp_path: Path) -> None:
    pdf = issued_decision
    with pikepdf.open(pdf) as p:
        last = len(p.pages)
    assert last >= 2, "the decision was made long enough for two pages"
    image = render(pdf, last, DPI, tmp_path)
    found = words(pdf, last)
    # the signature block: authority and title lines, the name, 13-14 pt bold
    regular_lines = [w for w in found if w[0].startswith("-") or w[0] == "Như"]
    body_box = box_of(_find(found, "Lưu: VT, VX, (08)."), DPI) if regular_lines else None
    for text in ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Trần Thị Hồng Nhung"):
        line = _find(found, text)
        _cap, density = text_metrics(image, box_of(line, DPI))
        assert density > 0.30, (text, density)  # bold
        assert 13 - 0.5 <= _size_pt(_first_capital(image, line)) <= 14 + 1, text
    # regular text of the same page is far lighter: the measure tells bold from regular
    if body_box is not None:
        _cap, density = text_metrics(image, body_box)
        assert density < 0.27
    # page 1: the date line italic, the number line upright; both on one baseline
    first = render(pdf, 1, DPI, tmp_path)
    top = words(pdf, 1)
    today = docs.vn_today()
    date_words = _find(top, f"Tuyên Quang, ngày {today.day:02d}")
    number_words = _find(top, "Số: 01/QĐ-UBND")
    assert abs(date_words[0][4] - number_words[0][4]) < 1.5
    assert slant(first, box_of(date_words, DPI)) >= 8
    assert abs(slant(first, box_of(number_words, DPI))) <= 3
    assert 13 - 0.5 <= _size_pt(_first_capital(first, date_words)) <= 14 + 1


def test_page_numbers_from_page_two(issued_decision: Path, tmp_path: Path) -> None:
    with pikepdf.open(issued_decision) as p:
        pages = len(p.pages)
    top_band = int(20 * 72 / 25.4 * PT)  # the top margin
    for page in range(1, pages + 1):
        image = render(issued_decision, page, DPI, tmp_path)
        band = image.crop((0, 0, image.width, top_band))
        ink = [
            x
            for x in range(band.width)
            for y in range(0, band.height, 2)
            if dark(band.getpixel((x, y)))
        ]
        if page == 1:
            assert not ink, "page 1 carries no page number"
            continue
        assert ink, f"no page number on page {page}"
        centre = (min(ink) + max(ink)) / 2
        assert abs(centre - image.width * (30 + 165 / 2) / 210) < 3 * PT  # text centre
        numbers = [w for w in words(issued_decision, page) if w[2] < 20 * 72 / 25.4]
        assert [w[0] for w in numbers] == [str(page)]


def test_rules_at_their_lengths(issued_decision: Path, tmp_path: Path) -> None:
    image = render(issued_decision, 1, DPI, tmp_path)
    top = words(issued_decision, 1)

    def rule_under(line: list[tuple[str, float, float, float, float]]) -> float:
        """The length (points) of the horizontal rule just under a line of words."""
        x1, _y1, x2, y2 = box_of(line, DPI)
        for y in range(y2, y2 + int(14 * PT)):
            row = [
                x
                for x in range(x1 - int(60 * PT), x2 + int(60 * PT))
                if dark(image.getpixel((x, y)))
            ]
            if len(row) > 20 * PT:
                return (max(row) - min(row) + 1) / PT
        raise AssertionError("no rule under the line")

    name = _find(top, "TỈNH TUYÊN QUANG")
    name_width = name[-1][3] - name[0][1]
    assert name_width / 3 <= rule_under(name) <= name_width / 2
    motto = _find(top, "Độc lập - Tự do - Hạnh phúc")
    assert abs(rule_under(motto) - (motto[-1][3] - motto[0][1])) < 3
    subject = _find(top, "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027")
    width = subject[-1][3] - subject[0][1]
    assert width / 3 <= rule_under(subject) <= width / 2
    # the urgency mark is printed, framed; "Lưu" names the drafting unit and the copies
    assert _find(top, "KHẨN")
    text = subprocess.run(
        ["pdftotext", str(issued_decision), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "- Lưu: VT, VX, (08)." in text
    assert "QUYẾT ĐỊNH:" in text and "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG" in text


def test_seal_overlaps_a_third_of_the_signature_ink(issued_decision: Path, tmp_path: Path) -> None:
    with pikepdf.open(issued_decision) as p:
        last = len(p.pages)
    m = seal_overlap(render(issued_decision, last, 150, tmp_path))
    assert 0.28 <= m.ratio <= 0.40, m
    assert m.seal[0] < m.ink[0]


def test_official_letter_wraps_its_subject_in_the_left_column(tmp_path: Path) -> None:
    letter = render_draft(
        tmp_path / "cong-van.pdf",
        content_for(
            issuer="Ủy ban nhân dân tỉnh Tuyên Quang",
            type_name="Công văn",
            is_cong_van=True,
            subject="V/v hướng dẫn triển khai chuyển đổi số cấp xã sau sắp xếp đơn vị hành "
            "chính và tổ chức chính quyền địa phương hai cấp từ ngày 01 tháng 7 năm 2025",
            body=[
                "Thực hiện Kế hoạch số 12/KH-UBND ngày 05 tháng 01 năm 2026 của Ủy ban nhân "
                "dân tỉnh, Ủy ban nhân dân tỉnh đề nghị các đơn vị triển khai các nội dung "
                "sau.",
                "Đề nghị các đơn vị báo cáo kết quả trước ngày 15 tháng 12 năm 2026.",
            ],
            recipients=["Như trên"],
            head_title="CHỦ TỊCH",
            archive_unit="VX",
            copies=3,
            secrecy=0,
            priority=3,
            parts={"addressees": ["Ủy ban nhân dân các xã, phường", "Sở Khoa học và Công nghệ"]},
        ),
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    render(letter, 1, 100, tmp_path).save(ARTIFACTS / "cong-van-trang-1.png")
    found = words(letter, 1)
    vv = [w for w in found if w[0] == "V/v"]
    assert len(vv) == 1, "V/v once, though the clerk typed it"
    lines = sorted(
        {
            round(w[4])
            for w in found
            if w[4] > vv[0][4] - 1 and w[4] < vv[0][4] + 80 and w[3] < LEFT_COL[1] + 1
        }
    )
    assert len(lines) >= 3, "the subject wraps over several lines"
    subject_words = [w for w in found if round(w[4]) in lines]
    assert all(LEFT_COL[0] <= w[1] and w[3] <= LEFT_COL[1] for w in subject_words)
    text = subprocess.run(
        ["pdftotext", "-layout", str(letter), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Kính gửi:" in text and "- Ủy ban nhân dân các xã, phường;" in text
    assert "HỎA TỐC" in text and "năm 2025" in text


# -- digitized copies ---------------------------------------------------------------------------


def _scan(path: Path, dense: bool) -> Path:
    """A scanned decision at 200 dpi: the national title at the top right as printed, the
    issuer at the top left, body text, a red seal; ``dense``: text over the whole page."""
    dpi = 200
    w, h = int(8.27 * dpi), int(11.69 * dpi)
    im = Image.new("RGB", (w, h), (250, 250, 248))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(serif_font_path(False), size=int(13 * dpi / 72))
    bold = ImageFont.truetype(serif_font_path(True), size=int(13 * dpi / 72))
    mm = dpi / 25.4
    if dense:
        y = int(8 * mm)
        while y < h - 10 * mm:
            d.text((int(8 * mm), y), "Nội dung kín trang giấy " * 8, fill=(20, 20, 20), font=font)
            y += int(6 * mm)
    else:
        d.text((int(20 * mm), int(15 * mm)), "ỦY BAN NHÂN DÂN", fill=(0, 0, 0), font=font)
        d.text((int(18 * mm), int(21 * mm)), "PHƯỜNG MINH XUÂN", fill=(0, 0, 0), font=bold)
        d.text(
            (int(100 * mm), int(15 * mm)),
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            fill=(0, 0, 0),
            font=bold,
        )
        d.text(
            (int(112 * mm), int(21 * mm)), "Độc lập - Tự do - Hạnh phúc", fill=(0, 0, 0), font=bold
        )
        d.line((int(112 * mm), int(28 * mm), int(172 * mm), int(28 * mm)), fill=(0, 0, 0), width=3)
        y = int(45 * mm)
        for i in range(14):
            d.text(
                (int(30 * mm), y),
                f"Dòng {i + 1}: giấy chứng nhận đăng ký hộ kinh doanh "
                "cấp cho hộ kinh doanh trên địa bàn phường",
                fill=(10, 10, 10),
                font=font,
            )
            y += int(8 * mm)
        d.ellipse((int(120 * mm), y, int(158 * mm), y + int(38 * mm)), outline=(200, 0, 0), width=8)
    im.save(path, dpi=(dpi, dpi))
    return path


def _added_ink_over_scan(copy: Path, scan_pdf: Path, tmp_path: Path) -> tuple[int, int]:
    """(pixels the copy adds over the scan's ink, pixels it adds in all) on page 1, the
    copy's page aligned on the scan's by its page box (at 72 dpi a point is a pixel, and
    a band is a whole number of points: the scan is drawn on the same pixels)."""
    dpi = 72
    with pikepdf.open(copy) as p:
        cbox = [float(v) for v in p.pages[0].mediabox]
    with pikepdf.open(scan_pdf) as p:
        sbox = [float(v) for v in p.pages[0].mediabox]
    a = render(copy, 1, dpi, tmp_path, "copy").convert("L")
    b = render(scan_pdf, 1, dpi, tmp_path, "scan").convert("L")
    dy = round((cbox[3] - sbox[3]) * dpi / 72)  # a band added above the scan
    dx = round((sbox[0] - cbox[0]) * dpi / 72)
    pa, pb = a.load(), b.load()
    added = over = 0
    for y in range(a.height):
        for x in range(a.width):
            if pa[x, y] >= 110:
                sx, sy = x - dx, y - dy
                if pa[x, y] > 200 and 0 <= sx < b.width and 0 <= sy < b.height and pb[sx, sy] < 80:
                    over += 1  # the scan's ink painted over (a white box)
                continue
            sx, sy = x - dx, y - dy
            inside = 0 <= sx < b.width and 0 <= sy < b.height
            if inside and pb[sx, sy] < 170:
                continue  # the scan's own ink, as scanned
            added += 1
            if inside and any(
                pb[min(b.width - 1, max(0, sx + i)), min(b.height - 1, max(0, sy + j))] < 170
                for i in (-2, 0, 2)
                for j in (-2, 0, 2)
            ):
                over += 1
    return over, added


@pytest.mark.parametrize("dense", [False, True], ids=["normal-scan", "full-page"])
def test_copy_text_and_qr_never_cover_the_scan(agency: System, tmp_path: Path, dense: bool) -> None:
    from edms.digitization.pipeline import CopyRequest, digitize
    from edms.models import DocumentFile

    scan = _scan(tmp_path / "scan.png", dense)
    result = digitize(
        agency,
        "vanthu",
        [scan],
        CopyRequest(
            dossier_code=f"000.00.31.H41-261202-{int(dense)}",
            original_type="Quyết định",
            original_date=date(2026, 11, 30),
            subject="Sao y quyết định",
        ),
    )
    copy = tmp_path / "copy.pdf"
    docs.download(agency, "vanthu", result.document_id, copy)
    with agency.sessions() as s:
        pdfa = s.query(DocumentFile).filter_by(document_id=result.document_id, role="pdfa").one()
        pdfa_id = pdfa.id
    scan_pdf = tmp_path / "pdfa.pdf"
    docs.download(agency, "vanthu", result.document_id, scan_pdf, file_id=pdfa_id)
    over, added = _added_ink_over_scan(copy, scan_pdf, tmp_path)
    assert added > 1000, "the SAO Y text and the QR code are on page 1"
    assert over == 0
    with pikepdf.open(copy) as p, pikepdf.open(scan_pdf) as s:
        grown = float(p.pages[0].mediabox[3]) - float(s.pages[0].mediabox[3])
        # Info and XMP metadata agree after signing (PDF/A)
        meta = p.open_metadata()
        assert str(p.docinfo["/Producer"]) == meta["pdf:Producer"]
    assert (grown > 0) == dense, "a band is added only when the scan has no blank area"
    # the scan stays at 100 % scale (200 dpi)
    listing = subprocess.run(
        ["pdfimages", "-list", "-f", "1", "-l", "1", str(copy)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert listing[2].split()[12:14] == ["200", "200"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    render(copy, 1, 60, tmp_path, "artifact").save(
        ARTIFACTS / f"ban-sao-{'kin-trang' if dense else 'thuong'}.png"
    )
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(copy), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SAO Y" in text and re.search(r"Thời gian ký: \S+\+07:00", text)
