"""The axis's ``sendEdoc``: reading, routing and keeping a package.

Invariants: a document goes to its ``To/OrganId``s, a status packet to the issuer of the
document it reports on, a revocation (13) to the agencies this axis delivered to; every
addressee must be an agency of an active system and ``From`` an agency of the sender,
otherwise nothing is stored. A package is kept by its SHA-256, checked against
``hash-file``; the same bytes from the same system again are the same package, delivered
only to the receivers it did not reach yet.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing import xmldsig

from .. import blobs
from ..errors import EdmsError
from ..exchange import edxml
from ..exchange.vdxp import (
    PREFIX,
    SERVICE_TYPE,
    AxisError,
    Code,
    codes_value,
    hash_matches,
)
from ..models import AxisDelivery, AxisPackage
from ..system import System
from .calls import RECEIVE_STATUSES, Caller, _audit, _now, _served, refuse
from .directory import _agency_rows


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
