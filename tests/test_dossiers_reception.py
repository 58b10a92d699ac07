"""Citizens' dossiers end to end: reception and its receipt (code, promised date, QR code
to the look-up), handling to a digitized, agency-signed result, and the citizen's look-up
over HTTP without logging in — status, the signed PDF our validator calls valid, and the
same answer for a wrong secret as for an unknown code."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from edms import devseed, procedures, receipts, reception
from edms.config import Settings
from edms.digitization.pipeline import CopyRequest, digitize
from edms.errors import EdmsError, Forbidden, InvalidTransition, NotFound
from edms.models import Notice, ProcedureDossier
from edms.signatures import validate_sandboxed
from edms.system import System
from tests.support.agency import snapshot
from tests.support.scans import scan_page

PROCEDURE = procedures.ProcedureSpec(
    "1.001612",
    "Đăng ký thành lập hộ kinh doanh",
    3,
    "working",
    "Thành lập và hoạt động của hộ kinh doanh",
    ("Giấy đề nghị đăng ký hộ kinh doanh", "Bản sao Căn cước công dân của chủ hộ"),
)
APPLICANT = reception.Application(
    "1.001612",
    "Nguyễn Thị Hương",
    "001185012345",
    "Tổ 5, phường Nguyễn Trãi",
    "0912 345 678",
    "huong@example.vn",
    ("email",),
    (
        reception.Paper("Giấy đề nghị đăng ký hộ kinh doanh", "original"),
        reception.Paper("Bản sao Căn cước công dân của chủ hộ", "certified"),
    ),
)


@pytest.fixture
def agency(tmp_path: Path, dev_pki: Any) -> Iterator[System]:
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
    procedures.save(system, "quantri", PROCEDURE)
    yield system
    system.close()


@pytest.fixture
def served(agency: System) -> Iterator[str]:
    """The application on a real HTTP socket (werkzeug's server, a thread)."""
    from werkzeug.serving import make_server

    from api import create_app

    server = make_server("127.0.0.1", 0, create_app(agency), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _qr_codes(pdf: Path, tmp_path: Path) -> list[str]:
    exe = shutil.which("zbarimg")
    assert exe, "zbarimg (Debian zbar-tools) is installed by scripts/system-deps.sh"
    png = tmp_path / "receipt"
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(pdf), str(png)], check=True
    )
    out = subprocess.run(
        [exe, "--quiet", "--raw", "-Sqrcode.enable=1", f"{png}-1.png"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_receipt_lookup_and_signed_result(agency: System, served: str, tmp_path: Path) -> None:
    system = agency
    # Received on Tuesday 29/12/2026 at 09:30: three working days over New Year's Day
    # (30/12, 31/12, 4/1).
    at = datetime(2026, 12, 29, 2, 30, tzinfo=UTC)
    r = reception.receive(system, "vanthu", APPLICANT, at=at)
    assert r.promised_date == date(2027, 1, 4)
    assert r.code.startswith(f"{r.code.split('-')[0]}-261229-0001")
    # The receipt: pdftotext shows the code and the promised date, the QR code decodes
    # to the look-up URL (the code only, never the secret).
    for paper in ("A4", "A5"):
        pdf = tmp_path / f"phieu-{paper}.pdf"
        pdf.write_bytes(receipts.render(r, paper))
        text = _pdftotext(pdf)
        assert r.code in text and "04/01/2027" in text
        assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
        assert r.secret in text and "Nguyễn Thị Hương" in text and "Hoàng Thị Mai" in text
        assert _qr_codes(pdf, tmp_path) == [f"https://motcua.tuyenquang.gov.vn/tra-cuu?ma={r.code}"]
    with system.sessions() as s:
        row = s.scalars(select(ProcedureDossier)).one()
        assert r.secret.replace("-", "") not in row.secret_hash  # only its hash is kept
        assert row.secret_hash.startswith("scrypt$")

    # The citizen looks up over HTTP, without logging in (the secret as typed: any case).
    page = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": r.secret.lower()})
    assert page.status_code == 200 and "Đã tiếp nhận" in page.text
    assert "Nguyễn Thị Hương" not in page.text and "0912" not in page.text
    assert "Tải kết quả" not in page.text
    status = requests.post(
        f"{served}/tra-cuu",
        json={"ma": r.code, "ma_tra_cuu": r.secret},
        headers={"Accept": "application/json"},
    ).json()
    # Late: still open after the promised day (today, in Vietnam).
    late = reception.vn_date(datetime.now(UTC)) > date(2027, 1, 4)
    assert status == {
        "code": r.code,
        "status": "received",
        "status_vi": "Đã tiếp nhận",
        "promised_date": "2027-01-04",
        "late": late,
        "result_available": False,
    }

    # Handling: started, then the paper result is digitized for this dossier code and
    # signed by the agency: the dossier is ready.
    reception.start(system, "chuyenvien", r.code, "chuyển Phòng Kinh tế")
    with pytest.raises(InvalidTransition):
        reception.deliver(system, "vanthu", r.code)
    copy = digitize(
        system,
        "vanthu",
        [
            scan_page(
                tmp_path / "kq.png",
                [
                    "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
                    "Số: 10A8012345",
                    "Tên hộ kinh doanh: Cửa hàng tạp hóa Hương Giang",
                ],
            )
        ],
        CopyRequest(
            r.code,
            "Giấy chứng nhận đăng ký hộ kinh doanh",
            procedure_code="1.001612",
            holder_name="Nguyễn Thị Hương",
            original_number="10A8012345",
        ),
    )
    view = reception.get(system, "vanthu", r.code)
    assert view.dossier.status == "result_ready"
    assert view.dossier.result_document_id == copy.document_id
    assert [(link.role, doc.id) for link, doc in view.documents] == [("result", copy.document_id)]
    assert [st.action for st in view.steps] == ["receive", "start", "result"]

    page = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": r.secret})
    assert page.status_code == 200 and "Đã có kết quả" in page.text
    assert "Tải kết quả (PDF)" in page.text
    got = requests.post(f"{served}/tra-cuu/ket-qua", data={"ma": r.code, "ma_tra_cuu": r.secret})
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/pdf"
    assert got.headers["ETag"] == f'"{copy.signed_sha256}"'
    result_pdf = tmp_path / "ket-qua.pdf"
    result_pdf.write_bytes(got.content)
    report = validate_sandboxed(system.settings, result_pdf)
    assert report.valid and len(report.signatures) == 1
    assert not report.changed_after_signing

    # A wrong secret gets exactly the answer an unknown code gets.
    wrong = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": "ZZZZ-ZZZZ"})
    unknown_code = r.code[:-4] + "9999"
    unknown = requests.post(
        f"{served}/tra-cuu", data={"ma": unknown_code, "ma_tra_cuu": "ZZZZ-ZZZZ"}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.text.replace(r.code, "CODE") == unknown.text.replace(unknown_code, "CODE")
    assert "Đã có kết quả" not in wrong.text
    for body in (
        {"ma": r.code, "ma_tra_cuu": "ZZZZ-ZZZZ"},
        {"ma": unknown_code, "ma_tra_cuu": "ZZZZ-ZZZZ"},
    ):
        j = requests.post(f"{served}/tra-cuu", json=body, headers={"Accept": "application/json"})
        assert j.status_code == 404 and j.json()["detail"] == (
            "no dossier with this code and look-up secret"
        )
        f = requests.post(f"{served}/tra-cuu/ket-qua", data=body)
        assert f.status_code == 404 and "application/pdf" not in f.headers["Content-Type"]
    # The QR code's page: the code filled in, the secret asked for.
    form = requests.get(f"{served}/tra-cuu", params={"ma": r.code})
    assert form.status_code == 200 and f'value="{r.code}"' in form.text

    # Delivered at the desk; the electronic result stays available to the citizen.
    reception.deliver(system, "vanthu", r.code, "trả bản giấy")
    again = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": r.secret})
    assert "Đã trả kết quả" in again.text and "Tải kết quả (PDF)" in again.text
    # Notices were written with the events: received, then ready.
    with system.sessions() as s:
        assert [n.event for n in s.scalars(select(Notice).order_by(Notice.id))] == [
            "dossier.received",
            "dossier.result_ready",
        ]


def test_lookups_are_limited_and_reissue_voids_the_old_secret(agency: System, served: str) -> None:
    system = agency
    r = reception.receive(system, "vanthu", APPLICANT)
    # Ten wrong secrets for one code, from anywhere: the code is locked for a while,
    # whoever asks and whether or not it exists.
    for i in range(reception.MAX_FAILED_PER_CODE):
        got = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": f"X{i}"})
        assert got.status_code == 404
    locked = requests.post(f"{served}/tra-cuu", data={"ma": r.code, "ma_tra_cuu": r.secret})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    for i in range(reception.MAX_FAILED_PER_CODE):
        requests.post(f"{served}/tra-cuu", data={"ma": "KHONG-CO-MA", "ma_tra_cuu": str(i)})
    assert (
        requests.post(
            f"{served}/tra-cuu", data={"ma": "KHONG-CO-MA", "ma_tra_cuu": "1"}
        ).status_code
        == 429
    )
    # A reissued receipt has a new secret; the old one no longer opens the dossier.
    new = reception.reissue_receipt(system, "vanthu", r.code)
    assert new.secret != r.secret and new.code == r.code
    reception.purge_lookups(system, older_than=timedelta(0))
    assert reception.lookup(system, r.code, new.secret, "10.0.0.1").status == "received"
    with pytest.raises(reception.LookupFailed):
        reception.lookup(system, r.code, r.secret, "10.0.0.1")
    # Bodies are a small form: a large one is refused before it is read.
    big = requests.post(f"{served}/tra-cuu", data={"ma": "x" * 100_000, "ma_tra_cuu": "y"})
    assert big.status_code == 413


def test_refusals_change_nothing(agency: System) -> None:
    system = agency
    before = snapshot(system)
    for bad, message in (
        (reception.Application("9.999", "Ai đó"), "no procedure"),
        (reception.Application("1.001612", " "), "full name"),
        (reception.Application("1.001612", "Lê Văn A", channels=("email",)), "e-mail address"),
        (reception.Application("1.001612", "Lê Văn A", phone="abc"), "telephone"),
        (reception.Application("1.001612", "Lê Văn A", channels=("fax",)), "unknown channel"),
        (
            reception.Application("1.001612", "Lê Văn A", papers=(reception.Paper("Đơn", "scan"),)),
            "form",
        ),
    ):
        with pytest.raises(EdmsError, match=message):
            reception.receive(system, "vanthu", bad)
    with pytest.raises(Forbidden):
        reception.receive(system, "chutich", APPLICANT)  # a leader does not man the desk
    with pytest.raises(Forbidden):
        procedures.save(system, "vanthu", PROCEDURE)
    assert snapshot(system) == before
    r = reception.receive(system, "vanthu", APPLICANT)
    with pytest.raises(EdmsError, match="reason"):
        reception.refuse(system, "vanthu", r.code, " ")
    with pytest.raises(NotFound):
        reception.link_document(system, "vanthu", r.code, 10**6, "result")
    reception.refuse(system, "vanthu", r.code, "Hồ sơ thiếu giấy đề nghị có chữ ký")
    with pytest.raises(InvalidTransition):
        reception.start(system, "vanthu", r.code)


def test_concurrent_steps_are_serialised(agency: System) -> None:
    system = agency
    r = reception.receive(system, "vanthu", APPLICANT)
    with system.sessions() as s1, system.sessions() as s2:
        a = s1.scalars(select(ProcedureDossier)).one()
        b = s2.scalars(select(ProcedureDossier)).one()
        a.status = "in_progress"
        s1.commit()
        b.status = "refused"
        with pytest.raises(StaleDataError):
            s2.commit()
    assert reception.get(system, "vanthu", r.code).dossier.status == "in_progress"
