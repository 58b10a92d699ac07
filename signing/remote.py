"""Remote signing: the key stays on the leader's USB token, the server never sees it.

1. :meth:`RemoteSigning.prepare` takes the PDF, the leader's certificate chain and the
   signing options; it lays out the signature (field, Decree-30 appearance), computes the
   document digest and the CMS signed attributes, and returns what the client must sign:
   the DER of the signed attributes, its SHA-256 digest and the algorithm, with a session
   id. The prepared document waits in the session directory.
2. The client signs the digest with its token (RSA PKCS#1 v1.5 or ECDSA over SHA-256).
3. :meth:`RemoteSigning.finalize` checks the signature value against the certificate it
   was prepared for (a wrong or foreign signature is refused), adds the signature
   timestamp for B-T and above, embeds the CMS, and for B-LT/B-LTA adds the validation data
   and document timestamp (:func:`signing.ltv.extend`).

Sessions expire (10 minutes by default); an expired or unknown session is refused and its
files are removed.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.signers import ExternalSigner
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .engine import (
    Level,
    Profile,
    SigningEngine,
    SigningError,
    SignOptions,
    SignResult,
    TrustServices,
    atomic_output,
    open_writer,
)
from .keys import KeyHandle

_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class _CertificateOnly(KeyHandle):
    """The public half of a client-held key: enough to lay out and prepare a signature."""

    def __init__(self, chain: list[x509.Certificate]) -> None:
        if not chain:
            raise SigningError("remote signing needs the signer's certificate")
        self.cert = chain[0]
        self.chain = tuple(chain)

    def external(self, signature_value: bytes | None = None) -> ExternalSigner:
        key = self.cert.public_key
        placeholder = (
            512
            if key.algorithm == "rsa" and key.bit_size > 2048
            else (256 if key.algorithm == "rsa" else 80)
        )
        return ExternalSigner(
            signing_cert=self.cert,
            cert_registry=SimpleCertificateStore.from_certs(list(self.chain)),
            signature_value=signature_value if signature_value is not None else placeholder,
        )


@dataclass(frozen=True)
class Prepared:
    session_id: str
    signed_attributes: bytes  # DER of the CMS SignedAttributes (SET OF)
    digest: bytes  # SHA-256 of signed_attributes: what a token signs
    digest_algorithm: str
    signature_algorithm: str  # "rsassa_pkcs1v15" | "ecdsa"
    expires_at: datetime
    field_name: str


class RemoteSigning:
    def __init__(
        self, directory: str | Path, services: TrustServices, ttl: timedelta = timedelta(minutes=10)
    ) -> None:
        self.directory = Path(directory)
        self.services = services
        self.ttl = ttl

    def _dir(self, session_id: str) -> Path:
        if not _SESSION_RE.match(session_id):
            raise SigningError("unknown or malformed signing session id")
        return self.directory / session_id

    def prepare(
        self, src: str | Path, chain: list[x509.Certificate], opts: SignOptions
    ) -> Prepared:
        holder = _CertificateOnly(chain)
        engine = SigningEngine(holder, self.services)
        session_id = secrets.token_urlsafe(24)
        sdir = self.directory / session_id
        sdir.mkdir(parents=True)
        try:
            with open(src, "rb") as inf:
                writer = open_writer(inf)
                pdf_signer, field_name, signing_time = engine.pdf_signer(
                    writer, opts, holder.external(), embed_ltv=False
                )
                with open(sdir / "prepared.pdf", "wb") as out:
                    prep, tbs, _ = asyncio.run(
                        pdf_signer.async_digest_doc_for_signing(writer, output=out)
                    )
            ext = holder.external()
            attrs = asyncio.run(
                ext.signed_attrs(prep.document_digest, tbs.md_algorithm, use_pades=True)
            )
            der = attrs.dump()
            expires = datetime.now(UTC) + self.ttl
            algo = "rsassa_pkcs1v15" if holder.cert.public_key.algorithm == "rsa" else "ecdsa"
            state = {
                "expires_at": expires.isoformat(),
                "field_name": field_name,
                "signing_time": signing_time.isoformat(),
                "profile": opts.profile.value,
                "level": opts.level.value,
                "md": tbs.md_algorithm,
                "document_digest": prep.document_digest.hex(),
                "reserved_region_start": prep.reserved_region_start,
                "reserved_region_end": prep.reserved_region_end,
                "signed_attributes": der.hex(),
                "chain": [c.dump().hex() for c in holder.chain],
            }
            (sdir / "state.json").write_text(json.dumps(state))
        except BaseException:
            shutil.rmtree(sdir, ignore_errors=True)
            raise
        h = hashes.Hash(hashes.SHA256())
        h.update(der)
        return Prepared(session_id, der, h.finalize(), "sha256", algo, expires, field_name)

    def finalize(self, session_id: str, signature_value: bytes, dst: str | Path) -> SignResult:
        sdir = self._dir(session_id)
        state_path = sdir / "state.json"
        if not state_path.is_file():
            raise SigningError("unknown or expired signing session")
        state = json.loads(state_path.read_text())
        if datetime.fromisoformat(state["expires_at"]) < datetime.now(UTC):
            shutil.rmtree(sdir, ignore_errors=True)
            raise SigningError("the signing session has expired; prepare the document again")
        chain = [x509.Certificate.load(bytes.fromhex(c)) for c in state["chain"]]
        der = bytes.fromhex(state["signed_attributes"])
        _check_signature_value(chain[0], der, signature_value)

        holder = _CertificateOnly(chain)
        level = Level(state["level"])
        timestamper = self.services.timestamper() if level.rank >= Level.B_T.rank else None
        signed_attrs = cms.CMSAttributes.load(der)
        ext = holder.external(signature_value)
        try:
            sig_cms = asyncio.run(
                ext.async_sign_prescribed_attributes(
                    state["md"], signed_attrs=signed_attrs, timestamper=timestamper
                )
            )
            prep = PreparedByteRangeDigest(
                document_digest=bytes.fromhex(state["document_digest"]),
                reserved_region_start=state["reserved_region_start"],
                reserved_region_end=state["reserved_region_end"],
            )
            dst = Path(dst)
            with open(sdir / "prepared.pdf", "r+b") as doc:
                PdfTBSDocument.finish_signing(doc, prep, sig_cms)
            if level.rank >= Level.B_LT.rank:
                from .ltv import extend

                extend(sdir / "prepared.pdf", dst, level, self.services)
            else:
                with open(sdir / "prepared.pdf", "rb") as doc, atomic_output(dst) as out:
                    shutil.copyfileobj(doc, out, 1 << 20)
        except SigningError:
            raise
        except Exception as exc:
            raise SigningError(f"finalizing failed: {type(exc).__name__}: {exc}") from exc
        shutil.rmtree(sdir, ignore_errors=True)
        return SignResult(
            dst,
            state["field_name"],
            datetime.fromisoformat(state["signing_time"]),
            level,
            Profile(state["profile"]),
        )

    def cleanup_expired(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        removed = 0
        if not self.directory.is_dir():
            return 0
        for sdir in self.directory.iterdir():
            try:
                state = json.loads((sdir / "state.json").read_text())
                expired = datetime.fromisoformat(state["expires_at"]) < now
            except (OSError, ValueError, KeyError):
                expired = True
            if expired:
                shutil.rmtree(sdir, ignore_errors=True)
                removed += 1
        return removed


def _check_signature_value(cert: x509.Certificate, signed_attrs_der: bytes, value: bytes) -> None:
    """Refuse a signature value that this certificate's key did not make over these
    signed attributes (a wrong key, a foreign signature, a corrupted value)."""
    public = cx509.load_der_x509_certificate(cert.dump()).public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(value, signed_attrs_der, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(value, signed_attrs_der, ec.ECDSA(hashes.SHA256()))
        else:
            raise SigningError(f"unsupported key type for remote signing: {type(public)}")
    except InvalidSignature:
        raise SigningError(
            "the signature value was not made by the key of the certificate this session "
            f"was prepared for ({cert.subject.human_friendly}); nothing was signed"
        ) from None


__all__ = ["Prepared", "RemoteSigning"]
