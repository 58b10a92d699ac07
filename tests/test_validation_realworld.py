"""Validation of what the outside world signs: the 89 signed PDFs of the EU DSS test
resources (many products), checked against poppler's pdfsig, and the relative-path and
working-directory rules of `edms verify`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signing.sandbox import Limits, ValidatorPool

DSS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-world" / "dss"
FILES = sorted(DSS.glob("*.pdf")) if DSS.is_dir() else []
# what must never reach a report: exception names and texts, asn1crypto parse errors
LEAKS = re.compile(
    r"Error\b|Exception|Traceback|Reference\(idnum|asn1crypto|KeyError|"
    r"TypeError|ValueError|AttributeError|IndirectObject|while parsing"
)


def _texts(report: dict[str, Any]) -> list[str]:
    out = [report["headline"], *report["reasons"], *report["errors"], *report["notes"]]
    for s in [*report["signatures"], *report["timestamps"]]:
        out += [s["reason"], *s["messages"]]
    return out


def _pdfsig(path: Path) -> dict[str, str]:
    """Field name → pdfsig's verdict on the digest, for the signatures pdfsig can read."""
    try:
        res = subprocess.run(
            ["pdfsig", "-nocert", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            errors="replace",
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out: dict[str, str] = {}
    name = None
    for line in res.stdout.splitlines():
        line = line.strip()
        if line.startswith("- Signature Field Name:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("- Signature Validation:") and name is not None:
            verdict = line.split(":", 1)[1].strip()
            if verdict.startswith("Signature is Valid"):
                out[name] = "intact"
            elif verdict.startswith("Digest Mismatch"):
                out[name] = "digest_mismatch"
            name = None
    return out


@pytest.fixture(scope="module")
def dss_reports() -> dict[str, dict[str, Any]]:
    if not FILES:
        if os.environ.get("CI"):
            pytest.fail(f"the real-world corpus is missing at {DSS}")
        pytest.skip(f"the real-world corpus is absent at {DSS}")
    from concurrent.futures import ThreadPoolExecutor

    with (
        ValidatorPool({"roots": [], "pool": []}, limits=Limits(seconds=60), workers=2) as pool,
        ThreadPoolExecutor(2) as ex,
    ):
        reports = list(ex.map(pool.validate, FILES))
    return {f.name: r.to_json() for f, r in zip(FILES, reports, strict=True)}


def test_every_real_world_file_gets_an_honest_report(dss_reports: dict[str, Any]) -> None:
    assert len(dss_reports) == len(FILES) >= 80
    for name, report in dss_reports.items():
        assert report["verdict"] in ("valid", "not_valid", "indeterminate"), name
        leaks = [t for t in _texts(report) if LEAKS.search(t)]
        assert not leaks, (name, leaks)
        if report["changed_after_signing"]:
            # proof only: a digest that fails, or a modification the diff analysis found
            assert any(
                s["changed"]
                and (not s["integrity"] or s["modifications"] in ("other", "annotations"))
                for s in report["signatures"] + report["timestamps"]
            ), name
        if report["verdict"] == "indeterminate":
            assert report["headline"].startswith("KHÔNG KIỂM TRA ĐƯỢC"), name
            assert not report["changed_after_signing"], name
    # the classes of structure the old validator crashed on are read now
    for name in (
        "test-with-vri.pdf",
        "adbe_crl_signed.pdf",
        "pdf-with-vri-timestamp.pdf",
        "dss-2554_fieldmdp-exclude-signed.pdf",
        "Signature-P-HU_POL-7.pdf",
        "pades-ltv-from-epes.pdf",
        "Signature-P-HU_NET-2.pdf",
    ):
        sigs = dss_reports[name]["signatures"]
        assert sigs and any(s["integrity"] for s in sigs), (name, sigs)
    # adbe.pkcs7.sha1 (which stock pyHanko refuses) is validated: intact, and SHA-1 without
    # proof of existence before the cut-off is named as the reason
    legacy = dss_reports["wrong-digest-algo.pdf"]["signatures"][0]
    assert legacy["integrity"] and legacy["sub_indication"].startswith("CRYPTO_CONSTRAINTS_FAILURE")
    # several signers in one CMS, an empty file: said in words, as "cannot be validated"
    # (not as tampering)
    assert "nhiều người ký" in dss_reports["pdf-double-signer-info.pdf"]["reasons"][0]
    assert dss_reports["51sigs.pdf"]["verdict"] == "indeterminate"
    # a signature whose /Contents holds nothing fails (not valid, not "unreadable", not
    # "changed"); tested on the round-1 corpus file made for it, if present
    empty = DSS.parent.parent / "signed-pdfs" / "edge-empty-signature-field.pdf"
    if empty.is_file():
        from signing.validation import validate_file

        r = validate_file(empty, [])
        assert r.verdict == "not_valid" and not r.changed_after_signing
        assert not r.signatures[0].integrity and "trống" in r.signatures[0].reason
    # an encrypted file that opens without a password is validated, and says so
    enc = dss_reports["encrypted.pdf"]
    assert enc["signatures"][0]["integrity"] and any("mã hóa" in n for n in enc["notes"])
    # a document timestamp with an odd /Type is still a document timestamp
    assert dss_reports["pades-tst-with-null-type.pdf"]["timestamps"]


def test_integrity_agrees_with_pdfsig(dss_reports: dict[str, Any]) -> None:
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler's pdfsig is not installed (scripts/system-deps.sh installs it)")
    compared = 0
    for f in FILES:
        ours = {
            s["field"]: s
            for s in dss_reports[f.name]["signatures"] + dss_reports[f.name]["timestamps"]
        }
        for field, verdict in _pdfsig(f).items():
            sig = ours.get(field)
            if sig is None or sig["status"] == "indeterminate":
                continue  # a format we report as unreadable, in words
            compared += 1
            if verdict == "intact":
                assert sig["integrity"], (f.name, field, sig)
            else:
                assert not sig["integrity"], (f.name, field, sig)
    assert compared >= 60


def test_verify_from_another_directory(tmp_path: Path) -> None:
    """The same report from the checkout and from elsewhere, with a relative or an
    absolute path, and relative configuration paths anchored to the checkout."""
    src = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "signed-pdfs"
    if not (src / "valid-pades-bes.pdf").is_file():
        pytest.skip("the shared corpus is absent")
    here = tmp_path / "elsewhere"
    here.mkdir()
    shutil.copy(src / "valid-pades-bes.pdf", here / "doc.pdf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDMS_")}
    env["EDMS_DATA_DIR"] = "var-relative-test"  # relative: must not land in tmp_path
    edms = [sys.executable, "-m", "edms.entry", "verify", "--json"]
    repo = Path(__file__).resolve().parents[1]
    runs = [
        subprocess.run(
            [*edms, "doc.pdf"], cwd=here, capture_output=True, text=True, env=env, timeout=120
        ),
        subprocess.run(
            [*edms, str(here / "doc.pdf")],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ),
        subprocess.run(
            [*edms, os.path.relpath(here / "doc.pdf", "/")],
            cwd="/",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        ),
    ]
    reports = [json.loads(r.stdout) for r in runs]
    for r in reports:
        r.pop("path")
        for s in r["signatures"]:
            s.pop("validation_time")
    assert reports[0] == reports[1] == reports[2]
    assert reports[0]["signatures"][0]["integrity"] is True
    assert not (here / "var-relative-test").exists()

    from edms.config import Settings

    s = Settings.from_env({"EDMS_DATA_DIR": "var-x", "EDMS_PKI_DIR": "pki-x"})
    assert s.data_dir == repo / "var-x" and s.pki_dir == repo / "pki-x"


def test_large_file_is_read_from_disk_with_junk_after_eof(tmp_path: Path) -> None:
    """Above the in-memory bound the file is parsed from disk (memory stays bounded) with
    the same verdict; trailing junk is set aside and noted either way."""
    from signing.validation import reading, validate_file

    src = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "signed-pdfs"
    if not (src / "valid-pades-bes.pdf").is_file():
        pytest.skip("the shared corpus is absent")
    signed = (src / "valid-pades-bes.pdf").read_bytes()
    small = tmp_path / "small.pdf"
    small.write_bytes(signed + os.urandom(8 * 1024 * 1024))
    big = tmp_path / "big.pdf"
    big.write_bytes(signed + os.urandom(reading.IN_MEMORY_MAX + 1024))
    a, b = validate_file(small, []), validate_file(big, [])
    for r in (a, b):
        assert r.signatures[0].integrity and r.signatures[0].modifications == "none"
        assert any("dữ liệu thừa sau %%EOF" in n for n in r.notes)
    assert b.file["size"] == big.stat().st_size
    assert a.signatures[0].coverage == b.signatures[0].coverage
