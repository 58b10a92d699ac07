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
