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

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from .. import audit
from ..db import transaction
from ..errors import EdmsError
from ..exchange.vdxp import (
    OPERATIONS,
    PREFIX,
    SIGN_HEADER,
    AxisError,
    Code,
    answer,
)
from ..models import AxisDelivery, AxisNonce, AxisPackage, AxisSystem
from ..system import System
from .calls import (
    DATE_FORMATS,
    HTTP_STATUS,
    RECEIVE_STATUSES,
    SEND_STATUS,
    SMALL_BODY,
    STATUS_WORDS,
    Caller,
    _vn,
    authenticate,
    empty_fields,
    log,
    refuse,
    signed_params,
)
from .directory import (
    delete_agency,
    get_agencies_list,
    get_synchronize_unit,
    register_agency_op,
)
from .receiving import (
    get_edoc,
    get_received_edoc_list,
    get_sent_edoc_list,
    update_status,
)
from .sending import send_edoc

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


__all__ = [
    "DATE_FORMATS",
    "HANDLERS",
    "HTTP_STATUS",
    "RECEIVE_STATUSES",
    "SEND_STATUS",
    "SMALL_BODY",
    "STATUS_WORDS",
    "Caller",
    "audit_refusal",
    "authenticate",
    "body_limit",
    "delete_agency",
    "empty_fields",
    "get_agencies_list",
    "get_edoc",
    "get_received_edoc_list",
    "get_sent_edoc_list",
    "get_synchronize_unit",
    "handle",
    "packages",
    "refuse",
    "register_agency_op",
    "send_edoc",
    "signed_params",
    "update_status",
]
