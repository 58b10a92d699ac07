"""The one-stop desk's, the notices' and the look-up pages in a real browser (Chromium via
Playwright), each checked by axe-core (WCAG 2 A/AA: no serious or critical violation): the
clerk receives a dossier and the receipt downloads; the citizen looks it up anonymously."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edms import devseed, procedures
from edms.config import Settings
from edms.system import System
from tests.test_dossiers_reception import PROCEDURE
from tests.test_web import accessible, login, playwright_api

CHROMIUM_ARGS = ["--no-sandbox"]


@pytest.fixture
def site(tmp_path: Path, dev_pki: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    from api import create_app

    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_NOTICE_PUMP": "false",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    procedures.save(system, "quantri", PROCEDURE)
    server = make_server("127.0.0.1", 0, create_app(system), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        system.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    from tests.test_web import CHROMIUM

    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_desk_admin_and_lookup_pages_are_accessible(
    site: str, browser: Any, tmp_path: Path
) -> None:
    boss = login(browser, site, "quantri")
    boss.get_by_role("link", name="Quản trị", exact=True).click()
    for link, heading in (
        ("Thủ tục hành chính", "Thủ tục hành chính"),
        ("Ngày nghỉ lễ, Tết", "Ngày nghỉ lễ, Tết năm"),
        ("Thông báo: kênh gửi, mẫu nội dung, nhật ký gửi", "Thông báo: kênh gửi"),
    ):
        boss.goto(site + "/quan-tri")
        boss.get_by_role("link", name=link).click()
        assert heading in boss.locator("h1").inner_text()
        accessible(boss)
    boss.get_by_label("Tên", exact=True).last.fill("Cổng SMS")
    boss.get_by_label("Địa chỉ (URL)").last.fill("https://sms.example.vn/hook")
    boss.get_by_role("button", name="Thêm webhook").click()
    assert boss.locator("code.fingerprint").count() == 1
    accessible(boss)
    for path in ("/quan-tri/thong-bao/mau", "/quan-tri/thong-bao/nhat-ky", "/thong-bao-cua-toi"):
        boss.goto(site + path)
        accessible(boss)

    clerk = login(browser, site, "vanthu")
    clerk.get_by_role("link", name="Hồ sơ một cửa").click()
    accessible(clerk)
    clerk.get_by_role("link", name="Tiếp nhận hồ sơ mới").click()
    clerk.get_by_label("Thủ tục hành chính").select_option(PROCEDURE.code)
    clerk.get_by_role("button", name="Chọn thủ tục").click()
    accessible(clerk)
    clerk.get_by_label("Họ và tên").fill("Trần Văn Bảo")
    clerk.get_by_label("Số điện thoại").fill("0912000111")
    # The receipt answers the form (inline, for printing); the route keeps its bytes,
    # which the browser's PDF viewer would otherwise wrap.
    kept: list[tuple[int, str, bytes]] = []

    def keep(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        resp = route.fetch()
        kept.append((resp.status, resp.headers["content-type"], resp.body()))
        route.fulfill(response=resp)

    clerk.route("**/ho-so/tiep-nhan", keep)
    clerk.get_by_role("button", name="Tiếp nhận và in phiếu").click()
    clerk.wait_for_load_state()
    assert [(status, kind) for status, kind, _ in kept] == [(200, "application/pdf")]
    receipt = tmp_path / "phieu.pdf"
    receipt.write_bytes(kept[0][2])
    text = subprocess.run(
        ["pdftotext", str(receipt), "-"], capture_output=True, text=True, check=True
    ).stdout
    code = re.search(r"Mã hồ sơ: (\S+)", text)
    secret = re.search(r"Mã tra cứu: (\S+)", text)
    assert code and secret
    clerk.goto(site + f"/ho-so/{code.group(1)}")
    assert "Trần Văn Bảo" in clerk.content()
    accessible(clerk)

    citizen = browser.new_context(locale="vi-VN").new_page()
    citizen.goto(site + f"/tra-cuu?ma={code.group(1)}")
    accessible(citizen)
    citizen.get_by_label("Mã tra cứu").fill(secret.group(1))
    citizen.get_by_role("button", name="Tra cứu").click()
    assert "Đã tiếp nhận" in citizen.locator("main").inner_text()
    accessible(citizen)
