"""The look and the words of every page, in a real browser (Chromium via Playwright): a tour
of the pages a clerk, a leader, an officer, an administrator and an anonymous visitor reach,
each at 1280 px and at 390 px. On every page: no horizontal scrolling
(``document.scrollingElement.scrollWidth <= innerWidth``), no serious or critical axe-core
violation, the visible text is Vietnamese (no word of an English denylist, no raw code such
as ``B-LT`` or ``Tiếp nhận 01``, never the brand ``EDMS``), and a screenshot is kept under
test-artifacts/look/. Also: the font is the app's own (Be Vietnam Pro, served by the app),
the menu fits on one line at 1280 px, the header names the agency, the preview zooms."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edms import devseed, procedures, reception
from edms.config import Settings
from edms.system import System
from tests.test_api_http import Browser as ApiSession
from tests.test_dossiers_reception import APPLICANT, PROCEDURE
from tests.test_web import ARTIFACTS, AXE, CHROMIUM, playwright_api

SHOTS = ARTIFACTS.parent / "look"
AGENCY = "Ủy ban nhân dân tỉnh Tuyên Quang"

# English that must not reach a person (whole words, any case), and raw codes.
ENGLISH = [
    "signed",
    "signature",
    "signatures",
    "changed",
    "document",
    "documents",
    "upload",
    "error",
    "errors",
    "submit",
    "submitted",
    "pending",
    "approved",
    "status",
    "valid",
    "invalid",
    "failed",
    "success",
    "draft",
    "unknown",
    "none",
    "null",
    "true",
    "false",
    "incoming",
    "outgoing",
    "received",
    "issued",
    "level",
    "timestamp",
    "cannot",
    "validated",
    "passed",
    "indeterminate",
    "only",
    "after",
    "modified",
    "trusted",
    "revoked",
]
RAW = [
    re.compile(r"\b(?:Tiếp nhận|Trạng thái|Đã đến) \d\d\b"),
    re.compile(r"\bB-(?:B|T|LT|LTA)\b"),
    re.compile(r"PAdES", re.I),
    re.compile(r"EDMS", re.I),
    re.compile(r"\b[a-z]+_[a-z_]+\b"),  # identifiers such as not_checked, in_progress
    re.compile(r"\b(?:TOTAL_PASSED|TOTAL_FAILED|INDETERMINATE)\b"),
]
WORD = re.compile(r"[^\W\d_]+", re.U)


@pytest.fixture(scope="module")
def tour_site(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[dict[str, Any]]:
    from werkzeug.serving import make_server

    from api import create_app

    tmp = tmp_path_factory.mktemp("look")
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_NOTICE_PUMP": "false",
        "EDMS_INSTALLATION_ADMINS": "quantri",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    procedures.save(system, "quantri", PROCEDURE)
    receipt = reception.receive(system, "vanthu", APPLICANT)
    server = make_server("127.0.0.1", 0, create_app(system), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield {"base": base, **_documents(base, tmp), "dossier": receipt}
    finally:
        server.shutdown()
        system.close()


def _documents(base: str, tmp: Path) -> dict[str, Any]:
    """Documents in several states, made through the API as people would."""
    officer, leader, clerk = (ApiSession(base, u) for u in ("chuyenvien", "chutich", "vanthu"))

    def draft(subject: str) -> int:
        r = officer.post(
            "/api/v1/documents/from-template",
            json={
                "type": "quyet-dinh",
                "subject": subject,
                "priority": 1,
                "body": ["Điều 1. Kiện toàn Tổ công tác chuyển đổi số của tỉnh."],
                "recipients": [{"name": "Sở Khoa học và Công nghệ"}],
            },
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    ids = {"draft": draft("Về việc tổ chức Hội nghị tổng kết năm 2026")}
    ids["rejected"] = draft("Về việc kiểm tra công tác văn thư, lưu trữ năm 2027")
    officer.step(ids["rejected"], "submit")
    leader.step(ids["rejected"], "reject", reason="Bổ sung thời gian kiểm tra")
    ids["submitted"] = draft("Về việc kiện toàn Ban chỉ đạo cải cách hành chính")
    officer.step(ids["submitted"], "submit")
    ids["approved"] = draft("Về việc giao chỉ tiêu thu ngân sách năm 2027")
    officer.step(ids["approved"], "submit")
    leader.step(ids["approved"], "approve")
    ids["sealed"] = draft("Về việc kiện toàn Tổ công tác chuyển đổi số")
    officer.step(ids["sealed"], "submit")
    leader.step(ids["sealed"], "approve")
    leader.step(ids["sealed"], "sign")
    clerk.step(ids["sealed"], "number")
    clerk.step(ids["sealed"], "seal")
    pdf = tmp / "qd.pdf"
    pdf.write_bytes(clerk.get(f"/api/v1/documents/{ids['sealed']}/content").content)
    r = clerk.post(
        "/api/v1/incoming",
        data={
            "type": "quyet-dinh",
            "subject": "Quyết định ban hành Quy chế làm việc",
            "organ_name": "Ủy ban nhân dân tỉnh Hà Giang",
            "number": "01",
            "notation": "QĐ-UBND",
            "issued_date": "2026-11-20",
            "priority": "2",
        },
        files={"file": ("qd.pdf", pdf.read_bytes())},
    )
    assert r.status_code == 201, r.text
    ids["incoming"] = int(r.json()["id"])
    clerk.step(ids["incoming"], "verify")
    clerk.step(ids["incoming"], "register")
    return {"ids": ids, "pdf": pdf}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _visible_text(page: Any) -> str:
    """The page's visible text, less literal identifiers shown as code (hashes, URLs,
    settings' names, raw replies of other systems) and data marked ``translate="no"``
    (certificate subjects, user names)."""
    return str(
        page.evaluate("""() => {
            let text = document.body.innerText;
            for (const c of document.querySelectorAll('code, pre, [translate=no]')) {
                const t = c.innerText.trim();
                if (t) text = text.split(t).join(' ');
            }
            return text;
        }""")
    )


def _axe(page: Any) -> None:
    """tests.test_web.accessible, with axe-core injected once per page rather than at
    every call (the tour runs it twice a page)."""
    if page.evaluate("typeof axe === 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return {checked: r.passes.length, violations: r.violations.map(v => ({id: v.id,
            impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))};
    }""")
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert result["checked"] > 5
    assert not serious, (page.url, serious)


