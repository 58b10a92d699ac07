"""Registers of Appendix IV (PDF rendered by poppler, CSV), deadlines and handling
statistics, dossiers, and the clerk's CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from PIL import Image
from sqlalchemy import text

from edms import documents as docs
from edms import dossiers, orgs, registers, tracking
from edms.auth import DEV_SIGNING_PIN
from edms.system import System
from signing.engine import Level, Profile, SigningEngine, SignOptions
from signing.keys import load_pkcs12
from tests.support.agency import BODY, dev_env, draft_meta, seeded, sign
from tests.support.pdfs import plain_pdf


@pytest.fixture
def agency(tmp_path: Path, dev_pki: Any) -> Iterator[System]:
    system = seeded(dev_env(tmp_path / "data", dev_pki.directory))
    yield system
    system.close()


@pytest.fixture(scope="module")
def signed_pdf(dev_pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PDF signed by another agency's leader (the dev PKI's leader2)."""
    d = tmp_path_factory.mktemp("incoming")
    src = plain_pdf(d / "src.pdf", title="Cong van de nghi phoi hop")
    out = d / "signed.pdf"
    key = load_pkcs12(dev_pki.p12("leader2"), b"edms-dev-only")
    SigningEngine(key).sign(
        src,
        out,
        SignOptions(
            Profile.PERSONAL, Level.B_B, signature_image=dev_pki.signature_image("leader2")
        ),
    )
    return out


def receive_registered(system: System, pdf: Path, n: int, subject: str) -> int:
    meta = docs.IncomingMeta(
        type_code="cong-van",
        subject=subject,
        organ_name="Sở Tài chính tỉnh Tuyên Quang",
        organ_id="000.00.12.H41",
        code_number=str(100 + n),
        code_notation="STC-NS",
        issued_date=docs.vn_today() - timedelta(days=2),
        priority=n % 2,
    )
    with open(pdf, "rb") as f:
        doc_id = docs.receive(system, "vanthu", f, "cv.pdf", meta).document.id
    assert docs.verify(system, "vanthu", doc_id).report.valid  # type: ignore[union-attr]
    docs.register_incoming(system, "vanthu", doc_id)
    return doc_id


def issued_outgoing(system: System) -> int:
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(issued_amount=3), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    sign(system, "chutich", doc.id)
    docs.number(system, "vanthu", doc.id)
    docs.seal(system, "vanthu", doc.id)
    docs.register_outgoing(system, "vanthu", doc.id, holder="Văn phòng UBND tỉnh")
    docs.issue(system, "vanthu", doc.id)
    return doc.id


def test_register_exports_render_with_every_column(
    agency: System, signed_pdf: Path, tmp_path: Path
) -> None:
    system = agency
    issued_outgoing(system)
    incoming = [
        receive_registered(system, signed_pdf, i, f"Đề nghị phối hợp thẩm định số {i}")
        for i in range(3)
    ]
    today = docs.vn_today()
    docs.assign(
        system, "chutich", incoming[0], "KT", ("VX",), "Chủ trì tham mưu", today + timedelta(days=5)
    )
    for kind in registers.KINDS:
        export = registers.collect(system, "vanthu", kind, today - timedelta(days=1), today)
        layout = registers.LAYOUTS[kind]
        pdf = registers.write_pdf(export, tmp_path / f"{kind}.pdf")
        # poppler renders it ...
        png = tmp_path / kind
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(png)],
            check=True,
            timeout=60,
        )
        page = Image.open(f"{png}-1.png").convert("L")
        assert page.width > page.height  # landscape A4
        assert page.getextrema()[0] < 100  # not blank: dark text and grid lines
        # ... and its text carries every column heading and intact diacritics.
        body = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        flat = " ".join(body.split())
        assert layout.title in flat
        for heading in layout.columns:
            for word in heading.replace(",", " ").split():
                assert word in flat, (kind, heading, word)
        assert f"({len(layout.columns)})" in flat
        # CSV: same columns, UTF-8 with BOM.
        raw = registers.to_csv(export)
        assert raw.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert tuple(rows[0]) == layout.columns
        assert all(len(r) == len(layout.columns) for r in rows)
        if kind == "outgoing":
            assert len(rows) == 2
            assert rows[1][0] == "01/QĐ-UBND" and rows[1][6] == "3"
            assert "Quyết định: Về việc phê duyệt Kế hoạch chuyển đổi số" in rows[1][2]
            assert "ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG" in flat  # the agency, diacritics intact
        else:
            assert [r[0 if kind == "follow-up" else 1] for r in rows[1:]] == ["01", "02", "03"]
    follow = registers.collect(system, "vanthu", "follow-up", today, today)
    first = follow.rows[0]
    assert first[2] == "Phòng Kinh tế (chủ trì); phối hợp: Phòng Văn hóa - Xã hội"
    assert first[3] == (today + timedelta(days=5)).strftime("%d/%m/%Y")
    assert first[4] == "đã phân công"


