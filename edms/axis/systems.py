"""The systems that connect to this installation's axis, and the agencies each serves.

Invariants:

* **A system is its id and its secret.** The secret keys the HMAC of every request
  (:mod:`edms.axis.hub`); the axis must read it back, so it cannot be hashed: it is kept
  sealed with AES-256-GCM under a key derived (HKDF-SHA256) from ``EDMS_SECRET_KEY``,
  bound to the system id (a sealed secret copied to another row does not open). In
  development without ``EDMS_SECRET_KEY`` a fixed development key is used (not a
  protection). A secret is shown once, when set or rotated, and never logged or audited.
* **Each agency code belongs to one system.** Top-level agencies are assigned by the axis
  operator (``edms axis system add --agency``, ``edms axis agency add``); a system may
  register (``registerAgency``) units *under* its own agencies, never a code another
  system holds.
* **Every change is audited** (who, the system, what changed — never the secret).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..config import Settings
from ..db import transaction
from ..errors import ClientError, Conflict, InternalError, NotFound
from ..models import AxisAgency, AxisDelivery, AxisSystem
from ..system import System

SYSTEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,34}$")
MIN_SECRET = 16
_DEV_KEY = b"edms development axis key (not a protection)"


def _now() -> datetime:
    return datetime.now(UTC)


# -- sealed secrets ----------------------------------------------------------------------------


def _key(settings: Settings) -> bytes:
    master = settings.secret_key.encode() if settings.secret_key else _DEV_KEY
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"edms-axis", info=b"axis system secrets v1"
    ).derive(master)


def seal(settings: Settings, code: str, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    box = AESGCM(_key(settings)).encrypt(nonce, secret.encode("utf-8"), code.encode())
    return "v1:" + base64.b64encode(nonce + box).decode()


def unseal(settings: Settings, code: str, box: str) -> str:
    try:
        raw = base64.b64decode(box.removeprefix("v1:"))
        return AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], code.encode()).decode()
    except (InvalidTag, ValueError):
        raise InternalError(
            f"the secret of system {code} cannot be opened (was EDMS_SECRET_KEY "
            f"changed?): set a new one with `edms axis system rotate-secret "
            f"{code}`"
        ) from None


def _check_secret(secret: str) -> str:
    if (
        len(secret) < MIN_SECRET
        or len(secret) > 200
        or not secret.isprintable()
        or secret != secret.strip()
    ):
        raise ClientError(
            f"a system's secret is {MIN_SECRET} to 200 printable characters, "
            "without surrounding spaces"
        )
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    """What the operator and the system's vendor compare by phone (never the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemView:
    code: str
    name: str
    active: bool
    agencies: tuple[tuple[str, str], ...]  # (code, name), not deleted
    created_at: datetime
    secret_set_at: datetime
    last_seen_at: datetime | None
    waiting: int  # deliveries not yet done or failed

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "active": self.active,
            "agencies": [{"code": c, "name": n} for c, n in self.agencies],
            "createdAt": self.created_at.isoformat(),
            "secretSetAt": self.secret_set_at.isoformat(),
            "lastSeenAt": self.last_seen_at.isoformat() if self.last_seen_at else None,
            "waiting": self.waiting,
        }


def _view(s: Session, row: AxisSystem) -> SystemView:
    agencies = tuple(
        (a.code, a.name)
        for a in s.scalars(
            select(AxisAgency)
            .where(AxisAgency.system_id == row.id, AxisAgency.deleted.is_(False))
            .order_by(AxisAgency.code)
        )
    )
    waiting = (
        s.scalar(
            select(func.count())
            .select_from(AxisDelivery)
            .where(
                AxisDelivery.receiver_system_id == row.id,
                AxisDelivery.status.in_(("initial", "processing")),
            )
        )
        or 0
    )
    return SystemView(
        row.code,
        row.name,
        row.active,
        agencies,
        row.created_at,
        row.secret_set_at,
        row.last_seen_at,
        int(waiting),
    )


def list_systems(system: System) -> list[SystemView]:
    with system.sessions() as s:
        return [_view(s, r) for r in s.scalars(select(AxisSystem).order_by(AxisSystem.code))]


def _get(s: Session, code: str) -> AxisSystem:
    row = s.scalars(select(AxisSystem).where(AxisSystem.code == code.strip())).first()
    if row is None:
        raise NotFound(f"no system {code} is connected to this axis")
    return row


# -- changing ---------------------------------------------------------------------------------


def _assign(
    s: Session, row: AxisSystem, code: str, name: str, actor: str, parent: str = ""
) -> AxisAgency:
    """Give agency ``code`` to system ``row`` (a deleted code may be given again)."""
    code = code.strip()
    if not AGENCY_CODE.match(code):
        raise ClientError(
            f"{code!r} is not an agency code (letters, digits and dots, at most "
            "35 characters: 000.00.00.H41, H37.02.02)"
        )
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise ClientError(f"agency {code} needs a name of at most 200 characters")
    agency = s.scalars(select(AxisAgency).where(AxisAgency.code == code)).first()
    now = _now()
    if agency is not None and not agency.deleted and agency.system_id != row.id:
        holder = s.get(AxisSystem, agency.system_id)
        raise Conflict(f"agency {code} is served by system {holder.code if holder else '?'}")
    if agency is None:
        agency = AxisAgency(code=code, version=0, created_at=now)
        s.add(agency)
    agency.system_id, agency.name, agency.parent_code = row.id, name, parent
    agency.deleted, agency.version, agency.modified_at = False, (agency.version or 0) + 1, now
    agency.registered_by = actor[:100]
    s.flush()
    return agency


