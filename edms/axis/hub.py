"""This installation as an exchange axis (hub mode, ``EDMS_AXIS_HUB``): the VDXP protocol of
VNPT's client SDK (/work/shared/docs/vdxp-protocol.md) served under ``/vdxp`` to the
systems connected with ``edms axis system add`` (:mod:`edms.axis.systems`). The HTTP
layer (:mod:`api.vdxp`) only hands over the operation, the headers and the body.

Invariants:

* **Authenticated before anything else.** A request is served only when its
  ``XroadVnpt-sign-header`` is a JSON object of ``XroadVnpt-*`` entries naming an active
  system (``systemid``), its ``XroadVnpt-hash-header`` is the HMAC-SHA256 of that exact
  string under the system's secret (compared in constant time), no header contradicts its
  signed value, and its signed timestamp (read as Vietnam time, as the SDK writes it) is at
  most ``EDMS_AXIS_MAX_AGE_SECONDS`` old and at most ``EDMS_AXIS_CLOCK_SKEW_SECONDS`` ahead.
  **Parameters are read only from the signed JSON.**
* **No replay.** A signed request (its MAC, for one operation) is served once: it is
  remembered until its timestamp is too old to be accepted anyway. The operation is part
  of what is remembered because the URL is not signed and the SDK's sticky map makes two
  *different* operations carry the same signed headers (``updateStatus`` then
  ``getReceivedEdocList`` with no new key); the same signed headers replayed against
  another operation therefore cannot be told from that, and are served once per
  operation. (The SDK fixes the timestamp when a service object is created and keeps
  every key it was ever given: two identical calls of one operation on one object are
  the same request. Clients create a service object per round.)
* **Leftover keys are tolerated.** Each operation reads only its own keys; keys the SDK
  leaves from earlier calls (``docId``, ``status``, ``hash-file``, ``from``, ``to``…) are
  ignored where they would change the meaning: ``status`` never filters the received list,
  a ``from`` naming the caller's own agency is not a filter, a ``docId`` naming a package
  the caller received does not filter its sent list, and a ``to`` never redirects a
  package away from the addressees it names.
* **Routing.** A document goes to its ``To/OrganId``s; a status packet to the issuer of
  the document it reports on (``ResponseFor/DocumentId``), a revocation (13) to the
  agencies this axis delivered that document to. The ``to`` header (raw JSON, as the SDK
  sends it) may narrow those addressees, and names them when the package cannot (a status
  about a document that did not come through this axis). Every addressee must be an
  agency of an active system, and ``From`` an agency of the sender: otherwise refused,
  nothing stored. Each receiver gets its own DocId; the sender's DocId names the package.
* **Packages are kept** in the object store by their SHA-256, checked against
  ``hash-file`` (written with or without zero padding, the body with or without the
  SDK's trailing CRLF); the same bytes from the same system again are the same package
  (its DocId), delivered only to the receivers it did not reach yet (a status packet
  names no addressee, so one 13 for two agencies is the same bytes sent twice).
* **Statuses are shared.** The receiver reports ``processing``/``done``/``fail`` (with an
  optional ``description``), the sender reads them in ``getSentEdocList``.
* **Every call is audited** (``axis.<operation>``, or ``axis.refused`` with the reason),
  and **every answer has the shape the SDK reads**: ``status``, ``ErrorCode``,
  ``ErrorDesc``, plus ``DocId`` (sendEdoc) and ``data`` (getEdoc, the lists) even when it
  fails; no ``null`` anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing import xmldsig
from storage import ObjectNotFound

from .. import audit, blobs
from ..db import transaction
from ..errors import EdmsError
from ..exchange import edxml
from ..exchange.vdxp import (
    HASH_HEADER,
    OPERATIONS,
    PREFIX,
    SERVICE_TYPE,
    SIGN_HEADER,
    VN,
    AxisError,
    Code,
    answer,
    codes_value,
    hash_matches,
    mac,
    parse_timestamp,
    text_value,
)
from ..models import AxisAgency, AxisDelivery, AxisNonce, AxisPackage, AxisSystem
from ..system import System
from .systems import open_secret, register_agency

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


# -- authentication --------------------------------------------------------------------------


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


# -- the operations ---------------------------------------------------------------------------


def _audit(
    s: Session,
    caller: Caller,
    operation: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(s, caller.actor, f"axis.{operation}", object_type, object_id, details or {})


def _agency_rows(s: Session, deleted: bool) -> list[tuple[AxisAgency, AxisSystem]]:
    q = select(AxisAgency, AxisSystem).join(AxisSystem, AxisSystem.id == AxisAgency.system_id)
    if not deleted:
        q = q.where(AxisAgency.deleted.is_(False), AxisSystem.active.is_(True))
    return [(a, sy) for a, sy in s.execute(q.order_by(AxisAgency.code))]


def _parent_id(rows: list[tuple[AxisAgency, AxisSystem]], code: str) -> str:
    return next((str(a.id) for a, _ in rows if a.code == code), "") if code else ""


def get_agencies_list(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    with transaction(system.sessions) as s:
        _served(s, caller, "getAgenciesList")
        rows = _agency_rows(s, deleted=False)
        data = [
            {
                "id": str(a.id),
                "pid": _parent_id(rows, a.parent_code),
                "pcode": a.parent_code,
                "code": a.code,
                "name": a.name,
                "mail": a.mail,
            }
            for a, _ in rows
        ]
        _audit(s, caller, "getAgenciesList", "axis_system", caller.code, {"count": len(data)})
    return {"data": data}


def get_synchronize_unit(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    with transaction(system.sessions) as s:
        _served(s, caller, "getSynchronizeUnit")
        rows = _agency_rows(s, deleted=True)
        data = [
            {
                "id": str(a.id),
                "pid": _parent_id(rows, a.parent_code),
                "code": a.code,
                "name": a.name,
                "mail": a.mail,
                "version": a.version,
                "centerCode": sy.code,
                "deleted": bool(a.deleted),
                "modifyDate": _vn(a.modified_at),
                "isAgency": True,
            }
            for a, sy in rows
        ]
        _audit(s, caller, "getSynchronizeUnit", "axis_system", caller.code, {"count": len(data)})
    return {"data": data}


def _json_body(body: bytes) -> Any:
    if len(body) > SMALL_BODY:
        raise refuse(Code.TOO_LARGE, f"the body is over {SMALL_BODY} bytes")
    try:
        return json.loads(body.decode("utf-8").strip() or "{}")
    except (UnicodeDecodeError, ValueError):
        raise refuse(Code.BAD_REQUEST, "the body is not JSON") from None


def register_agency_op(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    data = _json_body(body)
    try:
        with transaction(system.sessions) as s:
            _served(s, caller, "registerAgency")
            row = s.get(AxisSystem, caller.system_id)
            assert row is not None
            agency = register_agency(s, row, data, caller.actor)
            _audit(
                s,
                caller,
                "registerAgency",
                "axis_agency",
                agency.code,
                {"name": agency.name, "parent": agency.parent_code, "version": agency.version},
            )
    except AxisError:
        raise
    except EdmsError as exc:
        raise refuse(Code.AGENCY_REFUSED, exc.message) from None
    return {}


def delete_agency(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    code = (caller.get("agencycode") or caller.get("code")).strip()
    if not code:
        raise refuse(Code.BAD_REQUEST, f"deleteAgency names no agency ({PREFIX}AgencyCode)")
    if code not in caller.agencies:
        raise refuse(Code.AGENCY_REFUSED, f"agency {code} is not one of system {caller.code}'s")
    with transaction(system.sessions) as s:
        _served(s, caller, "deleteAgency")
        agency = s.scalars(select(AxisAgency).where(AxisAgency.code == code)).one()
        agency.deleted, agency.version, agency.modified_at = True, agency.version + 1, _now()
        _audit(s, caller, "deleteAgency", "axis_agency", code, {"version": agency.version})
    return {}


# sendEdoc


def _package_of(body: bytes, caller: Caller, limit: int) -> bytes:
    """The package in the body: the SDK appends CRLF; ``hash-file`` (when given) must be
    its SHA-256, written with or without zero padding."""
    candidates = [body[:-2], body] if body.endswith(b"\r\n") else [body]
    given = caller.get("hash-file")
    if given:
        match = next((c for c in candidates if hash_matches(given, c)), None)
        if match is None:
            raise refuse(
                Code.HASH_MISMATCH,
                "hash-file is not the SHA-256 of the body "
                "(compared with and without zero padding, with and without the "
                "trailing CRLF): the package was changed or cut short",
            )
        data = match
    else:
        data = candidates[0]
    if not data.strip():
        raise refuse(Code.NOT_EDXML, "the request carries no package")
    if len(data) > limit:
        raise refuse(Code.TOO_LARGE, f"the package is {len(data)} bytes, over the limit of {limit}")
    return data


def _read_package(data: bytes, limit: int) -> tuple[edxml.Routing, edxml.Packet]:
    try:
        edxml.screen(data, limit)
        root = etree.fromstring(data, parser=xmldsig.hardened_parser())
        return edxml.routing(root), edxml.parse(root)
    except edxml.PackageTooLarge as exc:
        raise refuse(Code.TOO_LARGE, exc.message) from None
    except EdmsError as exc:
        raise refuse(Code.NOT_EDXML, f"not an edXML package: {exc.message}") from None
    except etree.XMLSyntaxError as exc:
        raise refuse(Code.NOT_EDXML, f"not an edXML package: malformed XML: {exc}") from None


def _addressees(s: Session, caller: Caller, route: edxml.Routing) -> tuple[list[str], bool]:
    """The agencies the package names (and whether they are only derived, for a status
    whose document this axis did not carry)."""
    if route.kind == "document":
        return list(dict.fromkeys(route.to)), False
    if route.status_code == "13":  # to those this axis delivered the document to
        codes = list(
            dict.fromkeys(
                s.scalars(
                    select(AxisDelivery.to_code)
                    .join(AxisPackage, AxisPackage.id == AxisDelivery.package_id)
                    .where(
                        AxisPackage.message_type == "edoc",
                        AxisPackage.document_key == route.document_key,
                        AxisPackage.from_code == route.sender,
                    )
                    .order_by(AxisDelivery.id)
                )
            )
        )
        return codes, not codes
    m = edxml.DOCUMENT_ID.match(route.document_key)
    return ([m["organ"]] if m else []), True


def _route(
    s: Session, caller: Caller, route: edxml.Routing
) -> tuple[list[tuple[str, int]], list[str]]:
    """(agency, receiving system) for each recipient, and notes on what was ignored."""
    named, derived = _addressees(s, caller, route)
    to = codes_value(caller.get("to")) if caller.get("to") else []
    reachable = {a.code: sy.id for a, sy in _agency_rows(s, deleted=False)}
    notes: list[str] = []
    if to and named and set(to) <= set(named):
        chosen = list(dict.fromkeys(to))  # the sender narrows the addressees
    elif to and (not named or (derived and not all(c in reachable for c in named))):
        chosen = list(dict.fromkeys(to))  # the package cannot say: the header does
    else:
        if to:
            notes.append(f"to {to} ignored: the package is addressed to {named}")
        chosen = named
    if not chosen:
        why = (
            "a revocation (13) of a document this axis did not carry"
            if route.status_code == "13"
            else "no To/OrganId"
        )
        raise refuse(
            Code.UNKNOWN_RECIPIENT, f"the package names no recipient ({why}): name it in {PREFIX}to"
        )
    unknown = [c for c in chosen if c not in reachable]
    if unknown:
        raise refuse(
            Code.UNKNOWN_RECIPIENT,
            f"no system on this axis serves {', '.join(unknown)}: nothing was sent",
        )
    return [(c, reachable[c]) for c in chosen], notes


def send_edoc(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    from ..documents import run_in_transaction

    limit = system.settings.exchange_max_mb * 1024 * 1024
    data = _package_of(body, caller, limit)
    route, packet = _read_package(data, limit)
    if route.sender not in caller.agencies:
        served = ", ".join(sorted(caller.agencies)) or "no agency"
        raise refuse(
            Code.NOT_YOUR_AGENCY,
            f"the package is from {route.sender}, which system "
            f"{caller.code} does not serve ({served})",
        )
    sha = hashlib.sha256(data).hexdigest()
    kind = "status" if route.kind == "status" else "edoc"
    declared = caller.get("messagetype").lower()
    title = (
        packet.subject
        if isinstance(packet, edxml.DocumentPackage)
        else f"{packet.status_code} {edxml.STATUS_CODES.get(packet.status_code, '')}".strip()
    )
    notation = (
        f"{packet.code_number}/{packet.code_notation}"
        if isinstance(packet, edxml.DocumentPackage)
        else packet.response_for.code
    )
    with blobs.workdir(system) as wd:
        path = wd / "package.xml"
        path.write_bytes(data)

        def work(s: Session, puts: list[blobs.PutOutcome]) -> tuple[str, bool]:
            _served(s, caller, "sendEdoc")
            old = s.scalars(
                select(AxisPackage).where(
                    AxisPackage.sender_system_id == caller.system_id,
                    AxisPackage.package_sha256 == sha,
                )
            ).first()
            try:
                recipients, notes = _route(s, caller, route)
            except AxisError:
                if old is None:
                    raise
                recipients, notes = [], ["routing failed now; the package was routed before"]
            now = _now()
            if old is not None:  # the same bytes again: the same package, and only the
                # receivers it did not have yet (a status packet names no addressee: the
                # same 13 goes to several agencies as identical bytes)
                pkg, had = (
                    old,
                    set(
                        s.scalars(
                            select(AxisDelivery.to_code).where(AxisDelivery.package_id == old.id)
                        )
                    ),
                )
                recipients = [(c, sid) for c, sid in recipients if c not in had]
                if not recipients:
                    _audit(
                        s,
                        caller,
                        "sendEdoc",
                        "axis_package",
                        old.doc_id,
                        {"duplicate": True, "package_sha256": sha},
                    )
                    return old.doc_id, True
            else:
                puts.append(
                    blobs.add_file(
                        system,
                        s,
                        path,
                        name=f"vdxp-{sha[:16]}.xml",
                        allowed=("application/xml", "text/xml"),
                    )
                )
                pkg = AxisPackage(
                    doc_id=str(uuid.uuid4()),
                    sender_system_id=caller.system_id,
                    from_code=route.sender,
                    service_type=SERVICE_TYPE,
                    message_type=kind,
                    document_key=route.document_key[:200],
                    status_code=route.status_code or None,
                    title=title[:500],
                    notation=notation[:100],
                    package_sha256=sha,
                    size=len(data),
                    created_at=now,
                )
                s.add(pkg)
                s.flush()
            receivers = []
            for code, system_id in recipients:
                d = AxisDelivery(
                    doc_id=str(uuid.uuid4()),
                    package_id=pkg.id,
                    receiver_system_id=system_id,
                    to_code=code,
                    status="initial",
                    status_desc=RECEIVE_STATUSES["initial"],
                    created_at=now,
                    updated_at=now,
                )
                s.add(d)
                receivers.append({"to": code, "docId": d.doc_id})
            if declared and declared != kind:
                notes.append(f"messagetype {declared} declared; the package is a {kind}")
            _audit(
                s,
                caller,
                "sendEdoc",
                "axis_package",
                pkg.doc_id,
                {
                    "from": route.sender,
                    "kind": kind,
                    "document_key": route.document_key,
                    "status_code": route.status_code,
                    "package_sha256": sha,
                    "size": len(data),
                    "receivers": receivers,
                    "notes": notes,
                    **({"again_for_more_receivers": True} if old is not None else {}),
                },
            )
            return pkg.doc_id, False

        try:
            doc_id, _ = run_in_transaction(system, work)
        except IntegrityError:  # the same package at the same moment: the first won
            with system.sessions() as s:
                first = s.scalars(
                    select(AxisPackage).where(
                        AxisPackage.sender_system_id == caller.system_id,
                        AxisPackage.package_sha256 == sha,
                    )
                ).first()
                if first is None:
                    raise
                doc_id = first.doc_id
    return {"DocId": doc_id}


# the receiver's side


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


def get_received_edoc_list(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    kind = _kind_filter(caller)
    size, index = _page(caller)
    start, end = _date(caller, "fromDate", False), _date(caller, "toDate", True)
    sender = caller.get("from").strip()
    if sender in caller.agencies:  # left by sendEdoc on the same service object
        sender = ""
    with transaction(system.sessions) as s:
        _served(s, caller, "getReceivedEdocList")
        q = (
            select(AxisDelivery, AxisPackage)
            .join(AxisPackage, AxisPackage.id == AxisDelivery.package_id)
            .where(
                AxisDelivery.receiver_system_id == caller.system_id,
                AxisDelivery.status.in_(("initial", "processing")),
            )
        )
        if kind:
            q = q.where(AxisPackage.message_type == kind)
        if sender:
            q = q.where(AxisPackage.from_code == sender)
        if start:
            q = q.where(AxisDelivery.created_at >= start)
        if end:
            q = q.where(AxisDelivery.created_at <= end)
        rows = list(s.execute(q.order_by(AxisDelivery.id).offset((index - 1) * size).limit(size)))
        data = [
            {
                "docId": d.doc_id,
                "serviceType": p.service_type,
                "messageType": p.message_type,
                "created_time": _vn(d.created_at),
                "updated_time": _vn(d.updated_at),
                "from": p.from_code,
                "to": d.to_code,
                "status": d.status,
                "status_desc": d.status_desc,
            }
            for d, p in rows
        ]
        _audit(
            s,
            caller,
            "getReceivedEdocList",
            "axis_system",
            caller.code,
            {"count": len(data), "messagetype": kind, "from": sender or None},
        )
    return {"data": data}


def get_edoc(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    doc_id = caller.get("docId").strip()
    if not doc_id:
        raise refuse(Code.BAD_REQUEST, f"getEdoc names no document ({PREFIX}docId)")
    with transaction(system.sessions) as s:
        _served(s, caller, "getEdoc")
        delivery = s.scalars(
            select(AxisDelivery).where(
                AxisDelivery.doc_id == doc_id, AxisDelivery.receiver_system_id == caller.system_id
            )
        ).first()
        if delivery is not None:
            pkg = s.get(AxisPackage, delivery.package_id)
            delivery.fetched_at = delivery.fetched_at or _now()
        else:  # the sender may read back what it sent
            pkg = s.scalars(
                select(AxisPackage).where(
                    AxisPackage.doc_id == doc_id, AxisPackage.sender_system_id == caller.system_id
                )
            ).first()
        if pkg is None:
            raise refuse(
                Code.NOT_FOUND, f"system {caller.code} has no document {doc_id[:64]} on this axis"
            )
        sha = pkg.package_sha256
        _audit(
            s,
            caller,
            "getEdoc",
            "axis_package",
            doc_id,
            {
                "package": pkg.doc_id,
                "package_sha256": sha,
                "as": "receiver" if delivery is not None else "sender",
            },
        )
    return {"data": base64.b64encode(_stored(system, sha)).decode("ascii")}


def _stored(system: System, sha: str) -> bytes:
    """A kept package, read from the object store and checked against its SHA-256."""
    stored = blobs.get_blob(system, sha)
    try:
        with system.store.open(stored.storage_key) as f:
            data = f.read()
    except ObjectNotFound:
        raise refuse(
            Code.INTERNAL,
            f"package {sha} is missing from the object store: run `edms storage verify`",
        ) from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise refuse(
            Code.INTERNAL,
            f"package {sha} is corrupted in the object store: run `edms storage verify`",
        )
    return data


def update_status(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    doc_id = caller.get("docId").strip()
    word = caller.get("status").strip().lower()
    if not doc_id:
        raise refuse(Code.BAD_REQUEST, f"updateStatus names no document ({PREFIX}docId)")
    status = STATUS_WORDS.get(word)
    if status is None:
        raise refuse(
            Code.BAD_STATUS, f"status {word[:30]!r} is not one of done, fail, processing, initial"
        )
    description = text_value(caller.get("description"))[:2000] or RECEIVE_STATUSES[status]
    with transaction(system.sessions) as s:
        _served(s, caller, "updateStatus")
        delivery = s.scalars(
            select(AxisDelivery).where(
                AxisDelivery.doc_id == doc_id, AxisDelivery.receiver_system_id == caller.system_id
            )
        ).first()
        if delivery is None:
            sent = s.scalars(
                select(AxisPackage.id).where(
                    AxisPackage.doc_id == doc_id, AxisPackage.sender_system_id == caller.system_id
                )
            ).first()
            raise refuse(
                Code.NOT_FOUND,
                f"{doc_id[:64]} is the sender's DocId: the receiver reports its status"
                if sent is not None
                else f"system {caller.code} received no document {doc_id[:64]}",
            )
        before = delivery.status
        delivery.status, delivery.status_desc = status, description
        delivery.updated_at = _now()
        _audit(
            s,
            caller,
            "updateStatus",
            "axis_package",
            doc_id,
            {"before": before, "status": status, "description": description[:500]},
        )
    return {}


def get_sent_edoc_list(system: System, caller: Caller, body: bytes) -> dict[str, Any]:
    kind = _kind_filter(caller)
    size, index = _page(caller)
    start, end = _date(caller, "fromDate", False), _date(caller, "toDate", True)
    doc_id = caller.get("docId").strip()
    with transaction(system.sessions) as s:
        _served(s, caller, "getSentEdocList")
        q = (
            select(AxisPackage, AxisDelivery)
            .join(AxisDelivery, AxisDelivery.package_id == AxisPackage.id)
            .where(AxisPackage.sender_system_id == caller.system_id)
        )
        if doc_id:
            mine = s.scalars(
                select(AxisPackage.id).where(
                    AxisPackage.doc_id == doc_id, AxisPackage.sender_system_id == caller.system_id
                )
            ).first()
            received = (
                mine is None
                and s.scalars(
                    select(AxisDelivery.id).where(
                        AxisDelivery.doc_id == doc_id,
                        AxisDelivery.receiver_system_id == caller.system_id,
                    )
                ).first()
                is not None
            )
            if not received:  # a docId left by getEdoc/updateStatus is not a filter
                q = q.where(AxisPackage.doc_id == doc_id)
        if kind:
            q = q.where(AxisPackage.message_type == kind)
        if start:
            q = q.where(AxisPackage.created_at >= start)
        if end:
            q = q.where(AxisPackage.created_at <= end)
        rows = list(
            s.execute(
                q.order_by(AxisPackage.id, AxisDelivery.id).offset((index - 1) * size).limit(size)
            )
        )
        data = [
            {
                "serviceType": p.service_type,
                "messageType": p.message_type,
                "senderDocId": p.doc_id,
                "receiverDocId": d.doc_id,
                "fromCode": p.from_code,
                "toCode": d.to_code,
                "title": p.title,
                "notation": p.notation,
                "sentTime": _vn(p.created_at),
                "receivedTime": _vn(d.fetched_at),
                "sendStatus": SEND_STATUS[0],
                "sendStatusDesc": SEND_STATUS[1],
                "receiveStatus": d.status,
                "receiveStatusDesc": d.status_desc,
            }
            for p, d in rows
        ]
        _audit(
            s,
            caller,
            "getSentEdocList",
            "axis_system",
            caller.code,
            {"count": len(data), "docId": doc_id or None},
        )
    return {"data": data}


HANDLERS: dict[str, Callable[[System, Caller, bytes], dict[str, Any]]] = {
    "getAgenciesList": get_agencies_list,
    "registerAgency": register_agency_op,
    "deleteAgency": delete_agency,
    "getSynchronizeUnit": get_synchronize_unit,
    "sendEdoc": send_edoc,
    "getReceivedEdocList": get_received_edoc_list,
    "getEdoc": get_edoc,
    "updateStatus": update_status,
    "getSentEdocList": get_sent_edoc_list,
}
assert set(HANDLERS) == set(OPERATIONS)


def body_limit(system: System, operation: str) -> int:
    """How many bytes of body an operation reads (sendEdoc: the package and its CRLF)."""
    if operation == "sendEdoc":
        return system.settings.exchange_max_mb * 1024 * 1024 + 2
    return SMALL_BODY


def _claimed(headers: Mapping[str, list[str]]) -> str:
    """The system id a refused request claims (not authenticated), for the audit."""
    for value in headers.get(SIGN_HEADER.lower(), [])[:1]:
        try:
            entries = json.loads(value.encode("latin-1").decode("utf-8", "replace"))
            claimed = entries.get(f"{PREFIX}systemid") if isinstance(entries, dict) else None
            return str(claimed)[:64] if claimed else "?"
        except ValueError:
            return "?"
    return "?"


def handle(
    system: System, operation: str, headers: Mapping[str, list[str]], body: bytes, remote: str = ""
) -> tuple[int, dict[str, Any]]:
    """Serve one request: (HTTP status, the answer). ``headers``: lower-cased names, each
    with its values as received (latin-1 text)."""
    empty = empty_fields(operation)
    caller: Caller | None = None
    try:
        if operation not in HANDLERS:
            raise refuse(
                Code.UNKNOWN_OPERATION,
                f"{operation[:60]!r} is not an operation of this axis ({', '.join(OPERATIONS)})",
            )
        if len(body) > body_limit(system, operation):
            raise refuse(
                Code.TOO_LARGE,
                f"the body is over the limit of {body_limit(system, operation)} bytes",
            )
        caller = authenticate(system, headers, operation)
        result = HANDLERS[operation](system, caller, body)
        return 200, answer(Code.OK, "", **{**empty, **result})
    except AxisError as exc:
        audit_refusal(system, operation, headers, exc.code, exc.message, remote, caller)
        return exc.status, answer(exc.code, exc.message, **empty)
    except EdmsError as exc:
        audit_refusal(system, operation, headers, Code.BAD_REQUEST, exc.message, remote, caller)
        return exc.status, answer(Code.BAD_REQUEST, exc.message, **empty)
    except Exception:
        log.exception("axis: %s failed", operation)
        audit_refusal(system, operation, headers, Code.INTERNAL, "internal error", remote, caller)
        return 500, answer(
            Code.INTERNAL,
            "the axis could not serve the request; it is logged, try again later",
            **empty,
        )


def audit_refusal(
    system: System,
    operation: str,
    headers: Mapping[str, list[str]],
    code: str,
    reason: str,
    remote: str,
    caller: Caller | None = None,
) -> None:
    """A refused call in the audit trail: what it claimed to be, why it was refused; an
    authenticated one is remembered as served (refused once is refused for good)."""
    try:
        with transaction(system.sessions) as s:
            if caller is not None and s.get(AxisNonce, (caller.system_id, caller.seen)) is None:
                s.add(
                    AxisNonce(
                        system_id=caller.system_id, mac=caller.seen, expires_at=caller.expires
                    )
                )
            audit.record(
                s,
                f"axis:{_claimed(headers)}",
                "axis.refused",
                "axis_call",
                operation[:60],
                {"ErrorCode": code, "reason": reason[:500], "remote": remote},
            )
    except Exception:  # the answer still goes out; the cause is logged
        log.exception("axis: the refusal of %s could not be audited", operation)


def packages(system: System, limit: int = 50) -> list[dict[str, Any]]:
    """The latest packages through the axis with their receivers' statuses (operators)."""
    with system.sessions() as s:
        pkgs = list(s.scalars(select(AxisPackage).order_by(AxisPackage.id.desc()).limit(limit)))
        senders = {sy.id: sy.code for sy in s.scalars(select(AxisSystem))}
        out = []
        for p in pkgs:
            out.append(
                {
                    "docId": p.doc_id,
                    "from": p.from_code,
                    "system": senders.get(p.sender_system_id),
                    "kind": p.message_type,
                    "statusCode": p.status_code,
                    "documentKey": p.document_key,
                    "title": p.title,
                    "sha256": p.package_sha256,
                    "size": p.size,
                    "at": _vn(p.created_at),
                    "receivers": [
                        {
                            "to": d.to_code,
                            "docId": d.doc_id,
                            "status": d.status,
                            "statusDesc": d.status_desc,
                            "fetchedAt": _vn(d.fetched_at),
                            "system": senders.get(d.receiver_system_id),
                        }
                        for d in s.scalars(
                            select(AxisDelivery)
                            .where(AxisDelivery.package_id == p.id)
                            .order_by(AxisDelivery.id)
                        )
                    ],
                }
            )
        return out