def test_many_rows_span_pages_with_headings_repeated(
    agency: System, signed_pdf: Path, tmp_path: Path
) -> None:
    export = registers.RegisterExport(
        "incoming",
        "Ủy ban nhân dân tỉnh Tuyên Quang",
        docs.vn_today(),
        docs.vn_today(),
        [
            [
                "22/11/2026",
                f"{i:02d}",
                "Sở Tài chính",
                f"{i}/STC-NS",
                "20/11/2026",
                "Công văn: Về việc đề nghị thẩm định dự toán ngân sách năm 2027",
                "Phòng Kinh tế",
                "",
                "",
                "",
            ]
            for i in range(1, 80)
        ],
    )
    pdf = registers.write_pdf(export, tmp_path / "long.pdf")
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3
    for p in pages:
        assert "Tác giả" in p and "Trang" in p


def test_deadlines_and_statistics(agency: System, signed_pdf: Path) -> None:
    system = agency
    today = docs.vn_today()
    a, b, c, d = (receive_registered(system, signed_pdf, i, f"Việc {i}") for i in range(4))
    docs.assign(system, "chutich", a, "KT", deadline=today + timedelta(days=2))
    docs.assign(system, "chutich", b, "KT", deadline=today + timedelta(days=10))
    docs.assign(system, "chutich", c, "VX", deadline=today)
    docs.assign(system, "chutich", d, "VX", deadline=today + timedelta(days=1))
    # Document c's deadline passed two days ago (set in the data: the API refuses past
    # deadlines at assignment time).
    with system.engine.begin() as conn:
        conn.execute(
            text("UPDATE assignments SET deadline = :d WHERE document_id = :id"),
            {"d": today - timedelta(days=2), "id": c},
        )
    lists = tracking.deadlines(system, "vanthu", within_days=3)
    assert [i.document_id for i in lists.overdue] == [c]
    assert lists.overdue[0].days_left == -2
    assert lists.overdue[0].lead_unit == "Phòng Văn hóa - Xã hội"
    assert [i.document_id for i in lists.near] == [d, a]

    docs.complete(system, "vanthu", a)  # 2 days early
    docs.complete(system, "vanthu", c)  # 2 days late
    start, end = today - timedelta(days=1), today
    stats = {r.unit: r for r in tracking.handling_stats(system, "vanthu", start, end)}
    kt, vx = stats["Phòng Kinh tế"], stats["Phòng Văn hóa - Xã hội"]
    assert (kt.early, kt.on_time, kt.late, kt.open_on_time) == (1, 0, 0, 1)
    assert (vx.early, vx.on_time, vx.late, vx.open_on_time) == (0, 0, 1, 1)
    # An officer of the lead unit completes on the deadline day: on time.
    orgs.create_user(system, "000.00.00.H41", "cv.vx", "Lý Thị Hoa", "officer", unit_code="VX")
    with system.engine.begin() as conn:
        conn.execute(
            text("UPDATE assignments SET deadline = :d WHERE document_id = :id"),
            {"d": today, "id": d},
        )
    docs.complete(system, "cv.vx", d)
    vx = {r.unit: r for r in tracking.handling_stats(system, "vanthu", start, end)}[
        "Phòng Văn hóa - Xã hội"
    ]
    assert (vx.on_time, vx.late, vx.open_on_time) == (1, 1, 0)