def add_system(
    system: System,
    actor: str,
    code: str,
    name: str,
    secret: str | None,
    agencies: list[tuple[str, str]] | None = None,
) -> tuple[SystemView, str]:
    """Connect a system; returns it and its secret (generated when none is given). Its
    agencies default to its own code when that is an agency code."""
    code = code.strip()
    if not SYSTEM_CODE.match(code):
        raise ClientError(
            f"{code!r} is not a system id (letters, digits, '.', '_', '-'; at most 64 characters)"
        )
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise ClientError("a system needs a name of at most 200 characters")
    secret = _check_secret(secret) if secret is not None else new_secret()
    wanted = agencies if agencies else ([(code, name)] if AGENCY_CODE.match(code) else [])
    now = _now()
    with transaction(system.sessions) as s:
        if s.scalars(select(AxisSystem).where(AxisSystem.code == code)).first():
            raise Conflict(f"system {code} is already connected (rotate-secret changes its secret)")
        row = AxisSystem(
            code=code,
            name=name,
            secret_box=seal(system.settings, code, secret),
            secret_set_at=now,
            active=True,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        for a_code, a_name in wanted:
            _assign(s, row, a_code, a_name or name, actor)
        audit.record(
            s,
            actor,
            "axis.system.add",
            "axis_system",
            code,
            {
                "name": name,
                "agencies": [a for a, _ in wanted],
                "secret_fingerprint": fingerprint(secret),
            },
        )
        return _view(s, row), secret


def set_active(system: System, actor: str, code: str, active: bool) -> SystemView:
    with transaction(system.sessions) as s:
        row = _get(s, code)
        row.active, row.updated_at = active, _now()
        audit.record(
            s,
            actor,
            "axis.system.enable" if active else "axis.system.disable",
            "axis_system",
            row.code,
            {},
        )
        return _view(s, row)


def rotate_secret(
    system: System, actor: str, code: str, secret: str | None = None
) -> tuple[SystemView, str]:
    """A new secret for the system (generated when none is given); the old one stops
    working at once."""
    secret = _check_secret(secret) if secret is not None else new_secret()
    with transaction(system.sessions) as s:
        row = _get(s, code)
        row.secret_box = seal(system.settings, row.code, secret)
        row.secret_set_at = row.updated_at = _now()
        audit.record(
            s,
            actor,
            "axis.system.rotate_secret",
            "axis_system",
            row.code,
            {"secret_fingerprint": fingerprint(secret)},
        )
        return _view(s, row), secret


def add_agency(
    system: System, actor: str, system_code: str, code: str, name: str, parent: str = ""
) -> SystemView:
    """The operator gives an agency (a top-level one, or any) to a system."""
    with transaction(system.sessions) as s:
        row = _get(s, system_code)
        agency = _assign(s, row, code, name, actor, parent.strip())
        audit.record(
            s,
            actor,
            "axis.agency.add",
            "axis_agency",
            agency.code,
            {"system": row.code, "name": agency.name, "parent": agency.parent_code},
        )
        return _view(s, row)


def remove_agency(system: System, actor: str, code: str) -> None:
    with transaction(system.sessions) as s:
        agency = s.scalars(
            select(AxisAgency).where(AxisAgency.code == code.strip(), AxisAgency.deleted.is_(False))
        ).first()
        if agency is None:
            raise NotFound(f"no agency {code} on this axis")
        agency.deleted, agency.version, agency.modified_at = True, agency.version + 1, _now()
        holder = s.get(AxisSystem, agency.system_id)
        audit.record(
            s,
            actor,
            "axis.agency.remove",
            "axis_agency",
            agency.code,
            {"system": holder.code if holder else None},
        )


def open_secret(settings: Settings, row: AxisSystem) -> str:
    return unseal(settings, row.code, row.secret_box)


def register_agency(s: Session, row: AxisSystem, data: Any, actor: str) -> AxisAgency:
    """``registerAgency`` by a connected system: a unit under one of its own agencies."""
    if not isinstance(data, dict):
        raise ClientError(
            "the body of registerAgency is a JSON object (code, name, pid or "
            "pcode, mail, mobile, fax)"
        )
    code = str(data.get("code") or "").strip()
    parent = str(data.get("pcode") or data.get("parentCode") or "").strip()
    pid = str(data.get("pid") or "").strip()
    own = {
        a.code: a
        for a in s.scalars(
            select(AxisAgency).where(AxisAgency.system_id == row.id, AxisAgency.deleted.is_(False))
        )
    }
    if not parent and pid:  # pid: the parent's id on this axis, or its code
        by_id = next((a for a in own.values() if str(a.id) == pid), None)
        parent = by_id.code if by_id else pid
    if code in own:  # an update: the parent stays unless another of its own is named
        parent = parent if parent in own else own[code].parent_code
    elif parent not in own:
        raise ClientError(
            f"system {row.code} registers units under its own agencies ("
            f"{', '.join(sorted(own)) or 'none yet'}): name one of them as pcode "
            "or pid; other agencies are assigned by the axis operator"
        )
    agency = _assign(s, row, code, str(data.get("name") or ""), actor, parent)
    agency.mail = str(data.get("mail") or "")[:200]
    agency.mobile = str(data.get("mobile") or "")[:50]
    agency.fax = str(data.get("fax") or "")[:50]
    return agency
