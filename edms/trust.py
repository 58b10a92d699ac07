"""Which certificates an installation trusts: the shipped Vietnamese PKI, the
administrators' decisions on it, and what they added.

Invariants:

* The default trust (``EDMS_TRUST_VN=true``) is every root of both Vietnamese regimes in
  ``EDMS_TRUST_VN_DIR`` (default ``../shared/trust/vn`` beside the checkout; VGCA G1 + G2,
  NEAC of every generation), with
  their intermediates as the path-building pool. Medium-confidence anchors are marked so
  an administrator confirms them first (``confirm_at``).
* An administrator's decision is a row of ``trust_anchors`` (enable, disable, add), made
  through :func:`set_enabled` / :func:`add` only, each in one transaction with its audit
  event (who, what, fingerprint, before/after). Only an installation administrator decides
  (:func:`may_change`: an ``admin`` named in ``EDMS_INSTALLATION_ADMINS``, or the
  operator's console, actor ``cli``): the rule lives here, so web, API and CLI share it.
* In development the development PKI's root is trusted too; ``EDMS_TRUST_OFFICIAL`` /
  ``EDMS_TRUST_PUBLIC`` bundles are added as roots of their regime.
* :func:`effective_spec` reads the decisions with one small SQL query and no ORM, so a
  one-file ``edms verify`` does not pay for the domain model.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signing.trust import (
    REGIMES,
    TrustSet,
    fingerprint,
    load_certificates,
    parse_certificates,
    to_pem,
    vn_entries,
)

from .config import Settings
from .errors import ClientError, Forbidden, InternalError

if TYPE_CHECKING:
    from .system import System

CONFIRM_AT = {"official": "https://ca.gov.vn", "public": "https://rootca.gov.vn"}


class TrustError(ClientError):
    status = 422
    title = "Trust anchor refused"
    type_slug = "trust-anchor"


@dataclass(frozen=True)
class Anchor:
    fingerprint: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    regime: str
    role: str  # root | intermediate
    origin: str  # shipped | added | development | bundle
    enabled: bool
    confidence: str  # high | medium | follows its root | added by an administrator
    sources: str
    note: str = ""
    updated_by: str = ""

    @property
    def confirm_at(self) -> str:
        return CONFIRM_AT.get(self.regime, "")

    @property
    def regime_name(self) -> str:
        return REGIMES.get(self.regime, self.regime)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "confirm_at": self.confirm_at, "regime_name": self.regime_name}


_COLUMNS = "fingerprint, role, regime, origin, enabled, pem, subject, note, updated_by"


def _rows(settings: Settings) -> list[dict[str, Any]]:
    """The administrators' decisions; none when the database is not initialised. SQLite
    is read with the standard library (a one-file ``edms verify`` does not import
    SQLAlchemy); other databases through SQLAlchemy Core."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        import sqlite3

        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        if not path or path == ":memory:" or not Path(path).is_file():
            return []
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return []
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM trust_anchors")]
        except sqlite3.Error:
            return []
        finally:
            conn.close()
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(f"SELECT {_COLUMNS} FROM trust_anchors"))
            return [dict(r) for r in rows.mappings().all()]
    except sa.exc.SQLAlchemyError:
        return []
    finally:
        engine.dispose()


def _dates(cert: Any) -> tuple[str, str]:
    v = cert["tbs_certificate"]["validity"]
    return (
        v["not_before"].native.strftime("%Y-%m-%d %H:%M:%S"),
        v["not_after"].native.strftime("%Y-%m-%d %H:%M:%S"),
    )