def test_dossier_export_in_time_order(agency: System, signed_pdf: Path, tmp_path: Path) -> None:
    system = agency
    out_id = issued_outgoing(system)
    in_id = receive_registered(system, signed_pdf, 1, "Đề nghị phối hợp")
    dossiers.create(
        system,
        "vanthu",
        dossiers.DossierMeta("HS-2026-001", "Hồ sơ chuyển đổi số năm 2026", "Vĩnh viễn"),
    )
    dossiers.add_documents(system, "vanthu", "HS-2026-001", [out_id, in_id])
    target = dossiers.export(system, "vanthu", "HS-2026-001", tmp_path / "hs.zip")
    with zipfile.ZipFile(target) as z:
        root = ET.fromstring(z.read("hoso.xml"))
        assert root.findtext("FileCode") == "HS-2026-001"
        assert root.findtext("DocTotal") == "2"
        items = root.findall("VanBan/Document")
        # The incoming document is dated two days earlier: it comes first.
        assert [i.findtext("Direction") for i in items] == ["incoming", "outgoing"]
        for item in items:
            data = z.read(item.findtext("FileName") or "")
            assert hashlib.sha256(data).hexdigest() == item.findtext("Sha256")
    with pytest.raises(Exception, match="draft"):
        draft = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
        dossiers.add_documents(system, "vanthu", "HS-2026-001", [draft.id])


def test_clerk_cli_walks_a_document(agency: System, tmp_path: Path) -> None:
    """The same lifecycle through `edms`: a wrong role is refused with one line and exit
    status 1; the register export and search work from the command line."""
    system = agency
    env = {
        **os.environ,
        **dev_env(
            system.settings.data_dir, system.settings.pki_dir, EDMS_SIGNING_PIN=DEV_SIGNING_PIN
        ),
    }

    def edms(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [sys.executable, "-m", "edms.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (r.returncode == 0) is ok, r.stdout + r.stderr
        return r

    edms(
        "doc",
        "new",
        "--as",
        "chuyenvien",
        "--type",
        "to-trinh",
        "--subject",
        "Tờ trình về việc đầu tư hạ tầng số",
        "--to",
        "Thường trực Tỉnh ủy",
        "--template",
        "Kính trình Thường trực Tỉnh ủy xem xét, cho ý kiến.",
    )
    edms("doc", "submit", "--as", "chuyenvien", "1")
    edms("doc", "approve", "--as", "chutich", "1")
    bad = edms("doc", "sign", "--as", "vanthu", "1", ok=False)
    assert bad.returncode == 1 and "needs the leader role" in bad.stderr
    assert "Traceback" not in bad.stderr
    edms("doc", "sign", "--as", "phochutich", "1", "--authority", "KT. CHỦ TỊCH")
    assert "01/TTr-UBND" in edms("doc", "number", "--as", "vanthu", "1").stdout
    edms("doc", "seal", "--as", "vanthu", "1")
    edms("doc", "register", "--as", "vanthu", "1")
    edms("doc", "issue", "--as", "vanthu", "1")
    assert "1 found" in edms("search", "--as", "vanthu", "ha tang so").stdout
    out = tmp_path / "so-di.csv"
    today = docs.vn_today().isoformat()
    edms(
        "register",
        "export",
        "outgoing",
        "--as",
        "vanthu",
        "--from",
        today,
        "--to",
        today,
        "-o",
        str(out),
    )
    assert "01/TTr-UBND" in out.read_text(encoding="utf-8-sig")
    # Registered without --holder: the clerk who registered it keeps the file copy.
    row = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))[1]
    assert row[5] == "Văn phòng, Hoàng Thị Mai"
    assert "intact" in edms("audit", "verify").stdout


