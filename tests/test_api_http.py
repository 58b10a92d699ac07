"""The outgoing and incoming lifecycles over HTTP alone, against `edms serve` (gunicorn,
two worker processes): browser sessions with CSRF, API tokens, the remote-signing flow
with a key the server never sees, downloads with Range, a background job."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader

from edms.auth import DEV_SIGNING_PIN
from edms.devseed import DEV_USER_PASSWORD
from tests.support.live import Processes, add_token_leader, base_env, edms


@dataclass
class Live:
    base: str
    env: dict[str, str]
    pki: Any


class Browser:
    """A logged-in browser: the session cookie, and the CSRF token on every change."""

    def __init__(self, base: str, username: str, password: str = DEV_USER_PASSWORD) -> None:
        self.base = base
        self.http = requests.Session()
        r = self.http.post(
            f"{base}/api/v1/sessions", json={"username": username, "password": password}, timeout=30
        )
        assert r.status_code == 201, r.text
        assert "HttpOnly" in r.headers["Set-Cookie"]
        self.csrf = r.json()["csrf_token"]

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(
            self.base + path, headers={"X-CSRF-Token": self.csrf}, timeout=120, **kw
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=120, **kw)

    def step(self, doc_id: int, name: str, **body: Any) -> dict[str, Any]:
        if name == "sign":  # the leader's signing PIN (the development seed's)
            body.setdefault("pin", DEV_SIGNING_PIN)
        r = self.post(f"/api/v1/documents/{doc_id}/{name}", json=body)
        assert r.status_code == 200, (name, r.text)
        out: dict[str, Any] = r.json()
        return out


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    env = base_env(tmp / "data", dev_pki.directory)
    edms(env, "init")
    add_token_leader(env, dev_pki, DEV_USER_PASSWORD)
    procs = Processes(tmp)
    try:
        base = procs.serve(env, workers=2)
        yield Live(base, env, dev_pki)
    finally:
        procs.stop()


def test_outgoing_lifecycle_over_http(live: Live, tmp_path: Path) -> None:
    officer, leader, clerk = (Browser(live.base, u) for u in ("chuyenvien", "chutich", "vanthu"))
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "quyet-dinh",
            "subject": "Về việc ban hành Quy chế làm việc",
            "body": ["Điều 1. Ban hành kèm theo Quyết định này Quy chế làm việc."],
            "recipients": [{"name": "Các sở, ban, ngành", "organ_id": "000.00.01.H41"}],
        },
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    # A change without the CSRF token is refused, and changes nothing.
    r = officer.http.post(f"{live.base}/api/v1/documents/{doc_id}/submit", json={}, timeout=30)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert officer.get(f"/api/v1/documents/{doc_id}").json()["state"] == "draft"

    officer.step(doc_id, "submit")
    leader.step(doc_id, "approve")
    signed = leader.step(doc_id, "sign")
    assert signed["state"] == "signed" and signed["report"]["valid"]
    numbered = clerk.step(doc_id, "number")
    assert numbered["number_and_symbol"] == "01/QĐ-UBND"
    clerk.step(doc_id, "seal")
    clerk.step(doc_id, "register", holder="Văn phòng")
    issued = clerk.step(doc_id, "issue")
    assert issued["state"] == "issued"
    assert [h["to"] for h in issued["history"]][-1] == "issued"

    full = clerk.get(f"/api/v1/documents/{doc_id}/content")
    assert full.status_code == 200 and full.content.startswith(b"%PDF")
    assert full.headers["ETag"].strip('"') == issued["files"][-1]["sha256"]
    part = clerk.get(f"/api/v1/documents/{doc_id}/content", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == full.content[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(full.content)}"
    r = clerk.get(
        f"/api/v1/documents/{doc_id}/content", headers={"Range": f"bytes={len(full.content) + 10}-"}
    )
    assert r.status_code == 416 and r.headers["Content-Type"] == "application/problem+json"

    final = tmp_path / "final.pdf"
    final.write_bytes(full.content)
    v = clerk.post("/api/v1/verify", files={"file": ("qd.pdf", full.content)})
    assert v.status_code == 200, v.text
    body = v.json()
    assert body["valid"] and not body["changed_after_signing"]
    assert [s["signer"]["common_name"] for s in body["report"]["signatures"]] == [
        "Nguyễn Văn Thành",
        "Ủy ban nhân dân tỉnh Tuyên Quang",
    ]
    with open(final, "rb") as f:
        fields = {
            str(x.get_object()["/T"]): str(x.get_object().get("/V", ""))
            for x in PdfFileReader(f).root["/AcroForm"]["/Fields"]
        }
    assert fields["SoKyHieu"] == "Số: 01/QĐ-UBND"

    # Tampered after signing: the same endpoint says so.
    data = bytearray(full.content)
    pos = data.index(b"/Contents <") - 200
    data[pos] ^= 0x20
    v = clerk.post("/api/v1/verify", files={"file": ("tampered.pdf", bytes(data))})
    assert v.status_code == 200 and not v.json()["valid"]

    # The register over HTTP, as CSV and print-ready PDF.
    day = issued["issued_date"]
    csv = clerk.get(f"/api/v1/registers/outgoing?from={day}&to={day}&format=csv")
    assert csv.status_code == 200 and "01/QĐ-UBND" in csv.content.decode("utf-8-sig")
    pdf = clerk.get(f"/api/v1/registers/outgoing?from={day}&to={day}&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    hits = clerk.get("/api/v1/search", params={"q": "quy che lam viec"}).json()
    assert [d["id"] for d in hits["items"]] == [doc_id]


def test_remote_signing_with_a_key_the_server_never_sees(live: Live) -> None:
    officer, token_leader, clerk = (
        Browser(live.base, u) for u in ("chuyenvien", "ld.token", "vanthu")
    )
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "ke-hoach",
            "subject": "Kế hoạch cải cách hành chính năm 2027",
            "body": ["I. MỤC ĐÍCH, YÊU CẦU"],
            "recipients": [{"name": "Sở Nội vụ"}],
        },
    )
    doc_id = r.json()["id"]
    officer.step(doc_id, "submit")
    token_leader.step(doc_id, "approve")
    # Signing with a server key is refused: this leader's key is on their token.
    r = token_leader.post(f"/api/v1/documents/{doc_id}/sign", json={"pin": DEV_SIGNING_PIN})
    assert r.status_code == 409 and "remote flow" in r.json()["detail"]

    pki = live.pki
    chain = [
        (pki.directory / "certs" / n).read_text() for n in ("leader2.cert.pem", "interm.cert.pem")
    ]
    r = token_leader.post(
        f"/api/v1/documents/{doc_id}/remote-signing",
        json={"certificate_chain": chain, "authority": "KT. CHỦ TỊCH"},
    )
    assert r.status_code == 201, r.text
    prep = r.json()
    # Someone else's certificate is refused.
    wrong = [(pki.directory / "certs" / "leader1.cert.pem").read_text()]
    r = token_leader.post(
        f"/api/v1/documents/{doc_id}/remote-signing", json={"certificate_chain": wrong}
    )
    assert r.status_code == 403

    # The "token": the private key exists only here, in the test.
    key, _cert, _more = pkcs12.load_key_and_certificates(
        pki.p12("leader2").read_bytes(), b"edms-dev-only"
    )
    signed_attrs = base64.b64decode(prep["signed_attributes"])
    value = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    # A wrong signature value is refused and the document stays approved.
    r = token_leader.post(
        f"/api/v1/documents/{doc_id}/remote-signing/{prep['session_id']}",
        json={"signature": base64.b64encode(b"\0" * len(value)).decode()},
    )
    assert r.status_code == 400
    assert clerk.get(f"/api/v1/documents/{doc_id}").json()["state"] == "approved"
    # Another user cannot finalize this session.
    r = clerk.post(
        f"/api/v1/documents/{doc_id}/remote-signing/{prep['session_id']}",
        json={"signature": base64.b64encode(value).decode()},
    )
    assert r.status_code == 404
    r = token_leader.post(
        f"/api/v1/documents/{doc_id}/remote-signing/{prep['session_id']}",
        json={"signature": base64.b64encode(value).decode()},
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "signed" and done["report"]["valid"]
    assert done["signer"]["full_name"] == "Trần Thị Hồng Nhung"
    clerk.step(doc_id, "number")
    sealed = clerk.step(doc_id, "seal")
    assert sealed["report"]["valid"] and len(sealed["report"]["signatures"]) == 2


def test_incoming_lifecycle_over_http(live: Live) -> None:
    clerk, leader = Browser(live.base, "vanthu"), Browser(live.base, "chutich")
    officer = Browser(live.base, "chuyenvien")
    pdf = _issue_one(live)  # the sender's signed PDF
    r = clerk.post(
        "/api/v1/incoming",
        data={
            "type": "quyet-dinh",
            "subject": "Quyết định ban hành Quy chế làm việc",
            "organ_name": "UBND tỉnh Hà Giang",
            "organ_id": "000.00.00.H41",
            "number": "01",
            "notation": "QĐ-UBND",
            "issued_date": "2026-11-20",
            "priority": "2",
        },
        files={"file": ("qd.pdf", pdf)},
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    checked = clerk.step(doc_id, "verify")
    assert checked["validation"]["valid"]
    reg = clerk.step(doc_id, "register")
    assert reg["arrival_number"] >= 1
    leader.step(
        doc_id, "assign", lead_unit="VX", co_units=["KT"], instruction="Nghiên cứu, triển khai"
    )
    officer.step(doc_id, "progress", note="Đang triển khai")
    done = officer.step(doc_id, "complete", note="Đã triển khai xong")
    assert [(h["to"], h["code"]) for h in done["history"]] == [
        ("received", "01"),
        ("verified", None),
        ("registered", "03"),
        ("assigned", "04"),
        ("in_progress", "05"),
        ("completed", "06"),
    ]
    # Wrong input gets a clear 4xx, never a 500.
    r = clerk.post(
        "/api/v1/incoming",
        data={"type": "quyet-dinh"},
        files={"file": ("x.pdf", b"%PDF-1.4 broken")},
    )
    assert r.status_code == 422 and "organ_name" in r.json()["detail"]
    r = clerk.post(
        "/api/v1/incoming",
        data={
            "type": "quyet-dinh",
            "subject": "x",
            "organ_name": "y",
            "number": "1",
            "notation": "A",
            "issued_date": "2026-11-20",
        },
        files={"file": ("x.pdf", b"PK\x03\x04" + b"\0" * 100)},
    )
    assert r.status_code == 415


def _issue_one(live: Live) -> bytes:
    officer, leader, clerk = (Browser(live.base, u) for u in ("chuyenvien", "chutich", "vanthu"))
    doc_id = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "quyet-dinh",
            "subject": "Quyết định",
            "body": ["Điều 1."],
            "recipients": [{"name": "Sở Nội vụ"}],
        },
    ).json()["id"]
    officer.step(doc_id, "submit")
    leader.step(doc_id, "approve")
    leader.step(doc_id, "sign")
    for step in ("number", "seal", "register", "issue"):
        clerk.step(doc_id, step)
    return clerk.get(f"/api/v1/documents/{doc_id}/content").content


def test_batch_signing_job_and_api_tokens(live: Live) -> None:
    officer, leader = Browser(live.base, "chuyenvien"), Browser(live.base, "chutich")
    ids = []
    for i in range(3):
        doc_id = officer.post(
            "/api/v1/documents/from-template",
            json={
                "type": "giay-moi",
                "subject": f"Giấy mời họp số {i}",
                "body": ["Kính mời."],
                "recipients": [{"name": "Các phòng"}],
            },
        ).json()["id"]
        officer.step(doc_id, "submit")
        leader.step(doc_id, "approve")
        ids.append(doc_id)
    # The leader creates an API token in their browser session; the integration uses it.
    r = leader.post("/api/v1/tokens", json={"name": "ký hàng loạt", "scopes": ["read", "sign"]})
    assert r.status_code == 201
    token = r.json()["token"]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    r = api.post(
        f"{live.base}/api/v1/jobs/batch-sign",
        json={"document_ids": [*ids, 999999], "pin": DEV_SIGNING_PIN},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job_url = f"{live.base}/api/v1/jobs/{r.json()['id']}"
    assert r.headers["Location"].endswith(r.json()["id"])
    deadline = time.monotonic() + 180
    while True:  # poll the job's state until it has finished
        job = api.get(job_url, timeout=30).json()
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["state"] == "succeeded", job
    assert job["result"]["signed"] == ids and job["progress"] == 1.0
    assert job["result"]["failed"] == [{"document_id": 999999, "error": "no document 999999"}]
    for doc_id in ids:
        assert (
            api.get(f"{live.base}/api/v1/documents/{doc_id}", timeout=30).json()["state"]
            == "signed"
        )
    # The token lacks the write scope.
    r = api.post(f"{live.base}/api/v1/dossiers", json={"file_code": "X", "title": "x"}, timeout=30)
    assert r.status_code == 403
    metrics = requests.get(f"{live.base}/metrics", timeout=30).text
    assert "edms_http_requests_total" in metrics


def test_login_is_rate_limited(live: Live) -> None:
    url = f"{live.base}/api/v1/sessions"
    for _ in range(5):
        r = requests.post(
            url, json={"username": "quantri", "password": "sai-mat-khau-123"}, timeout=30
        )
        assert r.status_code == 401
    r = requests.post(url, json={"username": "quantri", "password": DEV_USER_PASSWORD}, timeout=30)
    assert r.status_code == 429 and r.headers["Content-Type"] == "application/problem+json"
