"""Signing with a key that lives on a PKCS#11 token (SoftHSM2 standing in for an HSM or a
leader's USB token): the private key never leaves the token."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from signing import devpki
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import KeyError_, Pkcs11Key
from tests.support.pdfcheck import openssl_verify_all, pdfsig
from tests.support.pdfs import plain_pdf
from tests.test_signing import root_of

LIB = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"
TOKEN = "edms-test-hsm"

pytestmark = pytest.mark.skipif(
    not (Path(LIB).exists() and shutil.which("softhsm2-util")),
    reason="SoftHSM2 is not installed (Debian package softhsm2; `make setup` installs it)",
)


@pytest.fixture(scope="module")
def token(dev_pki: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A SoftHSM2 token holding leader1's key (imported once) and its certificate chain."""
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            "13579",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    key, cert, chain = pkcs12.load_key_and_certificates(
        dev_pki.p12("leader1").read_bytes(), devpki.DEV_PASSWORD
    )
    assert key is not None and cert is not None
    pem = base / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    subprocess.run(
        [
            "softhsm2-util",
            "--import",
            str(pem),
            "--token",
            TOKEN,
            "--label",
            "leader1",
            "--id",
            "01",
            "--pin",
            PIN,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    pem.unlink()  # the key now exists only inside the token
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    lib = pkcs11.lib(LIB)
    with lib.get_token(token_label=TOKEN).open(user_pin=PIN, rw=True) as session:
        for label, c, ident in [
            ("leader1", cert, b"\x01"),
            *[(f"ca{i}", ca, bytes([0x10 + i])) for i, ca in enumerate(chain or [])],
        ]:
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: label,
                    Attribute.ID: ident,
                    Attribute.VALUE: c.public_bytes(serialization.Encoding.DER),
                    Attribute.SUBJECT: c.subject.public_bytes(),
                    Attribute.ISSUER: c.issuer.public_bytes(),
                }
            )
    return {"SOFTHSM2_CONF": str(conf)}


def test_sign_with_token_key(
    dev_pki: Any, token: dict[str, str], nss_db: str, tmp_path: Path
) -> None:
    key = Pkcs11Key(LIB, TOKEN, "leader1", PIN)
    assert key.info.common_name == "Nguyễn Văn Thành"
    services = TrustServices(tsa_url=dev_pki.tsa_url, trust_roots=(root_of(dev_pki),))
    engine = SigningEngine(key, services)
    outs: list[Path] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            out = tmp_path / f"hsm-{i}.pdf"
            engine.sign(
                plain_pdf(tmp_path / f"in-{i}.pdf"),
                out,
                SignOptions(
                    Profile.PERSONAL, Level.B_LT, signature_image=dev_pki.signature_image("leader1")
                ),
            )
            outs.append(out)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(map(id, key._sessions))) == 1 + 3  # the loading thread + one per worker
    for out in outs:
        (entry,) = pdfsig(out, nss_db)
        assert entry.valid == "Signature is Valid." and entry.total
        assert entry.certificate == "Certificate is Trusted."
        assert openssl_verify_all(out, dev_pki.root_cert, tmp_path) == [
            "CMS Verification successful"
        ]
    key.close()


def test_wrong_pin_is_a_clear_error(token: dict[str, str]) -> None:
    with pytest.raises(KeyError_, match=TOKEN):
        Pkcs11Key(LIB, TOKEN, "leader1", "000000")


def test_cli_signs_with_token(
    dev_pki: Any, token: dict[str, str], signing_env: dict[str, str], nss_db: str, tmp_path: Path
) -> None:
    src = plain_pdf(tmp_path / "in.pdf")
    out = tmp_path / "out.pdf"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "sign",
            str(src),
            "-o",
            str(out),
            "--profile",
            "personal",
            "--level",
            "B-T",
            "--pkcs11-lib",
            LIB,
            "--pkcs11-token",
            TOKEN,
            "--pkcs11-key",
            "leader1",
            "--image",
            str(dev_pki.signature_image("leader1")),
        ],
        env={**os.environ, **signing_env, **token, "EDMS_PKCS11_PIN": PIN},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    (entry,) = pdfsig(out, nss_db)
    assert entry.valid == "Signature is Valid." and entry.certificate == "Certificate is Trusted."
