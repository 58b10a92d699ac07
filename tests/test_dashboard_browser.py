"""The handling dashboard in a real browser (Chromium via Playwright, against `edms serve`):
for a clerk and a leader, /thong-ke and the home page's summary have no serious or critical
axe-core violation and no horizontal scrolling at 1280 px and at 390 px; the charts are
images with a name; the CSV link downloads the table. Screenshots go to
test-artifacts/web/thong-ke/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_web import Shots, accessible, login
from tests.test_web import browser as browser
from tests.test_web import pki as pki
from tests.test_web import site as site


def no_sideways_scroll(page: Any) -> None:
    width, inner = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, (page.url, width, inner)


def test_dashboard_reads_at_a_glance_on_desk_and_phone(
    site: str,
    browser: Any,
) -> None:
    shots = Shots("thong-ke")
    for username in ("vanthu", "chutich"):
        page = login(browser, site, username)
        assert page.locator("#tom-tat-thong-ke").is_visible()
        page.goto(site + "/thong-ke")
        assert page.get_by_role("heading", level=1).inner_text().startswith("Thống kê")
        charts = page.locator("svg[role=img]")
        assert charts.count() >= 2
        for i in range(charts.count()):
            assert charts.nth(i).locator("title").text_content()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path in ("/thong-ke", "/"):
                page.goto(site + path)
                accessible(page)
                no_sideways_scroll(page)
                shots.take(page, f"{username}-{width}-{path.strip('/') or 'trang-chu'}")
        page.goto(site + "/thong-ke")
        with page.expect_download() as got:
            page.locator("#bang-don-vi").locator("xpath=../..").get_by_role(
                "link", name="Tải bảng số liệu (CSV, mở được bằng Excel)"
            ).first.click()
        data = Path(got.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "Đơn vị chủ trì".encode() in data
        page.context.close()