def anchors(settings: Settings, rows: list[dict[str, Any]] | None = None) -> list[Anchor]:
    """Every certificate the installation knows, with its state."""
    rows = _rows(settings) if rows is None else rows
    decided = {r["fingerprint"].upper(): r for r in rows}
    out: list[Anchor] = []
    if settings.trust_vn:
        for e in vn_entries(settings.trust_vn_dir):
            row = decided.get(e.sha256)
            out.append(
                Anchor(
                    fingerprint=e.sha256,
                    subject=e.subject,
                    issuer=e.issuer,
                    not_before=e.not_before,
                    not_after=e.not_after,
                    regime=e.regime,
                    role="root" if e.is_root else "intermediate",
                    origin="shipped",
                    enabled=bool(row["enabled"]) if row else True,
                    confidence=e.confidence,
                    sources=e.sources,
                    note=(row or {}).get("note", "") or "",
                    updated_by=(row or {}).get("updated_by", "") or "",
                )
            )
    for r in rows:
        if r["origin"] != "added" or not r.get("pem"):
            continue
        cert = parse_certificates([r["pem"].encode()])[0]
        nb, na = _dates(cert)
        out.append(
            Anchor(
                fingerprint=r["fingerprint"].upper(),
                subject=cert.subject.human_friendly,
                issuer=cert.issuer.human_friendly,
                not_before=nb,
                not_after=na,
                regime=r["regime"],
                role=r["role"],
                origin="added",
                enabled=bool(r["enabled"]),
                confidence="added by an administrator",
                sources="",
                note=r.get("note") or "",
                updated_by=r.get("updated_by") or "",
            )
        )
    for regime, bundle in (
        ("official", settings.trust_official),
        ("public", settings.trust_public),
    ):
        if bundle is None:
            continue
        if not bundle.is_file():
            raise InternalError(f"trust bundle {bundle} does not exist")
        for cert in load_certificates(bundle):
            nb, na = _dates(cert)
            out.append(
                Anchor(
                    fingerprint(cert),
                    cert.subject.human_friendly,
                    cert.issuer.human_friendly,
                    nb,
                    na,
                    regime,
                    "root",
                    "bundle",
                    True,
                    "configured bundle",
                    str(bundle),
                )
            )
    return out


def effective(settings: Settings, rows: list[dict[str, Any]] | None = None) -> TrustSet:
    """The trust set validation uses."""
    return TrustSet.from_json(_spec(settings, rows))


