"""Uploads: the real type decides, refusals store nothing, failures leave nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from edms.blobs import store_upload
from edms.errors import DisallowedFileType, UploadTooLarge
from edms.filetypes import detect
from edms.models import Blob
from edms.system import System

from .test_storage_integrity import fake_pdf

both_stores = pytest.mark.parametrize("system_env", ["local", "s3"], indirect=True)


def rows(system: System) -> int:
    with system.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Blob)) or 0)


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("quyet-dinh.txt", "Quyết định số 01/QĐ-UBND")
    return buf.getvalue()


@both_stores
def test_cli_refuses_zip_renamed_to_pdf(
    system: System, system_env: dict[str, str], tmp_path: Path
) -> None:
    disguised = tmp_path / "quyet-dinh.pdf"
    disguised.write_bytes(zip_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "edms.cli", "storage", "put", str(disguised)],
        env={**os.environ, **system_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "is a ZIP archive despite its .pdf name" in result.stderr
    assert "nothing was stored" in result.stderr
    assert list(system.store.list("")) == []
    assert rows(system) == 0


@pytest.mark.parametrize(
    ("content", "name", "what"),
    [
        (b"<!DOCTYPE html><html><body>Trang web</body></html>", "a.pdf", "an HTML page"),
        (Path(sys.executable).resolve().read_bytes()[:65536], "scan.png", "a Linux "),
        (b"", "empty.pdf", "an empty file"),
        (gzip.compress(b"%PDF-1.7 hidden"), "x.jpg", "a gzip archive"),
    ],
)
def test_disguised_files_are_named(system: System, content: bytes, name: str, what: str) -> None:
    with pytest.raises(DisallowedFileType) as exc:
        store_upload(system, io.BytesIO(content), filename=name)
    assert what in exc.value.message
    assert list(system.store.list("")) == []
    assert rows(system) == 0


def test_allowed_types_are_detected_by_content(system: System) -> None:
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
        b"\x00\x00\x00\x1f\x15\xc4\x89"
    )
    stored = store_upload(system, io.BytesIO(png), filename="mislabelled.pdf")
    assert stored.media_type == "image/png"
    xml = b'<?xml version="1.0" encoding="UTF-8"?><edXML:edXML xmlns:edXML="x"/>'
    assert store_upload(system, io.BytesIO(xml), filename="goi-tin.xml").media_type in (
        "text/xml",
        "application/xml",
    )
    assert detect(fake_pdf(1000)).mime == "application/pdf"


def test_allowed_types_are_configurable(system: System) -> None:
    with pytest.raises(DisallowedFileType) as exc:
        store_upload(system, io.BytesIO(fake_pdf(1000)), filename="a.pdf", allowed=("image/png",))
    assert "not an allowed type (PNG)" in exc.value.message


@both_stores
def test_too_large_upload_leaves_nothing(system: System) -> None:
    system.store.max_object_size = 300_000
    with pytest.raises(UploadTooLarge) as exc:
        store_upload(system, io.BytesIO(fake_pdf(1_000_000)), filename="big.pdf")
    assert "nothing was stored" in exc.value.message
    assert list(system.store.list("")) == []
    assert rows(system) == 0


@both_stores
def test_database_failure_removes_the_new_object(system: System) -> None:
    """A real database failure after the object was stored: the object is removed again."""
    with system.engine.begin() as conn:
        conn.execute(text("ALTER TABLE blobs RENAME TO blobs_away"))
    with pytest.raises(Exception, match="blobs"):
        store_upload(system, io.BytesIO(fake_pdf(20_000, b"db-down")), filename="a.pdf")
    assert list(system.store.list("")) == []


@both_stores
def test_duplicate_upload_keeps_one_row_and_object(system: System) -> None:
    data = fake_pdf(30_000, b"twice")
    first = store_upload(system, io.BytesIO(data), filename="a.pdf")
    second = store_upload(system, io.BytesIO(data), filename="copy-of-a.pdf")
    assert first.new and not second.new
    assert first.sha256 == second.sha256
    assert rows(system) == 1
    assert len(list(system.store.list("sha256/"))) == 1


@both_stores
def test_default_retention_protects_the_original(system: System) -> None:
    stored = store_upload(
        system, io.BytesIO(fake_pdf(10_000, b"keep")), filename="a.pdf", retention_years=10
    )
    assert stored.retain_until is not None
    info = system.store.stat(stored.storage_key)
    assert info.retention is not None
    assert abs((info.retention.until - stored.retain_until).total_seconds()) < 2
    from storage import ObjectRetained

    with pytest.raises(ObjectRetained):
        system.store.delete(stored.storage_key)
