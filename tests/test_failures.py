"""The service with its components failing under it: the S3 server stopped in the middle
of a signing step, PostgreSQL stopped and started under a load, Redis down while jobs are
queued, the data directory's disk full. Each request fails with a 503 problem naming the
component (never a 500), nothing is half-written (every table, the search index, the audit
head and the store compared before and after), `/healthz` names the component, and work
resumes by itself once it is back.

Each test runs its own server of the failing component (its own SeaweedFS, PostgreSQL
cluster, Redis, tmpfs), so stopping it disturbs nothing else."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from api import create_app
from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.devseed import DEV_USER_PASSWORD
from edms.models import Document, Job
from edms.system import System
from tests.support import seaweed
from tests.support.agency import draft_meta, snapshot, tmp_files
from tests.support.agency import sign as sign_step
from tests.support.live import free_port
from tests.support.pdfs import plain_pdf

# -- the components, each ours to stop and start -----------------------------------------------


class Seaweed:
    """A SeaweedFS S3 server that can be stopped and started again on the same ports."""

    def __init__(self, data: Path) -> None:
        self.server = seaweed.start(data)
        self.args = [str(a) for a in self.server.process.args]  # type: ignore[union-attr]

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        """Stopped dead, as by a crash or a pulled cable."""
        self.server.process.kill()
        self.server.process.wait(timeout=30)

    def start(self) -> None:
        log = open(self.server.log_path, "ab")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(
            self.args,
            cwd=self.server.data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.server = seaweed.SeaweedServer(
            proc, self.server.endpoint, self.server.data_dir, self.server.log_path
        )
        seaweed._wait_writable(self.server, time.monotonic() + 90)


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--", *cmd)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class Postgres:
    """A PostgreSQL cluster of our own (initdb on a free port), stopped and started at
    will; the shared server of the other tests is never touched."""

    def __init__(self) -> None:
        initdb = shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb"
        self.pg_ctl = shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl"
        if not Path(initdb).exists():
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        # Outside pytest's private temporary tree: the cluster runs as the postgres user.
        root = self.root = Path(tempfile.mkdtemp(prefix="edms-pg-"))
        self.data = root / "pgdata"
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(self.data, "postgres")
        self.port = free_port()
        done = _as_postgres(
            initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
        )
        assert done.returncode == 0, done.stderr
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nfsync = off\n"
            )
        self.log = root / "pg.log"
        self.start()
        created = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE edms",
            ],
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/edms"

    def start(self) -> None:
        done = _as_postgres(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "start")
        assert done.returncode == 0, done.stderr + self.log.read_text()

    def stop(self) -> None:
        done = _as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stderr

    def remove(self) -> None:
        _as_postgres(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A Redis of our own on a free port, without persistence (a restart loses its
    queue, as the test services' Redis does)."""

    def __init__(self, root: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)  # readiness polling
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


# -- the service -----------------------------------------------------------------------------------


class Client:
    """A clerk's session on the Flask app (cookie and CSRF token)."""

    def __init__(self, system: System, username: str = "vanthu") -> None:
        self.http: FlaskClient = create_app(system).test_client()
        r = self.http.post(
            "/api/v1/sessions", json={"username": username, "password": DEV_USER_PASSWORD}
        )
        assert r.status_code == 201, r.text
        self.csrf = r.get_json()["csrf_token"]

    def post(self, path: str, **kw: Any) -> Any:
        return self.http.post(path, headers={"X-CSRF-Token": self.csrf}, **kw)

    def receive(self, pdf: Path, subject: str) -> Any:
        with open(pdf, "rb") as f:
            return self.post(
                "/api/v1/incoming",
                data={
                    "type": "cong-van",
                    "subject": subject,
                    "organ_name": "Sở Tài chính",
                    "number": "1",
                    "notation": "STC-VP",
                    "issued_date": "2026-11-20",
                    "file": (f, "cv.pdf"),
                },
                content_type="multipart/form-data",
            )

    def healthz(self) -> tuple[int, dict[str, Any]]:
        r = self.http.get("/healthz")
        return r.status_code, r.get_json()


def big_pdf(path: Path, kilobytes: int) -> Path:
    """A valid one-page PDF of about ``kilobytes`` (an image of random pixels)."""
    import zlib

    import pikepdf

    side = int((kilobytes * 1024 / 3) ** 0.5)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, zlib.compress(os.urandom(side * side * 3), 1))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = side, side, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.FlateDecode
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pdf.make_stream(b"q 500 0 0 700 50 70 cm /Im0 Do Q"),
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def assert_unavailable(resp: Any, component: str) -> None:
    """A 503 problem+json naming the component, with Retry-After."""
    assert resp.status_code == 503, resp.text
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body.get("component") == component, body
    assert body["type"].endswith(f"/{component}-unavailable"), body
    assert resp.headers.get("Retry-After")


def wait_for(what: str, check: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)  # polling another process or thread, not a timing assertion
    raise AssertionError(f"{what}: not within {timeout} s")


def seeded(env: dict[str, str]) -> System:
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    return system


