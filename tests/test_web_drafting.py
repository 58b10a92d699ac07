"""Drafting in a real browser (Chromium via Playwright, against `edms serve`): an officer
drafts from a Word file and from the template, names the leader who signs and submits;
only that leader finds the drafts waiting for them, the other leader is refused; the
leader sends one back with a reason, the officer sees it, uploads a new version and
submits again; the leader signs choosing "KT." with the signing PIN; the history names
each actor with their position and note. Screenshots go to test-artifacts/web/drafting/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from edms.auth import DEV_SIGNING_PIN
from tests.test_web import Shots, accessible, browser, click_step, login, site  # noqa: F401

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed: `make setup`"
)

OFFICER, LEADER_A, LEADER_B = "Đỗ Minh Quân", "Trần Thị Hồng Nhung", "Nguyễn Văn Thành"
WORD_SUBJECT = "Về việc thành lập Tổ kiểm tra công tác văn thư năm 2027"
TEMPLATE_SUBJECT = "Về việc giao chỉ tiêu chuyển đổi số năm 2027"


def _word_draft(path: Path) -> Path:
    from tests.support.drafts import decision_docx  # python-docx: the dev extra

    return decision_docx(path)  # signed "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH", Trần Thị Hồng Nhung


def _open_from_home(page: Any, site_url: str, subject: str) -> None:
    page.goto(site_url + "/")
    page.get_by_role("link", name=subject).first.click()
    page.wait_for_load_state()


def _doc_id(page: Any) -> int:
    m = re.search(r"/(?:van-ban|soan-thao)/(\d+)", page.url)
    assert m, page.url
    return int(m.group(1))


def _form_post(page: Any, path: str, fields: dict[str, str]) -> None:
    """Post a form as a page would (with the session's CSRF token), e.g. a step the
    page does not offer this user."""
    page.evaluate(
        """([path, fields]) => {
            const f = document.createElement('form');
            f.method = 'post'; f.action = path;
            const all = {csrf: document.querySelector('input[name=csrf]').value, ...fields};
            for (const [k, v] of Object.entries(all)) {
                const i = document.createElement('input');
                i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
            }
            document.body.appendChild(f); f.submit();
        }""",
        [path, fields],
    )
    page.wait_for_load_state()


def test_officer_drafts_for_a_designated_leader_who_alone_signs(
    site: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    shots = Shots("drafting")
    officer = login(browser, site, "chuyenvien")

    # 1. from a Word file, for leader A
    officer.get_by_role("link", name="Soạn thảo", exact=True).click()
    accessible(officer)
    officer.get_by_label("Loại văn bản").select_option("quyet-dinh")
    officer.get_by_label("Trích yếu nội dung").fill(WORD_SUBJECT)
    officer.get_by_label("Nơi nhận (mỗi nơi một dòng)").fill("Văn phòng UBND tỉnh\nSở Nội vụ")
    officer.get_by_label("Độ khẩn").select_option("1")
    officer.locator("#mode-file").check()
    officer.get_by_label("Tệp dự thảo", exact=True).set_input_files(
        str(_word_draft(tmp_path / "du-thao.docx"))
    )
    officer.get_by_label("Lãnh đạo ký văn bản").select_option(label=f"{LEADER_A}, Phó Chủ tịch")
    shots.take(officer, "soan-thao-tu-tep-word")
    officer.get_by_role("button", name="Tạo dự thảo và xem trước").click()
    officer.wait_for_load_state()
    assert officer.locator(".flash.error").count() == 0, officer.locator(".flash").all_inner_texts()
    assert "/soan-thao/" in officer.url
    word_id = _doc_id(officer)
    page1 = officer.get_by_role("img", name=f"Trang 1 của văn bản {WORD_SUBJECT}")
    page1.wait_for()
    page1.scroll_into_view_if_needed()
    officer.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=page1.element_handle()
    )
    before = page1.bounding_box()["width"]
    officer.get_by_role("button", name="Phóng to").click()
    assert page1.bounding_box()["width"] > before
    meta = officer.locator("dl.meta").inner_text()
    assert f"Người ký\n{LEADER_A}, Phó Chủ tịch" in meta
    accessible(officer)
    shots.take(officer, "xem-truoc-du-thao")
    click_step(officer, "Trình ký")
    assert "Đã thực hiện: Trình ký." in officer.locator(".flash.ok").inner_text()
    assert f"Đang chờ\n{LEADER_A} duyệt" in officer.locator("dl.meta").inner_text()

    # 2. from the template, for leader A as well
    officer.get_by_role("link", name="Soạn thảo", exact=True).click()
    officer.get_by_label("Trích yếu nội dung").fill(TEMPLATE_SUBJECT)
    officer.get_by_label("Nơi nhận (mỗi nơi một dòng)").fill("Sở Khoa học và Công nghệ")
    officer.locator("#mode-template").check()
    officer.get_by_label("Nội dung theo mẫu").fill(
        "Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;\n"
        "Điều 1. Giao chỉ tiêu chuyển đổi số năm 2027 cho các sở, ngành.\n"
        "Điều 2. Quyết định này có hiệu lực kể từ ngày ký."
    )
    officer.get_by_label("Lãnh đạo ký văn bản").select_option(label=f"{LEADER_A}, Phó Chủ tịch")
    officer.get_by_role("button", name="Tạo dự thảo và xem trước").click()
    officer.wait_for_load_state()
    assert officer.locator(".flash.error").count() == 0, officer.locator(".flash").all_inner_texts()
    template_id = _doc_id(officer)
    officer.get_by_role("img", name=f"Trang 1 của văn bản {TEMPLATE_SUBJECT}").wait_for()
    click_step(officer, "Trình ký")

    # 3. only leader A finds them; leader B neither sees them nor may act on them
    leader_b = login(browser, site, "chutich")
    home_b = leader_b.locator("main").inner_text()
    assert WORD_SUBJECT not in home_b and TEMPLATE_SUBJECT not in home_b
    leader_b.goto(f"{site}/van-ban/{word_id}")
    assert leader_b.get_by_role("button", name="Duyệt", exact=True).count() == 0
    _form_post(leader_b, f"/van-ban/{word_id}/approve", {})
    assert f"Dự thảo đang chờ {LEADER_A} duyệt" in leader_b.locator(".flash.error").inner_text()

    leader_a = login(browser, site, "phochutich")
    assert leader_a.get_by_role("heading", name="Chờ duyệt (2)").is_visible()
    accessible(leader_a)
    shots.take(leader_a, "lanh-dao-a-cho-duyet")

    # 4. A sends the Word draft back with a reason
    leader_a.get_by_role("link", name=WORD_SUBJECT).click()
    leader_a.get_by_label("Lý do").fill("Bổ sung căn cứ Luật Lưu trữ năm 2024")
    click_step(leader_a, "Trả lại để sửa")
    assert "Trạng thái: dự thảo" in leader_a.content()

    # 5. the officer reads the reason, uploads a new version, submits again
    _open_from_home(officer, site, WORD_SUBJECT)
    note = officer.locator("[role=note]").inner_text()
    assert "Bổ sung căn cứ Luật Lưu trữ năm 2024" in note and LEADER_A in note
    officer.get_by_role("link", name="Sửa dự thảo").first.click()
    accessible(officer)
    shots.take(officer, "sua-du-thao")
    officer.locator("#mode-file").check()
    officer.get_by_label("Tệp dự thảo mới", exact=True).set_input_files(
        str(_word_draft(tmp_path / "du-thao-sua.docx"))
    )
    officer.get_by_role("button", name="Lưu bản mới và xem trước").click()
    officer.wait_for_load_state()
    assert "Đã lưu bản dự thảo mới" in officer.locator(".flash.ok").inner_text()
    click_step(officer, "Trình ký")

    # 6. A approves and signs, choosing KT. and confirming with the signing PIN; B cannot
    leader_a.goto(f"{site}/")
    leader_a.get_by_role("link", name=WORD_SUBJECT).click()
    click_step(leader_a, "Duyệt")
    leader_b.goto(f"{site}/van-ban/{word_id}")
    assert leader_b.get_by_role("button", name="Ký số", exact=True).count() == 0
    _form_post(leader_b, f"/van-ban/{word_id}/sign", {"pin": DEV_SIGNING_PIN, "authority": "CV"})
    refusal = leader_b.locator(".flash.error").inner_text()
    assert f"được trình {LEADER_A} ký" in refusal, refusal
    leader_b.goto(f"{site}/van-ban?hang-doi=cho-ky")
    assert WORD_SUBJECT not in leader_b.locator("main").inner_text()

    leader_a.goto(f"{site}/van-ban?hang-doi=cho-ky")
    assert WORD_SUBJECT in leader_a.locator("main").inner_text()
    leader_a.get_by_role("link", name=WORD_SUBJECT).click()
    leader_a.get_by_label("Thẩm quyền ký").select_option("KT")
    leader_a.get_by_label("Mã PIN ký số").fill(DEV_SIGNING_PIN)
    accessible(leader_a)
    shots.take(leader_a, "lanh-dao-a-ky-kt")
    click_step(leader_a, "Ký số")
    assert "Trạng thái: đã ký" in leader_a.content()

    # 7. the history names each actor, their position and note, in Vietnam time
    rows = leader_a.locator("#qua-trinh + .table-wrap tbody tr")
    history = [rows.nth(i).inner_text() for i in range(rows.count())]
    text = "\n".join(history)
    assert [h for h in history if "Tạo dự thảo" in h and OFFICER in h and "Chuyên viên" in h]
    reject = next(h for h in history if "Trả lại để sửa" in h)
    assert LEADER_A in reject and "Phó Chủ tịch" in reject and "Luật Lưu trữ năm 2024" in reject
    assert [h for h in history if "Sửa dự thảo" in h and OFFICER in h]
    sign_row = next(h for h in history if "Ký số" in h)
    assert LEADER_A in sign_row and "Phó Chủ tịch" in sign_row
    assert LEADER_B not in text
    assert text.count("Trình ký") == 2
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", text)
    assert "Thời gian theo giờ Việt Nam (GMT+7)" in leader_a.locator("main").inner_text()
    accessible(leader_a)
    shots.take(leader_a, "lich-su-nguoi-thuc-hien")

    # the template draft still waits for A alone; sent back, its text is edited
    leader_a.goto(f"{site}/")
    assert TEMPLATE_SUBJECT in leader_a.locator("#cho-duyet + *").inner_text()
    leader_a.goto(f"{site}/van-ban/{template_id}")
    leader_a.get_by_label("Lý do").fill("Điều 2 ghi rõ thời hạn báo cáo")
    click_step(leader_a, "Trả lại để sửa")
    officer.goto(f"{site}/soan-thao/{template_id}/sua")
    assert "Điều 2 ghi rõ thời hạn báo cáo" in officer.locator("[role=note]").inner_text()
    body = officer.get_by_label("Nội dung (mỗi đoạn một dòng)")
    assert "Điều 1. Giao chỉ tiêu chuyển đổi số năm 2027" in body.input_value()
    officer.locator("#mode-template").check()
    body.fill(
        body.input_value().replace(
            "Điều 2. Quyết định này", "Điều 2. Báo cáo trước ngày 15/12/2027. Quyết định này"
        )
    )
    officer.get_by_role("button", name="Lưu bản mới và xem trước").click()
    officer.wait_for_load_state()
    assert "Đã lưu bản dự thảo mới" in officer.locator(".flash.ok").inner_text()
    click_step(officer, "Trình ký")
    leader_a.goto(f"{site}/van-ban?hang-doi=cho-duyet")
    assert TEMPLATE_SUBJECT in leader_a.locator("main").inner_text()
    leader_a.get_by_role("link", name=TEMPLATE_SUBJECT).click()
    history = leader_a.locator("#qua-trinh + .table-wrap").inner_text()
    assert "Sửa dự thảo" in history and "Điều 2 ghi rõ thời hạn báo cáo" in history


def test_rest_takes_the_signer_and_approvers_and_names_the_actors(
    site: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """POST /api/v1/documents (a Word file) and /documents/from-template take
    ``designated_signer`` and ``approvers``; refusals are 4xx problems in Vietnamese; the
    document view names the signer, the approvers and every actor of the history."""
    from tests.test_api_http import Browser as ApiSession

    officer, a, b = (ApiSession(site, u) for u in ("chuyenvien", "phochutich", "chutich"))
    with open(_word_draft(tmp_path / "qd.docx"), "rb") as f:
        r = officer.post(
            "/api/v1/documents",
            data={
                "type": "quyet-dinh",
                "subject": "Về việc ban hành Quy chế văn thư",
                "to": ["Sở Nội vụ"],
                "designated_signer": "phochutich",
                "approvers": ["chutich"],
            },
            files={"file": ("qd.docx", f.read())},
        )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["designated_signer_id"] and len(doc["approver_ids"]) == 1
    officer.step(doc["id"], "submit")
    refused = a.post(f"/api/v1/documents/{doc['id']}/approve", json={})
    assert refused.status_code == 403
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert f"Dự thảo đang chờ {LEADER_B} duyệt" in refused.json()["detail"]
    b.step(doc["id"], "approve", note="Đồng ý trình ký")
    view = officer.get(f"/api/v1/documents/{doc['id']}").json()
    assert view["designated_signer"]["full_name"] == LEADER_A
    assert view["designated_signer"]["title"] == "Phó Chủ tịch"
    assert [p["full_name"] for p in view["approvers"]] == [LEADER_B]
    assert view["waiting_for"]["full_name"] == LEADER_A
    assert [(h["action"], h["actor"]["full_name"], h["note"]) for h in view["history"]] == [
        ("create", OFFICER, ""),
        ("submit", OFFICER, ""),
        ("approve", LEADER_B, "Đồng ý trình ký"),
    ]
    for body, status, words in (
        ({"designated_signer": "chuyenvien"}, 400, "không phải lãnh đạo"),
        ({"approvers": ["khong-co-ai"]}, 400, "không phải người dùng của cơ quan"),
        ({"designated_signer": ""}, 422, ""),
    ):
        r = officer.post(
            "/api/v1/documents/from-template",
            json={
                "type": "quyet-dinh",
                "subject": "Về việc thử người ký",
                "body": ["Điều 1. Thử."],
                **body,
            },
        )
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
