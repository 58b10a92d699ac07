"""schemathesis against /api/v1/openapi.json on a live `edms serve`: no 500, and every
response matches its documented schema. Two runs: one with generated identifiers (mostly
objects that do not exist), one with the identifiers pinned to seeded documents, so the
generated bodies reach the lifecycle logic."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edms import documents as docs
from edms import dossiers
from edms.auth import create_token
from edms.config import Settings
from edms.system import System
from tests.support.agency import BODY, draft_meta, sign
from tests.support.live import Processes, base_env, edms


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, dev_pki: Any
) -> Iterator[tuple[str, str, Path]]:
    tmp = tmp_path_factory.mktemp("schema")
    env = base_env(tmp / "data", dev_pki.directory)
    edms(env, "init")
    system = System(Settings.from_env(env))
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    for fn, who in (
        (docs.submit, "chuyenvien"),
        (docs.approve, "chutich"),
        (sign, "chutich"),
        (docs.number, "vanthu"),
        (docs.seal, "vanthu"),
        (docs.register_outgoing, "vanthu"),
        (docs.issue, "vanthu"),
    ):
        fn(system, who, doc.id)
    assert doc.id == 1
    dossiers.create(system, "vanthu", dossiers.DossierMeta("HS-1", "Hồ sơ", "5 năm", 5))
    token = create_token(system, "vanthu", "schemathesis", ["read", "write", "sign"]).token
    system.close()
    procs = Processes(tmp)
    try:
        yield procs.serve(env, workers=2), token, tmp
    finally:
        procs.stop()


def run_schemathesis(base: str, token: str, workdir: Path, pinned: bool) -> None:
    if pinned:
        (workdir / "schemathesis.toml").write_text(
            '[parameters]\n"path.doc_id" = 1\n"path.file_id" = 1\n"path.code" = "HS-1"\n',
            encoding="utf-8",
        )
    else:
        (workdir / "schemathesis.toml").unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/api/v1/openapi.json",
        "--url",
        base,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "-n",
        "12",
        "--seed",
        "7",
        "--request-timeout",
        "120",
        "--no-color",
    ]
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1200)
    tail = done.stdout[-6000:]
    assert done.returncode == 0, tail
    assert "passed" in tail and "Server error" not in tail


@pytest.mark.slow  # ~40 s of random identifiers; `make test` keeps the seeded run below
def test_schemathesis_generated_identifiers(served: tuple[str, str, Path]) -> None:
    base, token, tmp = served
    run_schemathesis(base, token, tmp, pinned=False)


def test_schemathesis_on_seeded_documents(served: tuple[str, str, Path]) -> None:
    base, token, tmp = served
    run_schemathesis(base, token, tmp, pinned=True)
    logs = "".join(p.read_text(errors="replace") for p in tmp.glob("api-*.log"))
    assert '"level": "ERROR"' not in logs, logs[-3000:]
    # The pinned identifiers reached the seeded document and dossier.
    assert "POST /api/v1/documents/1/submit 409" in logs
    assert "GET /api/v1/dossiers/HS-1 200" in logs
