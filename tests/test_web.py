"""The web interface in a real browser: Debian's Chromium driven by Playwright, against
`edms serve`. A leader approves and signs, a clerk numbers and seals, the verify page shows
two valid signatures (and a tampered copy as changed, first), a clerk receives, verifies,
registers and assigns an incoming document; axe-core checks every page for labels and
contrast. Screenshots of each step go to test-artifacts/web/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edms.auth import DEV_SIGNING_PIN
from tests.support.live import Processes, base_env, edms
from tests.test_api_http import Browser as ApiSession

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("EDMS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"
AXE = ROOT / "assets" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is installed by `make setup` (dev extra)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is installed by `make setup` (scripts/system-deps.sh); not found",
        allow_module_level=True,
    )
if not AXE.exists():
    pytest.skip(
        "axe-core is installed by `make setup` (assets/package.json); not found",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def pki(dev_pki: Any) -> Any:
    return dev_pki


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("web")
    env = base_env(tmp / "data", dev_pki.directory)
    edms(env, "init")
    procs = Processes(tmp)
    try:
        yield procs.serve(env, workers=2)
    finally:
        procs.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Shots:
    """Numbered screenshots of the steps, kept as artifacts."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.n = 0

    def take(self, page: Any, what: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path


def accessible(page: Any) -> None:
    """axe-core (WCAG 2 A/AA rules: labels, contrast, names, structure): no serious or
    critical violation on the page as it is now."""
    # Evaluated by the driver: the pages' Content-Security-Policy refuses inline scripts,
    # so axe-core cannot be added as a <script> tag.
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


def login(browser: Any, site: str, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(site + "/")
    assert "/dang-nhap" in page.url
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("edms-dev-password")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(site + "/")
    return page


def click_step(page: Any, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()
    page.wait_for_load_state()
    assert page.locator(".flash.error").count() == 0, page.locator(".flash.error").all_inner_texts()


def test_leader_signs_clerk_seals_and_anyone_verifies(
    site: str, browser: Any, tmp_path: Path
) -> None:
    shots = Shots("outgoing")
    officer = ApiSession(site, "chuyenvien")
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "quyet-dinh",
            "subject": "Về việc kiện toàn Tổ công tác chuyển đổi số",
            "priority": 1,
            "body": ["Điều 1. Kiện toàn Tổ công tác chuyển đổi số của tỉnh."],
            "recipients": [{"name": "Sở Khoa học và Công nghệ"}],
        },
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    officer.step(doc_id, "submit")

    leader = login(browser, site, "chutich")
    assert leader.get_by_role("heading", name="Chờ duyệt (1)").is_visible()
    accessible(leader)
    shots.take(leader, "lanh-dao-viec-can-lam")
    leader.get_by_role("link", name="Về việc kiện toàn Tổ công tác chuyển đổi số").click()
    preview = leader.get_by_role(
        "img", name="Trang 1 của văn bản Về việc kiện toàn Tổ công tác chuyển đổi số"
    )
    preview.wait_for()
    preview.scroll_into_view_if_needed()
    leader.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    assert leader.evaluate("img => img.naturalWidth", preview.element_handle()) > 100
    accessible(leader)
    click_step(leader, "Duyệt")
    assert "Đã thực hiện: Duyệt." in leader.locator(".flash.ok").inner_text()
    shots.take(leader, "lanh-dao-da-duyet")
    leader.get_by_label("Mã PIN ký số").fill(DEV_SIGNING_PIN)  # typed for every signature
    click_step(leader, "Ký số")
    assert "Trạng thái: đã ký" in leader.content()
    assert "Chữ ký cá nhân: có dấu thời gian," in leader.locator("main").inner_text()
    shots.take(leader, "lanh-dao-da-ky")

    clerk = login(browser, site, "vanthu")
    clerk.get_by_role("link", name="Văn bản đi").first.click()
    accessible(clerk)
    clerk.get_by_role("link", name="Về việc kiện toàn Tổ công tác chuyển đổi số").click()
    click_step(clerk, "Cấp số")
    assert "01/QĐ-UBND" in clerk.locator("dl.meta").inner_text()
    shots.take(clerk, "van-thu-da-cap-so")
    click_step(clerk, "Ký số cơ quan")
    assert "Chữ ký cơ quan: có dữ liệu kiểm tra dài hạn," in clerk.locator("main").inner_text()
    shots.take(clerk, "van-thu-da-ky-so-co-quan")
    with clerk.expect_download() as info:
        clerk.get_by_role("link", name="Tải tệp PDF").click()
    signed = tmp_path / "qd.pdf"
    info.value.save_as(signed)
    assert signed.read_bytes().startswith(b"%PDF")

    # anyone, without logging in
    public = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    public.goto(site + "/xac-thuc")
    accessible(public)
    public.get_by_label("Chọn tệp PDF cần kiểm tra").set_input_files(str(signed))
    public.get_by_role("button", name="Kiểm tra", exact=True).click()
    verdict = public.locator("#ket-luan")
    assert verdict.inner_text().startswith("Tài liệu nguyên vẹn kể từ khi ký, và 2 chữ ký")
    rows = public.locator("table tbody tr")
    assert rows.count() == 2
    assert "Nguyễn Văn Thành" in rows.nth(0).inner_text()
    assert "Ủy ban nhân dân tỉnh Tuyên Quang" in rows.nth(1).inner_text()
    assert all("Hợp lệ" in rows.nth(i).inner_text() for i in range(2))
    accessible(public)
    shots.take(public, "kiem-tra-hai-chu-ky-hop-le")

    data = bytearray(signed.read_bytes())
    pos = data.index(b"/Contents <") - 200
    data[pos] ^= 0x20
    tampered = tmp_path / "qd-sua.pdf"
    tampered.write_bytes(bytes(data))
    public.get_by_label("Chọn tệp PDF cần kiểm tra").set_input_files(str(tampered))
    public.get_by_role("button", name="Kiểm tra", exact=True).click()
    first = public.locator("main p.verdict").first
    assert first.get_attribute("id") == "ket-luan"
    assert first.inner_text().startswith("Tài liệu ĐÃ BỊ THAY ĐỔI sau khi ký")
    accessible(public)
    shots.take(public, "kiem-tra-ban-bi-sua")


def test_clerk_receives_registers_and_assigns(site: str, browser: Any, tmp_path: Path) -> None:
    shots = Shots("incoming")
    # a signed document from elsewhere: issued by this agency's API, as another would send it
    officer, leader, clerk_api = (ApiSession(site, u) for u in ("chuyenvien", "chutich", "vanthu"))
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "ke-hoach",
            "subject": "Kế hoạch kiểm tra công tác văn thư năm 2027",
            "body": ["I. MỤC ĐÍCH, YÊU CẦU"],
            "recipients": [{"name": "Các sở, ngành"}],
        },
    )
    doc_id = r.json()["id"]
    officer.step(doc_id, "submit")
    leader.step(doc_id, "approve")
    leader.step(doc_id, "sign")
    clerk_api.step(doc_id, "number")
    clerk_api.step(doc_id, "seal")
    pdf = tmp_path / "kh.pdf"
    pdf.write_bytes(clerk_api.get(f"/api/v1/documents/{doc_id}/content").content)

    clerk = login(browser, site, "vanthu")
    clerk.get_by_role("link", name="Tiếp nhận văn bản đến", exact=True).click()
    accessible(clerk)
    clerk.get_by_label("Tệp PDF văn bản đến").set_input_files(str(pdf))
    clerk.get_by_label("Loại văn bản").select_option("ke-hoach")
    clerk.get_by_label("Cơ quan ban hành").fill("Ủy ban nhân dân tỉnh Hà Giang")
    clerk.get_by_label("Số, ký hiệu (ví dụ 15/QĐ-UBND)").fill("01/KH-UBND")
    clerk.get_by_label("Ngày ban hành").fill("2026-11-20")
    clerk.get_by_label("Trích yếu").fill("Kế hoạch kiểm tra công tác văn thư năm 2027")
    clerk.get_by_label("Độ khẩn").select_option("1")
    shots.take(clerk, "tiep-nhan")
    clerk.get_by_role("button", name="Tiếp nhận").click()
    clerk.wait_for_load_state()
    assert "Đã tiếp nhận văn bản đến." in clerk.locator(".flash.ok").inner_text()
    assert "Trạng thái: đã tiếp nhận" in clerk.content()
    click_step(clerk, "Kiểm tra chữ ký")
    assert "Chữ ký số hợp lệ." in clerk.locator(".flash.ok").inner_text()
    assert clerk.locator("#ket-luan").inner_text().startswith("Tài liệu nguyên vẹn")
    accessible(clerk)
    shots.take(clerk, "da-kiem-tra-chu-ky")
    click_step(clerk, "Vào sổ")
    assert "Số đến" in clerk.locator("dl.meta").inner_text()
    shots.take(clerk, "da-vao-so")
    clerk.get_by_label("Đơn vị chủ trì").select_option("VX")
    clerk.get_by_label("Ý kiến chỉ đạo").fill(
        "Phòng Văn hóa - Xã hội chủ trì, báo cáo trước ngày 15/12"
    )
    clerk.get_by_label("Hạn giải quyết").fill("2026-12-15")
    click_step(clerk, "Phân công")
    assert "Trạng thái: đã phân công" in clerk.content()
    assert "Phòng Văn hóa - Xã hội chủ trì" in clerk.locator("dl.meta").inner_text()
    accessible(clerk)
    shots.take(clerk, "da-phan-cong")
    # the same checks as the API: the officer cannot register, and nothing changes
    officer_page = login(browser, site, "chuyenvien")
    officer_page.goto(clerk.url)
    assert officer_page.get_by_role("button", name="Vào sổ", exact=True).count() == 0
    for path in ("/theo-doi", "/"):
        officer_page.goto(site + path)
        accessible(officer_page)
    shots.take(officer_page, "chuyen-vien-theo-doi")


