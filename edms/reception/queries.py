"""Reading dossiers for the staff: one dossier, the list, lateness and statistics.

Invariants: staff see only the dossiers of agencies they may see; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from .. import audit
from ..db import transaction
from ..errors import ClientError
from ..models import (
    Document,
    Procedure,
    ProcedureDossier,
    ProcedureDossierDocument,
    ProcedureDossierStep,
    User,
)
from ..orgs import load_user, may_see, require_role
from ..system import System
from .common import OPEN, REFUSED, STAFF, STATUS_VI, _load, _now, vn_date


def is_late(d: ProcedureDossier, today: date | None = None) -> bool:
    """Late: its result (or refusal) came after the promised date, or it is still open
    past it."""
    done = d.result_at or (d.finished_at if d.status == REFUSED else None)
    return (vn_date(done) if done else today or vn_date(_now())) > d.promised_date


@dataclass
class DossierView:
    dossier: ProcedureDossier
    procedure: Procedure
    steps: list[ProcedureDossierStep]
    documents: list[tuple[ProcedureDossierDocument, Document]]
    received_by: str
    late: bool


def get(system: System, actor: str, code: str) -> DossierView:
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        d = _load(s, user, code)
        proc = s.get(Procedure, d.procedure_id)
        clerk = s.get(User, d.received_by)
        assert proc is not None and clerk is not None
        links = list(
            s.execute(
                select(ProcedureDossierDocument, Document)
                .join(Document, Document.id == ProcedureDossierDocument.document_id)
                .where(ProcedureDossierDocument.dossier_id == d.id)
                .order_by(ProcedureDossierDocument.added_at)
            ).all()
        )
        steps = list(
            s.scalars(
                select(ProcedureDossierStep)
                .where(ProcedureDossierStep.dossier_id == d.id)
                .order_by(ProcedureDossierStep.id)
            )
        )
        audit.record(
            s, user.username, "dossier.read", "procedure_dossier", str(d.id), {"code": d.code}
        )
        return DossierView(
            d,
            proc,
            steps,
            [(a, b) for a, b in links if may_see(s, user, b)],
            clerk.full_name,
            is_late(d),
        )


def list_dossiers(
    system: System,
    actor: str,
    *,
    status: str | None = None,
    late_only: bool = False,
    query: str = "",
    limit: int = 200,
) -> list[tuple[ProcedureDossier, str]]:
    """The agency's dossiers (newest first) with their procedure's name; ``late_only``:
    open ones past their promised date."""
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, *STAFF, action="list citizens' dossiers")
        q = (
            select(ProcedureDossier, Procedure.name)
            .join(Procedure, Procedure.id == ProcedureDossier.procedure_id)
            .where(ProcedureDossier.agency_id == user.agency_id)
        )
        if status:
            if status not in STATUS_VI:
                raise ClientError(f"unknown status {status!r}")
            q = q.where(ProcedureDossier.status == status)
        if late_only:
            q = q.where(
                ProcedureDossier.status.in_(OPEN), ProcedureDossier.promised_date < vn_date(_now())
            )
        text = query.strip()[:100]
        if text:
            like = f"%{text}%"
            q = q.where(
                ProcedureDossier.code.ilike(like) | ProcedureDossier.applicant_name.ilike(like)
            )
        rows = s.execute(
            q.order_by(ProcedureDossier.received_at.desc()).limit(min(max(limit, 1), 1000))
        ).all()
        return [(d, name) for d, name in rows]


@dataclass(frozen=True)
class Stats:
    received: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    open_on_time: int = 0
    open_late: int = 0


def statistics(system: System, actor: str, start: date, end: date) -> Stats:
    """Dossiers received in [start, end]: handled early, on time, late; open ones on time
    or late today (the figures one-stop centres publish)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        rows = list(
            s.scalars(select(ProcedureDossier).where(ProcedureDossier.agency_id == user.agency_id))
        )
    today = vn_date(_now())
    counts = {"received": 0, "early": 0, "on_time": 0, "late": 0, "open_on_time": 0, "open_late": 0}
    for d in rows:
        if not start <= vn_date(d.received_at) <= end:
            continue
        counts["received"] += 1
        done = d.result_at or (d.finished_at if d.status == REFUSED else None)
        if done is None:
            counts["open_late" if today > d.promised_date else "open_on_time"] += 1
        else:
            day = vn_date(done)
            key = (
                "early"
                if day < d.promised_date
                else "on_time"
                if day == d.promised_date
                else "late"
            )
            counts[key] += 1
    return Stats(**counts)
