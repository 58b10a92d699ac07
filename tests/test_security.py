"""The outside probe of 2026-12-02 (issue 16), attack by attack, in the process: each test
sends the request that succeeded then, asserts the refusal and that nothing changed.
The attacks that need a real server (stalling it with slow public uploads, bodies sent to
protected endpoints, ``kill -9``) are in ``test_security_live.py``."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text, update

from api import create_app
from edms import auth, devseed, orgs
from edms import documents as docs
from edms.auth import DEV_SIGNING_PIN, create_token
from edms.config import Settings
from edms.devseed import DEV_USER_PASSWORD
from edms.digitization import intake
from edms.models import ApiToken, AuditEvent, Blob, Dossier, Job, LoginAttempt, User, WebSession
from edms.system import System
from tests.support.agency import BODY, FOREIGN_AGENCY, draft_meta, sign, snapshot, tmp_files
from tests.support.pdfs import plain_pdf
from tests.support.scans import scan_page

METRICS_TOKEN = "metrics-" + "x" * 24


@dataclass
class World:
    system: System
    app: Flask
    env: dict[str, str]
    tmp: Path
    signed_pdf: Path  # a document signed and sealed here, as another agency would send it


def _env(tmp: Path, pki: Any, **extra: str) -> dict[str, str]:
    return {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(pki.directory),
        "EDMS_ENV": "development",
        "EDMS_TRUSTED_PROXIES": "127.0.0.1",
        "EDMS_METRICS_TOKEN": METRICS_TOKEN,
        **extra,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("security")
    env = _env(tmp, dev_pki)
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    orgs.create_agency(system, FOREIGN_AGENCY, "Văn phòng Chính phủ", "VPCP", "Hà Nội")
    orgs.create_unit(system, FOREIGN_AGENCY, "VX", "Vụ Khoa giáo - Văn xã", "KGVX")
    orgs.create_user(
        system,
        FOREIGN_AGENCY,
        "ld.g22",
        "Lãnh đạo VPCP",
        "leader",
        unit_code="VX",
        password_hash=auth.hash_password(DEV_USER_PASSWORD),
    )
    doc_id = approved(system)
    sign(system, "chutich", doc_id)
    docs.number(system, "vanthu", doc_id)
    docs.seal(system, "vanthu", doc_id)
    signed = tmp / "signed.pdf"
    docs.download(system, "vanthu", doc_id, signed)
    yield World(system, create_app(system), env, tmp, signed)
    system.close()


def approved(system: System) -> int:
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    return doc.id


def state(system: System, doc_id: int) -> tuple[str, int, int]:
    """A document's state, version and number of files."""
    d = docs.get_document(system, "vanthu", doc_id)
    return d.document.state, d.document.version, len(d.files)


class Api:
    """An API caller: a browser session (cookie + CSRF) or a token."""

    def __init__(
        self,
        app: Flask,
        user: str | None = None,
        token: str | None = None,
        client_ip: str = "198.51.100.1",
    ) -> None:
        self.client = app.test_client()
        self.headers = {"X-Forwarded-For": client_ip}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user:
            r = self.client.post(
                "/api/v1/sessions",
                json={"username": user, "password": DEV_USER_PASSWORD},
                headers=self.headers,
            )
            assert r.status_code == 201, r.get_json()
            self.headers["X-CSRF-Token"] = r.get_json()["csrf_token"]

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)


def web_login(
    app: Flask, user: str, client_ip: str = "198.51.100.2", next_: str | None = None
) -> tuple[FlaskClient, Any]:
    """Log in through the form (with its CSRF token); returns the client and the answer."""
    client = app.test_client()
    headers = {"X-Forwarded-For": client_ip}
    page = client.get("/dang-nhap", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, page
    url = "/dang-nhap" + (f"?next={quote(next_, safe='')}" if next_ is not None else "")
    r = client.post(
        url,
        data={"username": user, "password": DEV_USER_PASSWORD, "csrf": token.group(1)},
        headers=headers,
    )
    return client, r


def last_event(system: System, action: str) -> AuditEvent:
    with system.sessions() as s:
        e = s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
        ).first()
        assert e is not None
        return e


def count(system: System, model: Any) -> int:
    with system.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# -- 1. signing is personal ----------------------------------------------------------------------