def words_problems(text: str) -> list[str]:
    found = sorted({w for w in WORD.findall(text) if w.lower() in ENGLISH})
    for pattern in RAW:
        found += [m.group(0) for m in pattern.finditer(text)]
    return found


class Tour:
    """Visits pages at both widths, checking and photographing each."""

    def __init__(self) -> None:
        shutil.rmtree(SHOTS, ignore_errors=True)
        SHOTS.mkdir(parents=True)
        self.seen: list[str] = []
        self.problems: list[str] = []

    def check(self, page: Any, name: str) -> None:
        self.seen.append(name)
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            sizes = page.evaluate(
                "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
            )
            if sizes[0] > sizes[1]:
                self.problems.append(f"{name} @{width}px: {sizes[0]} px wide > {sizes[1]}")
            try:
                _axe(page)
            except AssertionError as exc:
                self.problems.append(f"{name} @{width}px: axe {exc}")
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        bad = words_problems(_visible_text(page))
        if bad:
            self.problems.append(f"{name}: not Vietnamese: {bad}")
        page.set_viewport_size({"width": 1280, "height": 900})

    def visit(self, page: Any, url: str, name: str, status: int = 200) -> None:
        resp = page.goto(url)
        assert resp is not None and resp.status == status, (url, resp and resp.status)
        self.check(page, name)


def _login(chromium: Any, base: str, username: str) -> Any:
    page = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN").new_page()
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("edms-dev-password")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base + "/")
    return page


