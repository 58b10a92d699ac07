"""Deadlines and handling statistics for incoming documents (Decree 30, Art. 24: track and
chase until done; the early / on-time / late counts public-service centres report).

A document's deadline is the current assignment's deadline, else its own due date. Dates
are Vietnam calendar dates: a document completed on its deadline day is on time, the day
before is early, the day after is late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from .documents import INCOMING, vn_today
from .models import Assignment, Document, OrgUnit
from .numbering import VN_TZ
from .orgs import load_user, visible_documents
from .system import System

OPEN_STATES = ("registered", "assigned", "in_progress")
UNASSIGNED = "(chưa phân công)"


@dataclass(frozen=True)
class DeadlineItem:
    document_id: int
    number: str
    subject: str
    organ_name: str
    priority: int
    state: str
    deadline: date
    days_left: int  # negative: overdue by that many days
    lead_unit: str


@dataclass
class DeadlineLists:
    today: date
    near: list[DeadlineItem] = field(default_factory=list)
    overdue: list[DeadlineItem] = field(default_factory=list)


def _deadline_of(doc: Document, a: Assignment | None) -> date | None:
    return a.deadline if a is not None and a.deadline else doc.due_date


def _assignments(system: System, doc_ids: list[int]) -> dict[int, Assignment]:
    if not doc_ids:
        return {}
    with system.sessions() as s:
        return {
            a.document_id: a
            for a in s.scalars(
                select(Assignment).where(
                    Assignment.document_id.in_(doc_ids), Assignment.current.is_(True)
                )
            )
        }


def deadlines(
    system: System, actor: str, within_days: int = 3, today: date | None = None
) -> DeadlineLists:
    """Open incoming documents due within ``within_days`` days, and those overdue, most
    urgent first."""
    today = today or vn_today()
    out = DeadlineLists(today)
    with system.sessions() as s:
        user = load_user(s, actor)
        docs = list(
            s.scalars(
                select(Document).where(
                    visible_documents(user),
                    Document.direction == INCOMING,
                    Document.state.in_(OPEN_STATES),
                )
            )
        )
        units = {
            u.id: u.name
            for u in s.scalars(select(OrgUnit).where(OrgUnit.agency_id == user.agency_id))
        }
    current = _assignments(system, [d.id for d in docs])
    for d in docs:
        a = current.get(d.id)
        due = _deadline_of(d, a)
        if due is None:
            continue
        left = (due - today).days
        if left > within_days:
            continue
        item = DeadlineItem(
            d.id,
            f"{d.code_number}/{d.code_notation}" if d.code_number else "",
            d.subject,
            d.organ_name,
            d.priority,
            d.state,
            due,
            left,
            units.get(a.lead_unit_id, "") if a else "",
        )
        (out.overdue if left < 0 else out.near).append(item)
    out.overdue.sort(key=lambda i: (i.days_left, -i.priority))
    out.near.sort(key=lambda i: (i.days_left, -i.priority))
    return out


@dataclass
class UnitStats:
    unit: str
    early: int = 0
    on_time: int = 0
    late: int = 0
    no_deadline: int = 0
    open_on_time: int = 0
    open_overdue: int = 0

    @property
    def completed(self) -> int:
        return self.early + self.on_time + self.late + self.no_deadline


def _handled_documents(
    system: System, actor: str
) -> tuple[list[Document], dict[int, Assignment], dict[int, str]]:
    """The agency's registered incoming documents, their current assignments and the
    agency's unit names: everything the statistics are counted from."""
    with system.sessions() as s:
        user = load_user(s, actor)
        units = {
            u.id: u.name
            for u in s.scalars(select(OrgUnit).where(OrgUnit.agency_id == user.agency_id))
        }
        docs = list(
            s.scalars(
                select(Document).where(
                    Document.agency_id == user.agency_id,
                    Document.direction == INCOMING,
                    Document.arrival_number.is_not(None),
                )
            )
        )
    return docs, _assignments(system, [d.id for d in docs]), units


def _count(
    docs: list[Document],
    current: dict[int, Assignment],
    units: dict[int, str],
    start: date,
    end: date,
) -> list[UnitStats]:
    stats: dict[str, UnitStats] = {}
    for d in docs:
        a = current.get(d.id)
        name = units.get(a.lead_unit_id, "") if a else UNASSIGNED
        row = stats.setdefault(name, UnitStats(name))
        due = _deadline_of(d, a)
        if d.completed_at is not None:
            done = d.completed_at.astimezone(VN_TZ).date()
            if not start <= done <= end:
                continue
            if due is None:
                row.no_deadline += 1
            elif done < due:
                row.early += 1
            elif done == due:
                row.on_time += 1
            else:
                row.late += 1
        elif (
            d.state in OPEN_STATES
            and d.arrival_at is not None
            and d.arrival_at.astimezone(VN_TZ).date() <= end
        ):
            if due is not None and due < end:
                row.open_overdue += 1
            else:
                row.open_on_time += 1
    return sorted(
        (r for r in stats.values() if r.completed or r.open_on_time or r.open_overdue),
        key=lambda r: r.unit,
    )


def handling_stats(system: System, actor: str, start: date, end: date) -> list[UnitStats]:
    """Per lead unit: documents completed in [start, end] early, on time, late (or
    without a deadline), and documents still open that arrived by ``end``, split by
    whether their deadline had passed at ``end``."""
    return _count(*_handled_documents(system, actor), start, end)


def handling_stats_periods(
    system: System, actor: str, periods: Sequence[tuple[date, date]]
) -> list[list[UnitStats]]:
    """:func:`handling_stats` for each period, the documents read once: the same figures
    as calling it period by period."""
    docs, current, units = _handled_documents(system, actor)
    return [_count(docs, current, units, lo, hi) for lo, hi in periods]


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and the last day of ``month``."""
    first = date(year, month, 1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def period(kind: str, today: date | None = None) -> tuple[date, date]:
    """``month``, ``quarter`` or ``year`` containing today (Vietnam time)."""
    today = today or vn_today()
    if kind == "month":
        return month_bounds(today.year, today.month)
    if kind == "quarter":
        first = 3 * ((today.month - 1) // 3) + 1
        return date(today.year, first, 1), month_bounds(today.year, first + 2)[1]
    if kind == "year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    raise ValueError(f"unknown period {kind!r}")
