"""Crash safety and `edms storage verify`, on both stores, through the real CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edms.system import System
from storage import LocalStore, S3Store

pytestmark = pytest.mark.parametrize("system_env", ["local", "s3"], indirect=True)


def edms(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `edms` command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "edms.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def fake_pdf(size: int, seed: bytes = b"") -> bytes:
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + seed
    body = hashlib.sha256(seed).digest() * (size // 32 + 1)
    return (head + body)[:size]


def test_sigkill_mid_put_leaves_no_partial_object(
    system: System, system_env: dict[str, str]
) -> None:
    env = {**os.environ, **system_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edms.cli", "storage", "put", "-", "--name", "big.pdf"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    data = fake_pdf(24 * 1024 * 1024, b"killed")
    # The pipe holds at most 64 KiB: once this write returns, the child has consumed
    # (and is storing) over 23 MiB of an upload that has not ended.
    proc.stdin.write(data)
    proc.stdin.flush()
    assert proc.poll() is None, "the upload must still be in progress"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    proc.stdin.close()

    store = system.store
    assert [o.key for o in store.list("sha256/")] == []
    if isinstance(store, LocalStore):
        assert len(store.incomplete_uploads()) == 1  # the interrupted temporary file
    else:
        assert store.incomplete_uploads()  # the interrupted multipart upload

    result = edms(system_env, "storage", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("clean: 0 objects")

    # The interrupted upload's leftovers are removable and never touch real objects.
    cleaned = edms(system_env, "storage", "cleanup", "--older-than", "0")
    assert cleaned.returncode == 0, cleaned.stderr
    assert store.incomplete_uploads() == []
    if isinstance(store, S3Store):
        uploads = store.client._list_multipart_uploads(store.bucket, prefix="tmp/")
        assert uploads.uploads == []


def test_verify_names_corrupted_missing_and_orphaned(
    system: System, system_env: dict[str, str], tmp_path: Path
) -> None:
    files = {}
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        path = tmp_path / name
        path.write_bytes(fake_pdf(200_000, name.encode()))
        out = edms(system_env, "storage", "put", str(path), "--json")
        assert out.returncode == 0, out.stderr
        files[name] = json.loads(out.stdout)

    ok = edms(system_env, "storage", "verify")
    assert ok.returncode == 0, ok.stdout
    assert "clean: 3 objects" in ok.stdout

    store = system.store
    flipped = files["a.pdf"]["key"]
    removed = files["b.pdf"]["key"]
    original = store.get_bytes(flipped)
    damaged = bytearray(original)
    damaged[150_000] ^= 0x01
    if isinstance(store, LocalStore):
        path = store.root / "objects" / flipped
        path.write_bytes(bytes(damaged))
        (store.root / "objects" / removed).unlink()
    else:
        assert isinstance(store, S3Store)
        store.client.put_object(store.bucket, flipped, io.BytesIO(bytes(damaged)), len(damaged))
        store.client.remove_object(store.bucket, removed)
    orphan = store.put_content(io.BytesIO(b"%PDF-1.7 nobody refers to me"))

    bad = edms(system_env, "storage", "verify")
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert any(line.startswith("CORRUPTED") and flipped in line for line in lines), bad.stdout
    assert any(line.startswith("MISSING") and removed in line for line in lines), bad.stdout
    assert any(line.startswith("ORPHANED") and orphan.key in line for line in lines), bad.stdout
    assert files["c.pdf"]["key"] not in bad.stdout
    assert lines[-1].startswith("NOT CLEAN")

    report = json.loads(edms(system_env, "storage", "verify", "--json").stdout)
    assert not report["clean"]
    kinds = {(p["kind"], p["key"]) for p in report["problems"]}
    assert kinds == {("corrupted", flipped), ("missing", removed), ("orphaned", orphan.key)}


def test_get_checks_the_hash(system: System, system_env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(fake_pdf(50_000, b"get"))
    put = edms(system_env, "storage", "put", str(src))
    digest = put.stdout.strip()
    assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "out.pdf"
    got = edms(system_env, "storage", "get", digest, "-o", str(out))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == src.read_bytes()

    missing = edms(system_env, "storage", "get", "0" * 64, "-o", str(tmp_path / "none.pdf"))
    assert missing.returncode == 1
    assert "no stored object" in missing.stderr
    assert not (tmp_path / "none.pdf").exists()
