"""Trust anchors from PEM (or DER) files."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import pem, x509


def load_certificates(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (or the one in a DER file)."""
    data = Path(path).read_bytes()
    if not pem.detect(data):
        return [x509.Certificate.load(data)]
    return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]


class CertificateError(ValueError):
    """Bytes that are not a certificate."""


def parse_certificates(items: list[bytes]) -> list[x509.Certificate]:
    """Certificates given as PEM (one or more per item) or DER, in order; refuses
    anything that does not parse, with a clear message."""
    out: list[x509.Certificate] = []
    for data in items:
        try:
            if pem.detect(data):
                ders = [der for _, _, der in pem.unarmor(data, multiple=True)]
            else:
                ders = [data]
            for der in ders:
                cert = x509.Certificate.load(der)
                cert.subject.native  # noqa: B018 - forces a full parse now
                out.append(cert)
        except Exception as exc:
            raise CertificateError(f"not a certificate (PEM or DER): {exc}") from None
    if not out:
        raise CertificateError("no certificate given")
    return out
