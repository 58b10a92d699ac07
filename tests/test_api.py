"""The Flask app: health, the v1 root, RFC 7807 problems; and `edms serve` for real."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from api import create_app
from edms.config import Settings
from edms.system import System
from tests.support import seaweed
from tests.support.live import free_port, wait_until_serving
from tests.support.live import get_json as get


@pytest.fixture
def client(system: System) -> FlaskClient:
    return create_app(system).test_client()


def test_healthz_ok(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["storage"]["status"] == "ok"


def test_healthz_names_an_outdated_schema(system: System) -> None:
    from edms import db

    db.downgrade(system.engine, "base")
    resp = create_app(system).test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["down"] == ["database"]
    assert "edms init" in body["components"]["database"]["detail"]


def test_healthz_names_unreachable_storage(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_env(
        {
            "EDMS_DATA_DIR": str(tmp_path),
            "EDMS_STORAGE_BACKEND": "s3",
            "EDMS_S3_ENDPOINT": f"127.0.0.1:{port}",
            "EDMS_S3_ACCESS_KEY": "a",
            "EDMS_S3_SECRET_KEY": "b",
            "EDMS_S3_SECURE": "false",
        }
    )
    system = System(settings)
    from edms import db

    db.upgrade(system.engine)
    resp = create_app(system).test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["down"] == ["storage"]
    assert body["components"]["database"]["status"] == "ok"
    assert "unreachable" in body["components"]["storage"]["detail"]


def test_api_root(client: FlaskClient) -> None:
    resp = client.get("/api/v1/")
    assert resp.status_code == 200
    assert resp.get_json()["api"] == "v1"


def test_errors_are_problem_json(client: FlaskClient) -> None:
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    body = json.loads(resp.data)
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/no-such-thing"

    resp = client.post("/healthz")
    assert resp.status_code == 405
    assert resp.mimetype == "application/problem+json"
    assert "GET" in resp.headers["Allow"]


# -- the real server -----------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], seaweed.SeaweedServer]]:
    """`edms init` + `edms serve` (gunicorn) on S3 storage from a SeaweedFS server of its
    own, so the test can stop the storage."""
    server = seaweed.start(tmp_path / "seaweed")
    env = {
        **os.environ,
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_STORAGE_BACKEND": "s3",
        "EDMS_S3_ENDPOINT": server.endpoint,
        "EDMS_S3_ACCESS_KEY": seaweed.ACCESS_KEY,
        "EDMS_S3_SECRET_KEY": seaweed.SECRET_KEY,
        "EDMS_S3_SECURE": "false",
        "EDMS_S3_BUCKET": "edms-serve",
        "EDMS_PKI_DIR": str(tmp_path / "pki"),
    }
    init = subprocess.run(
        [sys.executable, "-m", "edms.cli", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edms.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/healthz", proc)
        yield base, env, server
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.stop()


def test_serve_reports_storage_outage(
    served: tuple[str, dict[str, str], seaweed.SeaweedServer],
) -> None:
    base, _env, server = served
    status, body = get(base + "/healthz")
    assert status == 200, body
    server.stop()
    status, body = get(base + "/healthz")
    assert status == 503
    assert body["down"] == ["storage"]
    assert body["components"]["database"]["status"] == "ok"  # type: ignore[index]


def test_interactive_api_page_works_offline(client: FlaskClient) -> None:
    """The OpenAPI 3.1 document and the Swagger UI page, whose scripts EDMS serves itself
    (installed from the npm registry by `make setup`), not from a CDN."""
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.get_json()["openapi"] == "3.1.0"
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html
    js = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.data) > 100_000
