"""Remote signing with a key only the client holds (the leader's USB token)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from signing import devpki
from signing.engine import Level, Profile, SigningError, SignOptions, TrustServices
from signing.remote import RemoteSigning
from tests.support.pdfcheck import openssl_verify_all, pdfsig
from tests.support.pdfs import plain_pdf
from tests.test_signing import root_of


class Token:
    """The client side: a private key the server never sees."""

    def __init__(self, pki: Any, label: str) -> None:
        key, cert, chain = pkcs12.load_key_and_certificates(
            pki.p12(label).read_bytes(), devpki.DEV_PASSWORD
        )
        self._key = key
        self.chain = [
            x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in [cert, *(chain or [])]
        ]

    def sign_digest(self, digest: bytes) -> bytes:
        return self._key.sign(
            digest,
            padding.PKCS1v15(),  # type: ignore[union-attr]
            utils.Prehashed(hashes.SHA256()),
        )


@pytest.fixture
def remote(dev_pki: Any, tmp_path: Path) -> RemoteSigning:
    return RemoteSigning(
        tmp_path / "sessions",
        TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),)),
    )


@pytest.mark.parametrize("level", [Level.B_T, Level.B_LTA])
def test_prepare_sign_on_client_finalize(
    dev_pki: Any, remote: RemoteSigning, nss_db: str, tmp_path: Path, level: Level
) -> None:
    token = Token(dev_pki, "leader1")
    opts = SignOptions(
        Profile.PERSONAL,
        level,
        authority="TM. ỦY BAN NHÂN DÂN",
        signature_image=dev_pki.signature_image("leader1"),
    )
    prepared = remote.prepare(plain_pdf(tmp_path / "in.pdf"), token.chain, opts)
    assert prepared.signature_algorithm == "rsassa_pkcs1v15"
    assert len(prepared.digest) == 32

    out = tmp_path / "out.pdf"
    result = remote.finalize(prepared.session_id, token.sign_digest(prepared.digest), out)
    assert result.level is level
    entries = pdfsig(out, nss_db)
    regular = [e for e in entries if e.signature_type != "unknown"]
    assert len(regular) == 1 and regular[0].valid == "Signature is Valid."
    assert regular[0].certificate == "Certificate is Trusted."
    assert entries[-1].total
    assert openssl_verify_all(out, dev_pki.root_cert, tmp_path) == ["CMS Verification successful"]
    assert not (tmp_path / "sessions" / prepared.session_id).exists()


def test_wrong_or_foreign_signature_is_refused(
    dev_pki: Any, remote: RemoteSigning, tmp_path: Path
) -> None:
    token = Token(dev_pki, "leader1")
    other = Token(dev_pki, "leader2")
    prepared = remote.prepare(
        plain_pdf(tmp_path / "in.pdf"),
        token.chain,
        SignOptions(
            Profile.PERSONAL, Level.B_B, signature_image=dev_pki.signature_image("leader1")
        ),
    )
    out = tmp_path / "out.pdf"
    with pytest.raises(SigningError, match="not made by the key"):
        remote.finalize(prepared.session_id, other.sign_digest(prepared.digest), out)
    with pytest.raises(SigningError, match="not made by the key"):
        remote.finalize(prepared.session_id, b"\x00" * 256, out)
    assert not out.exists()
    # the session survives a bad attempt; the right signature still completes it
    remote.finalize(prepared.session_id, token.sign_digest(prepared.digest), out)
    assert out.exists()
    with pytest.raises(SigningError, match="unknown or expired"):
        remote.finalize(prepared.session_id, token.sign_digest(prepared.digest), out)
    with pytest.raises(SigningError, match="malformed"):
        remote.finalize("../../etc", b"x", out)


def test_expired_session_is_refused(dev_pki: Any, tmp_path: Path) -> None:
    remote = RemoteSigning(
        tmp_path / "s",
        TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),)),
        ttl=timedelta(seconds=-1),
    )
    token = Token(dev_pki, "leader1")
    prepared = remote.prepare(
        plain_pdf(tmp_path / "in.pdf"),
        token.chain,
        SignOptions(
            Profile.PERSONAL, Level.B_B, signature_image=dev_pki.signature_image("leader1")
        ),
    )
    with pytest.raises(SigningError, match="expired"):
        remote.finalize(
            prepared.session_id, token.sign_digest(prepared.digest), tmp_path / "out.pdf"
        )
    assert not (tmp_path / "s" / prepared.session_id).exists()