def test_admin_and_registers_pages_are_accessible(site: str, browser: Any) -> None:
    shots = Shots("admin")
    admin = login(browser, site, "quantri")
    admin.get_by_role("link", name="Quản trị", exact=True).click()
    assert admin.get_by_role("heading", name="Khóa ký số và chứng thư").is_visible()
    accessible(admin)
    shots.take(admin, "quan-tri")
    clerk = login(browser, site, "vanthu")
    clerk.get_by_role("link", name="Sổ đăng ký", exact=True).click()
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in clerk.locator("h1").inner_text().upper()
    accessible(clerk)
    shots.take(clerk, "so-dang-ky")
    clerk.get_by_role("link", name="Số hóa", exact=True).click()
    accessible(clerk)


def test_admin_sets_up_a_token_leader_who_signs_in_the_browser(
    site: str, browser: Any, pki: Any
) -> None:
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import pkcs12

    shots = Shots("token")
    # the admin adds the leader and binds the certificate of their token and their image
    admin = login(browser, site, "quantri")
    admin.goto(site + "/quan-tri")
    admin.get_by_label("Tên đăng nhập").fill("ld.web")
    admin.get_by_label("Họ và tên").fill("Trần Thị Hồng Nhung")
    admin.get_by_label("Chức vụ").fill("Phó Chủ tịch")
    admin.get_by_label("Đơn vị").select_option("VP")
    admin.get_by_role("checkbox", name="Lãnh đạo").check()
    admin.get_by_label("Mật khẩu ban đầu").fill("edms-dev-password")
    admin.get_by_role("button", name="Thêm").click()
    admin.wait_for_load_state()
    assert "Đã thêm người dùng." in admin.locator(".flash.ok").inner_text()
    admin.get_by_role("combobox", name="Lãnh đạo").select_option("ld.web")
    admin.get_by_label("Chứng thư số (PEM hoặc DER)").set_input_files(
        str(pki.directory / "certs" / "leader2.cert.pem")
    )
    admin.get_by_label("Ảnh chữ ký (PNG nền trong suốt)").set_input_files(
        str(pki.signature_image("leader2"))
    )
    admin.get_by_label("Dòng thẩm quyền (ví dụ KT. CHỦ TỊCH)").fill("KT. CHỦ TỊCH")
    admin.get_by_role("button", name="Gắn chứng thư").click()
    admin.wait_for_load_state()
    assert "Đã gắn chứng thư và ảnh chữ ký." in admin.locator(".flash.ok").inner_text()
    assert "USB token của người ký" in admin.locator("main").inner_text()
    accessible(admin)
    shots.take(admin, "quan-tri-gan-chung-thu")
    officer = ApiSession(site, "chuyenvien")
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "ke-hoach",
            "subject": "Kế hoạch số hóa hồ sơ lưu trữ năm 2027",
            "body": ["I. MỤC ĐÍCH"],
            "recipients": [{"name": "Sở Nội vụ"}],
        },
    )
    doc_id = r.json()["id"]
    officer.step(doc_id, "submit")
    leader = login(browser, site, "ld.web")
    leader.goto(f"{site}/van-ban/{doc_id}")
    click_step(leader, "Duyệt")
    assert leader.get_by_role("button", name="Ký số", exact=True).count() == 0
    chain = "".join(
        (pki.directory / "certs" / n).read_text() for n in ("leader2.cert.pem", "interm.cert.pem")
    )
    leader.get_by_label("Chuỗi chứng thư (PEM) từ token").fill(chain)
    leader.get_by_role("button", name="Chuẩn bị ký").click()
    leader.wait_for_load_state()
    accessible(leader)
    shots.take(leader, "chuan-bi-ky-token")
    to_sign = base64.b64decode(leader.get_by_label("Dữ liệu cần ký (mã base64)").input_value())
    # the "token": the private key exists only here, in the test
    key, _cert, _more = pkcs12.load_key_and_certificates(
        pki.p12("leader2").read_bytes(), b"edms-dev-only"
    )
    value = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    leader.get_by_label("Chữ ký do token trả về (base64)").fill(base64.b64encode(value).decode())
    leader.get_by_role("button", name="Hoàn tất ký").click()
    leader.wait_for_load_state()
    assert "Đã ký bằng token." in leader.locator(".flash.ok").inner_text()
    assert "Trạng thái: đã ký" in leader.content()
    assert "Chữ ký cá nhân" in leader.locator("main").inner_text()
    shots.take(leader, "da-ky-bang-token")


