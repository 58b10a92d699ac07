"""The PAdES engine: every profile and level checked by poppler's pdfsig and openssl, the
Decree-30 sequence, long-term validation, and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from signing import devpki
from signing.engine import Level, Profile, SigningEngine, SigningError, SignOptions, TrustServices
from signing.forms import fill_fields
from signing.keys import load_pkcs12
from signing.ltv import extend
from tests.support.pages import render, seal_overlap
from tests.support.pdfcheck import openssl_verify_all, pdfsig
from tests.support.pdfs import DATE_FIELD, NUMBER_FIELD, draft_with_fields, plain_pdf


def root_of(pki: Any) -> x509.Certificate:
    _, _, der = pem.unarmor(pki.root_cert.read_bytes())
    return x509.Certificate.load(der)


@pytest.fixture(scope="module")
def services(dev_pki: Any) -> TrustServices:
    return TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),))


def engine(pki: Any, label: str, services: TrustServices) -> SigningEngine:
    return SigningEngine(load_pkcs12(pki.p12(label), devpki.DEV_PASSWORD), services)


def opts(pki: Any, profile: Profile, level: Level, **kw: Any) -> SignOptions:
    if profile is Profile.PERSONAL:
        kw.setdefault("signature_image", pki.signature_image("leader2"))
        kw.setdefault("authority", "KT. CHỦ TỊCH")
    if profile is Profile.ORGANIZATION:
        kw.setdefault("seal_image", pki.signature_image("agency"))
    if profile is Profile.ATTACHMENT:
        kw.setdefault("main_number", "15/QĐ-UBND")
    return SignOptions(profile, level, **kw)


def assert_pdfsig_ok(path: Path, nss_db: str, regular: int) -> None:
    entries = pdfsig(path, nss_db)
    assert entries, f"pdfsig found no signature in {path}"
    assert entries[-1].total, f"last signature does not cover the whole file: {entries}"
    regulars = [e for e in entries if e.signature_type != "unknown"]
    assert len(regulars) == regular
    for e in regulars:
        assert e.valid == "Signature is Valid.", e
        assert e.certificate == "Certificate is Trusted.", e


def validate_all(path: Path, services: TrustServices, fetch: bool = True) -> list[Any]:
    vc = TrustServices(services.tsa_url, services.trust_roots, fetch).validation_context(
        for_signing=False
    )
    with open(path, "rb") as f:
        reader = PdfFileReader(f)
        return [validate_pdf_signature(s, vc) for s in reader.embedded_regular_signatures]


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("profile", [Profile.PERSONAL, Profile.ATTACHMENT, Profile.COPY])
def test_every_profile_and_level_verifies(
    dev_pki: Any,
    services: TrustServices,
    nss_db: str,
    tmp_path: Path,
    profile: Profile,
    level: Level,
) -> None:
    src = draft_with_fields(tmp_path / "in.pdf")
    out = tmp_path / "out.pdf"
    signer = "leader2" if profile is Profile.PERSONAL else "agency"
    result = engine(dev_pki, signer, services).sign(src, out, opts(dev_pki, profile, level))
    assert result.level is level
    assert_pdfsig_ok(out, nss_db, regular=1)
    verdicts = openssl_verify_all(out, dev_pki.root_cert, tmp_path)
    assert verdicts == ["CMS Verification successful"]
    (status,) = validate_all(out, services)
    assert status.bottom_line
    if level is Level.B_LTA:
        with open(out, "rb") as f:
            assert len(list(PdfFileReader(f).embedded_timestamp_signatures)) == 1


def test_organization_profile_on_signed_draft_verifies(
    dev_pki: Any, services: TrustServices, nss_db: str, tmp_path: Path
) -> None:
    signed = tmp_path / "signed.pdf"
    engine(dev_pki, "leader2", services).sign(
        draft_with_fields(tmp_path / "d.pdf"), signed, opts(dev_pki, Profile.PERSONAL, Level.B_T)
    )
    for level in Level:
        out = tmp_path / f"sealed-{level}.pdf"
        engine(dev_pki, "agency", services).sign(
            signed, out, opts(dev_pki, Profile.ORGANIZATION, level)
        )
        assert_pdfsig_ok(out, nss_db, regular=2)
        assert (
            openssl_verify_all(out, dev_pki.root_cert, tmp_path)
            == ["CMS Verification successful"] * 2
        )


def _widget(pdf: pikepdf.Pdf, name: str) -> tuple[list[float], int, int]:
    for annot in pdf.pages[0].Annots:
        if str(annot.get("/T", "")) == name:
            rect = [float(v) for v in annot.Rect]

            def find(xobj: Any) -> tuple[int, int] | None:
                if xobj.get("/Subtype") == "/Image":
                    return int(xobj.Width), int(xobj.Height)
                for child in xobj.get("/Resources", {}).get("/XObject", {}).values():
                    got = find(child)
                    if got:
                        return got
                return None

            size = find(annot.AP.N)
            assert size is not None
            return rect, size[0], size[1]
    raise AssertionError(f"no widget {name}")


def test_decree30_sequence(
    dev_pki: Any, services: TrustServices, nss_db: str, tmp_path: Path
) -> None:
    """draft with number/date fields → personal signature → fill_fields → seal."""
    draft = draft_with_fields(tmp_path / "draft.pdf")
    engine(dev_pki, "leader1", services).sign(
        draft,
        tmp_path / "1.pdf",
        opts(
            dev_pki,
            Profile.PERSONAL,
            Level.B_T,
            signature_image=dev_pki.signature_image("leader1"),
            authority="TM. ỦY BAN NHÂN DÂN",
        ),
    )
    fill_fields(
        tmp_path / "1.pdf",
        tmp_path / "2.pdf",
        {NUMBER_FIELD: "Số: 01/QĐ-UBND", DATE_FIELD: "Tuyên Quang, ngày 22 tháng 11 năm 2026"},
    )
    final = tmp_path / "3.pdf"
    engine(dev_pki, "agency", services).sign(
        tmp_path / "2.pdf", final, opts(dev_pki, Profile.ORGANIZATION, Level.B_LT)
    )

    leader, seal = validate_all(final, services)
    assert leader.bottom_line and seal.bottom_line
    assert leader.modification_level is ModificationLevel.FORM_FILLING
    assert leader.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert seal.modification_level is ModificationLevel.NONE
    assert seal.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert_pdfsig_ok(final, nss_db, regular=2)

    text = subprocess.run(["pdftotext", str(final), "-"], capture_output=True, text=True).stdout
    assert "Số: 01/QĐ-UBND" in text

    # Geometry, measured on the rendered ink (not on the images' padded boxes): the seal
    # at its real size reaches a third into the blue signature ink, from its left.
    with pikepdf.open(final) as pdf:
        (sx1, _sy1, sx2, _sy2), _, _ = _widget(pdf, "EDMS_Organization_1")
    assert 36 * 72 / 25.4 <= sx2 - sx1 <= 40 * 72 / 25.4  # real seal size
    page = render(final, 1, 144, tmp_path)
    m = seal_overlap(page)
    assert 0.28 <= m.ratio <= 0.40, m
    assert m.seal[0] < m.ink[0]  # the seal sticks out to the signature's left
    assert m.seal[1] < m.ink[3] and m.ink[1] < m.seal[3]  # at the signature's height
    page.save(tmp_path / "decree30-page1.png")


def test_seal_refused_without_valid_personal_signature(
    dev_pki: Any, services: TrustServices, tmp_path: Path
) -> None:
    agency = engine(dev_pki, "agency", services)
    with pytest.raises(SigningError, match="validly signed"):
        agency.sign(
            plain_pdf(tmp_path / "unsigned.pdf"),
            tmp_path / "x.pdf",
            opts(dev_pki, Profile.ORGANIZATION, Level.B_B),
        )
    revoked = tmp_path / "revoked.pdf"
    engine(dev_pki, "leader-revoked", services).sign(
        plain_pdf(tmp_path / "d.pdf"),
        revoked,
        opts(
            dev_pki,
            Profile.PERSONAL,
            Level.B_B,
            signature_image=dev_pki.signature_image("leader-revoked"),
        ),
    )
    with pytest.raises(SigningError, match="validly signed"):
        agency.sign(revoked, tmp_path / "y.pdf", opts(dev_pki, Profile.ORGANIZATION, Level.B_B))
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "y.pdf").exists()
    assert not list(tmp_path.glob(".*.part"))


def _dss(path: Path) -> dict[str, int]:
    with pikepdf.open(path) as pdf:
        dss = pdf.Root.get("/DSS")
        if dss is None:
            return {}
        return {k: len(dss.get(k, [])) for k in ("/Certs", "/OCSPs", "/CRLs")}


def test_b_lt_validates_offline_and_extend_reaches_lta(
    dev_pki: Any, services: TrustServices, nss_db: str, tmp_path: Path
) -> None:
    lt = tmp_path / "lt.pdf"
    engine(dev_pki, "leader2", services).sign(
        plain_pdf(tmp_path / "d.pdf"), lt, opts(dev_pki, Profile.PERSONAL, Level.B_LT)
    )
    dss = _dss(lt)
    assert dss["/OCSPs"] >= 1 and dss["/CRLs"] >= 1 and dss["/Certs"] >= 2
    (status,) = validate_all(lt, services, fetch=False)  # no network: only the DSS
    assert status.bottom_line

    bt = tmp_path / "bt.pdf"
    engine(dev_pki, "leader2", services).sign(
        plain_pdf(tmp_path / "d2.pdf"), bt, opts(dev_pki, Profile.PERSONAL, Level.B_T)
    )
    assert _dss(bt) == {}
    lta = tmp_path / "lta.pdf"
    assert extend(bt, lta, Level.B_LTA, services) is Level.B_LTA
    assert _dss(lta)["/OCSPs"] >= 1
    with open(lta, "rb") as f:
        reader = PdfFileReader(f)
        assert len(list(reader.embedded_timestamp_signatures)) == 1
    (status,) = validate_all(lta, services, fetch=False)
    assert status.bottom_line
    assert_pdfsig_ok(lta, nss_db, regular=1)

    bb = tmp_path / "bb.pdf"
    engine(dev_pki, "leader2", services).sign(
        plain_pdf(tmp_path / "d3.pdf"), bb, opts(dev_pki, Profile.PERSONAL, Level.B_B)
    )
    with pytest.raises(SigningError, match="B-B"):
        extend(bb, tmp_path / "no.pdf", Level.B_LT, services)


def test_appearance_texts(dev_pki: Any, services: TrustServices, tmp_path: Path) -> None:
    att = tmp_path / "att.pdf"
    result = engine(dev_pki, "agency", services).sign(
        plain_pdf(tmp_path / "a.pdf"), att, opts(dev_pki, Profile.ATTACHMENT, Level.B_B)
    )
    text = subprocess.run(
        ["pdftotext", "-layout", str(att), "-"], capture_output=True, text=True
    ).stdout
    from signing.appearance import vn_time

    stamp = vn_time(result.signing_time)
    assert stamp.endswith("+07:00") and "T" in stamp
    assert "15/QĐ-UBND" in text and stamp in text
    copy = tmp_path / "copy.pdf"
    engine(dev_pki, "agency", services).sign(
        plain_pdf(tmp_path / "c.pdf"), copy, opts(dev_pki, Profile.COPY, Level.B_B)
    )
    text = subprocess.run(["pdftotext", str(copy), "-"], capture_output=True, text=True).stdout
    assert "SAO Y" in text and "Ủy ban nhân dân tỉnh Tuyên Quang" in text


def test_cli_sign_single_and_batch(
    dev_pki: Any, signing_env: dict[str, str], nss_db: str, tmp_path: Path
) -> None:
    env = {**os.environ, **signing_env}
    src = plain_pdf(tmp_path / "one.pdf")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "sign",
            str(src),
            "-o",
            str(tmp_path / "one-s.pdf"),
            "--profile",
            "personal",
            "--signer",
            "leader1",
            "--level",
            "B-LT",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert_pdfsig_ok(tmp_path / "one-s.pdf", nss_db, regular=1)

    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(6):
        plain_pdf(batch / f"doc{i}.pdf", title=f"Van ban {i}")
    (batch / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a pdf\n")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "sign",
            str(batch),
            "-o",
            str(tmp_path / "signed"),
            "--batch",
            "--profile",
            "copy",
            "--signer",
            "agency",
            "--level",
            "B-T",
            "--jobs",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    assert "signed 6 of 7" in res.stderr
    assert "FAILED broken.pdf" in res.stderr
    signed = sorted(p.name for p in (tmp_path / "signed").iterdir())
    assert signed == [f"doc{i}.pdf" for i in range(6)]
    for name in signed:
        assert_pdfsig_ok(tmp_path / "signed" / name, nss_db, regular=1)


def test_template_cms_fast_path(
    dev_pki: Any, services: TrustServices, nss_db: str, tmp_path: Path
) -> None:
    """B-B signatures come from a per-key CMS template with the digest and signature value
    spliced in; each must still be a correct, distinct signature."""
    eng = engine(dev_pki, "agency", services)
    outs = []
    for i in range(3):
        out = tmp_path / f"t{i}.pdf"
        eng.sign(
            plain_pdf(tmp_path / f"in{i}.pdf", title=f"Van ban {i}"),
            out,
            opts(dev_pki, Profile.COPY, Level.B_B),
        )
        outs.append(out)
    assert eng.key.signer()._tmpl is not None  # type: ignore[attr-defined]
    contents = set()
    for out in outs:
        assert_pdfsig_ok(out, nss_db, regular=1)
        assert openssl_verify_all(out, dev_pki.root_cert, tmp_path) == [
            "CMS Verification successful"
        ]
        with pikepdf.open(out) as pdf:
            contents.add(bytes(pdf.Root.AcroForm.Fields[0].V.Contents))
    assert len(contents) == 3


def test_batch_signatures_reuse_revocation_answers_not_timestamps(tmp_path: Path) -> None:
    """With a shared cache, the second and third B-LT signatures with one key fetch no OCSP
    response or CRL again and no TSA chain, yet each gets its own timestamp and validates
    offline; without it every signature fetches everything; after a failure nothing
    remembered is reused."""
    from signing import devservices
    from signing.fetching import SharedFetchers

    pki, responder = devservices.start_fresh(tmp_path / "pki")
    try:
        src = plain_pdf(tmp_path / "in.pdf")

        def sign_three(services: TrustServices, tag: str) -> list[str]:
            before = len(responder.seen)
            eng = engine(pki, "agency", services)
            serials = set()
            for i in range(3):
                out = tmp_path / f"{tag}{i}.pdf"
                eng.sign(src, out, opts(pki, Profile.COPY, Level.B_LT))
                (status,) = validate_all(out, services, fetch=False)
                assert status.bottom_line, status.pretty_print_details()
                with open(out, "rb") as f:
                    (sig,) = PdfFileReader(f).embedded_regular_signatures
                    (token,) = [
                        a["values"][0]
                        for a in sig.signer_info["unsigned_attrs"]
                        if a["type"].native == "signature_time_stamp_token"
                    ]
                    tst = token["content"]["encap_content_info"]["content"].parsed
                    serials.add(tst["serial_number"].native)
            assert len(serials) == 3  # a timestamp of its own for every signature
            return responder.seen[before:]

        root = (root_of(pki),)
        shared = SharedFetchers(ttl=600)
        cached = sign_three(TrustServices(pki.tsa_url, root, shared=shared), "c")
        fresh = sign_three(TrustServices(pki.tsa_url, root), "f")

        def count(paths: list[str], part: str) -> int:
            return sum(part in p for p in paths)

        revocation = ("/ocsp/", "/crls/")
        assert sum(count(cached, r) for r in revocation) >= 1
        assert sum(count(fresh, r) for r in revocation) == 3 * sum(
            count(cached, r) for r in revocation
        )
        # one TSA request to learn its chain, then one timestamp per signature
        assert count(cached, "/tsa/") == 1 + 3
        assert count(fresh, "/tsa/") > count(cached, "/tsa/")

        # a failure forgets: with the responder gone signing fails (503-class), and once it
        # is back the next signature fetches again instead of reusing the cached set
        responder.stop()
        eng = engine(pki, "agency", TrustServices(pki.tsa_url, root, shared=shared))
        from signing.engine import TrustServiceError

        with pytest.raises(TrustServiceError):
            eng.sign(src, tmp_path / "down.pdf", opts(pki, Profile.COPY, Level.B_LT))
        assert not (tmp_path / "down.pdf").exists()
        responder = devservices.start(pki)
        eng.sign(src, tmp_path / "back.pdf", opts(pki, Profile.COPY, Level.B_LT))
        assert sum(count(responder.seen, r) for r in revocation) >= 1
    finally:
        responder.stop()
