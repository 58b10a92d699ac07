"""The exchange directory: the other agencies this system exchanges with, their inbox
endpoints and the certificates they sign packages with. JSON import/export, so that two
agencies swap entries (``edms exchange self`` prints this system's own entry)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..db import transaction, utcnow
from ..errors import EdmsError, NotFound
from ..models import Agency, DirectoryEntry
from ..orgs import active_key, load_user, open_key, require_role
from ..system import System
from .edxml import valid_agency_code


@dataclass(frozen=True)
class Peer:
    code: str
    name: str
    endpoint: str
    certificates: tuple[x509.Certificate, ...]
    alt_code: str | None = None
    active: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "altCode": self.alt_code, "name": self.name,
                "endpoint": self.endpoint, "active": self.active,
                "certificates": [c.public_bytes(Encoding.PEM).decode()
                                 for c in self.certificates]}


def _certs(pems: list[str]) -> tuple[x509.Certificate, ...]:
    out = []
    for pem in pems:
        try:
            out.append(x509.load_pem_x509_certificate(pem.encode()))
        except ValueError:
            raise EdmsError("a certificate in the entry is not a PEM certificate") from None
    return tuple(out)


def peer_of(entry: DirectoryEntry) -> Peer:
    return Peer(entry.code, entry.name, entry.endpoint,
                _certs(json.loads(entry.certificates)), entry.alt_code, entry.active)


def _check(data: dict[str, Any]) -> tuple[str, str | None, str, str, list[str], bool]:
    if not isinstance(data, dict):
        raise EdmsError("a directory entry is a JSON object")
    code = str(data.get("code") or "").strip().upper()
    alt = str(data.get("altCode") or "").strip().upper() or None
    for c in (code, alt):
        if c is not None and not valid_agency_code(c):
            raise EdmsError(f"{c!r} is not an agency identifier (000.00.00.H41 or H37.02.02)")
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 200:
        raise EdmsError("an entry needs a name of at most 200 characters")
    endpoint = str(data.get("endpoint") or "").strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(endpoint) > 500:
        raise EdmsError(f"endpoint {endpoint!r} is not an http(s) URL")
    pems = data.get("certificates") or []
    if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
        raise EdmsError(f"the entry for {code} lists no signing certificate (PEM)")
    _certs(pems)
    return code, alt, name, endpoint, pems, bool(data.get("active", True))


def upsert(system: System, actor: str, entries: list[dict[str, Any]]) -> list[str]:
    """Add or update entries (admins); all or nothing. Returns the codes written."""
    checked = [_check(e) for e in entries]
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="change the exchange directory")
        own = set(s.scalars(select(Agency.code)))
        written = []
        for code, alt, name, endpoint, pems, active in checked:
            if code in own:
                raise EdmsError(f"{code} is this system's own agency")
            entry = s.scalars(select(DirectoryEntry).where(DirectoryEntry.code == code)
                              ).first() or DirectoryEntry(code=code)
            entry.alt_code, entry.name, entry.endpoint = alt, name, endpoint
            entry.certificates, entry.active = json.dumps(pems), active
            entry.updated_at = utcnow()
            s.add(entry)
            written.append(code)
        audit.record(s, user.username, "exchange.directory", "directory", ",".join(written),
                     {"entries": written})
    return written


def entries(system: System) -> list[Peer]:
    with system.sessions() as s:
        return [peer_of(e) for e in s.scalars(select(DirectoryEntry)
                                               .order_by(DirectoryEntry.code))]


def find(s: Session, code: str) -> DirectoryEntry | None:
    return s.scalars(select(DirectoryEntry).where(
        (DirectoryEntry.code == code) | (DirectoryEntry.alt_code == code))).first()


def require_peer(s: Session, code: str) -> Peer:
    entry = find(s, code)
    if entry is None or not entry.active:
        raise NotFound(f"agency {code} is not in the exchange directory")
    return peer_of(entry)


def own_entry(system: System, agency_code: str | None = None) -> dict[str, Any]:
    """This system's entry for the other agencies' directories: identifier, name, inbox
    endpoint (EDMS_PUBLIC_URL) and the agency seal certificate packages are signed with."""
    with system.sessions() as s:
        query = select(Agency)
        if agency_code:
            query = query.where(Agency.code == agency_code)
        agency = s.scalars(query.order_by(Agency.id)).first()
        if agency is None:
            raise NotFound("no agency is set up on this system")
        key = active_key(s, agency_id=agency.id)
        s.expunge(key)
        name, code = agency.name, agency.code
    cert = open_key(system, key).key.cert
    pem = x509.load_der_x509_certificate(cert.dump()).public_bytes(Encoding.PEM).decode()
    return {"code": code, "name": name, "endpoint": system.settings.public_url,
            "certificates": [pem], "active": True}
