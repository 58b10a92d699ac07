"""Raising signed files to long-term validation levels after the fact.

* B-T → B-LT: certificates, OCSP responses and CRLs for every signature (and its signature
  timestamp) go into the Document Security Store, in one incremental update each.
* → B-LTA: then a document timestamp over the whole file, its own validation data added
  first, so later re-timestamping can keep the file verifiable for decades.

A B-B signature has no signature timestamp and cannot be raised: re-sign at B-T or higher.

Keeping a file verifiable for decades (ETSI EN 319 142-1, PAdES-LTA):

* :func:`file_facts` reads, without validating, what a file's long-term proof rests on:
  each signature's level, timestamps, certificates' expiry and algorithms, and the chain of
  document timestamps;
* :func:`renew_archive_timestamp` adds the validation data of the last document timestamp
  (its TSA's chain and revocation data) and a new document timestamp over everything, so
  the file stays verifiable after the previous TSA certificate expires or its algorithms
  weaken. A file without a document timestamp is raised to B-LTA by :func:`extend`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_signer import TimestampDSSContentSettings
from pyhanko.sign.validation import add_validation_info

from .engine import (
    Level,
    SigningError,
    TrustServiceError,
    TrustServices,
    _is_service_failure,
    atomic_output,
    open_writer,
)


def has_signature_timestamp(sig: Any) -> bool:
    """Whether an embedded signature carries an RFC 3161 signature timestamp (B-T)."""
    attrs = sig.signer_info["unsigned_attrs"]
    if not attrs or attrs.native is None:
        return False
    return any(a["type"].native == "signature_time_stamp_token" for a in attrs)


def _signatures(path: Path) -> list[str]:
    with open(path, "rb") as f:
        reader = PdfFileReader(f, strict=False)
        sigs = reader.embedded_regular_signatures
        missing_ts = [s.field_name for s in sigs if not has_signature_timestamp(s)]
        if not sigs:
            raise SigningError("the file has no signature to extend")
        if missing_ts:
            raise SigningError(
                f"signature(s) {', '.join(missing_ts)} are B-B (no signature timestamp) and "
                "cannot be raised to a long-term level; sign again at B-T or higher"
            )
        return [s.field_name for s in sigs]


def extend(src: str | Path, dst: str | Path, target: Level, services: TrustServices) -> Level:
    """Raise every signature in ``src`` to ``target`` (B-LT or B-LTA), writing ``dst``."""
    src, dst = Path(src), Path(dst)
    if target.rank < Level.B_LT.rank:
        raise SigningError("extend raises files to B-LT or B-LTA")
    names = _signatures(src)
    vc = services.validation_context(for_signing=False)
    work = Path(tempfile.mkdtemp(prefix=".edms-extend-", dir=dst.parent))
    try:
        current = src
        for i, name in enumerate(names):
            nxt = work / f"{i}.pdf"
            with open(current, "rb") as inf:
                reader = PdfFileReader(inf, strict=False)
                sig = next(s for s in reader.embedded_regular_signatures if s.field_name == name)
                with open(nxt, "wb") as out:
                    add_validation_info(sig, vc, output=out, add_vri_entry=False)
            current = nxt
        with open(current, "rb") as inf, atomic_output(dst) as out:
            if target is Level.B_LTA:
                writer = open_writer(inf)
                signers.PdfTimeStamper(services.timestamper()).timestamp_pdf(
                    writer,
                    "sha256",
                    validation_context=vc,
                    output=out,
                    dss_settings=TimestampDSSContentSettings(
                        update_before_ts=True, include_vri=False
                    ),
                )
            else:
                while chunk := inf.read(1 << 20):
                    out.write(chunk)
    except SigningError:
        raise
    except Exception as exc:
        raise SigningError(f"extending failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for p in work.glob("*"):
            with contextlib.suppress(OSError):
                os.unlink(p)
        with contextlib.suppress(OSError):
            work.rmdir()
    return target


# -- long-term archiving ------------------------------------------------------------------


@dataclass(frozen=True)
class TimestampFacts:
    """One RFC 3161 timestamp: when, by which TSA, until when its certificate is valid and
    which algorithms its proof rests on (message digest, TSA signature digest, TSA key)."""

    time: datetime
    tsa: str
    tsa_expires: datetime
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class SignatureFacts:
    field: str
    level: str  # B-B | B-T | B-LT | B-LTA
    signer: str
    signer_expires: datetime
    algorithms: tuple[str, ...]
    timestamp: TimestampFacts | None


@dataclass(frozen=True)
class FileFacts:
    """What a signed PDF's long-term proof rests on (read, not validated)."""

    signatures: tuple[SignatureFacts, ...]
    document_timestamps: tuple[TimestampFacts, ...]

    @property
    def level(self) -> str:
        """The lowest level of its signatures; ``none`` for an unsigned file."""
        if not self.signatures:
            return "none"
        ranks = [Level(s.level).rank for s in self.signatures]
        return list(Level)[min(ranks)].value

    @property
    def last_timestamp(self) -> TimestampFacts | None:
        """The newest timestamp of the file: its last document timestamp, else the newest
        signature timestamp."""
        if self.document_timestamps:
            return self.document_timestamps[-1]
        stamps = [s.timestamp for s in self.signatures if s.timestamp is not None]
        return max(stamps, key=lambda t: t.time) if stamps else None

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms the current proof rests on: the last document timestamp's, or
        those of every signature and its timestamp."""
        if self.document_timestamps:
            return self.document_timestamps[-1].algorithms
        found: list[str] = []
        for s in self.signatures:
            for a in (*s.algorithms, *(s.timestamp.algorithms if s.timestamp else ())):
                if a not in found:
                    found.append(a)
        return tuple(found)


def key_algorithm(cert: x509.Certificate) -> str:
    """``rsa-2048``, ``ec-secp256r1``, ``ed25519`` ..."""
    pk = cert.public_key
    if pk.algorithm == "rsa":
        return f"rsa-{pk.bit_size}"
    if pk.algorithm == "ec":
        return f"ec-{pk.curve[1]}"
    return str(pk.algorithm)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def timestamp_facts(signed_data: cms.SignedData) -> TimestampFacts:
    """Facts of a timestamp token (the SignedData of an RFC 3161 TimeStampToken)."""
    from pyhanko.sign.general import extract_certificate_info

    tst_info = signed_data["encap_content_info"]["content"].parsed
    signer_info = signed_data["signer_infos"][0]
    cert = extract_certificate_info(signed_data).signer_cert
    algorithms: list[str] = []
    for a in (
        tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native,
        signer_info["digest_algorithm"]["algorithm"].native,
        key_algorithm(cert),
    ):
        if a not in algorithms:
            algorithms.append(a)
    return TimestampFacts(
        time=_aware(tst_info["gen_time"].native),
        tsa=str(cert.subject.native.get("common_name", cert.subject.human_friendly)),
        tsa_expires=_aware(cert["tbs_certificate"]["validity"]["not_after"].native),
        algorithms=tuple(algorithms),
    )


def _signature_timestamp(sig: Any) -> TimestampFacts | None:
    attrs = sig.signer_info["unsigned_attrs"]
    if not attrs or attrs.native is None:
        return None
    for a in attrs:
        if a["type"].native == "signature_time_stamp_token":
            return timestamp_facts(a["values"][0]["content"])
    return None


def file_facts(path: str | Path) -> FileFacts:
    """Read what ``path``'s signatures and document timestamps rest on. Raises
    :class:`SigningError` for a file that cannot be read as a PDF."""
    try:
        with open(path, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            embedded = list(reader.embedded_signatures)
            has_revinfo = False
            if "/DSS" in reader.root:
                dss = reader.root["/DSS"]
                has_revinfo = "/OCSPs" in dss or "/CRLs" in dss
            doc_ts = [s for s in embedded if s.sig_object_type == "/DocTimeStamp"]
            sigs = []
            for sig in embedded:
                if sig.sig_object_type == "/DocTimeStamp":
                    continue
                ts = _signature_timestamp(sig)
                level = Level.B_B
                if ts is not None:
                    level = Level.B_LT if has_revinfo else Level.B_T
                    if has_revinfo and any(t.signed_revision > sig.signed_revision for t in doc_ts):
                        level = Level.B_LTA
                cert = sig.signer_cert
                algorithms = [
                    sig.signer_info["digest_algorithm"]["algorithm"].native,
                    key_algorithm(cert),
                ]
                sigs.append(
                    SignatureFacts(
                        field=str(sig.field_name),
                        level=level.value,
                        signer=str(cert.subject.native.get("common_name", "")),
                        signer_expires=_aware(
                            cert["tbs_certificate"]["validity"]["not_after"].native
                        ),
                        algorithms=tuple(algorithms),
                        timestamp=ts,
                    )
                )
            stamps = tuple(timestamp_facts(t.signed_data) for t in doc_ts)
            return FileFacts(tuple(sigs), stamps)
    except (OSError, SigningError):
        raise
    except Exception as exc:
        raise SigningError(
            f"the file's signatures cannot be read: {type(exc).__name__}: {exc}"
        ) from exc


def tsa_facts(services: TrustServices, md_algorithm: str = "sha256") -> TimestampFacts:
    """Ask the configured TSA for one timestamp (over a dummy digest) to learn its current
    certificate and algorithms before renewing anything with it."""
    try:
        token = asyncio.run(services.timestamper().async_dummy_response(md_algorithm))
    except SigningError:
        raise
    except Exception as exc:
        services.forget()
        raise TrustServiceError(
            f"the timestamp authority {services.tsa_url} cannot be reached: {exc}"
        ) from exc
    return timestamp_facts(token["content"])


def renew_archive_timestamp(
    src: str | Path, dst: str | Path, services: TrustServices, md_algorithm: str = "sha256"
) -> TimestampFacts:
    """Write ``dst``: ``src`` plus the validation data of its last document timestamp and
    a new document timestamp (``md_algorithm``, whatever the old one used) with its own
    validation data before it. A file with no document timestamp yet is raised to B-LTA.

    Refused (:class:`SigningError`, nothing written) when the last timestamp no longer
    validates now: its TSA certificate expired or was revoked, or the revocation data
    needed to prove it cannot be obtained. Returns the new timestamp's facts."""
    from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_timestamp

    src, dst = Path(src), Path(dst)
    with open(src, "rb") as f:
        has_doc_ts = bool(PdfFileReader(f, strict=False).embedded_timestamp_signatures)
    if not has_doc_ts:
        extend(src, dst, Level.B_LTA, services)
        facts = file_facts(dst)
        assert facts.document_timestamps
        return facts.document_timestamps[-1]
    # Hard-fail: the TSA's revocation status must be obtained, or the renewed file would
    # lack the data that proves its last timestamp.
    vc = services.validation_context(for_signing=True)
    try:
        with open(src, "rb") as inf:
            reader = PdfFileReader(inf, strict=False)
            last = reader.embedded_timestamp_signatures[-1]
            status = validate_pdf_timestamp(last, validation_context=vc)
            if status.revocation_details is not None:
                raise SigningError(
                    f"the certificate of the last timestamp's TSA was revoked "
                    f"({status.revocation_details.revocation_reason.native})"
                )
            if not (status.intact and status.valid):
                raise SigningError("the last document timestamp is broken")
            if not status.trusted or status.validation_path is None:
                raise SigningError(
                    "the last document timestamp no longer validates "
                    f"({status.summary()}): its TSA certificate expired, "
                    "was revoked, or its revocation data cannot be obtained"
                )
            writer = open_writer(inf)
            DocumentSecurityStore.supply_dss_in_writer(
                writer, sig_contents=None, paths=(status.validation_path,), validation_context=vc
            )
            with atomic_output(dst) as out:
                signers.PdfTimeStamper(services.timestamper()).timestamp_pdf(
                    writer,
                    md_algorithm,
                    validation_context=vc,
                    output=out,
                    dss_settings=TimestampDSSContentSettings(
                        update_before_ts=True, include_vri=False
                    ),
                )
    except SigningError:
        raise
    except Exception as exc:
        services.forget()
        if _is_service_failure(exc):
            raise TrustServiceError(
                f"a trust service (timestamp, OCSP or CRL) cannot be reached: {exc}"
            ) from exc
        raise SigningError(
            f"renewing the archive timestamp failed: {type(exc).__name__}: {exc}"
        ) from exc
    facts = file_facts(dst)
    return facts.document_timestamps[-1]