def test_clerk_digitizes_scans_and_follows_the_job(site: str, browser: Any, tmp_path: Path) -> None:
    from tests.support.scans import scan_page

    shots = Shots("digitize")
    scan = scan_page(
        tmp_path / "trang-1.png",
        [
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
            "Tên hộ kinh doanh: Cửa hàng tạp hóa Hương Giang",
        ],
    )
    clerk = login(browser, site, "vanthu")
    clerk.get_by_role("link", name="Số hóa", exact=True).click()
    clerk.get_by_label("Các tệp ảnh quét (theo thứ tự trang)").set_input_files(str(scan))
    clerk.get_by_label("Mã hồ sơ").fill("000.00.00.H41-261122-0099")
    clerk.get_by_label("Chủ hồ sơ").fill("Nguyễn Thị Hương")
    clerk.get_by_label("Loại giấy tờ gốc").fill("Giấy chứng nhận đăng ký hộ kinh doanh")
    accessible(clerk)
    clerk.get_by_role("button", name="Số hóa").click()
    clerk.wait_for_url("**/cong-viec/*")
    shots.take(clerk, "dang-so-hoa")
    # the page refreshes itself every 2 s until the job is done
    clerk.get_by_text("đã xong", exact=True).wait_for(timeout=180_000)
    accessible(clerk)
    shots.take(clerk, "da-so-hoa")
    clerk.get_by_role("link", name="Mở văn bản").click()
    assert "Bản sao điện tử" in clerk.locator("main").inner_text()
    assert "Chữ ký sao điện tử: có dữ liệu kiểm tra dài hạn," in clerk.locator("main").inner_text()
