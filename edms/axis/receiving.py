"""The axis's reading operations: ``getReceivedEdocList``, ``getEdoc``, ``updateStatus``
and ``getSentEdocList``.

Invariants: a system reads only the deliveries addressed to it and the statuses of the
packages it sent; leftover SDK keys never filter (``status`` never filters the received
list, a ``from`` naming the caller's own agency is not a filter); statuses are shared
(receiver reports, sender reads); every call is audited.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import select

from storage import ObjectNotFound

from .. import blobs
from ..db import transaction
from ..exchange.vdxp import (
    PREFIX,
    Code,
    text_value,
)
from ..models import AxisDelivery, AxisPackage
from ..system import System
from .calls import (
    RECEIVE_STATUSES,
    SEND_STATUS,
    STATUS_WORDS,
    Caller,
    _audit,
    _date,
    _kind_filter,
    _now,
    _page,
    _served,
    _vn,
    refuse,
)


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