def test_an_admin_cannot_sign_on_a_leaders_behalf(world: World) -> None:
    w = world
    doc_id = approved(w.system)
    admin = Api(w.app, "quantri")
    before = snapshot(w.system)
    # The probe: a token for the leader with the sign scope, minted by the administrator.
    for scopes in (["read", "sign"], ["sign"], ["read", "write", "sign"]):
        r = admin.post(
            "/api/v1/tokens", json={"name": "ký thay", "scopes": scopes, "user": "chutich"}
        )
        assert r.status_code == 403, r.get_json()
        assert "signing is personal" in r.get_json()["detail"]
    assert snapshot(w.system) == before
    # What an admin may mint for the leader cannot sign, PIN or not.
    r = admin.post(
        "/api/v1/tokens", json={"name": "đọc", "scopes": ["read", "write"], "user": "chutich"}
    )
    assert r.status_code == 201
    minted = Api(w.app, token=r.get_json()["token"])
    before = state(w.system, doc_id)
    r = minted.post(f"/api/v1/documents/{doc_id}/sign", json={"pin": DEV_SIGNING_PIN})
    assert r.status_code == 403 and "'sign' scope" in r.get_json()["detail"]
    # A signing token an admin minted before this release (kept by the database) cannot
    # sign either: only a token its own user minted carries 'sign'.
    legacy = "edms_0123456789ab_" + "l" * 43
    with w.system.sessions() as s, s.begin():
        ids = {u.username: u.id for u in s.scalars(select(User))}
        s.add(
            ApiToken(
                user_id=ids["chutich"],
                name="cũ",
                prefix="0123456789ab",
                token_hash=auth._digest(legacy),
                scopes="read,sign,write",
                created_at=datetime.now(UTC),
                created_by=ids["quantri"],
                expires_at=datetime.now(UTC) + timedelta(days=5),
            )
        )
    r = Api(w.app, token=legacy).post(
        f"/api/v1/documents/{doc_id}/sign", json={"pin": DEV_SIGNING_PIN}
    )
    assert r.status_code == 403, r.get_json()
    assert state(w.system, doc_id) == before == ("approved", before[1], 1)


def test_an_admin_only_token_cannot_mint_itself_wider_rights(world: World) -> None:
    w = world
    token = create_token(w.system, "quantri", "quản trị", ["admin"]).token
    admin_only = Api(w.app, token=token)
    tokens = count(w.system, ApiToken)
    for scopes in (["read", "write", "sign", "admin"], ["read"], ["sign"]):
        r = admin_only.post("/api/v1/tokens", json={"name": "rộng hơn", "scopes": scopes})
        assert r.status_code == 403, r.get_json()
        assert "lacks" in r.get_json()["detail"]
    assert count(w.system, ApiToken) == tokens


def test_signing_needs_the_leaders_own_credential_and_pin(world: World) -> None:
    w = world
    doc_id = approved(w.system)
    leader = Api(w.app, "chutich", client_ip="198.51.100.3")
    before = state(w.system, doc_id)
    url = f"/api/v1/documents/{doc_id}/sign"
    r = leader.post(url, json={})
    assert r.status_code == 403 and r.get_json()["pin_required"] is True
    for wrong in ("000000", "111111", "222222"):
        r = leader.post(url, json={"pin": wrong})
        assert r.status_code == 403 and "wrong signing PIN" in r.get_json()["detail"]
    # After three wrong PINs every attempt waits, even with the right PIN.
    r = leader.post(url, json={"pin": DEV_SIGNING_PIN})
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= auth.PIN_FIRST_WAIT
    assert state(w.system, doc_id) == before
    assert last_event(w.system, "sign.pin_failed").actor == "chutich"
    with w.system.sessions() as s, s.begin():  # the wait has passed
        s.execute(
            update(User)
            .where(User.username == "chutich")
            .values(pin_failed_at=datetime.now(UTC) - timedelta(hours=2))
        )
    # The leader's own token, minted by themselves, signs with the PIN; the audit names it.
    r = leader.post("/api/v1/tokens", json={"name": "ký", "scopes": ["read", "sign"]})
    assert r.status_code == 201
    own = r.get_json()
    r = Api(w.app, token=own["token"]).post(url, json={"pin": DEV_SIGNING_PIN})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "signed"
    details = json.loads(last_event(w.system, "document.sign").details)
    assert details["credential"] == f"token:{own['prefix']}"
    assert details["confirmed"] == "pin"
    with w.system.sessions() as s:
        assert s.scalars(select(User.pin_failures).where(User.username == "chutich")).one() == 0


def test_batch_signing_needs_the_pin(world: World) -> None:
    w = world
    doc_id = approved(w.system)
    leader = Api(w.app, "phochutich", client_ip="198.51.100.4")
    jobs_before = count(w.system, Job)
    r = leader.post("/api/v1/jobs/batch-sign", json={"document_ids": [doc_id]})
    assert r.status_code == 403 and r.get_json()["pin_required"]
    assert count(w.system, Job) == jobs_before
    assert state(w.system, doc_id)[0] == "approved"


