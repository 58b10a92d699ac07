"""The outside probe of 2026-12-02 (issue 16) against a real `edms serve` (gunicorn): slow
junk uploads on the public pages must not stall ``/healthz`` or logged-in work; bodies are
refused from their size or their missing credentials before they are read; what a killed
process leaves is named by `edms storage verify`, removed by `edms storage cleanup` and by
the next `edms serve`; every `edms serve` has its own control socket."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from edms.devseed import DEV_USER_PASSWORD
from tests.support.live import Processes, base_env, edms, free_port
from tests.support.pdfs import plain_pdf

MIB = 1024 * 1024
BOUNDARY = "----edms-probe-7f3a"


@dataclass
class Site:
    base: str
    env: dict[str, str]
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("probe")
    # Two public checks at a time and no queue: a third is refused at once (429).
    env = base_env(
        tmp / "data", dev_pki.directory, EDMS_PUBLIC_CONCURRENCY="2", EDMS_PUBLIC_QUEUE="0"
    )
    edms(env, "init")
    procs = Processes(tmp)
    try:
        yield Site(procs.serve(env, workers=1), env, tmp)
    finally:
        procs.stop()


class RawRequest:
    """An HTTP request on its own socket, its body sent when the test says so."""

    def __init__(
        self,
        base: str,
        method: str,
        path: str,
        head: dict[str, str],
        body: bytes = b"",
        send_now: int = 0,
    ) -> None:
        url = urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=180)
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {url.netloc}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in head.items()),
            "",
            "",
        ]
        self.sock.sendall("\r\n".join(lines).encode() + body[:send_now])
        self.rest = body[send_now:]

    def answered(self, within: float) -> bool:
        return bool(select.select([self.sock], [], [], within)[0])

    def send_rest(self) -> None:
        # The server may have answered and closed: its answer is read next.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(self.rest)
        self.rest = b""

    def response(self) -> tuple[int, dict[str, str], bytes]:
        data = b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        self.sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        return int(lines[0].split()[1]), headers, body


def junk_upload(
    base: str, path: str, pdf: bytes, junk: int = 8 * MIB, send_now: int = MIB
) -> RawRequest:
    """The probe's upload: a small PDF followed by 8 MB of junk, sent only in part."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="van-ban.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        + pdf
        + os.urandom(junk)
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return RawRequest(
        base,
        "POST",
        path,
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(body)),
        },
        body,
        send_now,
    )


def test_slow_public_uploads_do_not_stall_health_or_logged_in_work(
    site: Site, tmp_path: Path
) -> None:
    pdf = plain_pdf(tmp_path / "nho.pdf").read_bytes()
    officer = requests.Session()
    r = officer.post(
        f"{site.base}/api/v1/sessions",
        timeout=30,
        json={"username": "chuyenvien", "password": DEV_USER_PASSWORD},
    )
    assert r.status_code == 201
    uploads = [
        junk_upload(site.base, "/xac-thuc", pdf),
        junk_upload(site.base, "/verify/Abcdefghijklmnop1234", pdf),
    ]
    # Both are in flight once the gate is full: another public check is then refused.
    # (The probe sends no file: while the gate is free it is answered 400 at once.)
    time.sleep(0.3)
    deadline = time.monotonic() + 20
    while True:  # readiness polling, not a timing assertion
        third = requests.post(f"{site.base}/xac-thuc", data={"x": "1"}, timeout=30)
        if third.status_code == 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert third.status_code == 429, third.text[:300]
    assert int(third.headers["Retry-After"]) > 0
    assert not any(u.answered(0) for u in uploads), "the junk uploads are still in flight"
    # With both junk uploads in flight, health and a logged-in request answer within 1 s
    # each (a request that takes longer fails: the probe's /healthz waited 27.6 s).
    for _ in range(3):
        health = requests.get(f"{site.base}/healthz", timeout=1)
        listed = officer.get(f"{site.base}/api/v1/documents", timeout=1)
        assert health.status_code == 200 and listed.status_code == 200
    assert not any(u.answered(0) for u in uploads)
    statuses = []
    for u in uploads:
        u.send_rest()
        statuses.append(u.response()[0])
    assert statuses[0] == 200 and statuses[1] == 404, statuses  # checked; no such copy
    # The gate is free again.
    assert (
        requests.post(
            f"{site.base}/xac-thuc", files={"file": ("x.pdf", pdf)}, timeout=60
        ).status_code
        == 200
    )


