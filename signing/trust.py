"""Trust anchors and the pool of intermediates that validation builds paths through.

Invariants:

* A :class:`TrustSet` holds the *roots* a validation may end at and a *pool* of
  intermediate certificates it may build paths through. A pool certificate is never an
  anchor: a path is trusted only if it ends at a root.
* Each certificate carries the *regime* it belongs to (``official``: the Government
  Cipher Committee's PKI; ``public``: NEAC's public PKI; ``development``; ``custom``), so
  a report can name the regime a signature chains to.
* The Vietnamese material is read from a directory laid out as ``../shared/trust/vn``
  (public certificates only, provenance in its ``index.tsv`` and ``README.md``); it is
  third-party material and is not copied into this repository. Which directory, and what
  is enabled, is decided by the installation (:mod:`edms.trust`), not here.
* A TrustSet crosses process boundaries as JSON of PEM text (:meth:`to_json`).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from asn1crypto import pem, x509

REGIMES = {
    "official": "Chứng thực chữ ký số chuyên dùng Chính phủ (Ban Cơ yếu Chính phủ)",
    "public": "Chứng thực chữ ký số công cộng (NEAC)",
    "development": "PKI phát triển (chỉ dùng thử nghiệm)",
    "custom": "Do quản trị viên bổ sung",
}


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


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, upper-case hex (as index.tsv and the CAs write it)."""
    return hashlib.sha256(cert.dump()).hexdigest().upper()


def to_pem(cert: x509.Certificate) -> str:
    return pem.armor("CERTIFICATE", cert.dump()).decode()


@dataclass(frozen=True)
class Entry:
    """One shipped certificate of the Vietnamese material, as ``index.tsv`` describes it."""

    directory: Path  # the material's root (holds index.tsv)
    regime: str  # official | public
    kind: str  # roots | intermediates
    file: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    sha256: str
    confidence: str
    sources: str

    @property
    def path(self) -> Path:
        return self.directory / self.regime / self.kind / self.file

    @property
    def is_root(self) -> bool:
        return self.kind == "roots"

    def certificate(self) -> x509.Certificate:
        return load_certificates(self.path)[0]


@lru_cache(maxsize=4)
def vn_entries(directory: Path) -> tuple[Entry, ...]:
    """The Vietnamese certificates of both regimes in ``directory``, from its
    ``index.tsv`` (none when the directory has no index)."""
    index = directory / "index.tsv"
    if not index.is_file():
        return ()
    out = []
    with index.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.append(
                Entry(
                    directory=directory,
                    regime=row["regime"],
                    kind=row["kind"],
                    file=row["file"],
                    subject=row["subject"],
                    issuer=row["issuer_cn"],
                    not_before=row["not_before"],
                    not_after=row["not_after"],
                    sha256=row["sha256"].upper(),
                    confidence=row["confidence"],
                    sources=row.get("sources (repo:path@commit)", ""),
                )
            )
    return tuple(out)


@dataclass
class TrustSet:
    roots: list[x509.Certificate] = field(default_factory=list)
    pool: list[x509.Certificate] = field(default_factory=list)
    regimes: dict[str, str] = field(default_factory=dict)  # fingerprint -> regime

    def add(self, certs: Iterable[x509.Certificate], regime: str, *, root: bool) -> None:
        target = self.roots if root else self.pool
        for cert in certs:
            fp = fingerprint(cert)
            if fp in self.regimes and any(fingerprint(c) == fp for c in target):
                continue
            target.append(cert)
            self.regimes.setdefault(fp, regime)

    def regime_of(self, path_certs: Iterable[x509.Certificate]) -> str:
        """The regime of the first certificate of a validation path that we know."""
        for cert in path_certs:
            regime = self.regimes.get(fingerprint(cert))
            if regime:
                return regime
        return ""

    def key(self) -> str:
        """A stable identity for caches (same roots, pool and regimes → same key)."""
        h = hashlib.sha256()
        for name, certs in (("r", self.roots), ("p", self.pool)):
            for fp in sorted(fingerprint(c) for c in certs):
                h.update(f"{name}:{fp}:{self.regimes.get(fp, '')}\n".encode())
        return h.hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "roots": [[to_pem(c), self.regimes.get(fingerprint(c), "")] for c in self.roots],
            "pool": [[to_pem(c), self.regimes.get(fingerprint(c), "")] for c in self.pool],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrustSet:
        out = cls()
        for key, root in (("roots", True), ("pool", False)):
            for text, regime in data.get(key, []):
                out.add(parse_certificates([text.encode()]), regime or "custom", root=root)
        return out

    @classmethod
    def of(cls, roots: Iterable[x509.Certificate], regime: str = "custom") -> TrustSet:
        out = cls()
        out.add(roots, regime, root=True)
        return out
