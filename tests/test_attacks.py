"""Generated attack fixtures: none is `valid`, each gets a specific reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyhanko.sign import fields

from signing import devpki
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
from signing.sandbox import Limits, ValidatorPool
from signing.validation import Report
from tests.support import attacks
from tests.support.pdfs import plain_pdf
from tests.test_signing import root_of


@pytest.fixture(scope="module")
def validators(dev_pki: Any) -> Any:
    with ValidatorPool([str(dev_pki.root_cert)], limits=Limits(seconds=30)) as pool:
        yield pool


@pytest.fixture(scope="module")
def signed(dev_pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("attacks")
    engine = SigningEngine(
        load_pkcs12(dev_pki.p12("leader1"), devpki.DEV_PASSWORD),
        TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),)),
    )
    out = d / "signed.pdf"
    engine.sign(
        plain_pdf(d / "in.pdf", pages=2),
        out,
        SignOptions(
            Profile.PERSONAL, Level.B_T, signature_image=dev_pki.signature_image("leader1")
        ),
    )
    return out


def test_the_untouched_file_is_valid(signed: Path, validators: Any) -> None:
    report = validators.validate(signed)
    assert report.valid, report


def reasons(report: Report) -> set[str]:
    found = set(report.errors)
    for s in report.signatures:
        if not s.integrity:
            found.add("integrity")
        if s.coverage == "partial":
            found.add("coverage")
        if s.modifications not in ("none", "validation_data_only", "form_filling"):
            found.add(f"modified:{s.modifications}")
        if s.sub_indication:
            found.add(s.sub_indication)
    return found


ATTACKS: dict[str, tuple[Callable[[Path, Path], Path], set[str]]] = {
    "incremental-content-change": (attacks.content_changed, {"modified:other"}),
    "page-added": (attacks.page_added, {"modified:other"}),
    "page-removed": (attacks.page_removed, {"modified:other"}),
    "signature-wrapping": (attacks.signature_wrapping, {"coverage", "FORMAT_FAILURE"}),
    "contents-zeroed": (attacks.contents_zeroed, {"FORMAT_FAILURE"}),
    "contents-empty": (attacks.contents_empty, {"FORMAT_FAILURE"}),
    "contents-missing": (attacks.contents_missing, {"FORMAT_FAILURE"}),
    "byterange-malformed": (attacks.byterange_malformed, {"FORMAT_FAILURE"}),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_not_valid_and_says_why(
    name: str, signed: Path, validators: Any, tmp_path: Path
) -> None:
    make, expected = ATTACKS[name]
    attacked = make(signed, tmp_path / f"{name}.pdf")
    report = validators.validate(attacked)
    assert not report.valid
    got = reasons(report)
    assert expected & got, f"{name}: expected one of {expected}, got {got}: {report}"
    assert (
        report.changed_after_signing
        or report.errors
        or any(s.indication != "TOTAL_PASSED" for s in report.signatures)
    )


def test_evil_annotation_on_certified_document(
    dev_pki: Any, validators: Any, tmp_path: Path
) -> None:
    signer = load_pkcs12(dev_pki.p12("agency"), devpki.DEV_PASSWORD).signer()
    certified = attacks.certify(
        plain_pdf(tmp_path / "c.pdf"), tmp_path / "certified.pdf", signer, fields.MDPPerm.FILL_FORMS
    )
    assert validators.validate(certified).valid
    evil = attacks.evil_annotation(certified, tmp_path / "evil.pdf")
    report = validators.validate(evil)
    assert not report.valid
    assert report.signatures[0].modifications == "other"


def _engine(pki: Any, label: str) -> SigningEngine:
    return SigningEngine(
        load_pkcs12(pki.p12(label), devpki.DEV_PASSWORD),
        TrustServices(tsa_url=pki.tsa_url, trust_roots=(root_of(pki),)),
    )


def test_shadow_replace_form_field_over_text(dev_pki: Any, validators: Any, tmp_path: Path) -> None:
    """A filled field that paints over signed text is not a harmless form fill."""
    from signing.forms import fill_fields
    from tests.support.pdfs import NUMBER_FIELD, draft_with_fields

    signed = tmp_path / "signed.pdf"
    _engine(dev_pki, "leader1").sign(
        draft_with_fields(tmp_path / "d.pdf", over_text=True),
        signed,
        SignOptions(
            Profile.PERSONAL, Level.B_T, signature_image=dev_pki.signature_image("leader1")
        ),
    )
    assert validators.validate(signed).valid
    shadow = tmp_path / "shadow.pdf"
    fill_fields(signed, shadow, {NUMBER_FIELD: "SỐ TIỀN: 999.000.000 ĐỒNG"})
    report = validators.validate(shadow)
    assert not report.valid
    assert report.signatures[0].modifications == "other"
    assert any("paints over signed content" in m for m in report.signatures[0].messages)


def test_shadow_hide_overlay_xobject(signed: Path, validators: Any, tmp_path: Path) -> None:
    report = validators.validate(attacks.overlay_replaced(signed, tmp_path / "x.pdf"))
    assert not report.valid
    assert report.signatures[0].modifications == "other"


def test_sneaky_signature_on_certified_document(
    dev_pki: Any, validators: Any, tmp_path: Path
) -> None:
    signer = load_pkcs12(dev_pki.p12("agency"), devpki.DEV_PASSWORD).signer()
    certified = attacks.certify(
        plain_pdf(tmp_path / "c.pdf"), tmp_path / "certified.pdf", signer, fields.MDPPerm.FILL_FORMS
    )
    sneaky = tmp_path / "sneaky.pdf"
    _engine(dev_pki, "leader2").sign(
        certified,
        sneaky,
        SignOptions(
            Profile.PERSONAL,
            Level.B_B,
            box=(60, 700, 320, 800),  # over the page's text
            signature_image=dev_pki.signature_image("leader2"),
        ),
    )
    report = validators.validate(sneaky)
    assert not report.valid
    cert_report = next(s for s in report.signatures if s.field == "Certification")
    assert cert_report.modifications == "other"