def test_oversized_public_bodies_are_refused_before_they_are_read(site: Site) -> None:
    limit = 32 * MIB
    # Announced too large: refused from Content-Length, nothing sent.
    big = RawRequest(
        site.base,
        "POST",
        "/xac-thuc",
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(limit + 200 * 1024),
        },
    )
    assert big.answered(10)
    status, headers, _ = big.response()
    assert status == 413 and headers.get("connection") == "close"
    # The exchange inbox (anonymous until the package's signature is checked): its size.
    inbox = RawRequest(
        site.base,
        "POST",
        "/api/v1/exchange/inbox",
        {"Content-Type": "application/xml", "Content-Length": str(65 * MIB)},
    )
    assert inbox.answered(10)
    assert inbox.response()[0] == 413
    # Chunked (no Content-Length): refused while it streams, at the limit.
    chunked = RawRequest(
        site.base,
        "POST",
        "/verify/Abcdefghijklmnop1234",
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Transfer-Encoding": "chunked",
        },
    )
    part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        'filename="x.pdf"\r\n\r\n%PDF-1.7\n'
    ).encode() + b"0" * (MIB - 100)
    sent = 0
    try:
        while sent < 4 * limit and not chunked.answered(0):
            chunked.sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            sent += len(part)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, _, _ = chunked.response()
    # Refused at the limit; what the sockets' buffers held beyond it was never read.
    assert status == 413 and sent < 2 * limit, (status, sent)


def test_anonymous_bodies_to_protected_endpoints_are_not_read(site: Site) -> None:
    # The probe: a 300 MB anonymous upload took 5.6 s to get its 401.
    for path, expected in (
        ("/api/v1/incoming", 401),
        ("/api/v1/documents", 401),
        ("/van-ban-den/tiep-nhan", 302),
    ):
        anon = RawRequest(
            site.base,
            "POST",
            path,
            {
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(300 * MIB),
            },
            b"x" * 65536,
            send_now=65536,
        )
        assert anon.answered(10), path  # answered with 300 MB still unsent
        status, _, _ = anon.response()
        assert status == expected, (path, status)


def kill_holding_work(env: dict[str, str]) -> Path:
    """A process killed (-9) while a plaintext document sat in its work folder."""
    code = (
        "import os, sys; from edms.blobs import workdir; from edms.system import System;"
        "s = System.from_env()\n"
        "with workdir(s) as d:\n"
        "    (d / 'van-ban.pdf').write_bytes(b'%PDF-1.7 plaintext')\n"
        "    print(d, flush=True); os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    folder = Path(done.stdout.strip())
    assert (folder / "van-ban.pdf").is_file()
    return folder


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edms.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_storage_verify_names_leftovers_and_cleanup_removes_them(
    tmp_path: Path, dev_pki: Any
) -> None:
    import io

    from edms import documents as docs
    from edms.blobs import store_upload
    from edms.config import Settings
    from edms.system import System
    from tests.support.agency import BODY, draft_meta

    env = base_env(tmp_path / "data", dev_pki.directory)
    edms(env, "init")
    system = System(Settings.from_env(env))
    try:
        kept = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
        with system.sessions() as s:
            kept_sha = docs.main_file(s, kept.id).sha256
        # An upload whose work failed before this release left its object behind.
        left = store_upload(
            system,
            io.BytesIO(plain_pdf(tmp_path / "l.pdf").read_bytes()),
            filename="bi-tu-choi.pdf",
            retention_years=0,
        )
        folder = kill_holding_work(env)

        report = cli(env, "storage", "verify", "--older-than", "0")
        assert report.returncode == 1, report.stdout
        lines = report.stdout.splitlines()
        assert any(x.startswith("UNREFERENCED") and left.storage_key in x for x in lines)
        assert any(x.startswith("STALE-WORK") and str(folder) in x for x in lines)
        assert kept_sha not in report.stdout
        assert lines[-1].startswith("NOT CLEAN")

        cleaned = cli(env, "storage", "cleanup", "--older-than", "0")
        assert cleaned.returncode == 0, cleaned.stderr
        assert "1 unreferenced object(s)" in cleaned.stdout
        assert "1 stale work folder(s)" in cleaned.stdout
        again = cli(env, "storage", "verify", "--older-than", "0")
        assert again.returncode == 0 and again.stdout.startswith("clean:"), again.stdout
        assert not folder.exists()
        docs.download(system, "chuyenvien", kept.id, tmp_path / "kept.pdf")  # untouched
    finally:
        system.close()


def test_serve_clears_stale_work_and_each_has_its_own_control_socket(
    tmp_path: Path, dev_pki: Any
) -> None:
    env = base_env(tmp_path / "data", dev_pki.directory)
    edms(env, "init")
    folder = kill_holding_work(env)
    procs = Processes(tmp_path)
    ports = [free_port(), free_port()]
    try:
        for port in ports:
            procs.serve(env, workers=1, port=port)
        assert not folder.exists()  # removed before the first server started
        logs = "".join(p.read_text() for p in tmp_path.glob("api-*.log"))
        assert "removed 1 stale work folder(s)" in logs
        from edms.cli.serve import _control_socket
        from edms.config import Settings

        settings = Settings.from_env(env)
        sockets = [Path(_control_socket(settings, "127.0.0.1", p)) for p in ports]
        assert sockets[0] != sockets[1]
        assert all(s.is_socket() for s in sockets), sockets
        assert oct(sockets[0].stat().st_mode & 0o777) == oct(0o600)
    finally:
        procs.stop()
