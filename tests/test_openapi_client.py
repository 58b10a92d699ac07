"""The OpenAPI contract as client generators read it: readable and unique operationIds,
the declared tags used, files declared as binary with their media type, required request
bodies, the CSRF header of browser sessions; and a Python client generated from the
served document by openapi-python-client (offline: installed by `make setup`) without a
single warning, with the document download in it."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api import create_app
from edms.system import System

UNSAFE = ("post", "put", "patch", "delete")
# The generator handles files as application/octet-stream; these are the media types the
# API declares for its files (PDF, ZIP, CSV, edXML).
GENERATOR_CONFIG = """\
content_type_overrides:
  application/pdf: application/octet-stream
  application/zip: application/octet-stream
  text/csv: application/octet-stream
  application/xml: application/octet-stream
  text/xml: application/octet-stream
"""


@pytest.fixture
def spec(system: System) -> dict[str, Any]:
    served = create_app(system).test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    document: dict[str, Any] = served.get_json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "patch", "delete", "head", "options")
    ]


def test_every_operation_has_a_readable_unique_id_and_a_declared_tag(
    spec: dict[str, Any],
) -> None:
    ops = operations(spec)
    assert len(ops) > 50
    ids = [str(op.get("operationId")) for _m, _p, op in ops]
    assert all("operationId" in op for _m, _p, op in ops)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    named = {(m, p): op["operationId"] for m, p, op in ops}
    assert named["get", "/api/v1/documents"] == "list_documents"
    assert named["get", "/api/v1/documents/{doc_id}/content"] == "download_document"
    assert named["post", "/api/v1/documents/{doc_id}/sign"] == "sign_document"
    assert not any(i.startswith(("get_api", "post_api")) for i in ids)
    declared = {t["name"] for t in spec["tags"]}
    used = {t for _m, _p, op in ops for t in op.get("tags", [])}
    assert all(op.get("tags") for _m, _p, op in ops)
    assert used == declared


def test_files_are_binary_with_their_media_type(spec: dict[str, Any]) -> None:
    binary = {"type": "string", "format": "binary"}
    paths = spec["paths"]
    pdf = paths["/api/v1/documents/{doc_id}/content"]["get"]["responses"]["200"]["content"]
    assert pdf == {"application/pdf": {"schema": binary}}
    one = paths["/api/v1/documents/{doc_id}/files/{file_id}"]["get"]["responses"]["200"]
    assert one["content"] == {"application/pdf": {"schema": binary}}
    zipped = paths["/api/v1/dossiers/{code}/export"]["get"]["responses"]["200"]["content"]
    assert zipped == {"application/zip": {"schema": binary}}
    register = paths["/api/v1/registers/{kind}"]["get"]["responses"]["200"]["content"]
    assert register["application/pdf"]["schema"] == binary
    assert register["text/csv"]["schema"] == binary
    assert "$ref" in register["application/json"]["schema"]
    for _m, _p, op in operations(spec):
        for resp in op["responses"].values():
            for media in resp.get("content", {}).values():
                assert media.get("schema") not in (None, {}), op["operationId"]


def test_request_bodies_are_required_and_declared(spec: dict[str, Any]) -> None:
    with_body = [op for _m, _p, op in operations(spec) if "requestBody" in op]
    assert len(with_body) > 25
    assert all(op["requestBody"]["required"] is True for op in with_body)
    inbox = spec["paths"]["/api/v1/exchange/inbox"]["post"]["requestBody"]["content"]
    assert "application/xml" in inbox
    revocation = spec["paths"]["/api/v1/documents/{doc_id}/exchange/revocation"]["post"]
    assert revocation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "accept"
    ]


def test_browser_sessions_need_the_csrf_header_on_changes(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["csrfToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    checked = 0
    for method, _path, op in operations(spec):
        for alternative in op.get("security", []):
            if "cookieAuth" in alternative:
                checked += 1
                assert ("csrfToken" in alternative) == (method in UNSAFE), op["operationId"]
            if "bearerAuth" in alternative:
                assert "csrfToken" not in alternative
    assert checked > 50


def test_the_served_document_generates_a_client_without_warnings(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    generator = Path(sys.executable).with_name("openapi-python-client")
    assert generator.is_file(), "openapi-python-client is a dev dependency (make setup)"
    (tmp_path / "openapi.json").write_text(json.dumps(spec), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG, encoding="utf-8")
    env = {**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--output-path",
            "client",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output
    packages = [p for p in (tmp_path / "client").iterdir() if (p / "__init__.py").is_file()]
    assert len(packages) == 1, packages
    download = packages[0] / "api" / "documents" / "download_document.py"
    assert download.is_file(), sorted(p.name for p in download.parent.iterdir())
    sys.path.insert(0, str(tmp_path / "client"))
    try:
        module = importlib.import_module(f"{packages[0].name}.api.documents.download_document")
        for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            assert callable(getattr(module, name)), name
        types = importlib.import_module(f"{packages[0].name}.types")
        assert "File" in str(module.sync.__annotations__["return"]) and hasattr(types, "File")
    finally:
        sys.path.remove(str(tmp_path / "client"))
        for name in [m for m in sys.modules if m.startswith(packages[0].name)]:
            del sys.modules[name]
