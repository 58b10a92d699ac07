"""The axis's agency operations (``getAgenciesList``, ``getSynchronizeUnit``,
``registerAgency``, ``deleteAgency``) for connected systems.

Invariants: a system sees and changes only what the axis allows it (its own agencies for
registration and deletion); every call is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import transaction
from ..errors import EdmsError
from ..exchange.vdxp import (
    PREFIX,
    AxisError,
    Code,
)
from ..models import AxisAgency, AxisSystem
from ..system import System
from .calls import Caller, _audit, _json_body, _now, _served, _vn, refuse
from .systems import register_agency


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
