"""Each agency's exchange directory: the partners it exchanges with, their inbox endpoints
and the certificates they sign packages with; and the agency's own identity on the
exchange (its profile: what ``From`` says).

Invariants:

* **One directory per agency.** An entry belongs to exactly one agency of this system; only
  that agency's administrators add, change or deactivate it, and only its users see it.
  The inbox takes a package only when the *addressee's* directory lists the sender and
  the package verifies with a certificate of that entry.
* **Certificates are pinned.** An entry keeps its certificates with their SHA-256
  fingerprints; verification uses exactly those certificates (never one a package
  carries), and an entry whose stored certificates no longer hash to the pinned
  fingerprints is unusable. Fingerprints are shown to the administrator (CLI, API, web)
  for out-of-band confirmation with the partner; an import may state the fingerprints it
  confirmed (``pin``) and is refused when they differ.
* **Every change is audited** with who made it, the entry before and after, and the
  certificate fingerprints.
* **Endpoints are public HTTPS URLs**: ``https`` outside development; never a loopback,
  link-local, private or otherwise non-global address (nor ``localhost``-like names)
  unless ``EDMS_EXCHANGE_PRIVATE_ENDPOINTS`` allows it; the transport checks the address
  it actually connects to as well.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from dataclasses import dataclass, field
from typing import Any, overload
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..config import Settings
from ..db import transaction, utcnow
from ..errors import ClientError, Forbidden, InternalError, NotFound
from ..models import Agency, DirectoryEntry, ExchangeProfile
from ..orgs import active_key, load_user, open_key, require_role
from ..system import System
from . import edxml

LOCAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home.arpa",
    ".corp",
)


@dataclass(frozen=True)
class Peer:
    code: str
    name: str
    endpoint: str
    certificates: tuple[x509.Certificate, ...]
    alt_code: str | None = None
    active: bool = True
    fingerprints: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "altCode": self.alt_code,
            "name": self.name,
            "endpoint": self.endpoint,
            "active": self.active,
            "fingerprints": list(self.fingerprints),
            "certificates": [c.public_bytes(Encoding.PEM).decode() for c in self.certificates],
        }


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate (DER), lower-case hex."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def spaced(fp: str) -> str:
    """``AB:CD:…`` as read out over the phone."""
    return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2)).upper()


def normalize_fingerprint(value: str) -> str:
    fp = value.replace(":", "").replace(" ", "").strip().lower()
    if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        raise ClientError(f"{value!r} is not a SHA-256 fingerprint (64 hexadecimal digits)")
    return fp


def _certs(pems: list[str]) -> tuple[x509.Certificate, ...]:
    out = []
    for pem in pems:
        try:
            out.append(x509.load_pem_x509_certificate(pem.encode()))
        except ValueError:
            raise ClientError("a certificate in the entry is not a PEM certificate") from None
    return tuple(out)


def peer_of(entry: DirectoryEntry) -> Peer:
    certs = _certs(json.loads(entry.certificates))
    pinned = tuple(json.loads(entry.fingerprints or "[]"))
    if tuple(fingerprint(c) for c in certs) != pinned:
        raise InternalError(
            f"the certificates stored for {entry.code} do not match their pinned "
            "fingerprints: the entry is unusable until an administrator "
            "imports it again"
        )
    return Peer(entry.code, entry.name, entry.endpoint, certs, entry.alt_code, entry.active, pinned)


# -- addresses --------------------------------------------------------------------------------


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the legacy IPv4 forms resolvers
    accept (``2130706433``, ``0x7f.1``, ``127.1``)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if (
        host
        and all(c in "0123456789abcdefxABCDEFX." for c in host)
        and any(c.isdigit() for c in host)
    ):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def non_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, link-local, private, shared, reserved, unspecified or multicast."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _local_name(host: str) -> bool:
    h = host.lower().rstrip(".")
    return h == "localhost" or "." not in h or h.endswith(LOCAL_SUFFIXES)


def check_endpoint(endpoint: str, settings: Settings) -> str:
    """A partner's base URL as it will be used; refused with the reason otherwise."""
    endpoint = endpoint.strip().rstrip("/")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise ClientError(f"endpoint {endpoint!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host or len(endpoint) > 500:
        raise ClientError(f"endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme != "https" and not settings.is_development:
        raise ClientError(
            f"endpoint {endpoint!r}: exchange endpoints use https outside development"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ClientError(
            f"endpoint {endpoint!r}: a base URL carries no credentials, query or fragment"
        )
    if not settings.exchange_private_endpoints:
        ip = _ip(host)
        if (ip is not None and non_global(ip)) or (ip is None and _local_name(host)):
            raise ClientError(
                f"endpoint {endpoint!r} points at a loopback, link-local or "
                "private address; set EDMS_EXCHANGE_PRIVATE_ENDPOINTS=true only "
                "if partners really are on a closed network"
            )
    return endpoint


def check_website(website: str, settings: Settings) -> str:
    """The agency's public website as written in ``From/Website`` (``www.x.gov.vn`` or a
    URL); never an internal address, nor this EDMS server's."""
    website = website.strip().rstrip("/")
    if not website:
        return ""
    url = website if "://" in website else f"https://{website}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise ClientError(f"website {website!r} is not a web address") from None
    if (
        parts.scheme not in ("http", "https")
        or not host
        or len(website) > 200
        or parts.username
        or parts.password
    ):
        raise ClientError(f"website {website!r} is not a public web address")
    ip = _ip(host)
    if (ip is not None and non_global(ip)) or (ip is None and _local_name(host)):
        raise ClientError(
            f"website {website!r} is an internal address, not the agency's public website"
        )
    if host == (urlsplit(settings.public_url).hostname or "").lower():
        raise ClientError(
            f"website {website!r} is this EDMS server's address "
            "(EDMS_PUBLIC_URL), not the agency's public website"
        )
    return website


# -- entries --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    code: str
    alt_code: str | None
    name: str
    endpoint: str
    pems: list[str]
    fingerprints: list[str]
    active: bool
    pin: list[str] | None


def _check(data: Any, settings: Settings) -> Checked:
    if not isinstance(data, dict):
        raise ClientError("a directory entry is a JSON object")
    code = str(data.get("code") or "").strip().upper()
    alt = str(data.get("altCode") or "").strip().upper() or None
    for c in (code, alt):
        if c is not None and not edxml.valid_agency_code(c):
            raise ClientError(f"{c!r} is not an agency identifier (000.00.00.H41 or H37.02.02)")
    name = " ".join(str(data.get("name") or "").split())
    if not name or len(name) > 200:
        raise ClientError("an entry needs a name of at most 200 characters")
    endpoint = check_endpoint(str(data.get("endpoint") or ""), settings)
    pems = data.get("certificates") or []
    if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
        raise ClientError(f"the entry for {code} lists no signing certificate (PEM)")
    certs = _certs(pems)
    fps = [fingerprint(c) for c in certs]
    raw_pin = data.get("pin")
    pin = None
    if raw_pin is not None:
        values = [raw_pin] if isinstance(raw_pin, str) else raw_pin
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ClientError("pin is the list of SHA-256 fingerprints confirmed with the partner")
        pin = [normalize_fingerprint(v) for v in values]
        if sorted(set(pin)) != sorted(set(fps)):
            raise ClientError(
                f"the certificate(s) of {code} do not have the fingerprint(s) you confirmed: "
                f"they are {', '.join(spaced(f) for f in fps)}; do not import this entry "
                "before the partner confirms them"
            )
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise ClientError("active is true or false")
    return Checked(
        code,
        alt,
        name,
        endpoint,
        [c.public_bytes(Encoding.PEM).decode() for c in certs],
        fps,
        active,
        pin,
    )


@overload
def _view(entry: DirectoryEntry) -> dict[str, Any]: ...
@overload
def _view(entry: None) -> None: ...
@overload
def _view(entry: DirectoryEntry | None) -> dict[str, Any] | None: ...


def _view(entry: DirectoryEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "code": entry.code,
        "altCode": entry.alt_code,
        "name": entry.name,
        "endpoint": entry.endpoint,
        "active": entry.active,
        "fingerprints": json.loads(entry.fingerprints or "[]"),
    }


def _admin_agency(
    s: Session, actor: str, agency_code: str | None, action: str
) -> tuple[Any, Agency]:
    user = load_user(s, actor)
    require_role(user, "admin", action=action)
    agency = s.get(Agency, user.agency_id)
    assert agency is not None
    if agency_code and agency_code.strip().upper() != agency.code:
        raise Forbidden(
            f"{user.username} administers {agency.code}, not {agency_code}: each "
            "agency keeps its own exchange directory"
        )
    return user, agency


def upsert(
    system: System, actor: str, entries: list[Any], agency_code: str | None = None
) -> list[dict[str, Any]]:
    """Add or update entries of the actor's own agency's directory (its administrators);
    all or nothing. Returns, per entry, its code, pinned fingerprints and what changed."""
    if not isinstance(entries, list) or not entries:
        raise ClientError("send a list of directory entries")
    checked = [_check(e, system.settings) for e in entries]
    out = []
    with transaction(system.sessions) as s:
        user, agency = _admin_agency(s, actor, agency_code, "change the exchange directory")
        for c in checked:
            if agency.code in (c.code, c.alt_code):
                raise ClientError(f"{c.code} is your own agency")
            entry = find(s, agency.id, c.code, active_only=False) or (
                find(s, agency.id, c.alt_code, active_only=False) if c.alt_code else None
            )
            before = _view(entry)
            entry = entry or DirectoryEntry(agency_id=agency.id, code=c.code)
            entry.code, entry.alt_code, entry.name = c.code, c.alt_code, c.name
            entry.endpoint, entry.active = c.endpoint, c.active
            entry.certificates, entry.fingerprints = json.dumps(c.pems), json.dumps(c.fingerprints)
            entry.updated_at = utcnow()
            s.add(entry)
            s.flush()
            after = _view(entry)
            keys = ("code", "altCode", "name", "endpoint", "active", "fingerprints")
            changed = list(keys) if before is None else [k for k in keys if before[k] != after[k]]
            audit.record(
                s,
                user.username,
                "exchange.directory",
                "directory_entry",
                f"{agency.code}/{c.code}",
                {
                    "agency": agency.code,
                    "before": before,
                    "after": after,
                    "certificate_sha256": c.fingerprints,
                    "confirmed_pin": c.pin is not None,
                },
            )
            out.append(
                {
                    "code": c.code,
                    "created": before is None,
                    "changed": changed,
                    "fingerprints": c.fingerprints,
                }
            )
    return out


def agency_of(s: Session, actor: str) -> Agency:
    user = load_user(s, actor)
    agency = s.get(Agency, user.agency_id)
    assert agency is not None
    return agency


def entries(system: System, actor: str) -> list[Peer]:
    """The directory of the actor's own agency."""
    with system.sessions() as s:
        agency = agency_of(s, actor)
        return [
            peer_of(e)
            for e in s.scalars(
                select(DirectoryEntry)
                .where(DirectoryEntry.agency_id == agency.id)
                .order_by(DirectoryEntry.code)
            )
        ]


def find(s: Session, agency_id: int, code: str, active_only: bool = True) -> DirectoryEntry | None:
    """The partner ``code`` (either identifier form) in agency ``agency_id``'s directory."""
    q = select(DirectoryEntry).where(
        DirectoryEntry.agency_id == agency_id,
        or_(DirectoryEntry.code == code, DirectoryEntry.alt_code == code),
    )
    if active_only:
        q = q.where(DirectoryEntry.active.is_(True))
    return s.scalars(q.order_by(DirectoryEntry.id)).first()


def require_peer(s: Session, agency_id: int, code: str) -> Peer:
    entry = find(s, agency_id, code)
    if entry is None:
        raise NotFound(f"agency {code} is not in the exchange directory")
    return peer_of(entry)


# -- this agency on the exchange -------------------------------------------------------------------

PROFILE_FIELDS = ("in_charge", "address", "email", "telephone", "fax", "website")


def profile(s: Session, agency: Agency) -> dict[str, str]:
    row = s.get(ExchangeProfile, agency.id)
    return {f: (getattr(row, f) if row is not None else "") for f in PROFILE_FIELDS}


def set_profile(system: System, actor: str, changes: dict[str, Any]) -> dict[str, str]:
    """Change the actor's agency's identity on the exchange (its administrators)."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ClientError(
            f"unknown profile field(s): {', '.join(sorted(unknown))} (known: "
            f"{', '.join(PROFILE_FIELDS)})"
        )
    limits = {
        "in_charge": 200,
        "address": 500,
        "email": 200,
        "telephone": 100,
        "fax": 100,
        "website": 200,
    }
    clean: dict[str, str] = {}
    for k, v in changes.items():
        if not isinstance(v, str):
            raise ClientError(f"{k} is text")
        v = " ".join(v.split())
        if len(v) > limits[k]:
            raise ClientError(f"{k} is longer than {limits[k]} characters")
        clean[k] = check_website(v, system.settings) if k == "website" else v
    with transaction(system.sessions) as s:
        user, agency = _admin_agency(s, actor, None, "change the agency's exchange profile")
        before = profile(s, agency)
        row = s.get(ExchangeProfile, agency.id) or ExchangeProfile(agency_id=agency.id)
        for k, v in clean.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        s.add(row)
        s.flush()
        after = profile(s, agency)
        audit.record(
            s,
            user.username,
            "exchange.profile",
            "agency",
            agency.code,
            {"before": before, "after": after},
        )
        return after


def organ_for(s: Session, agency: Agency) -> edxml.Organ:
    """``From`` for the packages ``agency`` sends: its profile, never an internal URL."""
    p = profile(s, agency)
    return edxml.Organ(
        agency.code,
        agency.name,
        p["address"] or agency.place,
        p["email"],
        p["telephone"],
        p["website"],
        p["fax"],
        p["in_charge"] or agency.name,
    )


def own_entry(system: System, agency_code: str | None = None) -> dict[str, Any]:
    """This agency's entry for the other agencies' directories: identifier, name, inbox
    endpoint (EDMS_PUBLIC_URL), the agency seal certificate packages are signed with and
    its fingerprint (to be confirmed by phone), and the public contacts of its profile."""
    with system.sessions() as s:
        query = select(Agency)
        if agency_code:
            query = query.where(Agency.code == agency_code)
        agency = s.scalars(query.order_by(Agency.id)).first()
        if agency is None:
            raise NotFound(
                "no agency is set up on this system"
                if not agency_code
                else f"no agency {agency_code} on this system"
            )
        key = active_key(s, agency_id=agency.id)
        s.expunge(key)
        name, code, contact = agency.name, agency.code, profile(s, agency)
    cert = x509.load_der_x509_certificate(open_key(system, key).key.cert.dump())
    return {
        "code": code,
        "name": name,
        "endpoint": system.settings.public_url,
        "certificates": [cert.public_bytes(Encoding.PEM).decode()],
        "fingerprints": [fingerprint(cert)],
        "active": True,
        "website": contact["website"],
    }
