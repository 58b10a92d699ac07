"""The renewal policy, here and nowhere else (documented in docs/archive.md): algorithm
sunsets, when a document is due, and which documents are kept.

Invariants: a document is due ``EDMS_ARCHIVE_RENEW_DAYS`` before the first expiry its
proof rests on (the protecting timestamp's TSA certificate, a B-T file's signing
certificate, an algorithm's sunset); only kept documents (registered outgoing ones and
later, every incoming one, every digitized copy) are renewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from signing.ltv import TimestampFacts

from ..models import ArchiveFile, Document
from ..system import System

# After these dates a digest no longer protects anything new (NIST SP 800-131A rev. 2,
# NIST SP 800-57 part 1 rev. 5: 112-bit security is acceptable through 2030).
DIGEST_SUNSET: dict[str, date] = {
    "md5": date(2004, 12, 31),
    "sha1": date(2013, 12, 31),
    "sha224": date(2030, 12, 31),
}


def key_sunset(algorithm: str) -> date | None:
    """The sunset of a public-key algorithm named as :func:`signing.ltv.key_algorithm`
    names it: RSA below 2048 bits ended in 2013, RSA below 3072 bits (112-bit security)
    ends with 2030; EC curves below 224 bits ended in 2013."""
    kind, _, size = algorithm.partition("-")
    if kind == "rsa" and size.isdigit():
        bits = int(size)
        if bits < 2048:
            return date(2013, 12, 31)
        if bits < 3072:
            return date(2030, 12, 31)
        return None
    if kind == "ec" and size in ("secp192r1", "prime192v1", "secp160r1"):
        return date(2013, 12, 31)
    return None


def sunset(algorithm: str) -> date | None:
    return DIGEST_SUNSET.get(algorithm) or key_sunset(algorithm)


@dataclass(frozen=True)
class Limit:
    """The end of a file's protection: when, and what ends it (``tsa``: its TSA
    certificate expires; ``signer``: a signing certificate expires, B-T only;
    ``algorithm``: an algorithm's sunset), ``subject`` naming the TSA or algorithm."""

    at: datetime
    cause: str
    subject: str
    text: str


@dataclass(frozen=True)
class Policy:
    """When a document is due for renewal (see the module docstring)."""

    renew_before_days: int = 180

    def protected_until(self, facts: ArchiveFile) -> Limit | None:
        """Until when the file's current proof holds, and what ends it first."""
        limits: list[Limit] = []
        if facts.tsa_expires_at is not None:
            limits.append(
                Limit(
                    facts.tsa_expires_at,
                    "tsa",
                    facts.tsa,
                    f"the TSA certificate ({facts.tsa}) expires",
                )
            )
        if facts.level == "B-T" and facts.signer_expires_at is not None:
            limits.append(
                Limit(
                    facts.signer_expires_at,
                    "signer",
                    "",
                    "a signing certificate expires (B-T: no validation data embedded)",
                )
            )
        for a in filter(None, facts.algorithms.split(",")):
            end = sunset(a)
            if end is not None:
                limits.append(
                    Limit(
                        datetime.combine(end, time.max, UTC).replace(microsecond=0),
                        "algorithm",
                        a,
                        f"the algorithm {a} is deprecated",
                    )
                )
        return min(limits, key=lambda x: x.at) if limits else None

    def tsa_until(self, tsa: TimestampFacts) -> datetime:
        """Until when a new timestamp of this TSA would protect a file."""
        ends = [tsa.tsa_expires] + [
            datetime.combine(d, time.max, UTC).replace(microsecond=0)
            for d in map(sunset, tsa.algorithms)
            if d is not None
        ]
        return min(ends)


def policy_for(system: System) -> Policy:
    return Policy(renew_before_days=system.settings.archive_renew_days)


# Outgoing documents become records when registered; incoming ones and copies on arrival.
KEPT_OUTGOING = ("registered", "issued", "revoked", "replaced")


RENEWED_STAGE = "renewed"


RENEW_ACTION = "document.archive_renew"


def is_kept(doc: Document) -> bool:
    return doc.direction != "outgoing" or doc.state in KEPT_OUTGOING


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds") if t else None
