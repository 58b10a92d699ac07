"""A signature as Vietnamese government documents carry them — the signer's certificate
alone in a BER-encoded CMS, SHA-1, a certificate that has expired since — validated with
the installation's default trust (the shipped Vietnamese regimes) plus a test root and its
intermediate added the way an administrator adds them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edms import trust
from edms.errors import Forbidden
from edms.signatures import validate_sandboxed
from edms.system import System
from signing.validation import ber
from tests.support.pdfs import plain_pdf
from tests.support.vnchain import make_chain, sign_sha1


def test_expired_sha1_ber_signature_is_judged_at_its_proven_time(
    system: System, tmp_path: Path
) -> None:
    chain = make_chain()
    # default trust: both shipped regimes, their intermediates as the pool
    shipped = trust.anchors(system.settings)
    assert {a.regime for a in shipped if a.role == "root"} == {"official", "public"}
    assert any(a.confidence == "medium" for a in shipped)
    trust.add(
        system, trust.CONSOLE, chain.root_pem, role="root", regime="official", note="thử nghiệm"
    )
    trust.add(system, trust.CONSOLE, chain.intermediate_pem, role="intermediate", regime="official")

    stamped = tmp_path / "stamped.pdf"
    sign_sha1(
        chain,
        plain_pdf(tmp_path / "a.pdf"),
        stamped,
        timestamp_at=datetime(2018, 6, 1, 9, 0, tzinfo=UTC),
    )
    raw = stamped.read_bytes()
    assert b"/Contents <3080" in raw  # BER: indefinite length from the outermost value

    report = validate_sandboxed(system.settings, stamped)
    sig = report.signatures[0]
    assert report.verdict == "valid" and report.valid, report
    assert sig.trusted and sig.integrity and sig.regime == "official"
    assert sig.weak_algorithms == ["SHA-1"]
    assert sig.proof_of_existence is not None and sig.proof_of_existence.startswith("2018-06-01")
    assert sig.proof_of_existence.endswith("+07:00")
    assert any("thuật toán yếu" in m for m in sig.messages)

    plain = tmp_path / "plain.pdf"
    sign_sha1(chain, plain_pdf(tmp_path / "b.pdf"), plain, timestamp_at=None)
    report = validate_sandboxed(system.settings, plain)
    sig = report.signatures[0]
    assert report.verdict == "not_valid" and not sig.trusted
    assert not report.changed_after_signing and sig.integrity
    assert sig.sub_indication in (
        "OUT_OF_BOUNDS_NO_POE",
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
        "EXPIRED",
        "CRYPTO_CONSTRAINTS_FAILURE",
    )
    assert sig.reason and "Error" not in sig.reason

    # disabling the anchor takes it away (and is audited)
    fp = next(
        a.fingerprint
        for a in trust.anchors(system.settings)
        if a.origin == "added" and a.role == "root"
    )
    trust.set_enabled(system, trust.CONSOLE, fp, False, note="thu hồi thử")
    assert validate_sandboxed(system.settings, stamped).valid is False


def test_ber_normalisation_keeps_definite_values_byte_for_byte() -> None:
    from tests.support.vnchain import to_ber

    der = bytes.fromhex("3009020101a0040402abcd")  # SEQ { INT 1, [0] { OCTET abcd } }
    assert ber.normalise(der) == der
    assert ber.normalise(to_ber(der) + bytes(10)) == der
    # a constructed OCTET STRING becomes primitive
    chunked = bytes.fromhex("24800401610401620000")
    assert ber.normalise(chunked) == bytes.fromhex("04026162")
    for bad in (b"", b"\x30\x80\x02\x01", b"\x30\x05\x02\x01"):
        try:
            ber.normalise(bad)
        except ber.BerError:
            continue
        raise AssertionError(bad)


def test_missing_trust_material_is_said_not_silent(tmp_path: Path) -> None:
    from edms.config import Settings

    ok = Settings.from_env({"EDMS_DATA_DIR": str(tmp_path)})
    assert trust.missing_material(ok) is None and trust.anchors(ok)
    gone = Settings.from_env(
        {"EDMS_DATA_DIR": str(tmp_path), "EDMS_TRUST_VN_DIR": str(tmp_path / "nowhere")}
    )
    assert "EDMS_TRUST_VN_DIR" in (trust.missing_material(gone) or "")
    assert trust.anchors(gone) == []
    left = trust.effective(gone)  # at most the development root, in development mode
    assert set(left.regimes.values()) <= {"development"} and not left.pool


def test_only_an_installation_admin_changes_the_trust(system: System) -> None:
    """The rule is the domain's (web, API and CLI share it): an unknown or merely agency
    administrator is refused before anything is written; the console may."""
    chain = make_chain()
    before = trust.anchors(system.settings)
    for actor in ("admin", "someone"):
        with pytest.raises(Forbidden):
            trust.add(system, actor, chain.root_pem, role="root", regime="official")
        with pytest.raises(Forbidden):
            trust.set_enabled(system, actor, before[0].fingerprint, False)
    assert trust.anchors(system.settings) == before
    assert trust.may_change(system, trust.CONSOLE)
