"""Signing keys: PKCS#12 files, PKCS#11 tokens and HSMs.

A :class:`KeyHandle` is built once per key and reused: the key and its chain are loaded
once per process (PKCS#12) or once per worker thread (PKCS#11: one session per thread,
never shared across threads).

Private keys held in process are narrowed once, at load, to the signing-capable types
(:data:`SigningKey`: RSA, ECDSA, Ed25519, Ed448, DSA); any other key type is refused there
with a :class:`KeyError_` naming it, never discovered at the first signature.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import Signer


class KeyError_(Exception):
    """A key cannot be loaded or used; the message says why."""


SigningKey: TypeAlias = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
"""The private key types that can produce a CMS signature."""

_SIGNING_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
)


def signing_key(key: object) -> SigningKey:
    """``key`` narrowed to a signing-capable private key, or a clear :class:`KeyError_`."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ed448.Ed448PrivateKey):
        return key
    if isinstance(key, dsa.DSAPrivateKey):
        return key
    allowed = ", ".join(t.__name__ for t in _SIGNING_KEY_TYPES)
    raise KeyError_(f"{type(key).__name__} cannot sign documents (usable key types: {allowed})")


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
    _signer: SimpleSigner = field(repr=False)

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

        loaded = serialization.load_der_private_key(self.signing_key.dump(), None)
        self._key: SigningKey = signing_key(loaded)
        self._tmpl_built = False
        self._tmpl: tuple[bytes, bytes, bytes, bytes] | None = None
        self._placeholder_signature: bytes | None = None

    # -- a template CMS for the common case (PAdES B-B, SHA-256, RSA PKCS#1 v1.5) --------

    _SAFE_ATTRS = frozenset({"content_type", "message_digest", "signing_certificate_v2"})

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> Any:
        """Sign from a CMS template built once per key (by pyHanko itself), splicing in
        the document digest and the signature value: pyHanko otherwise rebuilds and
        re-encodes the whole SignedData structure for every document. Anything beyond
        the plain case (timestamps, extra attributes, non-RSA keys) goes to pyHanko."""
        plain = (
            not dry_run
            and use_pades
            and timestamper is None
            and is_pdf_sig
            and encap_content_info is None
            and digest_algorithm == "sha256"
            and len(data_digest) == 32
            and (
                signed_attr_settings is None
                or (
                    signed_attr_settings.cades_signed_attrs is None
                    and signed_attr_settings.adobe_revinfo_attr is None
                )
            )
        )
        template = await self._template() if plain else None
        key = self._key
        if template is None or not isinstance(key, rsa.RSAPrivateKey):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        from asn1crypto import cms
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        attrs_tmpl, full_tmpl, digest_ph, sig_ph = template
        attrs = attrs_tmpl.replace(digest_ph, data_digest)
        signature = key.sign(b"\x31" + attrs[1:], padding.PKCS1v15(), hashes.SHA256())
        full = full_tmpl.replace(digest_ph, data_digest).replace(sig_ph, signature)
        return cms.ContentInfo.load(full)

    async def _template(self) -> tuple[bytes, bytes, bytes, bytes] | None:
        if self._tmpl_built:
            return self._tmpl
        import secrets

        self._tmpl_built = True
        self._tmpl = None
        if not isinstance(self._key, rsa.RSAPrivateKey):
            return None
        digest_ph = secrets.token_bytes(32)
        sig_ph = secrets.token_bytes((self._key.key_size + 7) // 8)
        self._placeholder_signature = sig_ph
        try:
            ci = await super().async_sign(digest_ph, "sha256", use_pades=True)
        finally:
            self._placeholder_signature = None
        si = ci["content"]["signer_infos"][0]
        names = {a["type"].native for a in si["signed_attrs"]}
        if si["signature_algorithm"]["algorithm"].native not in ("rsassa_pkcs1v15", "sha256_rsa"):
            return None
        if not names <= self._SAFE_ATTRS:
            return None
        attrs = si["signed_attrs"].dump()
        full = ci.dump()
        if full.count(digest_ph) != 1 or full.count(sig_ph) != 1 or attrs.count(digest_ph) != 1:
            return None
        self._tmpl = (attrs, full, digest_ph, sig_ph)
        return self._tmpl

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if self._placeholder_signature:
            return self._placeholder_signature
        if dry_run:
            return bytes(self._max_signature_size())
        return self.sign_raw(data, digest_algorithm)

    def _max_signature_size(self) -> int:
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return (key.key_size + 7) // 8
        if isinstance(key, ec.EllipticCurvePrivateKey):
            n = (key.curve.key_size + 7) // 8
            return 2 * n + 9  # DER SEQUENCE of two INTEGERs, worst case
        return 512

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import padding
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
        raise KeyError_(
            f"{path}: cannot open the PKCS#12 file (wrong password or not a PKCS#12 file)"
        )
    return ReusableKeySigner(
        signing_cert=signer.signing_cert,
        signing_key=signer.signing_key,
        cert_registry=signer.cert_registry,
    )


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

    def __init__(
        self,
        lib: str,
        token_label: str,
        key_label: str,
        pin: str,
        cert_label: str | None = None,
        parallel: bool = False,
    ) -> None:
        """``parallel=False`` (the default) lets one signature operation reach the token
        at a time — what USB tokens do anyway, and what SoftHSM2 needs: concurrent C_Sign
        calls from several sessions were seen to fail with CKR_GENERAL_ERROR. Sessions
        stay one per thread either way. Set ``parallel=True`` for HSMs that sign
        concurrently."""
        self.parallel = parallel
        self._sign_lock = threading.Lock()
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
                        self.lib,
                        token_criteria=TokenCriteria(label=self.token_label),
                        user_pin=None if self._sessions else self._pin,
                    )
                except Exception as exc:  # every failure becomes one clear message
                    raise KeyError_(
                        f"PKCS#11 token {self.token_label!r} via {self.lib}: "
                        f"{type(exc).__name__} {exc}"
                    ) from exc
                self._sessions.append(session)
            self._local.session = session
        return session

    def signer(self) -> Signer:
        cached: Signer | None = getattr(self._local, "signer", None)
        if cached is not None:
            return cached
        from pyhanko.sign import pkcs11 as p11

        session = self._session()
        # Object searches are serialised: SoftHSM2 (through python-pkcs11) was seen to
        # spin forever when several sessions searched the token at once. Signing itself
        # runs in parallel, one session per thread.
        lock = None if self.parallel else self._sign_lock

        class _Signer(p11.PKCS11Signer):
            async def async_sign_raw(
                self, data: bytes, digest_algorithm: str, dry_run: bool = False
            ) -> bytes:
                if lock is None or dry_run:
                    return await super().async_sign_raw(data, digest_algorithm, dry_run)
                with lock:  # each signing thread runs its own event loop: no deadlock
                    return await super().async_sign_raw(data, digest_algorithm, dry_run)

        with self._lock:
            # other_certs_to_pull=None: take the whole chain stored on the token
            signer = _Signer(
                session,
                cert_label=self.cert_label,
                key_label=self.key_label,
                other_certs_to_pull=None,
            )
            signer._load_objects()  # certificate, chain and key handle, now, under the lock
        self._local.signer = signer
        return signer

    def close(self) -> None:
        with self._lock:
            for s in self._sessions:
                with contextlib.suppress(Exception):
                    s.close()
            self._sessions.clear()