def _spec(settings: Settings, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The trust set as PEM JSON, built from the files' text without parsing a single
    certificate (the shipped index carries the fingerprints)."""
    rows = _rows(settings) if rows is None else rows
    decided = {r["fingerprint"].upper(): r for r in rows}
    roots: list[list[str]] = []
    pool: list[list[str]] = []
    if settings.trust_vn:
        for e in vn_entries(settings.trust_vn_dir):
            row = decided.get(e.sha256)
            if row is not None and not row["enabled"]:
                continue
            (roots if e.is_root else pool).append([e.path.read_text(), e.regime])
    for r in rows:
        if r["origin"] == "added" and r["enabled"] and r.get("pem"):
            (roots if r["role"] == "root" else pool).append([r["pem"], r["regime"]])
    for regime, bundle in (
        ("official", settings.trust_official),
        ("public", settings.trust_public),
    ):
        if bundle is not None:
            if not bundle.is_file():
                raise InternalError(f"trust bundle {bundle} does not exist")
            roots.append([_pem_text(bundle), regime])
    if settings.is_development:
        from signing import devpki

        if devpki.exists(settings.pki_dir):
            roots.append([_pem_text(devpki.load(settings.pki_dir).root_cert), "development"])
    return {"roots": roots, "pool": pool}


def missing_material(settings: Settings) -> str | None:
    """Why the Vietnamese trust is missing, in words, or None when it is there."""
    if settings.trust_vn and not (settings.trust_vn_dir / "index.tsv").is_file():
        return (
            f"EDMS_TRUST_VN_DIR={settings.trust_vn_dir} has no index.tsv: no Vietnamese "
            "certificate authority is trusted (mount the shared/trust/vn material there)"
        )
    return None


def _pem_text(path: Path) -> str:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return data.decode("ascii", "replace")
    return "".join(to_pem(c) for c in load_certificates(path))


_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()
CACHE_SECONDS = 30.0


def effective_spec(settings: Settings, *, cached: bool = True) -> dict[str, Any]:
    """:func:`effective` as the sandbox reads it (PEM JSON), kept for
    :data:`CACHE_SECONDS` per process (and dropped at once by changes made here)."""
    key = (settings.database_url, str(settings.pki_dir))
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if cached and hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    spec = _spec(settings)
    with _cache_lock:
        _cache[key] = (now, spec)
    return spec


def _forget() -> None:
    with _cache_lock:
        _cache.clear()


def find(settings: Settings, prefix: str) -> Anchor:
    """The anchor whose fingerprint starts with ``prefix`` (at least 8 hex digits)."""
    p = prefix.replace(":", "").strip().upper()
    if len(p) < 8:
        raise TrustError("give at least 8 hex digits of the SHA-256 fingerprint")
    hits = [a for a in anchors(settings) if a.fingerprint.startswith(p)]
    if not hits:
        raise TrustError(f"no trust certificate with fingerprint {p}…")
    if len(hits) > 1:
        raise TrustError(f"{len(hits)} certificates start with {p}: give more digits")
    return hits[0]


CONSOLE = "cli"  # the actor of `edms trust ...`: whoever runs the installation's own console


def may_change(system: System, actor: str) -> bool:
    """Whether ``actor`` may change what the installation trusts: the operator's console,
    or an active ``admin`` named in ``EDMS_INSTALLATION_ADMINS`` (an agency's admin alone
    may not: trust is the whole installation's)."""
    if actor == CONSOLE:
        return True
    if actor not in system.settings.installation_admins:
        return False
    from sqlalchemy import select

    from .models import User

    with system.sessions() as s:
        user = s.scalars(select(User).where(User.username == actor)).first()
        return user is not None and user.active and "admin" in user.role_set


def _require_change(system: System, actor: str) -> None:
    if not may_change(system, actor):
        raise Forbidden(
            "Chỉ quản trị viên cài đặt (EDMS_INSTALLATION_ADMINS) được thay đổi danh sách tin cậy."
        )


def set_enabled(system: System, actor: str, prefix: str, enabled: bool, note: str = "") -> Anchor:
    """Enable or disable a shipped or added certificate (audited; :func:`may_change`)."""
    from . import audit
    from .models import TrustAnchorSetting

    _require_change(system, actor)

    anchor = find(system.settings, prefix)
    if anchor.origin not in ("shipped", "added"):
        raise TrustError(
            "this certificate comes from the configuration "
            "(EDMS_TRUST_OFFICIAL/PUBLIC); change it there"
        )
    with system.sessions.begin() as s:
        row = s.get(TrustAnchorSetting, anchor.fingerprint)
        before = anchor.enabled
        if row is None:
            row = TrustAnchorSetting(
                fingerprint=anchor.fingerprint,
                role=anchor.role,
                regime=anchor.regime,
                origin=anchor.origin,
                subject=anchor.subject[:500],
                note="",
            )
            s.add(row)
        row.enabled = enabled
        row.note = note or row.note or ""
        row.updated_at = datetime.now(UTC)
        row.updated_by = actor
        audit.record(
            s,
            actor,
            "trust.enable" if enabled else "trust.disable",
            "trust_anchor",
            anchor.fingerprint,
            {
                "subject": anchor.subject,
                "regime": anchor.regime,
                "role": anchor.role,
                "before": before,
                "after": enabled,
                "note": note,
            },
        )
    _forget()
    return find(system.settings, anchor.fingerprint)


def add(
    system: System,
    actor: str,
    data: bytes,
    *,
    role: str = "root",
    regime: str = "custom",
    note: str = "",
) -> Anchor:
    """Add a certificate (PEM or DER) as a root or a pool intermediate (audited;
    :func:`may_change`)."""
    from . import audit
    from .models import TrustAnchorSetting

    _require_change(system, actor)

    if role not in ("root", "intermediate"):
        raise TrustError("role must be root or intermediate")
    if regime not in REGIMES:
        raise TrustError(f"regime must be one of {', '.join(REGIMES)}")
    try:
        certs = parse_certificates([data])
    except ValueError as exc:
        raise TrustError(str(exc)) from None
    if len(certs) != 1:
        raise TrustError("add one certificate at a time")
    cert = certs[0]
    fp = fingerprint(cert)
    text = to_pem(cert)
    with system.sessions.begin() as s:
        if s.get(TrustAnchorSetting, fp) is not None or any(
            e.sha256 == fp for e in vn_entries(system.settings.trust_vn_dir)
        ):
            raise TrustError(f"certificate {fp[:16]}… is already known: enable it instead")
        s.add(
            TrustAnchorSetting(
                fingerprint=fp,
                role=role,
                regime=regime,
                origin="added",
                enabled=True,
                pem=text,
                subject=cert.subject.human_friendly[:500],
                note=note,
                updated_at=datetime.now(UTC),
                updated_by=actor,
            )
        )
        audit.record(
            s,
            actor,
            "trust.add",
            "trust_anchor",
            fp,
            {"subject": cert.subject.human_friendly, "regime": regime, "role": role, "note": note},
        )
    _forget()
    return find(system.settings, fp)