INCOMING_HEADINGS = (  # Decree 30, Appendix IV: the incoming register, in full
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
)


def pdf_pages(pdf: Path) -> list[str]:
    """Each page's text in drawing order (a heading wrapped in its cell stays whole)."""
    text = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [" ".join(p.split()) for p in text.split("\f") if p.strip()]


def test_the_bound_book_has_its_cover_and_full_headings(
    agency: System, signed_pdf: Path, tmp_path: Path
) -> None:
    system = agency
    for i in range(3):
        receive_registered(system, signed_pdf, i, f"Đề nghị phối hợp số {i}")
    today = docs.vn_today()
    start = today - timedelta(days=30)
    export = registers.collect(system, "vanthu", "incoming", start, today)
    assert registers.LAYOUTS["incoming"].columns == INCOMING_HEADINGS
    assert export.cover == registers.Cover("01", "03", today, today)
    raw = registers.to_csv(export).decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(raw))) == list(INCOMING_HEADINGS)
    cover, first, *_ = pdf_pages(registers.write_pdf(export, tmp_path / "den.pdf"))
    # The cover: agency, register, year, from–to dates and numbers; not numbered.
    assert "ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG" in cover
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in cover
    assert f"Năm {today.year}" in cover
    day = today.strftime("%d/%m/%Y")
    assert f"Từ ngày {day} đến ngày {day}" in cover and "Từ số 01 đến số 03" in cover
    assert "Trang" not in cover and "Tác giả" not in cover
    # The register follows, its pages numbered from 1, every heading in full.
    assert "Trang 1" in first
    for heading in INCOMING_HEADINGS:
        assert heading in first, heading
    # An empty period says so on its cover.
    empty = registers.collect(system, "vanthu", "outgoing", start, today)
    assert empty.cover == registers.Cover("", "", start, today)
    assert (
        "Chưa có văn bản được vào sổ"
        in pdf_pages(registers.write_pdf(empty, tmp_path / "di.pdf"))[0]
    )


def test_file_copy_keeper_is_filled_however_registered(agency: System) -> None:
    """Column "Đơn vị, người nhận bản lưu": the unit given at registration (the web form
    sends one), else the clerk who registered it, with their unit (the CLI sends none)."""
    system = agency
    given = issued_outgoing(system)
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    sign(system, "chutich", doc.id)
    docs.number(system, "vanthu", doc.id)
    docs.seal(system, "vanthu", doc.id)
    docs.register(system, "vanthu", doc.id)  # as `edms doc register` does, no --holder
    today = docs.vn_today()
    rows = registers.collect(system, "vanthu", "outgoing", today, today).rows
    keepers = [r[5] for r in rows]
    assert len(rows) == 2 and given
    assert keepers == ["Văn phòng UBND tỉnh", "Văn phòng, Hoàng Thị Mai"]
    assert all(r[5] for r in rows)
    # and it is recorded on the document itself, not only worked out for the register
    assert docs.get_document(system, "vanthu", doc.id).document.holder == (
        "Văn phòng, Hoàng Thị Mai"
    )


def test_registers_page_shows_the_cover(agency: System, signed_pdf: Path) -> None:
    from api import create_app
    from tests.test_dashboard import login

    system = agency
    receive_registered(system, signed_pdf, 1, "Đề nghị phối hợp")
    clerk = login(create_app(system), "vanthu")
    page = clerk.get("/so-dang-ky?so=incoming").get_data(as_text=True)
    assert 'class="register-cover"' in page and "Từ số 01 đến số 01" in page
    assert "<caption>" in page
    for heading in INCOMING_HEADINGS:
        assert f'<th scope="col">{heading}</th>' in page
