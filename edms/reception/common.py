"""What every part of the one-stop desk shares: the dossier states and their Vietnamese
names, the channels and paper forms, the look-up secret (made, hashed, compared), the
application and receipt as handed over, and the transaction, loading and history helpers.

Invariants: only a slow salted hash (scrypt) of a look-up secret is ever stored; a
comparison costs the same work whether the dossier exists or not and is constant-time;
every step runs in one transaction with its history entry, and a concurrent step on the
same dossier is refused by its ``version``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .. import audit, events
from ..db import transaction
from ..errors import Conflict, NotFound
from ..models import (
    ProcedureDossier,
    ProcedureDossierStep,
    User,
)
from ..numbering import VN_TZ
from ..system import System

T = TypeVar("T")


RECEIVED, IN_PROGRESS, READY, DELIVERED, REFUSED = (
    "received",
    "in_progress",
    "result_ready",
    "delivered",
    "refused",
)


STATUS_VI = {
    RECEIVED: "Đã tiếp nhận",
    IN_PROGRESS: "Đang giải quyết",
    READY: "Đã có kết quả",
    DELIVERED: "Đã trả kết quả",
    REFUSED: "Từ chối giải quyết",
}


OPEN = (RECEIVED, IN_PROGRESS)


STEP_VI = {
    "receive": "Tiếp nhận",
    "start": "Chuyển giải quyết",
    "result": "Có kết quả",
    "deliver": "Trả kết quả",
    "refuse": "Từ chối giải quyết",
    "reissue": "In lại phiếu, cấp mã tra cứu mới",
}


CHANNELS = {"email": "Thư điện tử", "sms": "Tin nhắn SMS", "zalo": "Zalo"}


PAPER_FORMS = {
    "original": "Bản chính",
    "copy": "Bản sao",
    "certified": "Bản sao chứng thực",
    "electronic": "Bản điện tử",
}


STAFF = ("clerk", "officer", "leader", "admin")


SECRET_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O, U


SECRET_LENGTH = 8


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


_DUMMY_SALT = b"edms-lookup-dummy-salt"


LOOKUP_WINDOW = timedelta(minutes=15)


MAX_FAILED_PER_CLIENT = 20


MAX_FAILED_PER_CODE = 10


MAX_PER_CLIENT = 120


PHONE = re.compile(r"^\+?[0-9 .-]{8,20}$")


EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")


def _now() -> datetime:
    return datetime.now(UTC)


def vn_date(t: datetime) -> date:
    return t.astimezone(VN_TZ).date()


def new_secret() -> str:
    raw = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_secret(value: str) -> str:
    """As typed: any case, spaces and dashes ignored, O read as 0 and I or L as 1."""
    v = re.sub(r"[\s-]+", "", value or "").upper()
    return v.translate(str.maketrans("OIL", "011"))[:64]


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        normalise_secret(secret).encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT
    )


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return (
        "scrypt$"
        + base64.b64encode(salt).decode()
        + "$"
        + base64.b64encode(_scrypt(secret, salt)).decode()
    )


def secret_matches(stored: str | None, secret: str) -> bool:
    """Constant-time; does the same work whether ``stored`` exists or not."""
    try:
        _kind, salt_b64, digest_b64 = (stored or "").split("$")
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        salt, digest = _DUMMY_SALT, b"\0" * 32
    ok = hmac.compare_digest(_scrypt(secret, salt), digest)
    return ok and stored is not None


@dataclass(frozen=True)
class Paper:
    name: str
    form: str = "copy"
    count: int = 1


@dataclass(frozen=True)
class Application:
    """What the clerk enters at the desk."""

    procedure_code: str
    applicant_name: str
    applicant_id: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    channels: tuple[str, ...] = ()
    papers: tuple[Paper, ...] = ()
    note: str = ""


@dataclass
class Receipt:
    """A dossier just received (or its receipt reissued): everything the receipt prints,
    with the look-up secret, which exists only here."""

    code: str
    secret: str
    lookup_url: str
    agency_name: str
    agency_place: str
    procedure_code: str
    procedure_name: str
    time_vi: str
    applicant_name: str
    applicant_id: str
    address: str
    phone: str
    email: str
    papers: list[Paper]
    received_at: datetime
    promised_date: date
    clerk_name: str
    channels: list[str] = field(default_factory=list)


def lookup_url(system: System, code: str) -> str:
    return f"{system.settings.public_url}/tra-cuu?ma={code}"


def _step(
    s: Session,
    d: ProcedureDossier,
    actor: str,
    action: str,
    to: str,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    before = d.status if d.id is not None and action != "receive" else None
    d.status, d.updated_at = to, _now()
    if note:
        d.status_note = note
    s.flush()
    s.add(
        ProcedureDossierStep(
            dossier_id=d.id,
            at=_now(),
            actor=actor,
            action=action,
            from_status=before,
            to_status=to,
            note=note,
        )
    )
    audit.record(
        s,
        actor,
        f"dossier.{action}",
        "procedure_dossier",
        str(d.id),
        {
            "code": d.code,
            "from": before,
            "to": to,
            **({"note": note} if note else {}),
            **(details or {}),
        },
    )


def _event(s: Session, name: str, d: ProcedureDossier, actor: str, **data: Any) -> None:
    events.emit(
        s,
        events.Event(
            name,
            d.agency_id,
            f"dossier:{d.code}",
            actor,
            {"dossier_id": d.id, "code": d.code, **data},
        ),
    )


def _run(system: System, work: Callable[[Session], T]) -> T:
    try:
        with transaction(system.sessions) as s:
            return work(s)
    except StaleDataError:
        raise Conflict(
            "the dossier was changed by someone else meanwhile; reload it and try again"
        ) from None


def _load(s: Session, user: User, code: str) -> ProcedureDossier:
    d = s.scalars(select(ProcedureDossier).where(ProcedureDossier.code == code.strip())).first()
    if d is None or d.agency_id != user.agency_id:
        raise NotFound(f"no dossier {code.strip()[:60]}")
    return d