def test_every_page_reads_vietnamese_and_fits_a_phone(
    tour_site: dict[str, Any], chromium: Any
) -> None:
    base, ids = tour_site["base"], tour_site["ids"]
    dossier = tour_site["dossier"]
    tour = Tour()

    # anyone, without logging in
    anon = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN").new_page()
    tour.visit(anon, base + "/dang-nhap", "an-danh-dang-nhap")
    header = anon.locator("header.top").inner_text()
    assert AGENCY in header and "EDMS" not in anon.title()
    tour.visit(anon, base + "/xac-thuc", "an-danh-kiem-tra")
    anon.get_by_label("Chọn tệp PDF cần kiểm tra").set_input_files(str(tour_site["pdf"]))
    anon.get_by_role("button", name="Kiểm tra", exact=True).click()
    anon.wait_for_load_state()
    assert anon.locator("#ket-luan").inner_text().startswith("Tài liệu nguyên vẹn")
    tour.check(anon, "an-danh-kiem-tra-ket-qua")
    tour.visit(anon, base + f"/tra-cuu?ma={dossier.code}", "an-danh-tra-cuu")
    anon.get_by_label("Mã tra cứu").fill(dossier.secret)
    anon.get_by_role("button", name="Tra cứu").click()
    anon.wait_for_load_state()
    assert "Đã tiếp nhận" in anon.locator("main").inner_text()
    tour.check(anon, "an-danh-tra-cuu-ket-qua")

    # the font is the app's own, and covers Vietnamese
    fonts = anon.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family); }""")
    assert any("Be Vietnam Pro" in f for f in fonts), fonts
    assert "Be Vietnam Pro" in anon.evaluate("getComputedStyle(document.body).fontFamily")

    clerk = _login(chromium, base, "vanthu")
    assert AGENCY in clerk.locator("header.top").inner_text()
    tops = clerk.evaluate(
        "() => [...document.querySelectorAll('nav.menu li')].map(li => li.offsetTop)"
    )
    assert len(tops) >= 7 and len(set(tops)) == 1, tops  # one line at 1280 px
    wide = clerk.evaluate(
        "() => { const u = document.querySelector('nav.menu ul');"
        " return u.scrollWidth <= u.clientWidth; }"
    )
    assert wide, "the clerk's menu does not fit at 1280 px"
    for path, name in (
        ("/", "van-thu-viec-can-lam"),
        ("/van-ban?hang-doi=cho-cap-so", "van-thu-van-ban-di"),
        ("/van-ban?hang-doi=van-ban-den", "van-thu-van-ban-den"),
        (f"/van-ban/{ids['sealed']}", "van-thu-van-ban-da-ky"),
        (f"/van-ban/{ids['incoming']}", "van-thu-van-ban-den-da-vao-so"),
        ("/van-ban-den/tiep-nhan", "van-thu-tiep-nhan"),
        (f"/van-ban/{ids['sealed']}/phat-hanh", "van-thu-phat-hanh"),
        (f"/van-ban/{ids['incoming']}/phieu-giai-quyet", "van-thu-phieu-giai-quyet"),
        ("/so-hoa", "van-thu-so-hoa"),
        ("/so-dang-ky", "van-thu-so-dang-ky"),
        ("/theo-doi", "van-thu-theo-doi"),
        ("/ho-so", "van-thu-ho-so"),
        (f"/ho-so/tiep-nhan?thu-tuc={PROCEDURE.code}", "van-thu-tiep-nhan-ho-so"),
        (f"/ho-so/{dossier.code}", "van-thu-mot-ho-so"),
        ("/thong-bao-cua-toi", "van-thu-thong-bao"),
    ):
        tour.visit(clerk, base + path, name)
    tour.visit(clerk, base + "/van-ban/999999", "trang-loi", status=404)

    # the preview is readable: bigger on request
    clerk.goto(base + f"/van-ban/{ids['sealed']}")
    img = clerk.get_by_role("img", name=re.compile("^Trang 1 của văn bản"))
    img.wait_for()
    before = img.bounding_box()["width"]
    clerk.get_by_role("button", name="Phóng to").click()
    clerk.get_by_role("button", name="Phóng to").click()
    assert img.bounding_box()["width"] > before * 1.4
    assert "150%" in clerk.locator(".zoom-bar output").inner_text()
    signatures = clerk.locator("main").inner_text()
    assert "Chữ ký cá nhân: có dấu thời gian," in signatures
    assert "Chữ ký cơ quan: có dữ liệu kiểm tra dài hạn," in signatures

    leader = _login(chromium, base, "chutich")
    for path, name in (
        ("/", "lanh-dao-viec-can-lam"),
        ("/van-ban?hang-doi=cho-ky", "lanh-dao-cho-ky"),
        (f"/van-ban/{ids['submitted']}", "lanh-dao-cho-duyet"),
        (f"/van-ban/{ids['approved']}", "lanh-dao-ky-so"),
        ("/chi-dao", "lanh-dao-chi-dao"),
        ("/ma-pin-ky-so", "lanh-dao-ma-pin"),
        ("/so-dang-ky?so=incoming", "lanh-dao-so-den"),
        ("/thong-ke", "lanh-dao-thong-ke"),
    ):
        tour.visit(leader, base + path, name)

    officer = _login(chromium, base, "chuyenvien")
    for path, name in (
        ("/", "chuyen-vien-viec-can-lam"),
        (f"/van-ban/{ids['draft']}", "chuyen-vien-du-thao"),
        ("/soan-thao", "chuyen-vien-soan-thao"),
        (f"/soan-thao/{ids['draft']}", "chuyen-vien-xem-truoc-du-thao"),
        (f"/van-ban/{ids['rejected']}", "chuyen-vien-du-thao-bi-tra-lai"),
        (f"/soan-thao/{ids['rejected']}/sua", "chuyen-vien-sua-du-thao"),
        ("/theo-doi", "chuyen-vien-theo-doi"),
    ):
        tour.visit(officer, base + path, name)

    admin = _login(chromium, base, "quantri")
    for path, name in (
        ("/quan-tri", "quan-tri"),
        ("/quan-tri/luu-tru", "quan-tri-luu-tru"),
        ("/quan-tri/tin-cay", "quan-tri-tin-cay"),
        ("/quan-tri/truc-lien-thong", "quan-tri-truc-lien-thong"),
        ("/quan-tri/lien-thong", "quan-tri-kiem-tra-goi-tin"),
        ("/quan-tri/thu-tuc", "quan-tri-thu-tuc"),
        ("/quan-tri/ngay-nghi", "quan-tri-ngay-nghi"),
        ("/quan-tri/thong-bao", "quan-tri-thong-bao"),
        ("/quan-tri/thong-bao/mau", "quan-tri-mau-thong-bao"),
        ("/quan-tri/thong-bao/nhat-ky", "quan-tri-nhat-ky-thong-bao"),
    ):
        tour.visit(admin, base + path, name)

    assert len(tour.seen) >= 35
    assert not tour.problems, "\n".join(tour.problems)


def test_the_word_checks_catch_english_and_codes() -> None:
    """The scan itself: it flags what the pages must not show."""
    assert words_problems("Chữ ký cơ quan: B-LT, 20/11/2026") == ["B-LT"]
    assert words_problems("Tiếp nhận 01") == ["Tiếp nhận 01"]
    assert "signed" in words_problems("Only form filling after signed")
    assert words_problems("EDMS · Quản lý văn bản") == ["EDMS"]
    assert words_problems("Chữ ký cá nhân: có dấu thời gian, 20/11/2026 — hợp lệ") == []
    assert AXE.exists()


def test_the_filters_say_codes_and_english_in_vietnamese() -> None:
    from api.web import look

    changed = (
        "ĐÃ BỊ THAY ĐỔI SAU KHI KÝ / CHANGED AFTER SIGNING: dữ liệu đã ký không khớp: tài "
        "liệu đã bị sửa sau khi ký / the signed data does not match"
    )
    assert look.vietnamese(changed) == (
        "Đã bị thay đổi sau khi ký: dữ liệu đã ký không khớp: tài liệu đã bị sửa sau khi ký"
    )
    assert look.vietnamese("Chỉ điền biểu mẫu sau khi ký / Only form filling after signing") == (
        "Chỉ điền biểu mẫu sau khi ký"
    )
    assert look.vietnamese("HỢP LỆ / VALID") == "Hợp lệ"
    assert [look.level_vi(x) for x in ("B-T", "PAdES-B-LT", "B-LTA")] == [
        "có dấu thời gian",
        "có dữ liệu kiểm tra dài hạn",
        "có dữ liệu kiểm tra dài hạn và dấu thời gian lưu trữ",
    ]
    assert look.exchange_status("01") == "Đã đến" and look.exchange_status("99") == "99"
    refused = "vanthu may not sign: that needs the leader role (has: clerk)"
    assert look.said(refused) == "Bạn không có quyền thực hiện việc này."
    assert look.said_detail(refused) == refused
    assert look.said("document 42 not found").startswith("Không tìm thấy")
    assert look.said("Đã thực hiện: Duyệt.") == "Đã thực hiện: Duyệt."
    assert look.said_detail("Đã thực hiện: Duyệt.") == ""
    assert look.tone("issued") == "ok" and look.tone("revoked") == "bad"