def base_env(tmp: Path, dev_pki: Any, **extra: str) -> dict[str, str]:
    return {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_EXCHANGE_PUMP": "false",
        "EDMS_ARCHIVE_RENEW_EVERY_HOURS": "0",
        **extra,
    }


class _NoListing:
    """Stands in for a store that is down: :func:`snapshot` lists nothing."""

    def list(self, prefix: str = "") -> list[Any]:
        return []


def db_state(system: System) -> dict[str, Any]:
    """Everything :func:`snapshot` compares except the store's listing (the store may be
    down): every table's rows, the search index, the audit head, the documents'
    versions."""
    probe = System(system.settings, _store=_NoListing())  # type: ignore[arg-type]
    probe.__dict__["engine"] = system.engine
    probe.__dict__["sessions"] = system.sessions
    state = snapshot(probe)
    del state["objects"]
    return state


# -- S3 stopped in the middle of a step -----------------------------------------------------------


@dataclass
class TsaHook:
    """A pass-through in front of the development TSA that runs ``on_request`` once,
    before forwarding: here, stopping the S3 server while the seal is being signed."""

    tsa_url: str
    on_request: Any = None
    hits: list[str] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        hook, self.on_request = self.on_request, None
        if hook is not None:
            hook()
        self.hits.append(environ["PATH_INFO"])
        req = urllib.request.Request(
            self.tsa_url,
            data=body,
            headers={"Content-Type": environ.get("CONTENT_TYPE", "application/timestamp-query")},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
            start_response(
                f"{resp.status} OK",
                [
                    ("Content-Type", resp.headers["Content-Type"]),
                    ("Content-Length", str(len(data))),
                ],
            )
        return [data]


def test_s3_stopped_in_the_middle_of_sealing(tmp_path: Path, dev_pki: Any) -> None:
    s3 = Seaweed(tmp_path / "seaweed")
    hook = TsaHook(dev_pki.tsa_url)
    port = free_port()
    server = make_server("127.0.0.1", port, hook.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = base_env(
        tmp_path,
        dev_pki,
        EDMS_STORAGE_BACKEND="s3",
        EDMS_S3_ENDPOINT=s3.endpoint,
        EDMS_S3_ACCESS_KEY=seaweed.ACCESS_KEY,
        EDMS_S3_SECRET_KEY=seaweed.SECRET_KEY,
        EDMS_S3_BUCKET="edms-failures",
        EDMS_S3_SECURE="false",
        EDMS_TSA_URL=f"http://127.0.0.1:{port}/tsa",
        EDMS_REVOCATION_CACHE_SECONDS="0",
    )
    system = seeded(env)
    try:
        doc = docs.create_from_template(system, "chuyenvien", draft_meta(), ["Điều 1."])
        docs.submit(system, "chuyenvien", doc.id)
        docs.approve(system, "chutich", doc.id)
        sign_step(system, "chutich", doc.id)
        docs.number(system, "vanthu", doc.id)
        clerk = Client(system)
        before = snapshot(system)

        hook.on_request = s3.kill  # the seal's first timestamp request stops S3
        r = clerk.post(f"/api/v1/documents/{doc.id}/seal", json={})
        assert hook.on_request is None, "the seal never reached its timestamp"
        assert_unavailable(r, "storage")
        status, health = clerk.healthz()
        assert status == 503 and health["down"] == ["storage"], health
        assert db_state(system) == {k: v for k, v in before.items() if k != "objects"}
        assert tmp_files(system) == []

        s3.start()
        assert snapshot(system) == before  # not one object left in the store either
        status, health = clerk.healthz()
        assert status == 200, health
        r = clerk.post(f"/api/v1/documents/{doc.id}/seal", json={})
        assert r.status_code == 200, r.text
        assert r.get_json()["state"] == "sealed"
    finally:
        system.close()
        server.shutdown()
        s3.stop()


# -- PostgreSQL stopped and started under a load --------------------------------------------------


class Load:
    """Clerks receiving documents as fast as they can, each with its own subject."""

    def __init__(self, system: System, tmp: Path, threads: int = 2) -> None:
        self.results: list[tuple[str, int, dict[str, Any]]] = []
        self.pdf = plain_pdf(tmp / "load.pdf", title="Van ban tai")
        self._stop = threading.Event()
        self.clients = [Client(system) for _ in range(threads)]
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]
        self.lock = threading.Lock()

    def _run(self, i: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            subject = f"Tải {i}-{n}"
            r = self.clients[i].receive(self.pdf, subject)
            with self.lock:
                self.results.append((subject, r.status_code, r.get_json() or {}))
            if r.status_code != 201:
                time.sleep(0.05)  # a client backing off after a 503

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for _s, code, _b in self.results if code == status)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(timeout=120)


def test_postgresql_stopped_and_started_under_load(tmp_path: Path, dev_pki: Any) -> None:
    pg = Postgres()
    env = base_env(tmp_path, dev_pki, EDMS_DATABASE_URL=pg.url)
    system = seeded(env)
    load = Load(system, tmp_path)
    try:
        load.start()
        wait_for("documents received", lambda: load.count(201) >= 4)
        pg.stop()
        wait_for("requests refused while the database is down", lambda: load.count(503) >= 3)
        probe = create_app(system).test_client().get("/healthz")
        assert probe.status_code == 503 and "database" in probe.get_json()["down"]
        ok_before = load.count(201)
        pg.start()
        wait_for("work resumed", lambda: load.count(201) >= ok_before + 4)
    finally:
        load.stop()
    try:
        codes = {code for _s, code, _b in load.results}
        assert codes <= {201, 503}, [r for r in load.results if r[1] not in (201, 503)][:3]
        for _subject, code, body in load.results:
            if code == 503:
                assert body["component"] == "database", body
        # Nothing half-written: every 201 is one document with its file, no refused
        # request left anything, the index and the audit chain agree, the store holds
        # exactly what the database records.
        accepted = sorted(s for s, code, _b in load.results if code == 201)
        refused = {s for s, code, _b in load.results if code == 503}
        with system.sessions() as s:
            subjects = sorted(
                s.scalars(select(Document.subject).where(Document.subject.like("Tải %")))
            )
        assert subjects == accepted
        assert not refused & set(subjects)
        state = snapshot(system)
        assert state["documents"] == state["document_search"] == len(accepted)
        verify = subprocess.run(
            [sys.executable, "-m", "edms.cli", "storage", "verify"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout
        chain = subprocess.run(
            [sys.executable, "-m", "edms.cli", "audit", "verify"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        assert chain.returncode == 0, chain.stdout
        assert create_app(system).test_client().get("/healthz").status_code == 200
    finally:
        system.close()
        pg.remove()


# -- Redis down while jobs are queued -----------------------------------------------------------


def test_redis_down_while_jobs_are_queued(tmp_path: Path, dev_pki: Any) -> None:
    redis = Redis(tmp_path / "redis")
    env = base_env(
        tmp_path,
        dev_pki,
        EDMS_REDIS_URL=redis.url,
        EDMS_JOBS_REDISPATCH_SECONDS="2",
        EDMS_VERIFY_INLINE_MB="1",
    )
    system = seeded(env)
    big = big_pdf(tmp_path / "big.pdf", 1100)  # over the inline limit: verified as a job
    worker: subprocess.Popen[bytes] | None = None
    try:
        clerk = Client(system)

        def verify_job() -> Any:
            with open(big, "rb") as f:
                return clerk.post(
                    "/api/v1/verify",
                    data={"file": (f, "big.pdf")},
                    content_type="multipart/form-data",
                )

        queued = verify_job()  # queued, no worker yet
        assert queued.status_code == 202, queued.text
        job_id = queued.get_json()["id"]
        redis.stop()  # ... and Redis loses it

        before = snapshot(system)
        refused = verify_job()
        assert_unavailable(refused, "queue")
        assert snapshot(system) == before  # no job row, the staged upload discarded
        assert tmp_files(system) == []
        status, health = clerk.healthz()
        assert status == 503 and health["down"] == ["queue"], health

        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen(
            [sys.executable, "-m", "edms.cli", "worker"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(3)  # the worker meets a queue that is down ...
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()  # ... and waits
        redis.start()

        def state_of(jid: str) -> str:
            with system.sessions() as s:
                job = s.get(Job, jid)
                return job.state if job else "missing"

        wait_for("the lost job runs", lambda: state_of(job_id) == "succeeded", timeout=120)
        again = verify_job()
        assert again.status_code == 202, again.text
        wait_for(
            "a new job runs", lambda: state_of(again.get_json()["id"]) == "succeeded", timeout=120
        )
        assert clerk.healthz()[0] == 200
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        system.close()
        redis.stop()


# -- the data directory's disk full ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs for the data directory (needs root, as mount does)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_disk_of_the_data_directory_full(small_disk: Path, tmp_path: Path, dev_pki: Any) -> None:
    env = base_env(
        tmp_path, dev_pki, EDMS_DATA_DIR=str(small_disk / "data"), EDMS_DISK_MIN_FREE_MB="2"
    )
    system = seeded(env)
    try:
        clerk = Client(system)
        pdf = big_pdf(tmp_path / "letter.pdf", 400)
        assert clerk.receive(pdf, "Trước khi đầy").status_code == 201
        size = pdf.stat().st_size
        for leave, where in ((size // 2, "spooling the upload"), (size + size // 2, "storing it")):
            filler = fill(small_disk, leave)
            before = snapshot(system)
            r = clerk.receive(pdf, f"Đĩa đầy khi {where}")
            assert_unavailable(r, "disk")
            assert snapshot(system) == before, where
            assert tmp_files(system) == [], where
            status, health = clerk.healthz()
            assert status == 503 and "disk" in health["down"], health
            filler.unlink()
        assert clerk.healthz()[0] == 200
        r = clerk.receive(pdf, "Sau khi dọn đĩa")
        assert r.status_code == 201, r.text
    finally:
        system.close()
