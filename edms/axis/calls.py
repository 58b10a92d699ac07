"""The axis's calls (hub mode, :mod:`edms.axis.hub`): who is calling and how a call is
checked, answered and audited; the helpers every VDXP operation shares.

Invariants: a request is served only once it is authenticated (signed headers naming an
active system, HMAC-SHA256 under its secret compared in constant time, a fresh signed
timestamp) and not a replay (its MAC remembered per operation until too old anyway);
parameters are read only from the signed JSON; :func:`refuse` is the one way an operation
says no, with the code and HTTP status the SDK expects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..errors import EdmsError
from ..exchange.vdxp import (
    HASH_HEADER,
    PREFIX,
    SIGN_HEADER,
    VN,
    AxisError,
    Code,
    mac,
    parse_timestamp,
)
from ..models import AxisAgency, AxisNonce, AxisSystem
from ..system import System
from .systems import open_secret

log = logging.getLogger("edms.axis")


RECEIVE_STATUSES = {
    "initial": "Chờ bên nhận lấy về",
    "processing": "Bên nhận đang xử lý",
    "done": "Bên nhận đã nhận",
    "fail": "Bên nhận báo lỗi",
}


STATUS_WORDS = {
    "done": "done",
    "success": "done",
    "received": "done",
    "fail": "fail",
    "failed": "fail",
    "error": "fail",
    "processing": "processing",
    "initial": "initial",
    "pending": "initial",
}


SEND_STATUS = ("done", "Trục đã nhận gói tin và chuyển cho bên nhận")


SMALL_BODY = 64 * 1024


HTTP_STATUS = {
    Code.BAD_REQUEST: 400,
    Code.UNKNOWN_OPERATION: 404,
    Code.UNKNOWN_SYSTEM: 401,
    Code.BAD_SIGNATURE: 401,
    Code.STALE: 401,
    Code.REPLAY: 401,
    Code.NOT_EDXML: 422,
    Code.TOO_LARGE: 413,
    Code.HASH_MISMATCH: 400,
    Code.UNKNOWN_RECIPIENT: 422,
    Code.NOT_YOUR_AGENCY: 403,
    Code.NOT_FOUND: 404,
    Code.BAD_STATUS: 400,
    Code.AGENCY_REFUSED: 409,
    Code.INTERNAL: 500,
}


def refuse(code: str, message: str) -> AxisError:
    return AxisError(code, message, HTTP_STATUS.get(code, 400))


def _now() -> datetime:
    return datetime.now(UTC)


def _vn(t: datetime | None) -> str:
    return t.astimezone(VN).isoformat(timespec="seconds") if t else ""


def empty_fields(operation: str) -> dict[str, Any]:
    """The fields the SDK needs in this operation's answer even when it fails."""
    if operation == "sendEdoc":
        return {"DocId": ""}
    if operation == "getEdoc":
        return {"data": ""}
    if operation in (
        "getAgenciesList",
        "getSynchronizeUnit",
        "getReceivedEdocList",
        "getSentEdocList",
    ):
        return {"data": []}
    return {}


@dataclass(frozen=True)
class Caller:
    system_id: int
    code: str
    params: Mapping[str, str]  # the signed parameters, names lower-cased
    agencies: frozenset[str]
    seen: str  # what a replay of this request would repeat (SHA-256 of operation and MAC)
    expires: datetime  # when its timestamp is too old anyway

    def get(self, key: str) -> str:
        return self.params.get(key.lower(), "")

    @property
    def actor(self) -> str:
        return f"axis:{self.code}"


def _one(headers: Mapping[str, list[str]], name: str, what: str) -> str:
    values = headers.get(name.lower(), [])
    if not values:
        raise refuse(Code.BAD_REQUEST, f"the request has no {name}: {what}")
    if len(values) > 1:
        raise refuse(Code.BAD_REQUEST, f"the request has {len(values)} {name} headers")
    return values[0]


