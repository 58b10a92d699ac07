"""Real `edms` processes for end-to-end tests: `edms serve` (gunicorn) and `edms worker`,
on free loopback ports, stopped when the test ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until_serving(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            get_json(url)
            return
        except OSError:
            time.sleep(0.2)  # readiness polling, not a timing assertion
    raise AssertionError(f"{url} did not answer within {timeout}s")


def edms(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "edms.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@dataclass
class Processes:
    """Started processes; their output goes to log files beside the data."""

    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def serve(
        self, env: dict[str, str], workers: int = 2, name: str = "api", port: int | None = None
    ) -> str:
        port = port or free_port()
        log = open(self.logs / f"{name}-{port}.log", "ab")  # noqa: SIM115 (closed with proc)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edms.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base + "/healthz", proc)
        return base

    def worker(self, env: dict[str, str], name: str = "worker") -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "edms.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop_serving(self, base: str) -> None:
        """Stop the server at ``base`` (and wait for it), leaving the others running."""
        port = base.rsplit(":", 1)[1]
        for proc in self.procs:
            if proc.poll() is None and f"--port', '{port}'" in str(proc.args).replace('"', "'"):
                proc.terminate()
                proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def base_env(data: Path, pki_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "EDMS_DATA_DIR": str(data),
        "EDMS_PKI_DIR": str(pki_dir),
        "EDMS_ENV": "development",
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        **extra,
    }


def wait_for(what: str, check: object, timeout: float = 90) -> object:
    """Poll ``check()`` until it returns something truthy (readiness polling between
    processes, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()  # type: ignore[operator]
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not reached within {timeout}s (last: {last!r})")


def add_token_leader(env: dict[str, str], pki: object, password: str) -> None:
    """``ld.token``: a leader whose key lives on their own USB token; the server holds only
    the certificate (dev PKI ``leader2``) and the signature image."""
    directory = pki.directory  # type: ignore[attr-defined]
    edms(
        env,
        "user",
        "add",
        "000.00.00.H41",
        "ld.token",
        "--name",
        "Trần Thị Hồng Nhung",
        "--roles",
        "leader",
        "--title",
        "Phó Chủ tịch",
        "--unit",
        "VP",
    )
    edms(env, "user", "password", "ld.token", "--password", password)
    edms(
        env,
        "key",
        "bind-certificate",
        "--user",
        "ld.token",
        "--certificate",
        str(directory / "certs" / "leader2.cert.pem"),
        "--image",
        str(pki.signature_image("leader2")),
        "--authority",  # type: ignore[attr-defined]
        "KT. CHỦ TỊCH",
    )
