"""The checks that raise notices no step raises: run hourly by edms.maintenance (and by
``edms notices check``).

* ``document.due_tomorrow``: an open incoming document whose deadline is the next working
  day (on a Friday, Monday's deadlines; the day before Tết, those after it);
* ``document.overdue``: an open incoming document past its deadline;
* ``dossier.late``: a citizen's dossier still open past its promised date (the citizen is
  told, with an apology, and so is the clerk who received it).

Each finding's event id is derived from what it is about and the deadline concerned, so
running the check again (every hour, or in two processes) finds the same event and writes
nothing new; a new deadline is a new finding. The look-up attempts older than a day are
removed on the way.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from .. import events, workdays
from ..db import transaction
from ..models import Agency, Assignment, Document, ProcedureDossier
from ..reception import OPEN, purge_lookups, vn_date
from ..system import System
from ..tracking import OPEN_STATES


def _emit(system: System, event: events.Event) -> None:
    with transaction(system.sessions) as s:
        events.emit(s, event)


def run(system: System, today: date | None = None) -> dict[str, Any]:
    from datetime import UTC, datetime

    today = today or vn_date(datetime.now(UTC))
    found = {"due_tomorrow": 0, "overdue": 0, "late": 0}
    with transaction(system.sessions) as s:
        horizon = workdays.next_working_day(s, today)
        docs = list(
            s.execute(
                select(Document, Assignment)
                .outerjoin(
                    Assignment,
                    (Assignment.document_id == Document.id) & Assignment.current.is_(True),
                )
                .where(Document.direction == "incoming", Document.state.in_(OPEN_STATES))
            ).all()
        )
        dossiers = list(
            s.scalars(
                select(ProcedureDossier).where(
                    ProcedureDossier.status.in_(OPEN), ProcedureDossier.promised_date < today
                )
            )
        )
        agencies = {a.id for a in s.scalars(select(Agency))}
    for doc, a in docs:
        due = a.deadline if a is not None and a.deadline else doc.due_date
        if due is None or doc.agency_id not in agencies:
            continue
        if due < today:
            name, key = "document.overdue", "overdue"
        elif today < due <= horizon:
            name, key = "document.due_tomorrow", "due_tomorrow"
        else:
            continue
        _emit(
            system,
            events.Event(
                name,
                doc.agency_id,
                f"document:{doc.id}",
                "system",
                {"document_id": doc.id, "deadline": due.isoformat()},
                id=events.stable_id(name, doc.id, due),
            ),
        )
        found[key] += 1
    for d in dossiers:
        _emit(
            system,
            events.Event(
                "dossier.late",
                d.agency_id,
                f"dossier:{d.code}",
                "system",
                {"dossier_id": d.id, "code": d.code, "promised_date": d.promised_date.isoformat()},
                id=events.stable_id("dossier.late", d.id, d.promised_date),
            ),
        )
        found["late"] += 1
    found["lookups_purged"] = purge_lookups(system, timedelta(days=1))
    return found