def signed_params(raw: bytes) -> dict[str, tuple[str, str]]:
    """The signed JSON's entries: lower-cased name → (name as signed, value)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        data = json.loads(text)
    except ValueError:
        raise refuse(Code.BAD_REQUEST, f"{SIGN_HEADER} is not JSON") from None
    if not isinstance(data, dict):
        raise refuse(Code.BAD_REQUEST, f"{SIGN_HEADER} is not a JSON object")
    out: dict[str, tuple[str, str]] = {}
    for name, value in data.items():
        if not name.lower().startswith(PREFIX.lower()):
            raise refuse(
                Code.BAD_REQUEST,
                f"{SIGN_HEADER} signs {name[:60]!r}, which is not an {PREFIX}* header",
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise refuse(Code.BAD_REQUEST, f"{SIGN_HEADER}: {name[:60]} is not text")
        key = name[len(PREFIX) :].lower()
        if key in out and out[key][1] != value:
            raise refuse(
                Code.BAD_REQUEST,
                f"{out[key][0]} and {name} are both signed, with "
                "different values: which one is meant is unknown",
            )
        out[key] = (name, value)
    return out


def authenticate(system: System, headers: Mapping[str, list[str]], operation: str) -> Caller:
    """The caller of a signed request for ``operation`` (see the module's invariants);
    refused otherwise."""
    settings = system.settings
    raw = _one(headers, SIGN_HEADER, "the request is not signed").encode("latin-1")
    given = _one(headers, HASH_HEADER, "the request is not signed").strip().lower()
    if len(given) != 64 or any(c not in "0123456789abcdef" for c in given):
        raise refuse(Code.BAD_REQUEST, f"{HASH_HEADER} is not a hex HMAC-SHA256")
    entries = signed_params(raw)
    params = {k: v for k, (_, v) in entries.items()}
    code = params.get("systemid", "").strip()
    if not code:
        raise refuse(Code.BAD_REQUEST, f"{SIGN_HEADER} signs no {PREFIX}systemid")
    with system.sessions() as s:
        row = s.scalars(select(AxisSystem).where(AxisSystem.code == code)).first()
        if row is None:
            raise refuse(Code.UNKNOWN_SYSTEM, f"system {code[:64]} is not connected to this axis")
        if not row.active:
            raise refuse(Code.UNKNOWN_SYSTEM, f"system {code} is disabled on this axis")
        try:
            secret = open_secret(settings, row)
        except EdmsError as exc:  # the operator's problem: logged, not told to the caller
            log.error("axis: %s", exc.message)
            raise refuse(
                Code.INTERNAL,
                "the axis cannot check this system's signature now; its operator has been told",
            ) from None
        system_id = row.id
        agencies = frozenset(
            s.scalars(
                select(AxisAgency.code).where(
                    AxisAgency.system_id == row.id, AxisAgency.deleted.is_(False)
                )
            )
        )
    if not hmac.compare_digest(mac(secret, raw).encode(), given.encode()):
        raise refuse(
            Code.BAD_SIGNATURE,
            f"the signature ({HASH_HEADER}) does not match: a "
            f"wrong secret for system {code}, or the signed headers were changed",
        )
    for name, value in entries.values():
        actual = headers.get(name.lower(), [])  # a repeated header may arrive joined by ","
        if (
            actual
            and value not in actual
            and value not in {part.strip() for v in actual for part in v.split(",")}
        ):
            raise refuse(Code.BAD_SIGNATURE, f"header {name} differs from its signed value")
    if "timestamp" not in params:
        raise refuse(Code.BAD_REQUEST, f"{SIGN_HEADER} signs no {PREFIX}timestamp")
    at = parse_timestamp(params["timestamp"])
    now = _now()
    age = (now - at).total_seconds()
    if age > settings.axis_max_age_seconds:
        raise refuse(
            Code.STALE,
            f"the request was signed at {_vn(at)}, {int(age)} s ago (at "
            f"most {settings.axis_max_age_seconds} s are accepted): the SDK fixes "
            "the timestamp when its service object is created; create a new one",
        )
    if -age > settings.axis_clock_skew_seconds:
        raise refuse(
            Code.STALE,
            f"the request is signed at {_vn(at)}, {int(-age)} s in the "
            f"future (at most {settings.axis_clock_skew_seconds} s): check the "
            "clock of the calling system",
        )
    seen = hashlib.sha256(f"{operation}:{given}".encode()).hexdigest()
    caller = Caller(
        system_id,
        code,
        params,
        agencies,
        seen,
        at + timedelta(seconds=settings.axis_max_age_seconds + 1),
    )
    with system.sessions() as s:  # refused before any work; recorded with the work (_served)
        if s.get(AxisNonce, (system_id, seen)) is not None:
            raise _replay(operation)
    return caller


def _replay(operation: str) -> AxisError:
    return refuse(
        Code.REPLAY,
        f"this signed {operation} request was already served (a "
        "replay): sign each request anew (with the SDK: the same call on the same "
        "service object is the same request; make a new one)",
    )


def _served(s: Session, caller: Caller, operation: str) -> None:
    """Remember the request in the operation's own transaction (so a request is served
    once even when two copies arrive together: the second's insert fails)."""
    now = _now()
    s.execute(delete(AxisNonce).where(AxisNonce.expires_at < now))
    s.add(AxisNonce(system_id=caller.system_id, mac=caller.seen, expires_at=caller.expires))
    try:
        s.flush()
    except IntegrityError:
        raise _replay(operation) from None
    s.execute(update(AxisSystem).where(AxisSystem.id == caller.system_id).values(last_seen_at=now))


def _audit(
    s: Session,
    caller: Caller,
    operation: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(s, caller.actor, f"axis.{operation}", object_type, object_id, details or {})


def _json_body(body: bytes) -> Any:
    if len(body) > SMALL_BODY:
        raise refuse(Code.TOO_LARGE, f"the body is over {SMALL_BODY} bytes")
    try:
        return json.loads(body.decode("utf-8").strip() or "{}")
    except (UnicodeDecodeError, ValueError):
        raise refuse(Code.BAD_REQUEST, "the body is not JSON") from None


def _page(caller: Caller) -> tuple[int, int]:
    def number(key: str, default: int, lo: int, hi: int) -> int:
        v = caller.get(key).strip()
        if not v:
            return default
        try:
            return max(lo, min(hi, int(v)))
        except ValueError:
            raise refuse(Code.BAD_REQUEST, f"{key} {v[:20]!r} is not a number") from None

    size = number("pageSize", 100, 1, 1000)
    index = number("pageIndex", 1, 0, 1_000_000)
    return size, max(index, 1)


DATE_FORMATS = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d%m%Y",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def _date(caller: Caller, key: str, end: bool) -> datetime | None:
    v = caller.get(key).strip()
    if not v:
        return None
    for fmt in DATE_FORMATS:
        try:
            t = datetime.strptime(v, fmt)
        except ValueError:
            continue
        if len(v) <= 10 and end:  # a day: up to its end
            t = datetime.combine(t.date(), time.max)
        return t.replace(tzinfo=VN).astimezone(UTC)
    raise refuse(Code.BAD_REQUEST, f"{key} {v[:30]!r} is not a date (dd/MM/yyyy or yyyy-MM-dd)")


def _kind_filter(caller: Caller) -> str | None:
    v = caller.get("messagetype").strip().lower()
    if v in ("", "all"):
        return None
    if v not in ("edoc", "status"):
        raise refuse(Code.BAD_REQUEST, f"messagetype {v[:20]!r} is edoc or status")
    return v
