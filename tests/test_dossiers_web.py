"""The one-stop desk's and the notices' web pages, through the application (Flask's test
client, real sessions and CSRF): an administrator sets up a procedure, a holiday, a
webhook (its secret shown once), a wording; a clerk receives a dossier and gets its
receipt, follows it and reprints it; staff set their own notices; refusals are messages
on the page, never a 500."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from api import create_app
from edms import devseed, reception
from edms.config import Settings
from edms.devseed import DEV_USER_PASSWORD
from edms.models import Holiday, NoticeTemplate, NoticeWebhook, ProcedureDossier
from edms.notices import admin
from edms.system import System


@pytest.fixture
def site(tmp_path: Path, dev_pki: Any) -> Iterator[tuple[System, Any]]:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_PUBLIC_URL": "https://motcua.tuyenquang.gov.vn",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    yield system, create_app(system)
    system.close()


def login(app: Any, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    client.get("/dang-nhap")
    with client.session_transaction() as sess:
        token = sess["login_csrf"]
    got = client.post(
        "/dang-nhap",
        data={"username": username, "csrf": token, "password": DEV_USER_PASSWORD, "next": "/"},
    )
    assert got.status_code == 303
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    return client, csrf.group(1)


def test_admin_sets_up_and_clerk_receives(site: tuple[System, Any], tmp_path: Path) -> None:
    system, app = site
    boss, csrf = login(app, "quantri")
    assert "Thủ tục hành chính" in boss.get("/quan-tri").get_data(as_text=True)
    # A procedure.
    got = boss.post(
        "/quan-tri/thu-tuc",
        data={
            "csrf": csrf,
            "ma": "2.000488",
            "ten": "Cấp bản sao trích lục hộ tịch",
            "linh_vuc": "Hộ tịch",
            "so_ngay": "1",
            "loai_ngay": "working",
            "giay_to": "Tờ khai cấp bản sao trích lục\nGiấy tờ tùy thân",
            "dang_ap_dung": "1",
        },
    )
    assert got.status_code == 303
    page = boss.get("/quan-tri/thu-tuc").get_data(as_text=True)
    assert "Cấp bản sao trích lục hộ tịch" in page and "01 ngày làm việc" in page
    bad = boss.post(
        "/quan-tri/thu-tuc", data={"csrf": csrf, "ma": "x y", "ten": "T", "so_ngay": "abc"}
    )
    assert bad.status_code == 400 and "số ngày" in bad.get_data(as_text=True)
    # Holidays: the year is seeded on first view; an administrator adds a day off.
    year = date.today().year + 1
    page = boss.get(f"/quan-tri/ngay-nghi?nam={year}").get_data(as_text=True)
    assert "Tết Dương lịch" in page and "chưa được xác nhận" in page
    boss.post(
        f"/quan-tri/ngay-nghi?nam={year}",
        data={
            "csrf": csrf,
            "thao_tac": "luu",
            "ngay": f"{year}-03-02",
            "loai": "off",
            "ten": "Nghỉ theo thông báo của tỉnh",
        },
    )
    boss.post(f"/quan-tri/ngay-nghi?nam={year}", data={"csrf": csrf, "thao_tac": "xac-nhan"})
    page = boss.get(f"/quan-tri/ngay-nghi?nam={year}").get_data(as_text=True)
    assert "Nghỉ theo thông báo của tỉnh" in page and "Đã xác nhận" in page
    with system.sessions() as s:
        assert s.get(Holiday, date(year, 3, 2)).origin == "admin"  # type: ignore[union-attr]
    # A webhook: its secret shown once, then never again.
    got = boss.post(
        "/quan-tri/thong-bao",
        data={
            "csrf": csrf,
            "thao_tac": "them-webhook",
            "ten": "Cổng Zalo OA",
            "dia_chi": "https://zalo-gateway.tuyenquang.gov.vn/hook",
            "phuc_vu": "zalo",
            "hoat_dong": "1",
        },
    )
    assert got.status_code == 200
    secret = re.search(r'<code class="fingerprint">([^<]+)</code>', got.get_data(as_text=True))
    assert secret and len(secret.group(1)) >= 40
    again = boss.get("/quan-tri/thong-bao").get_data(as_text=True)
    assert "Cổng Zalo OA" in again and secret.group(1) not in again
    with system.sessions() as s:
        hook = s.scalars(select(NoticeWebhook)).one()
        assert secret.group(1) not in hook.secret_box
    # A wording: an unknown placeholder is refused, a good one kept.
    bad = boss.post(
        "/quan-tri/thong-bao/mau",
        data={
            "csrf": csrf,
            "su_kien": "dossier.received",
            "dang": "text",
            "thao_tac": "luu",
            "noi_dung": "Hồ sơ ${ma_ho_so} của ${so_tai_khoan}",
        },
    )
    assert bad.status_code == 400 and "so_tai_khoan" in bad.get_data(as_text=True)
    boss.post(
        "/quan-tri/thong-bao/mau",
        data={
            "csrf": csrf,
            "su_kien": "dossier.received",
            "dang": "text",
            "thao_tac": "luu",
            "noi_dung": "${co_quan} nhận hồ sơ ${ma_ho_so}, hẹn ${ngay_hen_tra}.",
        },
    )
    with system.sessions() as s:
        assert s.scalars(select(NoticeTemplate)).one().body.startswith("${co_quan} nhận")
    assert boss.get("/quan-tri/thong-bao/nhat-ky").status_code == 200
    # Without the CSRF token nothing changes.
    assert (
        boss.post("/quan-tri/thu-tuc", data={"ma": "9.9", "ten": "X", "so_ngay": "1"}).status_code
        == 403
    )

    # The clerk receives a dossier: the answer is its receipt.
    clerk, ccsrf = login(app, "vanthu")
    form = clerk.get("/ho-so/tiep-nhan?thu-tuc=2.000488").get_data(as_text=True)
    assert "Tờ khai cấp bản sao trích lục" in form
    got = clerk.post(
        "/ho-so/tiep-nhan",
        data={
            "csrf": ccsrf,
            "thu-tuc": "2.000488",
            "ho_ten": "Phạm Văn Bình",
            "dien_thoai": "0987654321",
            "kenh": ["zalo"],
            "giay_0": "1",
            "hinh_thuc_0": "original",
            "so_luong_0": "1",
            "giay_khac": "Giấy ủy quyền",
            "kho_giay": "A5",
        },
    )
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    receipt = tmp_path / "phieu.pdf"
    receipt.write_bytes(got.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(receipt), "-"], capture_output=True, text=True, check=True
    ).stdout
    code = re.search(r"Mã hồ sơ: (\S+)", text)
    secret_line = re.search(r"Mã tra cứu: (\S+)", text)
    assert code and secret_line and "Giấy ủy quyền" in text and "Zalo" in text
    assert reception.lookup(system, code.group(1), secret_line.group(1), "t").status == "received"
    # A refused reception is the form again, with the message.
    bad = clerk.post(
        "/ho-so/tiep-nhan",
        data={"csrf": ccsrf, "thu-tuc": "2.000488", "ho_ten": "Lê C", "kenh": ["email"]},
    )
    assert bad.status_code == 400 and "e-mail address" in bad.get_data(as_text=True)
    # Lists, the dossier, its steps; a reprint voids the old secret.
    listing = clerk.get("/ho-so").get_data(as_text=True)
    assert code.group(1) in listing and "Phạm Văn Bình" in listing
    page = clerk.get(f"/ho-so/{code.group(1)}").get_data(as_text=True)
    assert "Đã tiếp nhận" in page and "Chuyển giải quyết" in page
    assert (
        clerk.post(
            f"/ho-so/{code.group(1)}/bat-dau", data={"csrf": ccsrf, "ghi_chu": "Phòng Tư pháp"}
        ).status_code
        == 303
    )
    refused = clerk.post(
        f"/ho-so/{code.group(1)}/tra-ket-qua", data={"csrf": ccsrf}, follow_redirects=True
    )
    assert "đã có kết quả" in refused.get_data(as_text=True).lower()
    reprint = clerk.post(
        f"/ho-so/{code.group(1)}/in-lai-phieu", data={"csrf": ccsrf, "kho_giay": "A4"}
    )
    assert reprint.mimetype == "application/pdf"
    with pytest.raises(reception.LookupFailed):
        reception.lookup(system, code.group(1), secret_line.group(1), "t")
    with system.sessions() as s:
        assert s.scalars(select(ProcedureDossier)).one().status == "in_progress"
    assert clerk.get("/ho-so/KHONG-CO").status_code == 404
    # Not an administrator: the admin pages are refused.
    for path in (
        "/quan-tri/thu-tuc",
        "/quan-tri/ngay-nghi",
        "/quan-tri/thong-bao",
        "/quan-tri/thong-bao/mau",
        "/quan-tri/thong-bao/nhat-ky",
    ):
        assert clerk.get(path).status_code == 403

    # Everyone sets their own notices.
    officer, ocsrf = login(app, "chuyenvien")
    got = officer.post(
        "/thong-bao-cua-toi",
        data={
            "csrf": ocsrf,
            "email": "quan@tuyenquang.gov.vn",
            "kenh": ["email"],
            "nhan_document.assigned": "1",
            "bat_dau": "21:00",
            "ket_thuc": "07:00",
        },
    )
    assert got.status_code == 303
    pref = admin.preference(system, "chuyenvien")
    assert pref.channels == ("email",) and pref.quiet_start == "21:00"
    assert "document.assigned" not in pref.muted and "document.overdue" in pref.muted
    bad = officer.post("/thong-bao-cua-toi", data={"csrf": ocsrf, "kenh": ["sms"]})
    assert bad.status_code == 400

    # The public look-up page, anonymous.
    anon = app.test_client()
    page = anon.get(f"/tra-cuu?ma={code.group(1)}").get_data(as_text=True)
    assert "Mã tra cứu" in page and code.group(1) in page