# -- detached CMS signatures over archive manifests ------------------------------------------


@dataclass(frozen=True)
class DetachedCheck:
    """The verdict on a detached CMS signature: the data is intact and signed by
    ``signer`` (``trusted``: its certificate chains to a trusted root at ``at``)."""

    intact: bool
    trusted: bool
    signer: str
    certificate_sha256: str
    summary: str


def sign_detached(key: Any, data: bytes) -> bytes:
    """A detached CMS (PKCS #7) signature of ``data`` by ``key`` (a :class:`KeyHandle`),
    DER-encoded; ``openssl cms -verify -binary -inform DER -content DATA`` checks it."""
    try:
        signed = asyncio.run(key.signer().async_sign_general_data(data, "sha256", detached=True))
    except Exception as exc:
        raise SigningError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return bytes(signed.dump())


def verify_detached(
    data: bytes,
    signature: bytes,
    trust_roots: list[x509.Certificate],
    at: datetime,
    allow_fetching: bool = False,
) -> DetachedCheck:
    """Check a detached CMS signature of ``data``; the signer's certificate is validated
    at ``at`` (when the data was signed), so an archive signed years ago still checks."""
    from pyhanko.sign._session_scope import run_and_release
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    try:
        info = cms.ContentInfo.load(signature)
        signed_data = info["content"]
        vc = ValidationContext(
            trust_roots=trust_roots,
            moment=at,
            allow_fetching=allow_fetching,
            revocation_mode="soft-fail",
        )
        status = asyncio.run(
            run_and_release(
                async_validate_detached_cms(data, signed_data, signer_validation_context=vc), vc
            )
        )
    except Exception as exc:
        return DetachedCheck(False, False, "", "", f"unreadable signature: {exc}")
    cert = status.signing_cert
    name = cert.subject.human_friendly if cert is not None else ""
    return DetachedCheck(
        bool(status.intact and status.valid),
        bool(status.trusted),
        name,
        cert.sha256.hex() if cert is not None else "",
        status.summary(),
    )
