"""The authorization matrix of /api/v1: every endpoint × role × own / foreign agency.

Each user acts through an API token of their own. For each endpoint the roles that may
use it get a success, the others 403, and users of another agency 404 for anything that
names an object of this agency (they must not learn it exists). Refused requests change
nothing (checked on the audit head and the documents' versions).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from api import create_app
from edms import devseed, dossiers, orgs
from edms import documents as docs
from edms.auth import DEV_SIGNING_PIN, create_token
from edms.config import Settings
from edms.system import System
from tests.support.agency import BODY, FOREIGN_AGENCY, draft_meta, sign, snapshot
from tests.support.pdfs import plain_pdf

ROLES = ("leader", "clerk", "officer", "admin")
OWN = {"leader": "chutich", "clerk": "vanthu", "officer": "chuyenvien", "admin": "quantri"}
FOREIGN = {"leader": "ld.g22", "clerk": "vt.g22", "officer": "cv.g22", "admin": "qt.g22"}
ALL = frozenset(ROLES)


@dataclass
class World:
    system: System
    client: FlaskClient
    tokens: dict[str, str]  # username → token
    signed_pdf: Path
    leader_cert_pem: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    orgs.create_agency(system, FOREIGN_AGENCY, "Văn phòng Chính phủ", "VPCP", "Hà Nội")
    orgs.create_unit(system, FOREIGN_AGENCY, "VX", "Vụ Khoa giáo - Văn xã", "KGVX")
    for role, name in FOREIGN.items():
        orgs.create_user(system, FOREIGN_AGENCY, name, f"Người dùng {role}", role, unit_code="VX")
    tokens = {}
    for name in (*OWN.values(), *FOREIGN.values()):
        with system.sessions() as s:
            admin = "admin" in orgs.load_user(s, name).role_set
        scopes = ["read", "write", "sign"] + (["admin"] if admin else [])
        tokens[name] = create_token(system, name, "matrix", scopes).token
    # A PDF signed elsewhere, for the incoming flow.
    signed = tmp / "incoming.pdf"
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    sign(system, "chutich", doc.id)
    docs.download(system, "vanthu", doc.id, signed)
    pem = dev_pki.directory / "certs" / "leader1.cert.pem"
    app = create_app(system)
    yield World(system, app.test_client(), tokens, signed, pem.read_text() if pem.exists() else "")
    system.close()


# -- documents in the state a step needs -------------------------------------------------------

OUT_PATH = (
    "draft",
    "submitted",
    "approved",
    "signed",
    "numbered",
    "sealed",
    "registered",
    "issued",
)


def outgoing_in(w: World, state: str) -> int:
    doc = docs.create_from_template(w.system, "chuyenvien", draft_meta(), BODY)
    steps: list[tuple[Callable[..., Any], str]] = [
        (docs.submit, "chuyenvien"),
        (docs.approve, "chutich"),
        (sign, "chutich"),
        (docs.number, "vanthu"),
        (docs.seal, "vanthu"),
        (docs.register_outgoing, "vanthu"),
        (docs.issue, "vanthu"),
    ]
    for fn, who in steps[: OUT_PATH.index(state)]:
        fn(w.system, who, doc.id)
    return doc.id


IN_PATH = ("received", "verified", "registered", "assigned", "in_progress")


def incoming_in(w: World, state: str) -> int:
    meta = docs.IncomingMeta(
        type_code="quyet-dinh",
        subject="Quyết định gửi đến",
        organ_name="UBND tỉnh Hà Giang",
        code_number="01",
        code_notation="QĐ-UBND",
        issued_date=docs.vn_today(),
    )
    with open(w.signed_pdf, "rb") as f:
        doc_id = docs.receive(w.system, "vanthu", f, "in.pdf", meta).document.id
    steps: list[Callable[[], Any]] = [
        lambda: docs.verify(w.system, "vanthu", doc_id),
        lambda: docs.register_incoming(w.system, "vanthu", doc_id),
        lambda: docs.assign(
            w.system, "chutich", doc_id, "VX", deadline=docs.vn_today() + timedelta(days=3)
        ),
        lambda: docs.start_progress(w.system, "vanthu", doc_id),
    ]
    for step in steps[: IN_PATH.index(state)]:
        step()
    return doc_id


@dataclass(frozen=True)
class Step:
    name: str
    make: Callable[[World], int]
    allowed: frozenset[str]
    body: dict[str, Any]
    ok: int = 200


STEPS = [
    Step(
        "submit", lambda w: outgoing_in(w, "draft"), frozenset({"officer", "leader", "clerk"}), {}
    ),
    Step("approve", lambda w: outgoing_in(w, "submitted"), frozenset({"leader"}), {}),
    Step(
        "reject",
        lambda w: outgoing_in(w, "submitted"),
        frozenset({"leader"}),
        {"reason": "Sửa lại căn cứ"},
    ),
    Step(
        "sign",
        lambda w: outgoing_in(w, "approved"),
        frozenset({"leader"}),
        {"pin": DEV_SIGNING_PIN},
    ),
    Step("number", lambda w: outgoing_in(w, "signed"), frozenset({"clerk"}), {}),
    Step("seal", lambda w: outgoing_in(w, "numbered"), frozenset({"clerk"}), {}),
    Step("register", lambda w: outgoing_in(w, "sealed"), frozenset({"clerk"}), {}),
    Step("issue", lambda w: outgoing_in(w, "registered"), frozenset({"clerk"}), {}),
    Step(
        "revoke",
        lambda w: outgoing_in(w, "issued"),
        frozenset({"leader", "clerk"}),
        {"reason": "Ban hành sai thẩm quyền"},
    ),
    Step("verify", lambda w: incoming_in(w, "received"), frozenset({"clerk"}), {}),
    Step("register", lambda w: incoming_in(w, "verified"), frozenset({"clerk"}), {}),
    Step(
        "return",
        lambda w: incoming_in(w, "received"),
        frozenset({"clerk"}),
        {"reason": "Gửi nhầm cơ quan"},
    ),
    Step(
        "assign",
        lambda w: incoming_in(w, "registered"),
        frozenset({"leader", "clerk"}),
        {"lead_unit": "VX", "instruction": "Tham mưu xử lý"},
    ),
    Step(
        "handback",
        lambda w: incoming_in(w, "assigned"),
        frozenset({"officer", "leader", "clerk"}),
        {"reason": "Không thuộc lĩnh vực của đơn vị"},
    ),
    Step(
        "progress",
        lambda w: incoming_in(w, "assigned"),
        frozenset({"officer", "leader", "clerk"}),
        {},
    ),
    Step(
        "complete",
        lambda w: incoming_in(w, "in_progress"),
        frozenset({"officer", "leader", "clerk"}),
        {},
    ),
    Step(
        "hold",
        lambda w: outgoing_in(w, "draft"),
        frozenset({"admin", "clerk"}),
        {"on": True, "reason": "Thanh tra"},
    ),
]


def call(w: World, user: str, method: str, path: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {w.tokens[user]}"}
    return w.client.open(path, method=method, headers=headers, **kw)


@pytest.mark.parametrize("step", STEPS, ids=[f"{i:02d}-{s.name}" for i, s in enumerate(STEPS)])
def test_lifecycle_steps(world: World, step: Step) -> None:
    w = world
    doc_id = step.make(w)
    path = f"/api/v1/documents/{doc_id}/{step.name}"
    before = snapshot(w.system)
    for role in ROLES:
        r = call(w, FOREIGN[role], "POST", path, json=step.body)
        assert r.status_code == 404, (role, r.get_json())
        assert r.headers["Content-Type"] == "application/problem+json"
        if role not in step.allowed:
            r = call(w, OWN[role], "POST", path, json=step.body)
            assert r.status_code == 403, (role, r.get_json())
    assert snapshot(w.system) == before
    for role in sorted(step.allowed):
        target = doc_id if role == min(step.allowed) else step.make(w)
        r = call(w, OWN[role], "POST", f"/api/v1/documents/{target}/{step.name}", json=step.body)
        assert r.status_code == step.ok, (role, r.get_json())


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {doc}, {file}, {dossier}, {job}, {token} are filled in
    allowed: frozenset[str]
    ok: int = 200
    json: dict[str, Any] | None = None
    upload: bool = False  # multipart with a PDF
    form: dict[str, str] | None = None
    object_scoped: bool = False  # foreign users get 404


ENDPOINTS = [
    Endpoint("GET", "/api/v1/me", ALL),
    Endpoint("GET", "/api/v1/documents", ALL),
    Endpoint("GET", "/api/v1/documents/{doc}", ALL, object_scoped=True),
    Endpoint("GET", "/api/v1/documents/{doc}/content", ALL, object_scoped=True),
    Endpoint("GET", "/api/v1/documents/{doc}/files/{file}", ALL, object_scoped=True),
    Endpoint("GET", "/api/v1/documents/{doc}/verification", ALL, object_scoped=True),
    Endpoint(
        "POST",
        "/api/v1/documents/{draft}/attachments",
        frozenset({"officer", "leader", "clerk"}),
        201,
        upload=True,
        object_scoped=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/documents/from-template",
        frozenset({"officer", "leader", "clerk"}),
        201,
        json={
            "type": "thong-bao",
            "subject": "Thông báo lịch họp",
            "body": ["Họp."],
            "recipients": [{"name": "Các phòng"}],
        },
    ),
    Endpoint(
        "POST",
        "/api/v1/incoming",
        frozenset({"clerk"}),
        201,
        upload=True,
        form={
            "type": "cong-van",
            "subject": "Công văn đến",
            "organ_name": "Sở Y tế",
            "number": "12",
            "notation": "SYT-KHTC",
            "issued_date": "2026-11-20",
        },
    ),
    Endpoint(
        "POST",
        "/api/v1/documents/{approved}/remote-signing",
        frozenset({"leader"}),
        201,
        json={"certificate_chain": ["LEADER_CERT"]},
        object_scoped=True,
    ),
    Endpoint("GET", "/api/v1/search?q=ke+hoach", ALL),
    Endpoint(
        "GET",
        "/api/v1/registers/outgoing?from=2026-01-01&to=2026-12-31",
        frozenset({"clerk", "leader", "admin"}),
    ),
    Endpoint(
        "GET",
        "/api/v1/registers/follow-up?from=2026-01-01&to=2026-12-31&format=csv",
        frozenset({"clerk", "leader", "admin"}),
    ),
    Endpoint("GET", "/api/v1/deadlines", ALL),
    Endpoint("GET", "/api/v1/statistics?from=2026-01-01&to=2026-12-31", ALL),
    Endpoint(
        "POST",
        "/api/v1/dossiers",
        frozenset({"clerk", "officer", "admin"}),
        201,
        json={"file_code": "NEW", "title": "Hồ sơ"},
    ),
    Endpoint("GET", "/api/v1/dossiers/{dossier}", ALL, object_scoped=True),
    Endpoint(
        "POST",
        "/api/v1/dossiers/{dossier}/documents",
        frozenset({"clerk", "officer", "admin"}),
        json={"document_ids": ["ISSUED"]},
        object_scoped=True,
    ),
    Endpoint(
        "GET",
        "/api/v1/dossiers/{dossier}/export",
        frozenset({"clerk", "leader", "admin"}),
        object_scoped=True,
    ),
    Endpoint("GET", "/api/v1/users", ALL),
    Endpoint(
        "POST",
        "/api/v1/users",
        frozenset({"admin"}),
        201,
        json={"username": "NEWUSER", "full_name": "Người mới", "roles": ["officer"]},
    ),
    Endpoint("GET", "/api/v1/agencies", ALL),
    Endpoint("GET", "/api/v1/audit-events", frozenset({"admin", "leader"})),
    Endpoint("GET", "/api/v1/tokens", ALL),
    Endpoint(
        "POST",
        "/api/v1/tokens",
        frozenset({"admin"}),
        201,
        json={"name": "portal", "scopes": ["read"]},
    ),
    Endpoint("DELETE", "/api/v1/tokens/{token}", frozenset({"admin"}), 204, object_scoped=True),
    Endpoint("GET", "/api/v1/jobs", ALL),
    Endpoint(
        "POST",
        "/api/v1/jobs/batch-sign",
        frozenset({"leader"}),
        202,
        json={"document_ids": ["APPROVED"], "pin": DEV_SIGNING_PIN},
    ),
    Endpoint("POST", "/api/v1/verify", ALL, upload=True),
    Endpoint("GET", "/api/v1/exchange/directory", ALL),
    Endpoint(
        "POST", "/api/v1/exchange/directory", frozenset({"admin"}), json={"entries": "ENTRIES"}
    ),
    Endpoint("GET", "/api/v1/documents/{doc}/exchange", ALL, object_scoped=True),
    Endpoint(
        "POST",
        "/api/v1/documents/{issued}/exchange/dispatch",
        frozenset({"clerk", "admin"}),
        object_scoped=True,
    ),
]


_N = itertools.count(1)
MISSING_ID = "999999"


def fill(w: World, e: Endpoint, missing: bool = False) -> tuple[str, dict[str, Any]]:
    """The endpoint's path and arguments with fresh objects of the owning agency (or, with
    ``missing``, identifiers of objects that do not exist at all)."""
    n = next(_N)
    path = e.path
    if "{doc}" in path or "{file}" in path:
        doc_id = outgoing_in(w, "draft")
        with w.system.sessions() as s:
            file_id = docs.main_file(s, doc_id).id
        path = path.replace("{doc}", MISSING_ID if missing else str(doc_id))
        path = path.replace("{file}", MISSING_ID if missing else str(file_id))
    if "{draft}" in path:
        path = path.replace("{draft}", MISSING_ID if missing else str(outgoing_in(w, "draft")))
    if "{issued}" in path:
        path = path.replace("{issued}", MISSING_ID if missing else str(outgoing_in(w, "issued")))
    if "{approved}" in path:
        path = path.replace(
            "{approved}", MISSING_ID if missing else str(outgoing_in(w, "approved"))
        )
    if "{dossier}" in path:
        code = f"HS-{n}"
        dossiers.create(w.system, "vanthu", dossiers.DossierMeta(code, "Hồ sơ", "5 năm", 5))
        path = path.replace("{dossier}", "KHONG-CO" if missing else code)
    if "{token}" in path:
        token_id = create_token(w.system, "quantri", f"t{n}", ["read"]).row.id
        path = path.replace("{token}", MISSING_ID if missing else str(token_id))
    kw: dict[str, Any] = {}
    if e.json is not None:
        body = dict(e.json)
        for k, v in body.items():
            if v == "NEWUSER":
                body[k] = f"user{n}"
            elif k == "file_code":
                body[k] = f"NEW-{n}"
            elif v == ["ISSUED"]:
                body[k] = [outgoing_in(w, "issued")]
            elif v == ["APPROVED"]:
                body[k] = [outgoing_in(w, "approved")]
            elif v == ["LEADER_CERT"]:
                body[k] = [w.leader_cert_pem]
            elif v == "ENTRIES":
                body[k] = [
                    {
                        "code": "000.00.00.G12",
                        "name": "Bộ Tài chính",
                        "endpoint": "https://edms.mof.gov.vn",
                        "certificates": [w.leader_cert_pem],
                    }
                ]
        kw["json"] = body
    if e.upload:
        pdf = (
            w.signed_pdf.read_bytes()
            if "verify" in path or "incoming" in path
            else plain_pdf(w.signed_pdf.parent / f"att{n}.pdf").read_bytes()
        )
        kw["data"] = {**(e.form or {}), "file": (io.BytesIO(pdf), "file.pdf")}
        kw["content_type"] = "multipart/form-data"
    return path, kw


@pytest.mark.parametrize(
    "endpoint", ENDPOINTS, ids=[f"{e.method} {e.path.split('?')[0]}" for e in ENDPOINTS]
)
def test_endpoint_matrix(world: World, endpoint: Endpoint) -> None:
    w, e = world, endpoint
    for role in ROLES:
        path, kw = fill(w, e)
        r = call(w, OWN[role], e.method, path, **kw)
        expected = e.ok if role in e.allowed else 403
        assert r.status_code == expected, (role, path, r.get_data(as_text=True)[:400])
        if expected >= 400:
            assert r.headers["Content-Type"] == "application/problem+json"
        if e.object_scoped:
            # Another agency's user gets exactly what they would get for an object that
            # does not exist: 404 when their role could use it, else the same refusal.
            path, kw = fill(w, e)
            foreign = call(w, FOREIGN[role], e.method, path, **kw)
            path, kw = fill(w, e, missing=True)
            absent = call(w, FOREIGN[role], e.method, path, **kw)
            assert foreign.status_code == absent.status_code, (role, path)
            assert foreign.status_code == (404 if role in e.allowed else absent.status_code)
            assert foreign.status_code in (403, 404), (role, foreign.get_json())


def test_unauthenticated_and_bad_credentials(world: World) -> None:
    c = world.client
    for path in ("/api/v1/me", "/api/v1/documents", "/api/v1/search?q=x"):
        r = c.get(path)
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
        r = c.get(path, headers={"Authorization": "Bearer edms_nope_nope"})
        assert r.status_code == 401
        r = c.get(path, headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert r.status_code == 401


def test_revoked_and_read_only_tokens(world: World) -> None:
    w = world
    ro = create_token(w.system, "vanthu", "read-only", ["read"])
    h = {"Authorization": f"Bearer {ro.token}"}
    assert w.client.get("/api/v1/me", headers=h).status_code == 200
    r = w.client.post("/api/v1/dossiers", json={"file_code": "RO", "title": "x"}, headers=h)
    assert r.status_code == 403 and "'write' scope" in r.get_json()["detail"]
    r = call(w, "quantri", "DELETE", f"/api/v1/tokens/{ro.row.id}")
    assert r.status_code == 204
    assert w.client.get("/api/v1/me", headers=h).status_code == 401


def wait_for_job(w: World, user: str, job_id: str, limit: float = 120.0) -> dict[str, Any]:
    """Poll the job until it has finished (a deadline, not a timing assertion)."""
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        body: dict[str, Any] = call(w, user, "GET", f"/api/v1/jobs/{job_id}").get_json()
        if body["state"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {limit} s")


def test_jobs_are_private_to_their_user(world: World) -> None:
    w = world
    doc_id = outgoing_in(w, "approved")
    r = call(
        w,
        "chutich",
        "POST",
        "/api/v1/jobs/batch-sign",
        json={"document_ids": [doc_id], "pin": DEV_SIGNING_PIN},
    )
    assert r.status_code == 202
    job = r.get_json()["id"]
    state = wait_for_job(w, "chutich", job)
    assert state["state"] == "succeeded" and state["result"]["signed"] == [doc_id]
    assert call(w, "quantri", "GET", f"/api/v1/jobs/{job}").status_code == 200  # admin
    assert call(w, "vanthu", "GET", f"/api/v1/jobs/{job}").status_code == 404
    assert call(w, "qt.g22", "GET", f"/api/v1/jobs/{job}").status_code == 404
