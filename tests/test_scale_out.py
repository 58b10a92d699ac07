"""Scale-out on this machine: PostgreSQL + a SeaweedFS S3 server + Redis, two API
processes and two `edms worker` processes. A document goes through its whole lifecycle
with requests alternating between the two API processes (a session opened on one is used
on the other), and background jobs are executed by the workers, not by the API."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from redis import Redis
from sqlalchemy import create_engine, text

from edms.auth import DEV_SIGNING_PIN
from edms.devseed import DEV_USER_PASSWORD
from tests.conftest import s3_env
from tests.support.live import Processes, base_env, edms


@dataclass
class Cluster:
    apis: list[str]
    env: dict[str, str]
    worker_pids: set[int]
    api_logs: Any


@pytest.fixture
def cluster(
    tmp_path: Any, dev_pki: Any, pg_url: str, s3_server: dict[str, str], redis_url: str
) -> Iterator[Cluster]:
    queue = f"edms-test-{uuid.uuid4().hex[:8]}"
    env = base_env(
        tmp_path / "data",
        dev_pki.directory,
        EDMS_DATABASE_URL=pg_url,
        EDMS_REDIS_URL=redis_url,
        EDMS_REDIS_QUEUE=queue,
        **s3_env(s3_server),
    )
    edms(env, "init")
    procs = Processes(tmp_path)
    try:
        # Each API process has its own data directory: they share only PostgreSQL, S3
        # and Redis (remote-signing sessions aside, see docs/deployment.md).
        apis = []
        for i in range(2):
            api_env = {**env, "EDMS_DATA_DIR": str(tmp_path / f"api{i}")}
            apis.append(procs.serve(api_env, workers=1, name=f"api{i}"))
        workers = [
            procs.worker({**env, "EDMS_DATA_DIR": str(tmp_path / f"worker{i}")}, name=f"worker{i}")
            for i in range(2)
        ]
        yield Cluster(apis, env, {w.pid for w in workers}, tmp_path)
    finally:
        procs.stop()
        Redis.from_url(redis_url).delete(f"rq:queue:{queue}")


def test_lifecycle_across_two_api_processes_and_two_workers(cluster: Cluster) -> None:
    apis = itertools.cycle(cluster.apis)
    used: list[str] = []

    def login(user: str) -> tuple[requests.Session, str]:
        s = requests.Session()
        r = s.post(
            f"{next(apis)}/api/v1/sessions",
            json={"username": user, "password": DEV_USER_PASSWORD},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return s, r.json()["csrf_token"]

    sessions = {u: login(u) for u in ("chuyenvien", "chutich", "vanthu")}

    def call(user: str, method: str, path: str, **kw: Any) -> requests.Response:
        s, csrf = sessions[user]
        base = next(apis)
        used.append(base)
        return s.request(method, base + path, headers={"X-CSRF-Token": csrf}, timeout=180, **kw)

    r = call(
        "chuyenvien",
        "POST",
        "/api/v1/documents/from-template",
        json={
            "type": "quyet-dinh",
            "subject": "Về việc triển khai hệ thống trên nhiều máy chủ",
            "body": ["Điều 1. Triển khai."],
            "recipients": [{"name": "Sở Nội vụ"}],
        },
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    for user, step in (
        ("chuyenvien", "submit"),
        ("chutich", "approve"),
        ("chutich", "sign"),
        ("vanthu", "number"),
        ("vanthu", "seal"),
        ("vanthu", "register"),
        ("vanthu", "issue"),
    ):
        body = {"pin": DEV_SIGNING_PIN} if step == "sign" else {}
        r = call(user, "POST", f"/api/v1/documents/{doc_id}/{step}", json=body)
        assert r.status_code == 200, (step, r.text)
    final = r.json()
    assert final["state"] == "issued" and final["number_and_symbol"] == "01/QĐ-UBND"
    assert set(used) == set(cluster.apis)  # both API processes served the lifecycle

    pdf = call("vanthu", "GET", f"/api/v1/documents/{doc_id}/content")
    assert pdf.status_code == 200
    v = call("vanthu", "POST", "/api/v1/verify", files={"file": ("qd.pdf", pdf.content)})
    assert v.json()["valid"] and len(v.json()["report"]["signatures"]) == 2

    # Background jobs go through Redis to the workers.
    ids = []
    for i in range(4):
        r = call(
            "chuyenvien",
            "POST",
            "/api/v1/documents/from-template",
            json={
                "type": "giay-moi",
                "subject": f"Giấy mời {i}",
                "body": ["Kính mời."],
                "recipients": [{"name": "Các phòng"}],
            },
        )
        ids.append(r.json()["id"])
        call("chuyenvien", "POST", f"/api/v1/documents/{ids[-1]}/submit", json={})
        call("chutich", "POST", f"/api/v1/documents/{ids[-1]}/approve", json={})
    job_ids = []
    for pair in (ids[:2], ids[2:]):
        r = call(
            "chutich",
            "POST",
            "/api/v1/jobs/batch-sign",
            json={"document_ids": pair, "pin": DEV_SIGNING_PIN},
        )
        assert r.status_code == 202, r.text
        job_ids.append(r.json()["id"])
    deadline = time.monotonic() + 240
    states: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(states) < len(job_ids):
        for j in job_ids:  # polled on alternating API processes
            body = call("chutich", "GET", f"/api/v1/jobs/{j}").json()
            if body["state"] in ("succeeded", "failed"):
                states[j] = body
        time.sleep(0.3)
    assert len(states) == 2, "jobs did not finish"
    assert all(s["state"] == "succeeded" and not s["result"]["failed"] for s in states.values()), (
        states
    )
    engine = create_engine(
        cluster.env["EDMS_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.connect() as conn:
        ran_by = {
            row[0]
            for row in conn.execute(
                text("SELECT worker FROM jobs WHERE id = ANY(:ids)"), {"ids": job_ids}
            )
        }
        assert {int(w.rsplit(":", 1)[1]) for w in ran_by} <= cluster.worker_pids
        # The audit chain stayed intact under two writers.
        count = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
        assert count > 30
    engine.dispose()
    assert "intact" in edms(cluster.env, "audit", "verify")
