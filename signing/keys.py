"""Signing keys: PKCS#12 files, PKCS#11 tokens and HSMs.

A :class:`KeyHandle` is built once per key and reused: the key and its chain are loaded
once per process (PKCS#12) or once per worker thread (PKCS#11: one session per thread,
never shared across threads).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from asn1crypto import x509
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import Signer


class KeyError_(Exception):
    """A key cannot be loaded or used; the message says why."""


@dataclass(frozen=True)
class SignerInfo:
    """Who signs, as shown on the document (read from the certificate by default)."""

    common_name: str
    organization: str
    title: str
    serial: int


def describe(cert: x509.Certificate) -> SignerInfo:
    subject = cert.subject.native
    return SignerInfo(
        common_name=str(subject.get("common_name", "")),
        organization=str(subject.get("organization_name", "")),
        title=str(subject.get("title", "")),
        serial=int(cert.serial_number),
    )


class KeyHandle:
    """Something that yields a pyHanko :class:`Signer` for the calling thread."""

    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def signer(self) -> Signer:
        raise NotImplementedError

    @property
    def info(self) -> SignerInfo:
        return describe(self.cert)


@dataclass
class Pkcs12Key(KeyHandle):
    path: Path
    _signer: SimpleSigner = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.cert = self._signer.signing_cert
        self.chain = tuple(self._signer.cert_registry)

    def signer(self) -> Signer:
        return self._signer


class ReusableKeySigner(SimpleSigner):
    """pyHanko's SimpleSigner, minus two per-signature costs.

    * SimpleSigner re-parses its private key (with RSA consistency checks, ~40 ms for a
      2048-bit key here) on every signature; this one parses it once.
    * pyHanko sizes the signature container with a dry run; SimpleSigner then really signs
      twice. Here a dry run returns placeholder bytes of the exact signature length.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from cryptography.hazmat.primitives import serialization

        self._key = serialization.load_der_private_key(self.signing_key.dump(), None)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._max_signature_size())
        return self.sign_raw(data, digest_algorithm)

    def _max_signature_size(self) -> int:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return (key.key_size + 7) // 8
        if isinstance(key, ec.EllipticCurvePrivateKey):
            n = (key.curve.key_size + 7) // 8
            return 2 * n + 9  # DER SEQUENCE of two INTEGERs, worst case
        return 512

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        from pyhanko.sign.general import get_pyca_cryptography_hash

        mech = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            name = mech.signature_algo
        except ValueError:
            name = mech["algorithm"].native
        key = self._key
        h = get_pyca_cryptography_hash(digest_algorithm)
        if name == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), h)
        if name == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(h))
        return super().sign_raw(data, digest_algorithm)  # PSS, EdDSA, ...


@lru_cache(maxsize=64)
def _load_p12(path: str, mtime_ns: int, passphrase: bytes | None) -> SimpleSigner:
    signer = SimpleSigner.load_pkcs12(path, passphrase=passphrase)
    if signer is None:
        raise KeyError_(f"{path}: cannot open the PKCS#12 file (wrong password or not a "
                        "PKCS#12 file)")
    return ReusableKeySigner(signing_cert=signer.signing_cert,
                             signing_key=signer.signing_key,
                             cert_registry=signer.cert_registry)


def load_pkcs12(path: str | Path, passphrase: bytes | None) -> Pkcs12Key:
    """Load a PKCS#12 file once per process (reloaded only if the file changes)."""
    p = Path(path)
    if not p.is_file():
        raise KeyError_(f"{p}: no such PKCS#12 file")
    try:
        signer = _load_p12(str(p.resolve()), p.stat().st_mtime_ns, passphrase)
    except KeyError_:
        raise
    except Exception as exc:
        raise KeyError_(f"{p}: cannot open the PKCS#12 file: {exc}") from exc
    return Pkcs12Key(p, signer)


class Pkcs11Key(KeyHandle):
    """A key on a PKCS#11 token (a leader's USB token via a local agent, or the agency's
    HSM). Each thread gets its own session; the certificate is read once."""

    def __init__(self, lib: str, token_label: str, key_label: str, pin: str,
                 cert_label: str | None = None) -> None:
        self.lib = lib
        self.token_label = token_label
        self.key_label = key_label
        self.cert_label = cert_label or key_label
        self._pin = pin
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()
        signer = self.signer()
        self.cert = signer.signing_cert
        self.chain = tuple(signer.cert_registry)

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            from pyhanko.config.pkcs11 import TokenCriteria
            from pyhanko.sign import pkcs11 as p11

            # PKCS#11 logins are per application, not per session: the first session logs
            # in, the others of this process share that login.
            with self._lock:
                try:
                    session = p11.open_pkcs11_session(
                        self.lib, token_criteria=TokenCriteria(label=self.token_label),
                        user_pin=None if self._sessions else self._pin)
                except Exception as exc:  # every failure becomes one clear message
                    raise KeyError_(f"PKCS#11 token {self.token_label!r} via {self.lib}: "
                                    f"{type(exc).__name__} {exc}") from exc
                self._sessions.append(session)
            self._local.session = session
        return session

    def signer(self) -> Signer:
        cached = getattr(self._local, "signer", None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        from pyhanko.sign import pkcs11 as p11

        # other_certs_to_pull=None: take the whole chain stored on the token
        signer = p11.PKCS11Signer(self._session(), cert_label=self.cert_label,
                                  key_label=self.key_label, other_certs_to_pull=None)
        self._local.signer = signer
        return signer

    def close(self) -> None:
        with self._lock:
            for s in self._sessions:
                with contextlib.suppress(Exception):
                    s.close()
            self._sessions.clear()
