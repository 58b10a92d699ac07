"""A Vietnamese-style certificate chain made for tests, in the shape of the shipped trust
material: a root and an intermediate CA (the pool), a signer whose certificate has expired
(2017-2019), a timestamp authority; signatures carrying only the signer's certificate, in
BER-encoded CMS, digested with SHA-1 — as VGCA's software wrote them before 2020."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import keys as a_keys
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Chain:
    root_pem: bytes
    intermediate_pem: bytes
    signer: a_x509.Certificate
    signer_key: a_keys.PrivateKeyInfo
    tsa: a_x509.Certificate
    tsa_key: a_keys.PrivateKeyInfo


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ban Cơ yếu Chính phủ (thử)"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    start: datetime,
    end: datetime,
    *,
    ca: bool,
    eku: list[x509.ObjectIdentifier] | None = None,
    algo: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return b.sign(issuer_key, algo or hashes.SHA256())


def _a(cert: x509.Certificate) -> a_x509.Certificate:
    return a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _k(key: rsa.RSAPrivateKey) -> a_keys.PrivateKeyInfo:
    return a_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_chain() -> Chain:
    gen = [rsa.generate_private_key(65537, 2048) for _ in range(4)]
    root_k, int_k, sig_k, tsa_k = gen
    t0, t1 = datetime(2015, 1, 1, tzinfo=UTC), datetime(2045, 1, 1, tzinfo=UTC)
    root = _cert("RootCA thử nghiệm", root_k, "RootCA thử nghiệm", root_k, t0, t1, ca=True)
    inter = _cert("CA phục vụ thử nghiệm", int_k, "RootCA thử nghiệm", root_k, t0, t1, ca=True)
    signer = _cert(
        "Nguyễn Văn Thử",
        sig_k,
        "CA phục vụ thử nghiệm",
        int_k,
        datetime(2017, 1, 1, tzinfo=UTC),
        datetime(2019, 12, 31, tzinfo=UTC),
        ca=False,
    )
    tsa = _cert(
        "Máy chủ cấp dấu thời gian thử",
        tsa_k,
        "RootCA thử nghiệm",
        root_k,
        t0,
        t1,
        ca=False,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    pem = serialization.Encoding.PEM
    return Chain(
        root.public_bytes(pem), inter.public_bytes(pem), _a(signer), _k(sig_k), _a(tsa), _k(tsa_k)
    )


def sign_sha1(chain: Chain, src: Path, dst: Path, *, timestamp_at: datetime | None) -> None:
    """Sign ``src`` with SHA-1, only the signer's certificate in the CMS, a signature
    timestamp made at ``timestamp_at`` (none if None), then re-encode the CMS as BER."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(
        chain.signer, chain.signer_key, SimpleCertificateStore.from_certs([chain.signer])
    )
    stamper = (
        None
        if timestamp_at is None
        else DummyTimeStamper(
            chain.tsa,
            chain.tsa_key,
            certs_to_embed=SimpleCertificateStore.from_certs([chain.tsa]),
            fixed_dt=timestamp_at,
            override_md="sha256",
        )
    )
    meta = signers.PdfSignatureMetadata(
        field_name="ChuKy1", md_algorithm="sha1", subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED
    )
    with open(src, "rb") as inf:
        w = IncrementalPdfFileWriter(inf)
        with open(dst, "wb") as out:
            signers.PdfSigner(meta, signer, timestamper=stamper).sign_pdf(w, output=out)
    to_ber_in_place(dst)


def to_ber(der: bytes, depth: int = 4) -> bytes:
    """The same value with its outer ``depth`` levels of constructed values re-encoded with
    indefinite lengths (as BouncyCastle's and VGCA's BER output has them)."""

    def walk(data: bytes, i: int, level: int) -> tuple[bytes, int]:
        tag = data[i]
        j = i + 1
        lb = data[j]
        j += 1
        if lb & 0x80:
            n = lb & 0x7F
            length = int.from_bytes(data[j : j + n], "big")
            j += n
        else:
            length = lb
        end = j + length
        if not tag & 0x20 or level >= depth or (tag == 0xA0 and level == 3):
            return data[i:end], end  # primitive, deep, or the certificates set: as is
        parts = []
        k = j
        while k < end:
            part, k = walk(data, k, level + 1)
            parts.append(part)
        return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00", end

    out, _ = walk(der, 0, 0)
    return out


def to_ber_in_place(path: Path) -> None:
    data = path.read_bytes()
    m = re.search(rb"/Contents\s*<([0-9A-Fa-f]+)>", data)
    assert m is not None
    hexed = m.group(1)
    blob = bytes.fromhex(hexed.decode())
    from asn1crypto import cms

    der = cms.ContentInfo.load(blob).dump()
    ber = to_ber(der)
    assert len(ber) * 2 <= len(hexed) and ber[1] == 0x80
    new = ber.hex().upper().encode().ljust(len(hexed), b"0")
    path.write_bytes(data[: m.start(1)] + new + data[m.end(1) :])
