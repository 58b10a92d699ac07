"""A working day with incoming and outgoing documents in a real browser (Chromium via
Playwright): the clerk receives a document sealed by one agency while declaring another and
is warned; registers it; the leader finds it in "Chờ ý kiến chỉ đạo" and instructs it to a
person in charge with a co-operating person and a deadline; each finds it on their home
page; the handling sheet shows the instruction and the people; the clerk releases a signed
outgoing document with one confirmation and the history records each step with its actor.
Screenshots go to test-artifacts/web/incoming-day/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from edms import devseed, orgs
from edms import documents as docs
from edms.auth import hash_password
from edms.config import Settings
from edms.devseed import DEV_USER_PASSWORD
from edms.system import System
from signing.devpki import AGENCY_CODE
from tests.support.agency import BODY, draft_meta, sign
from tests.test_web import CHROMIUM, Shots, accessible, click_step, login, playwright_api

SUBJECT = "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027"
OUTGOING = "Về việc tổ chức Hội nghị tổng kết công tác văn thư năm 2026"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[dict[str, Any]]:
    """The development agency served in-process, with a second officer (Phòng Kinh tế), a
    PDF this agency signed and sealed (01/QĐ-UBND, as another agency would receive it) and
    an outgoing document signed by the leader, ready for release."""
    from werkzeug.serving import make_server

    from api import create_app

    tmp = tmp_path_factory.mktemp("incoming-day")
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_NOTICE_PUMP": "false",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    orgs.create_user(
        system,
        AGENCY_CODE,
        "cv.kt",
        "Lê Thị Thu",
        "officer",
        title="Chuyên viên",
        unit_code="KT",
        password_hash=hash_password(DEV_USER_PASSWORD),
    )
    sealed = docs.create_from_template(system, "chuyenvien", draft_meta(subject=SUBJECT), BODY)
    docs.submit(system, "chuyenvien", sealed.id)
    docs.approve(system, "chutich", sealed.id)
    sign(system, "chutich", sealed.id)
    docs.number(system, "vanthu", sealed.id)
    docs.seal(system, "vanthu", sealed.id)
    pdf = tmp / "qd-tuyen-quang.pdf"
    docs.download(system, "vanthu", sealed.id, pdf)
    ready = docs.create_from_template(system, "chuyenvien", draft_meta(subject=OUTGOING), BODY)
    docs.submit(system, "chuyenvien", ready.id)
    docs.approve(system, "chutich", ready.id)
    sign(system, "chutich", ready.id)
    server = make_server("127.0.0.1", 0, create_app(system), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "base": f"http://127.0.0.1:{server.server_port}",
            "pdf": pdf,
            "ready": ready.id,
            "system": system,
        }
    finally:
        server.shutdown()
        system.close()


def _seal_key(system: System, active: bool) -> None:
    """Unbind (or bind again) the agency's seal key, as an administrator would."""
    from sqlalchemy import select

    from edms.models import SigningKey

    with system.sessions() as s, s.begin():
        for k in s.scalars(select(SigningKey).where(SigningKey.agency_id.is_not(None))):
            k.active = active


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def test_receive_instruct_handle_and_release(day: dict[str, Any], browser: Any) -> None:
    base = day["base"]
    shots = Shots("incoming-day")

    # the clerk receives a decision sealed by Tuyên Quang, declaring it from Hà Giang
    clerk = login(browser, base, "vanthu")
    clerk.get_by_role("link", name="Tiếp nhận văn bản đến", exact=True).click()
    clerk.get_by_label("Tệp PDF văn bản đến").set_input_files(str(day["pdf"]))
    clerk.get_by_label("Loại văn bản").select_option("quyet-dinh")
    clerk.get_by_label("Cơ quan ban hành").fill("Ủy ban nhân dân tỉnh Hà Giang")
    clerk.get_by_label("Số, ký hiệu (ví dụ 15/QĐ-UBND)").fill("01/QĐ-UBND")
    clerk.get_by_label("Ngày ban hành").fill("2026-11-20")
    clerk.get_by_label("Trích yếu").fill(SUBJECT)
    clerk.get_by_role("button", name="Tiếp nhận").click()
    clerk.wait_for_load_state()
    assert "Đã tiếp nhận văn bản đến." in clerk.locator(".flash.ok").inner_text()
    said = (
        "Tổ chức ký văn bản (Ủy ban nhân dân tỉnh Tuyên Quang) khác với cơ quan gửi đã khai "
        "(Ủy ban nhân dân tỉnh Hà Giang)"
    )
    assert said in clerk.locator(".flash.warn").first.inner_text()
    banner = clerk.locator("[role=note].flash.warn")
    assert "Lưu ý khi tiếp nhận" in banner.inner_text() and said in banner.inner_text()
    assert "Số, ký hiệu trên văn bản" not in banner.inner_text()  # the number agrees
    assert "Trạng thái: đã tiếp nhận" in clerk.content()  # never blocks the reception
    accessible(clerk)
    shots.take(clerk, "tiep-nhan-co-canh-bao")
    doc_url = clerk.url
    click_step(clerk, "Kiểm tra chữ ký")
    click_step(clerk, "Vào sổ")
    assert "Số đến" in clerk.locator("dl.meta").inner_text()
    assert said in clerk.locator("[role=note].flash.warn").inner_text()  # still shown

    # the leader: "Chờ ý kiến chỉ đạo" on the home page, one form per document
    leader = login(browser, base, "chutich")
    assert leader.get_by_role("heading", name="Chờ ý kiến chỉ đạo (1)").is_visible()
    accessible(leader)
    shots.take(leader, "lanh-dao-cho-chi-dao")
    leader.get_by_role("link", name="Ghi ý kiến chỉ đạo").click()
    leader.wait_for_url(base + "/chi-dao")
    card = leader.locator("section.card", has_text=SUBJECT)
    deadline = docs.vn_today() + timedelta(days=10)
    instruction = "Giao đồng chí Quân chủ trì tham mưu; đồng chí Thu phối hợp số liệu."
    card.get_by_label("Ý kiến chỉ đạo").fill(instruction)
    card.get_by_label("Người chủ trì").select_option("chuyenvien")
    card.get_by_label("Người phối hợp").select_option(["cv.kt"])
    card.get_by_label("Hạn giải quyết").fill(deadline.isoformat())
    accessible(leader)
    shots.take(leader, "lanh-dao-ghi-y-kien")
    card.get_by_role("button", name="Ghi ý kiến chỉ đạo").click()
    leader.wait_for_load_state()
    assert "Đã ghi ý kiến chỉ đạo" in leader.locator(".flash.ok").inner_text()
    assert leader.get_by_text("Không có văn bản nào chờ ý kiến chỉ đạo.").is_visible()

    # the person in charge and the co-operating person find it on their home page
    shown = deadline.strftime("%d/%m/%Y")
    pages = {}
    for username, role in (("chuyenvien", "Chủ trì"), ("cv.kt", "Phối hợp")):
        page = pages[username] = login(browser, base, username)
        assert page.get_by_role("heading", name="Việc được giao cho tôi (1)").is_visible()
        row = page.locator("#viec-duoc-giao + .table-wrap tbody tr", has_text=SUBJECT)
        text = row.inner_text()
        assert role in text and shown in text and instruction in text, text
        accessible(page)
        shots.take(page, f"viec-duoc-giao-{username}")
    officer = pages["chuyenvien"]
    officer.goto(doc_url)
    click_step(officer, "Bắt đầu xử lý")
    assert "Trạng thái: đang xử lý" in officer.content()

    # the handling sheet, printable, filled from the data
    clerk.goto(doc_url)
    clerk.get_by_role("link", name="Phiếu giải quyết văn bản đến").click()
    clerk.wait_for_load_state()
    sheet = clerk.locator("article.phieu").inner_text()
    for expected in (
        "PHIẾU GIẢI QUYẾT VĂN BẢN ĐẾN",
        "ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG",
        "Ủy ban nhân dân tỉnh Hà Giang",
        "01/QĐ-UBND",
        SUBJECT,
        instruction,
        "Nguyễn Văn Thành, Chủ tịch",
        "Đỗ Minh Quân, Chuyên viên",
        "Lê Thị Thu, Chuyên viên",
        "Phòng Văn hóa - Xã hội",
        shown,
        "Bắt đầu xử lý",
    ):
        assert expected in sheet, expected
    assert clerk.evaluate("() => matchMedia('print').matches") is False
    clerk.emulate_media(media="print")
    assert clerk.locator("nav.menu").is_hidden() and clerk.locator("article.phieu").is_visible()
    clerk.emulate_media(media="screen")
    accessible(clerk)
    shots.take(clerk, "phieu-giai-quyet")

    # the clerk releases the signed outgoing document with one confirmation
    clerk.goto(f"{base}/van-ban/{day['ready']}")
    clerk.get_by_role("link", name="Phát hành (cấp số, ký số cơ quan, vào sổ, ban hành)").click()
    clerk.wait_for_load_state()
    assert clerk.locator("#so-se-cap").inner_text() == "02/QĐ-UBND"  # 01 went to the first
    assert "Sở Khoa học và Công nghệ" in clerk.locator("main").inner_text()
    accessible(clerk)
    shots.take(clerk, "phat-hanh")
    # first without a seal key: it stops after the number, says so, and continues later
    _seal_key(day["system"], False)
    clerk.get_by_label("Tôi đã kiểm tra văn bản").check()
    clerk.get_by_role("button", name="Phát hành", exact=True).click()
    clerk.wait_for_load_state()
    stopped = clerk.locator(".flash.error").inner_text()
    assert "bước ký số cơ quan không thực hiện được" in stopped, stopped
    assert "chưa có khóa ký số" in stopped and "đã cấp số" in stopped
    assert "Đã thực hiện: cấp số." in clerk.locator(".flash.ok").inner_text()
    assert clerk.locator("#so-se-cap").inner_text() == "02/QĐ-UBND"  # kept, not retaken
    assert "Số, ký hiệu đã cấp" in clerk.locator("dl.meta").inner_text()
    assert clerk.locator("ol.release-steps li").all_inner_texts() == [
        "Ký số cơ quan",
        "Vào sổ",
        "Ban hành",
    ]
    accessible(clerk)
    shots.take(clerk, "phat-hanh-dung-o-buoc-ky-so-co-quan")
    _seal_key(day["system"], True)
    clerk.get_by_label("Tôi đã kiểm tra văn bản").check()
    clerk.get_by_role("button", name="Phát hành", exact=True).click()
    clerk.wait_for_load_state()
    errors = clerk.locator(".flash.error").all_inner_texts()
    assert not errors, errors
    done = clerk.locator(".flash.ok").inner_text()
    assert "Đã phát hành văn bản số 02/QĐ-UBND: ký số cơ quan, vào sổ, ban hành." in done
    assert "Trạng thái: đã ban hành" in clerk.content()
    rows = clerk.locator("main table").last.locator("tbody tr")  # Quá trình xử lý
    history = [rows.nth(i).inner_text() for i in range(rows.count())]
    for label in ("Cấp số", "Ký số cơ quan", "Vào sổ", "Ban hành"):
        row = [r for r in history if label in r]
        assert len(row) == 1 and "Hoàng Thị Mai" in row[0], (label, history)
    accessible(clerk)
    shots.take(clerk, "da-phat-hanh")