def test_the_command_line_asks_for_the_pin(world: World, dev_pki: Any, tmp_path: Path) -> None:
    import os

    w = world
    doc_id = approved(w.system)
    env = {k: v for k, v in os.environ.items() if k != "EDMS_SIGNING_PIN"}
    env.update(w.env)

    def edms(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edms.cli", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )

    before = state(w.system, doc_id)
    no_pin = edms("doc", "sign", "--as", "phochutich", str(doc_id))
    assert no_pin.returncode == 1 and "signing PIN" in no_pin.stderr
    wrong = edms("doc", "sign", "--as", "phochutich", str(doc_id), EDMS_SIGNING_PIN="987654")
    assert wrong.returncode == 1 and "wrong signing PIN" in wrong.stderr
    assert state(w.system, doc_id) == before
    ok = edms("doc", "sign", "--as", "phochutich", str(doc_id), EDMS_SIGNING_PIN=DEV_SIGNING_PIN)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(last_event(w.system, "document.sign").details)["credential"] == "cli"
    # `edms dev-seed` says which PIN the development leaders sign with.
    fresh = {**env, **_env(tmp_path, dev_pki)}
    assert edms("init", "--no-dev-pki", **fresh).returncode == 0
    seeded = edms("dev-seed", **fresh)
    assert seeded.returncode == 0 and f"PIN {DEV_SIGNING_PIN}" in seeded.stdout


def test_a_leader_sets_their_own_pin_with_their_password(world: World, dev_pki: Any) -> None:
    from edms.signatures import SignerRef

    w = world
    orgs.create_user(
        w.system,
        "000.00.00.H41",
        "ld.moi",
        "Lê Văn Mới",
        "leader",
        title="Phó Chủ tịch",
        unit_code="VP",
        password_hash=auth.hash_password(DEV_USER_PASSWORD),
    )
    orgs.bind_key(w.system, SignerRef(label="leader2"), username="ld.moi")
    leader = Api(w.app, "ld.moi", client_ip="198.51.100.6")
    url = "/api/v1/me/signing-pin"
    r = leader.client.put(
        url, json={"password": "sai-mat-khau-9", "pin": "246810"}, headers=leader.headers
    )
    assert r.status_code == 403
    r = leader.client.put(
        url, json={"password": DEV_USER_PASSWORD, "pin": "123456"}, headers=leader.headers
    )
    assert r.status_code == 400 and "too easy" in r.get_json()["detail"]
    doc_id = approved(w.system)
    r = leader.post(f"/api/v1/documents/{doc_id}/sign", json={"pin": "246810"})
    assert r.status_code == 403 and "no signing PIN" in r.get_json()["detail"]
    r = leader.client.put(
        url, json={"password": DEV_USER_PASSWORD, "pin": "246810"}, headers=leader.headers
    )
    assert r.status_code == 204
    assert (
        leader.post(f"/api/v1/documents/{doc_id}/sign", json={"pin": "246810"}).status_code == 200
    )
    # Nobody else sets it: an admin has no PIN of their own, and no way to set a leader's.
    admin = Api(w.app, "quantri", client_ip="198.51.100.7")
    r = admin.client.put(
        url, json={"password": DEV_USER_PASSWORD, "pin": "246810"}, headers=admin.headers
    )
    assert r.status_code == 403
    client, _ = web_login(w.app, "quantri", "198.51.100.8")
    assert client.get("/ma-pin-ky-so").status_code == 403


# -- 2. public work: gated (the live server test stalls it with slow uploads) -------------------


def test_public_checks_beyond_the_gate_get_429_or_503_with_retry_after(world: World) -> None:
    import threading

    w = world
    busy = System(
        Settings.from_env(
            {
                **w.env,
                "EDMS_PUBLIC_CONCURRENCY": "1",
                "EDMS_PUBLIC_QUEUE": "1",
                "EDMS_PUBLIC_QUEUE_SECONDS": "2",
            }
        )
    )
    try:
        app = create_app(busy)
        gate = app.extensions["edms_public_gate"]
        gate.acquire()  # a check in progress
        waited: list[Any] = []
        waiting = threading.Thread(
            target=lambda: waited.append(
                app.test_client().post("/xac-thuc", headers={"Accept": "application/json"})
            )
        )
        waiting.start()
        time.sleep(0.5)  # it is in the queue now (readiness, not a timing assertion)
        full = app.test_client().get(
            "/verify/Abcdefghijklmnop1234", headers={"Accept": "text/html"}
        )
        assert full.status_code == 429 and int(full.headers["Retry-After"]) > 0
        assert "thử lại sau" in full.get_data(as_text=True)  # a page, for a browser
        waiting.join(30)
        assert waited[0].status_code == 503 and int(waited[0].headers["Retry-After"]) > 0
        assert waited[0].get_json()["type"].endswith("/busy")
        gate.release()
        assert app.test_client().post("/xac-thuc").status_code == 400  # free: checked
    finally:
        busy.close()


# -- 3. costly small files ----------------------------------------------------------------------


def flate_bomb(path: Path, inflated: int = 300 * 1024 * 1024) -> Path:
    """A one-page PDF whose page content inflates from ~300 KB to 300 MB."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    comp = zlib.compressobj(9)
    raw = b"".join(comp.compress(b"\0" * (1 << 24)) for _ in range(inflated >> 24))
    stream = pikepdf.Stream(pdf, raw + comp.flush())
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].Contents = stream
    pdf.save(path)
    return path


def huge_png(path: Path, side: int = 40_000) -> Path:
    """A 1-bit PNG of side × side pixels (1.6 gigapixels) in about 200 KB, at 300 dpi."""
    import struct

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\0" * (1 + side // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row * 1000) for _ in range(side // 1000)) + comp.flush()
    ppm = round(300 / 0.0254)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def test_a_flate_bomb_is_refused_before_it_is_read(world: World, tmp_path: Path) -> None:
    w = world
    bomb = flate_bomb(tmp_path / "bom.pdf")
    assert bomb.stat().st_size < 1_000_000
    clerk, officer = Api(w.app, "vanthu"), Api(w.app, "chuyenvien")
    before = snapshot(w.system)
    started = time.monotonic()
    r = clerk.post(
        "/api/v1/incoming",
        data={
            "type": "cong-van",
            "subject": "Công văn",
            "organ_name": "Sở Y tế",
            "number": "1",
            "notation": "SYT",
            "issued_date": "2026-11-20",
            "file": (io.BytesIO(bomb.read_bytes()), "cv.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["type"].endswith("/costly-file")
    assert "compression bomb" in r.get_json()["detail"]
    r = officer.post(
        "/api/v1/documents",
        data={
            "type": "thong-bao",
            "subject": "Thông báo",
            "file": (io.BytesIO(bomb.read_bytes()), "tb.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert time.monotonic() - started < 60  # a deadline (the probe: 15.5 s each), not a bench
    assert snapshot(w.system) == before
    assert tmp_files(w.system) == []


def test_a_huge_image_is_refused_from_its_header(world: World, tmp_path: Path) -> None:
    w = world
    png = huge_png(tmp_path / "to.png")
    assert png.stat().st_size < 1_000_000
    with pytest.raises(intake.ScanRefused, match="megapixels"):
        intake.check_file(png, "to.png", 200, 300)
    clerk = Api(w.app, "vanthu")
    blobs_before = count(w.system, Blob)
    r = clerk.post(
        "/api/v1/digitizations",
        data={
            "dossier_code": "H41-BOM-1",
            "original_type": "Giấy phép",
            "files": [(io.BytesIO(png.read_bytes()), "to.png")],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 202, r.get_json()
    job = wait_for_job(clerk, r.get_json()["id"])
    assert job["state"] == "failed" and "megapixels" in job["error"]
    assert count(w.system, Blob) == blobs_before  # the staged scan went with the job


def wait_for_job(api: Api, job_id: str, limit: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:  # polling a job's end, not a timing assertion
        body: dict[str, Any] = api.get(f"/api/v1/jobs/{job_id}").get_json()
        if body["state"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_previews_are_rendered_once_and_cached(world: World) -> None:
    w = world
    doc_id = approved(w.system)
    client, r = web_login(w.app, "chutich", "198.51.100.5")
    assert r.status_code == 303
    first = client.get(f"/van-ban/{doc_id}/trang/1.png")
    assert first.status_code == 200 and first.data.startswith(b"\x89PNG")
    cached = list((w.system.settings.data_dir / "cache" / "previews").glob("*-1.png"))
    mine = [p for p in cached if p.read_bytes() == first.data]
    assert len(mine) == 1
    mine[0].write_bytes(b"\x89PNG cached")  # the next answer comes from the cache
    assert client.get(f"/van-ban/{doc_id}/trang/1.png").data == b"\x89PNG cached"
    assert client.get(f"/van-ban/{doc_id}/trang/9.png").status_code == 404
    assert list(mine[0].parent.glob(mine[0].name.replace("-1.png", "-9.fail")))


# -- 4. proxy-aware limits -----------------------------------------------------------------------


def login(app: Flask, user: str, password: str, client_ip: str, peer: str = "127.0.0.1") -> Any:
    return app.test_client().post(
        "/api/v1/sessions",
        json={"username": user, "password": password},
        headers={"X-Forwarded-For": client_ip},
        environ_base={"REMOTE_ADDR": peer},
    )


def test_failed_logins_are_limited_per_client_and_slow_an_account_down(world: World) -> None:
    w = world
    # The probe: 30 failures with made-up names behind the proxy locked everyone out.
    for i in range(auth.MAX_FAILURES_PER_CLIENT):
        assert login(w.app, f"khong-co-{i}", "sai-mat-khau-0", "203.0.113.7").status_code == 401
    r = login(w.app, "chuyenvien", DEV_USER_PASSWORD, "203.0.113.7")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # ... and now only that client waits: everyone else behind the proxy logs in.
    assert login(w.app, "chuyenvien", DEV_USER_PASSWORD, "198.51.100.20").status_code == 201
    # A client that is not a trusted proxy cannot move its failures to made-up addresses.
    for i in range(auth.MAX_FAILURES_PER_CLIENT):
        r = login(w.app, f"gia-mao-{i}", "sai-mat-khau-0", f"10.9.{i}.1", peer="192.0.2.77")
        assert r.status_code == 401
    assert (
        login(w.app, "chuyenvien", DEV_USER_PASSWORD, "10.9.99.1", peer="192.0.2.77").status_code
        == 429
    )
    # An account guessed at from many addresses is slowed down, not shut: its owner waits
    # a few seconds, then gets in.
    sessions = count(w.system, WebSession)
    for i in range(auth.ACCOUNT_FREE_FAILURES):
        assert login(w.app, "phochutich", "doan-mo-0", f"203.0.113.{50 + i}").status_code == 401
    r = login(w.app, "phochutich", DEV_USER_PASSWORD, "198.51.100.21")
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= auth.ACCOUNT_FIRST_WAIT
    assert count(w.system, WebSession) == sessions
    with w.system.sessions() as s, s.begin():  # the wait has passed
        for attempt in s.scalars(select(LoginAttempt).where(LoginAttempt.username == "phochutich")):
            attempt.at -= timedelta(seconds=auth.ACCOUNT_FIRST_WAIT + 1)
    assert login(w.app, "phochutich", DEV_USER_PASSWORD, "198.51.100.21").status_code == 201


# -- 5. open redirect -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.com",
        "//evil.com",
        "/\\evil.com",
        "https://evil.com/",
        "/\n/evil.com",
        "javascript:alert(1)",
        " /van-ban",
        "\\\\evil.com",
    ],
)
def test_login_redirects_only_to_same_site_paths(world: World, target: str) -> None:
    _client, r = web_login(world.app, "vanthu", "198.51.100.30", next_=target)
    assert r.status_code == 303
    location = urlsplit(r.headers["Location"])
    assert location.netloc in ("", "localhost") and location.path == "/", r.headers


def test_login_keeps_a_same_site_target_and_needs_its_csrf_token(world: World) -> None:
    w = world
    _client, r = web_login(w.app, "vanthu", "198.51.100.31", next_="/van-ban?hang-doi=cho-ky")
    assert r.headers["Location"] == "/van-ban?hang-doi=cho-ky"
    sessions = count(w.system, WebSession)
    forged = w.app.test_client().post(
        "/dang-nhap",
        data={"username": "vanthu", "password": DEV_USER_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.32"},
    )
    assert forged.status_code == 400 and "edms_session" not in forged.headers.get("Set-Cookie", "")
    assert count(w.system, WebSession) == sessions


# -- 6. headers -----------------------------------------------------------------------------


PAGES = [
    "/dang-nhap",
    "/xac-thuc",
    "/healthz",
    "/api/v1/",
    "/api/v1/me",
    "/verify/khong-co-ma-nay-xyz",
    "/api/v1/docs",
    "/api/v1/openapi.json",
    "/static/web/edms.css",
    "/khong-co-trang-nay",
]


def test_every_answer_carries_the_security_headers(world: World) -> None:
    client = world.app.test_client()
    for path in PAGES:
        r = client.get(path)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        script = re.search(r"script-src ([^;]*)", csp)
        assert script and "'unsafe-inline'" not in script.group(1), path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["Referrer-Policy"] == "same-origin", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert "Strict-Transport-Security" not in r.headers  # development: plain HTTP
        if r.mimetype == "text/html":
            inline = re.findall(
                r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.get_data(as_text=True), re.S
            )
            assert path == "/api/v1/docs" or not inline, path
            for body in inline:  # the API page's own start-up script, allowed by hash
                import base64
                import hashlib

                digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
                assert f"'sha256-{digest}'" in script.group(1)
    login_page = client.get("/dang-nhap").get_data(as_text=True)
    assert re.search(r'<input type="hidden" name="csrf" value="[^"]{20,}">', login_page)


def test_production_cookies_are_secure_and_hsts_is_sent(world: World) -> None:
    w = world
    prod = System(
        Settings.from_env({**w.env, "EDMS_ENV": "production", "EDMS_SECRET_KEY": "k" * 40})
    )
    try:
        client = create_app(prod).test_client()
        r = client.post(
            "/api/v1/sessions",
            json={"username": "vanthu", "password": DEV_USER_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.40"},
        )
        assert r.status_code == 201
        page = client.get("/dang-nhap")
        for resp in (r, page):
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
            cookies = resp.headers.getlist("Set-Cookie")
            assert cookies
            for c in cookies:
                assert "; Secure" in c and "; HttpOnly" in c and "SameSite=Lax" in c, c
    finally:
        prod.close()


# -- 7. nothing left behind (in the process; kill -9 and `edms serve` in the live tests) -----


def test_refused_and_failed_uploads_leave_nothing(world: World, tmp_path: Path) -> None:
    w = world
    clerk = Api(w.app, "vanthu")
    good = scan_page(tmp_path / "1.png", ["GIẤY PHÉP"], dpi=300)
    blobs_before = count(w.system, Blob)
    objects = sorted(o.key for o in w.system.store.list())
    # One good scan, then a file that is not a scan: 415, and the good one is not kept.
    r = clerk.post(
        "/api/v1/digitizations",
        data={
            "dossier_code": "H41-LOI-1",
            "original_type": "Giấy phép",
            "files": [
                (io.BytesIO(good.read_bytes()), "1.png"),
                (io.BytesIO(b"<!DOCTYPE html><html>x</html>"), "2.png"),
            ],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 415
    # A scan the job refuses (150 dpi): the job fails, its staged scan is discarded.
    low = scan_page(tmp_path / "thap.png", ["GIẤY PHÉP"], dpi=150)
    r = clerk.post(
        "/api/v1/digitizations",
        data={
            "dossier_code": "H41-LOI-2",
            "original_type": "Giấy phép",
            "files": [(io.BytesIO(low.read_bytes()), "thap.png")],
        },
        content_type="multipart/form-data",
    )
    job = wait_for_job(clerk, r.get_json()["id"])
    assert job["state"] == "failed" and "150 dpi" in job["error"]
    # A large verification goes to a job; its upload is discarded when it ends.
    big = System(Settings.from_env({**w.env, "EDMS_VERIFY_INLINE_MB": "1"}))
    try:
        payload = w.signed_pdf.read_bytes() + b"%" + b"x" * (1 << 20) + b"\n"
        checker = Api(create_app(big), "vanthu", client_ip="198.51.100.41")
        r = checker.post(
            "/api/v1/verify",
            data={"file": (io.BytesIO(payload), "lon.pdf")},
            content_type="multipart/form-data",
        )
        assert r.status_code == 202, r.get_json()
        assert wait_for_job(checker, r.get_json()["id"])["state"] == "succeeded"
    finally:
        big.close()
    assert count(w.system, Blob) == blobs_before
    assert sorted(o.key for o in w.system.store.list()) == objects
    assert tmp_files(w.system) == []


def test_a_refused_key_binding_keeps_no_image(world: World, dev_pki: Any) -> None:
    w = world
    blobs_before = count(w.system, Blob)
    with pytest.raises(Exception, match="not a leader"):
        orgs.bind_certificate(
            w.system,
            "vanthu",
            (dev_pki.directory / "certs" / "leader2.cert.pem").read_bytes(),
            dev_pki.signature_image("leader2"),
            admin="quantri",
        )
    assert count(w.system, Blob) == blobs_before


# -- 8. smaller ---------------------------------------------------------------------------------


def receive(api: Api, pdf: bytes, **form: str) -> dict[str, Any]:
    base = {
        "type": "cong-van",
        "subject": "Công văn đến",
        "organ_name": "Sở Y tế",
        "number": "12",
        "notation": "SYT-KHTC",
        "issued_date": "2026-11-20",
    }
    r = api.post(
        "/api/v1/incoming",
        data={**base, **form, "file": (io.BytesIO(pdf), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    return out


def test_register_csv_cells_cannot_start_a_formula(world: World) -> None:
    w = world
    clerk = Api(w.app, "vanthu")
    hostile = {
        "subject": '=HYPERLINK("http://evil.example","Bấm vào đây")',
        "organ_name": "+SUM(A1:A9)",
        "number": "-3",
        "notation": "@cmd",
    }
    doc = receive(clerk, w.signed_pdf.read_bytes(), **hostile)
    assert doc["subject"] == hostile["subject"]  # kept as typed
    assert clerk.post(f"/api/v1/documents/{doc['id']}/verify", json={}).status_code == 200
    assert clerk.post(f"/api/v1/documents/{doc['id']}/register", json={}).status_code == 200
    day = docs.vn_today().isoformat()
    r = clerk.get(f"/api/v1/registers/incoming?from={day}&to={day}&format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert "'+SUM(A1:A9)" in cells and "'-3/@cmd" in cells


def test_file_names_are_normalised(world: World, tmp_path: Path) -> None:
    w = world
    officer = Api(w.app, "chuyenvien")
    doc = docs.create_from_template(w.system, "chuyenvien", draft_meta(), BODY)
    pdf = plain_pdf(tmp_path / "a.pdf").read_bytes()
    for name in ("../../etc/\u202egpj.exe\u0001.pdf", "..\\..\\phu-luc\u200b.pdf", ".."):
        r = officer.post(
            f"/api/v1/documents/{doc.id}/attachments",
            data={"file": (io.BytesIO(pdf), name)},
            content_type="multipart/form-data",
        )
        assert r.status_code == 201, r.get_json()
    names = [
        f["name"]
        for f in docs.view_json(docs.get_document(w.system, "chuyenvien", doc.id))["files"]
        if f["role"] == "attachment"
    ]
    assert names == ["gpj.exe .pdf", "phu-luc.pdf", f"{doc.id}.pdf"], names
    for n in names:
        assert not set(n) & {"/", "\\", "\u202e", "\u200b", "\x00", "\x01"}


@pytest.mark.parametrize(
    "code",
    ["../../etc", "<script>x</script>", "HS 2026", "HS/1", "", "x" * 61, "Hồ-sơ-1", "-leading"],
)
def test_dossier_codes_are_validated(world: World, code: str) -> None:
    w = world
    clerk = Api(w.app, "vanthu")
    dossiers, blobs_before = count(w.system, Dossier), count(w.system, Blob)
    r = clerk.post("/api/v1/dossiers", json={"file_code": code, "title": "Hồ sơ"})
    assert r.status_code in (400, 422), r.get_json()
    assert count(w.system, Dossier) == dossiers
    if code and len(code) <= 50:
        r = clerk.post(
            "/api/v1/digitizations",
            data={
                "dossier_code": code,
                "original_type": "Giấy phép",
                "files": [(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "1.png")],
            },
            content_type="multipart/form-data",
        )
        assert r.status_code == 400 and "dossier code" in r.get_json()["detail"]
        assert count(w.system, Blob) == blobs_before


def test_a_revoked_copy_says_so_on_its_public_page(world: World, tmp_path: Path) -> None:
    from edms.digitization.pipeline import CopyRequest, digitize

    w = world
    made = digitize(
        w.system,
        "vanthu",
        [
            scan_page(
                tmp_path / "p.png", ["GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH", "Số: 10A8012345"]
            )
        ],
        CopyRequest(
            dossier_code="H41-THU-HOI-1", original_type="Giấy chứng nhận đăng ký hộ kinh doanh"
        ),
    )
    client = w.app.test_client()
    page = client.get(f"/verify/{made.public_id}").get_data(as_text=True)
    assert "Bản sao điện tử XÁC THỰC" in page
    officer, clerk = Api(w.app, "chuyenvien"), Api(w.app, "vanthu")
    before = snapshot(w.system)
    r = officer.post(f"/api/v1/documents/{made.document_id}/revoke", json={"reason": "Cấp nhầm"})
    assert r.status_code in (403, 404) and snapshot(w.system) == before
    r = clerk.post(
        f"/api/v1/documents/{made.document_id}/revoke", json={"reason": "Cấp nhầm hồ sơ"}
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "revoked" and r.get_json()["frozen"]
    page = client.get(f"/verify/{made.public_id}").get_data(as_text=True)
    assert "KHÔNG CÒN GIÁ TRỊ" in page and "thu hồi" in page and "Cấp nhầm hồ sơ" in page
    assert "XÁC THỰC:" not in page.replace("KHÔNG XÁC THỰC", "")
    as_json = client.get(f"/verify/{made.public_id}", headers={"Accept": "application/json"})
    assert as_json.get_json()["authentic"] is False
    r = clerk.post(f"/api/v1/documents/{made.document_id}/revoke", json={"reason": "Lần nữa"})
    assert r.status_code == 409


def test_user_names_of_other_agencies_cannot_be_probed(world: World) -> None:
    admin = Api(world.app, "quantri")
    answers = []
    for name in ("ld.g22", "khong-ton-tai", "chutich.cu"):
        r = admin.post("/api/v1/tokens", json={"name": "thử", "scopes": ["read"], "user": name})
        body = r.get_json()
        answers.append((r.status_code, body["title"], body["detail"].replace(name, "NAME")))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 404


def test_metrics_only_for_this_machine_or_with_the_token(world: World) -> None:
    client = world.app.test_client()
    assert client.get("/metrics").status_code == 200  # this machine, directly
    assert (
        client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    )  # through the proxy: from outside
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    assert (
        client.get(
            "/metrics",
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
            headers={"Authorization": "Bearer wrong"},
        ).status_code
        == 404
    )
    r = client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    assert r.status_code == 200 and b"edms_http_requests_total" in r.data


def test_officers_see_secret_documents_only_when_assigned(world: World) -> None:
    w = world
    clerk, officer = Api(w.app, "vanthu"), Api(w.app, "chuyenvien")
    doc = receive(
        clerk,
        w.signed_pdf.read_bytes(),
        subject="Kế hoạch bảo vệ bí mật",
        secrecy="1",
        number="77",
        notation="KH-BM",
    )
    doc_id = doc["id"]
    clerk.post(f"/api/v1/documents/{doc_id}/verify", json={})
    assert clerk.post(f"/api/v1/documents/{doc_id}/register", json={}).status_code == 200
    assert (
        clerk.post(f"/api/v1/documents/{doc_id}/assign", json={"lead_unit": "KT"}).status_code
        == 200
    )

    def seen() -> bool:
        one = officer.get(f"/api/v1/documents/{doc_id}")
        missing = officer.get("/api/v1/documents/2000000")
        listed = [
            d["id"] for d in officer.get("/api/v1/documents?per_page=100").get_json()["items"]
        ]
        found = [d["id"] for d in officer.get("/api/v1/search?q=bao+ve+bi+mat").get_json()["items"]]
        if one.status_code == 404:
            assert one.get_json()["detail"].replace(str(doc_id), "N") == missing.get_json()[
                "detail"
            ].replace("2000000", "N")
            assert doc_id not in listed and doc_id not in found
            return False
        assert one.status_code == 200 and doc_id in listed and doc_id in found
        return True

    assert not seen()  # assigned to another unit (KT): not for this officer (VX)
    assert (
        clerk.post(f"/api/v1/documents/{doc_id}/assign", json={"lead_unit": "VX"}).status_code
        == 200
    )
    assert seen()
    # The register keeps its row for an admin, without the secret subject.
    day = docs.vn_today().isoformat()
    url = f"/api/v1/registers/incoming?from={day}&to={day}&format=csv"
    for who, shown in (("quantri", False), ("vanthu", True)):
        text = Api(w.app, who, client_ip="198.51.100.9").get(url).get_data().decode()
        assert ("Kế hoạch bảo vệ bí mật" in text) is shown, who
        assert ("văn bản mật: trích yếu không hiển thị" in text) is not shown, who


def test_development_users_have_distinct_salts(world: World) -> None:
    with world.system.sessions() as s:
        hashes = [h for h in s.scalars(select(User.password_hash)) if h]
    salts = [h.split("$")[4] for h in hashes]
    assert len(salts) >= 5 and len(set(salts)) == len(salts)


def test_token_authentication_does_not_write(world: World) -> None:
    w = world
    token = create_token(w.system, "vanthu", "đọc", ["read"]).token
    api = Api(w.app, token=token)
    assert api.get("/api/v1/me").status_code == 200  # the first use records last_used_at
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(w.system.engine, "before_cursor_execute", seen)
    try:
        for _ in range(20):
            assert api.get("/api/v1/me").status_code == 200
            assert api.get("/api/v1/documents").status_code == 200
    finally:
        event.remove(w.system.engine, "before_cursor_execute", seen)
    assert writes == []
    with w.system.sessions() as s:
        assert (
            s.execute(
                text("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
            ).scalar_one()
            >= 1
        )
