"""The agency's administrative procedures (thủ tục hành chính) it receives dossiers for.

A procedure has its code in the national database of procedures (MaTTHC, e.g.
``1.001612``), its name and field, its processing time — a number of *working* days (the
usual form: "03 ngày làm việc") or of calendar days — and the papers a citizen hands in
(the clerk's checklist at reception). Administrators keep the list; a procedure that
dossiers were received for is deactivated, never deleted, so old dossiers keep their
meaning. Every change is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .db import transaction
from .dossiers import validate_code
from .errors import ClientError, NotFound
from .models import Procedure
from .orgs import load_user, require_role
from .system import System
from .workdays import DAY_KINDS_VI, MAX_DAYS


@dataclass(frozen=True)
class ProcedureSpec:
    code: str
    name: str
    days: int
    day_kind: str = "working"
    field: str = ""
    papers: tuple[str, ...] = ()
    active: bool = True


def _check(spec: ProcedureSpec) -> ProcedureSpec:
    code = validate_code(spec.code, "procedure code (mã thủ tục)", 50)
    name = spec.name.strip()
    if not name or len(name) > 500:
        raise ClientError("the procedure's name is required, up to 500 characters")
    if spec.day_kind not in DAY_KINDS_VI:
        raise ClientError("the processing time is in 'working' days or 'calendar' days")
    if not 0 <= spec.days <= MAX_DAYS:
        raise ClientError(f"the processing time is 0 to {MAX_DAYS} days (0: the same day)")
    papers = tuple(p.strip()[:300] for p in spec.papers if p.strip())
    if len(papers) > 50:
        raise ClientError("at most 50 papers in a procedure's checklist")
    if len(spec.field) > 200:
        raise ClientError("the field is longer than 200 characters")
    return ProcedureSpec(
        code, name, spec.days, spec.day_kind, spec.field.strip(), papers, spec.active
    )


def papers_of(p: Procedure) -> list[str]:
    return [str(x) for x in json.loads(p.papers or "[]")]


def time_vi(days: int, kind: str) -> str:
    """``03 ngày làm việc``; ``Trong ngày`` for 0."""
    return "Trong ngày" if days == 0 else f"{days:02d} {DAY_KINDS_VI[kind]}"


def _admin(s: Session, actor: str) -> int:
    user = load_user(s, actor)
    require_role(user, "admin", action="manage the agency's procedures")
    return user.agency_id


def save(system: System, actor: str, spec: ProcedureSpec) -> Procedure:
    """Add a procedure, or change the one with this code (administrators)."""
    spec = _check(spec)
    with transaction(system.sessions) as s:
        agency_id = _admin(s, actor)
        row = s.scalars(
            select(Procedure).where(Procedure.agency_id == agency_id, Procedure.code == spec.code)
        ).first()
        action = "procedure.update" if row else "procedure.create"
        if row is None:
            row = Procedure(agency_id=agency_id, code=spec.code)
            s.add(row)
        row.name, row.field, row.days, row.day_kind = (
            spec.name,
            spec.field,
            spec.days,
            spec.day_kind,
        )
        row.papers = json.dumps(list(spec.papers), ensure_ascii=False)
        row.active = spec.active
        row.updated_by, row.updated_at = actor, datetime.now(UTC)
        s.flush()
        audit.record(
            s,
            actor,
            action,
            "procedure",
            str(row.id),
            {
                "code": spec.code,
                "days": spec.days,
                "day_kind": spec.day_kind,
                "active": spec.active,
            },
        )
        return row


def list_procedures(system: System, actor: str, active_only: bool = False) -> list[Procedure]:
    with system.sessions() as s:
        user = load_user(s, actor)
        q = select(Procedure).where(Procedure.agency_id == user.agency_id)
        if active_only:
            q = q.where(Procedure.active.is_(True))
        return list(s.scalars(q.order_by(Procedure.field, Procedure.code)))


def by_code(s: Session, agency_id: int, code: str) -> Procedure:
    row = s.scalars(
        select(Procedure).where(Procedure.agency_id == agency_id, Procedure.code == code.strip())
    ).first()
    if row is None:
        raise NotFound(f"no procedure {code.strip()[:50]!r} in this agency's list")
    return row


def get(system: System, actor: str, code: str) -> Procedure:
    with system.sessions() as s:
        return by_code(s, load_user(s, actor).agency_id, code)
