"""`edms verify`: the shared corpus verdicts, our own outputs, and hostile files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.forms import fill_fields
from signing.sandbox import Limits, validate_sandboxed
from tests.support.pdfs import DATE_FIELD, NUMBER_FIELD, draft_with_fields, plain_pdf

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "signed-pdfs"
EXPECTED = json.loads((CORPUS / "expected.json").read_text()) if CORPUS.is_dir() else {}
ORDER = ["none", "validation_data_only", "form_filling", "annotations", "other"]


def edms_verify(
    path: Path, env: dict[str, str] | None = None, *extra: str
) -> tuple[int, Any, float]:
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "edms.cli", "verify", str(path), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    elapsed = time.monotonic() - start
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, json.loads(res.stdout), elapsed


def require_corpus() -> None:
    if EXPECTED:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the shared corpus is missing at {CORPUS} (CI must have ../shared)")
    pytest.skip(f"the shared corpus is absent at {CORPUS} (../shared beside the checkout)")


@pytest.mark.parametrize("name", sorted(EXPECTED) or ["(corpus absent)"])
def test_shared_corpus_verdicts(name: str) -> None:
    require_corpus()
    expected = EXPECTED[name]
    code, report, elapsed = edms_verify(CORPUS / name)
    sigs = report["signatures"]
    assert report["file"]["size"] == (CORPUS / name).stat().st_size
    # nothing in the corpus chains to a root we trust
    assert report["valid"] is False and code == 1
    if "overall_integrity" in expected:
        integrity = all(s["integrity"] and s["coverage"] != "partial" for s in sigs)
        assert integrity is expected["overall_integrity"], sigs
        worst = max((s["modifications"] for s in sigs), key=ORDER.index)
        assert worst == expected["modified_after_signing"], sigs
        assert all(s["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND" for s in sigs)
    if expected.get("verdict") == "not_valid":
        # not valid for a reason of its own, not merely for lack of trust
        real_failures = [
            s
            for s in sigs
            if not s["integrity"]
            or s["coverage"] == "partial"
            or s["modifications"] not in ("none", "validation_data_only", "form_filling")
            or s["indication"] == "TOTAL_FAILED"
            or s["sub_indication"] in ("FORMAT_FAILURE", "CRYPTO_CONSTRAINTS_FAILURE")
        ]
        assert real_failures or report["errors"], report
        assert all(m for s in real_failures for m in s["messages"])
    if "max_seconds" in expected:
        assert elapsed < expected["max_seconds"]


def test_form_fill_is_form_filling_where_stock_pyhanko_says_other() -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    require_corpus()
    path = CORPUS / "valid-form-filled-after-signing.pdf"
    with open(path, "rb") as f:
        sig = PdfFileReader(f).embedded_signatures[0]
        stock = validate_pdf_signature(sig, ValidationContext(trust_roots=[], allow_fetching=False))
    assert stock.modification_level is ModificationLevel.OTHER
    report = validate_sandboxed(path, [])
    assert report.signatures[0].modifications == "form_filling"


def test_our_outputs_are_valid(dev_pki: Any, signing_env: dict[str, str], tmp_path: Path) -> None:
    from tests.test_signing import root_of

    services = TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),))
    from signing import devpki
    from signing.keys import load_pkcs12

    leader = SigningEngine(load_pkcs12(dev_pki.p12("leader1"), devpki.DEV_PASSWORD), services)
    agency = SigningEngine(load_pkcs12(dev_pki.p12("agency"), devpki.DEV_PASSWORD), services)
    leader.sign(
        draft_with_fields(tmp_path / "d.pdf"),
        tmp_path / "1.pdf",
        SignOptions(
            Profile.PERSONAL, Level.B_T, signature_image=dev_pki.signature_image("leader1")
        ),
    )
    fill_fields(
        tmp_path / "1.pdf",
        tmp_path / "2.pdf",
        {NUMBER_FIELD: "Số: 01/QĐ-UBND", DATE_FIELD: "Hà Giang, ngày 22 tháng 11"},
    )
    agency.sign(
        tmp_path / "2.pdf",
        tmp_path / "3.pdf",
        SignOptions(Profile.ORGANIZATION, Level.B_LT, seal_image=dev_pki.signature_image("agency")),
    )
    code, report, _ = edms_verify(tmp_path / "3.pdf", signing_env)
    assert code == 0 and report["valid"] is True, report
    leader_sig, seal = report["signatures"]
    assert leader_sig["modifications"] == "form_filling"
    assert seal["modifications"] == "none" and seal["coverage"] == "whole_file"
    assert seal["level"] == "B-LT" and seal["timestamp"]["intact"]

    from signing.ltv import extend

    extend(tmp_path / "3.pdf", tmp_path / "4.pdf", Level.B_LTA, services)
    code, report, _ = edms_verify(tmp_path / "4.pdf", signing_env)
    assert code == 0, report
    assert [s["level"] for s in report["signatures"]] == ["B-LTA", "B-LTA"]
    assert report["signatures"][1]["modifications"] == "validation_data_only"
    assert leader_sig["signer"]["common_name"] == "Nguyễn Văn Thành"
    assert all(s["indication"] == "TOTAL_PASSED" and s["trusted"] for s in report["signatures"])

    # (signing at B-LT with a revoked certificate is refused by the engine itself)
    revoked = tmp_path / "revoked.pdf"
    SigningEngine(load_pkcs12(dev_pki.p12("leader-revoked"), devpki.DEV_PASSWORD), services).sign(
        plain_pdf(tmp_path / "r.pdf"),
        revoked,
        SignOptions(
            Profile.PERSONAL, Level.B_T, signature_image=dev_pki.signature_image("leader-revoked")
        ),
    )
    code, report, _ = edms_verify(revoked, signing_env, "--online")
    assert code == 1
    assert report["signatures"][0]["sub_indication"] in ("REVOKED", "REVOKED_NO_POE")
    assert report["signatures"][0]["revocation"] == "revoked"


def test_hostile_inputs_get_a_report(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    report = validate_sandboxed(garbage, [], limits=Limits(seconds=10))
    assert not report.valid
    assert report.signatures[0].sub_indication == "FORMAT_FAILURE"
    # a deeply nested object tree, the kind that breaks recursive parsers
    nested = tmp_path / "nested.pdf"
    depth = 200_000
    nested.write_bytes(
        b"%PDF-1.7\n1 0 obj\n"
        + b"[" * depth
        + b"]" * depth
        + b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )
    start = time.monotonic()
    report = validate_sandboxed(nested, [], limits=Limits(seconds=10, memory_mb=512))
    assert time.monotonic() - start < 15
    assert not report.valid
    assert report.signatures[0].indication == "INDETERMINATE"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "edms.cli", "verify", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    res = subprocess.run(
        [sys.executable, "-m", "edms.cli", "verify", str(tmp_path / "missing.pdf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2


def test_pool_replaces_workers_that_miss_deadlines_or_die(tmp_path: Path) -> None:
    from signing.sandbox import ValidatorPool

    doc = plain_pdf(tmp_path / "p.pdf")
    with ValidatorPool([], limits=Limits(seconds=0.001), workers=1) as pool:
        first = pool._all[0]
        report = pool.validate(doc)
        assert "did not finish" in report.errors[0]
        assert first.proc.poll() is not None  # killed
        assert len(pool._all) == 1 and pool._all[0] is not first  # replaced
    with ValidatorPool([], limits=Limits(seconds=20, memory_mb=40), workers=1) as pool:
        report = pool.validate(doc)  # 40 MB cannot even hold the interpreter and pyHanko
        assert "memory limit" in report.errors[0]
        assert report.signatures[0].sub_indication == "FORMAT_FAILURE"
    with ValidatorPool([], workers=2) as pool:
        reports = [pool.validate(doc) for _ in range(4)]
        assert all(r.errors == ["no signature in the file"] for r in reports)


def test_revocation_data_from_the_dss(dev_pki: Any, tmp_path: Path) -> None:
    """B-LT: revocation is checked from the embedded DSS with no network; B-T without
    fetching says plainly that revocation was not checked."""
    from signing import devpki
    from signing.keys import load_pkcs12
    from tests.test_signing import root_of

    services = TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),))
    engine = SigningEngine(load_pkcs12(dev_pki.p12("leader2"), devpki.DEV_PASSWORD), services)
    for level, expected in ((Level.B_LT, "good"), (Level.B_T, "not_checked")):
        out = tmp_path / f"{level}.pdf"
        engine.sign(
            plain_pdf(tmp_path / f"in-{level}.pdf"),
            out,
            SignOptions(
                Profile.PERSONAL, level, signature_image=dev_pki.signature_image("leader2")
            ),
        )
        report = validate_sandboxed(out, [str(dev_pki.root_cert)])  # fetching disabled
        assert report.signatures[0].revocation == expected, report
        assert report.valid


def test_integrity_agrees_with_pdfsig(dev_pki: Any, nss_db: str, tmp_path: Path) -> None:
    """On the engine's outputs, our integrity verdict and poppler's agree."""
    from signing import devpki
    from signing.keys import load_pkcs12
    from tests.support import attacks
    from tests.support.pdfcheck import pdfsig
    from tests.test_signing import root_of

    services = TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),))
    engine = SigningEngine(load_pkcs12(dev_pki.p12("agency"), devpki.DEV_PASSWORD), services)
    files = []
    for profile in (Profile.COPY, Profile.ATTACHMENT):
        for level in Level:
            out = tmp_path / f"{profile}-{level}.pdf"
            engine.sign(
                plain_pdf(tmp_path / f"in-{profile}-{level}.pdf"),
                out,
                SignOptions(profile, level, main_number="15/QĐ-UBND"),
            )
            files.append(out)
    files.append(attacks.contents_zeroed(files[0], tmp_path / "zeroed.pdf"))
    for f in files:
        ours = validate_sandboxed(f, [str(dev_pki.root_cert)])
        theirs = [e for e in pdfsig(f, nss_db) if e.signature_type != "unknown"]
        assert [s.integrity for s in ours.signatures] == [
            e.valid == "Signature is Valid." for e in theirs
        ], f
