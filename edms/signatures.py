"""Signing as the System does it: which key, which images, which TSA and trust roots.

This module wires configuration (``EDMS_TSA_URL``, ``EDMS_TRUST_*``) and, in development,
the dev PKI, to the :mod:`signing` engine. The CLI, the API and the workers all sign
through :func:`engine_for` so every entry point uses the same keys and services.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509

from signing import devpki
from signing.engine import Profile, SigningEngine, SignOptions, TrustServices
from signing.fetching import SharedFetchers
from signing.keys import KeyHandle, Pkcs11Key, load_pkcs12
from signing.trust import TrustSet
from signing.validation import Report

from .config import Settings
from .errors import ClientError, NotFound


class SignerNotFound(NotFound):
    status = 404
    title = "Signer not found"
    type_slug = "signer-not-found"


_parsed: tuple[object, TrustSet] | None = None


def trust_set(settings: Settings) -> TrustSet:
    """The installation's trust (edms.trust): roots, pool, regimes — parsed once per
    version of the cached specification, not at every signature."""
    global _parsed
    from .trust import effective_spec

    spec = effective_spec(settings)
    hit = _parsed
    if hit is not None and hit[0] is spec:
        return hit[1]
    parsed = TrustSet.from_json(spec)
    _parsed = (spec, parsed)
    return parsed


def trust_roots(settings: Settings) -> tuple[x509.Certificate, ...]:
    return tuple(trust_set(settings).roots)


def validate_sandboxed(settings: Settings, path: str | os.PathLike[str]) -> Report:
    """Validate a file from outside (received, uploaded, to be checked) in this process's
    long-lived sandboxed validator, with the installation's trust and fetching policy."""
    from signing.sandbox import shared_pool

    from .trust import effective_spec

    return shared_pool(effective_spec(settings), settings.revocation_fetching).validate(path)


_shared: dict[tuple[str | None, int], SharedFetchers] = {}
_shared_lock = threading.Lock()


def shared_fetchers(settings: Settings, tsa: str | None) -> SharedFetchers | None:
    """One cache of revocation answers per process and TSA, kept for
    ``EDMS_REVOCATION_CACHE_SECONDS`` (0: fetch for every signature)."""
    ttl = settings.revocation_cache_seconds
    if ttl <= 0:
        return None
    with _shared_lock:
        shared = _shared.get((tsa, ttl))
        if shared is None:
            shared = _shared[(tsa, ttl)] = SharedFetchers(ttl)
        return shared


def trust_services(settings: Settings) -> TrustServices:
    tsa = settings.tsa_url
    if tsa is None and settings.is_development and devpki.exists(settings.pki_dir):
        tsa = devpki.load(settings.pki_dir).tsa_url
    return TrustServices(
        tsa_url=tsa,
        trust_roots=trust_roots(settings),
        allow_fetching=settings.revocation_fetching,
        shared=shared_fetchers(settings, tsa),
    )


@dataclass(frozen=True)
class SignerProfile:
    """A key plus how its holder appears on documents."""

    key: KeyHandle
    authority: str = ""
    image: Path | None = None  # signature image (personal) or seal image (organization)


def dev_signer(settings: Settings, label: str) -> SignerProfile:
    if not devpki.exists(settings.pki_dir):
        raise SignerNotFound(f"no development PKI in {settings.pki_dir}: run `edms dev-pki`")
    pki = devpki.load(settings.pki_dir)
    if label not in pki.signers:
        raise SignerNotFound(
            f"no signer {label!r} in the development PKI (have: {', '.join(pki.signers)})"
        )
    info = pki.signers[label]
    return SignerProfile(
        load_pkcs12(pki.p12(label), devpki.DEV_PASSWORD),
        info.get("authority", ""),
        pki.directory / info["image"],
    )


def p12_signer(
    path: Path, password_env: str | None, image: Path | None, authority: str = ""
) -> SignerProfile:
    password = os.environ.get(password_env, "").encode() if password_env else None
    return SignerProfile(load_pkcs12(path, password), authority, image)


def pkcs11_signer(
    lib: str, token: str, key_label: str, pin_env: str, image: Path | None, authority: str = ""
) -> SignerProfile:
    pin = os.environ.get(pin_env)
    if pin is None:
        raise ClientError(f"the token PIN is read from ${pin_env}, which is not set")
    return SignerProfile(Pkcs11Key(lib, token, key_label, pin), authority, image)


@dataclass(frozen=True)
class SignerRef:
    """How to find a signer, in a form that crosses process boundaries (batch workers)."""

    label: str | None = None  # a development PKI signer
    p12: Path | None = None
    p12_password_env: str | None = None
    pkcs11_lib: str | None = None
    pkcs11_token: str | None = None
    pkcs11_key: str | None = None
    pkcs11_pin_env: str = "EDMS_PKCS11_PIN"
    image: Path | None = None
    authority: str = ""


def resolve(settings: Settings, ref: SignerRef) -> SignerProfile:
    if ref.pkcs11_lib:
        if not (ref.pkcs11_token and ref.pkcs11_key):
            raise ClientError("a PKCS#11 signer needs --pkcs11-token and --pkcs11-key")
        return pkcs11_signer(
            ref.pkcs11_lib,
            ref.pkcs11_token,
            ref.pkcs11_key,
            ref.pkcs11_pin_env,
            ref.image,
            ref.authority,
        )
    if ref.p12 is not None:
        return p12_signer(ref.p12, ref.p12_password_env, ref.image, ref.authority)
    if ref.label:
        found = dev_signer(settings, ref.label)
        return SignerProfile(found.key, ref.authority or found.authority, ref.image or found.image)
    raise ClientError("name a signer: --signer LABEL, --p12 FILE or --pkcs11-lib ...")


def engine_for(settings: Settings, signer: SignerProfile) -> SigningEngine:
    return SigningEngine(signer.key, trust_services(settings))


def options_for(signer: SignerProfile, profile: Profile, **kw: object) -> SignOptions:
    """SignOptions with the signer's image and authority line filled in."""
    image = kw.pop("image", None) or signer.image
    if profile is Profile.PERSONAL:
        kw.setdefault("signature_image", image)
        if not kw.get("authority"):
            kw["authority"] = signer.authority
    elif profile is Profile.ORGANIZATION:
        kw.setdefault("seal_image", image)
    if profile is not Profile.PERSONAL:
        kw.pop("authority", None)
    return SignOptions(profile=profile, **kw)  # type: ignore[arg-type]
