"""The handling dashboard (bảng theo dõi kết quả giải quyết): the figures a leader and a
clerk read at a glance, computed in one place for the web page, its CSV files and the CLI.

Invariants:

* **The same numbers as ``edms stats``.** Per lead unit and per month the counts are
  :func:`edms.tracking.handling_stats` for that period (the documents read once, counted
  by the same function); totals are sums of those rows. Nothing is re-derived here.
* **Rates** are shares of the documents completed *with* a deadline (early + on time +
  late), rounded to one decimal; "in time" is early + on time. A document completed
  without a deadline is counted, but in no rate. With nothing completed a rate is ``None``
  (shown as "—"), never 0 %.
* **The year's trend** covers the twelve months of the period's last year; a month not yet
  begun (Vietnam time) has no figures, the month under way is counted up to today.
* **Citizens' dossiers** per month are :func:`edms.reception.statistics` for that month
  (dossiers received in it); they have no lead unit, so the unit filter does not apply.
* Only a leader, a clerk or an administrator reads the dashboard; deadline lists show
  what :func:`edms.tracking.deadlines` shows the actor (their visible documents).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from . import reception, tracking
from .documents import vn_today
from .errors import ClientError, NotFound
from .models import OrgUnit
from .orgs import load_user, require_role
from .system import System
from .tracking import DeadlineLists, UnitStats, month_bounds

READERS = ("leader", "clerk", "admin")
MONTHS_VI = tuple(f"Tháng {m}" for m in range(1, 13))


def rate(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole``, one decimal; ``None`` when ``whole`` is 0."""
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class Figures:
    """Counts for one unit, one month or the total, with their rates."""

    label: str
    early: int = 0
    on_time: int = 0
    late: int = 0
    no_deadline: int = 0
    open_on_time: int = 0
    open_overdue: int = 0

    @classmethod
    def of(cls, label: str, rows: list[UnitStats]) -> Figures:
        return cls(
            label,
            sum(r.early for r in rows),
            sum(r.on_time for r in rows),
            sum(r.late for r in rows),
            sum(r.no_deadline for r in rows),
            sum(r.open_on_time for r in rows),
            sum(r.open_overdue for r in rows),
        )

    @property
    def completed(self) -> int:
        return self.early + self.on_time + self.late + self.no_deadline

    @property
    def with_deadline(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def early_rate(self) -> float | None:
        return rate(self.early, self.with_deadline)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.on_time, self.with_deadline)

    @property
    def late_rate(self) -> float | None:
        return rate(self.late, self.with_deadline)

    @property
    def in_time_rate(self) -> float | None:
        return rate(self.early + self.on_time, self.with_deadline)


@dataclass(frozen=True)
class Month:
    start: date
    end: date
    figures: Figures | None  # None: the month has not begun

    @property
    def label(self) -> str:
        return f"{self.start.month:02d}/{self.start.year}"


@dataclass(frozen=True)
class DossierMonth:
    start: date
    stats: reception.Stats | None  # None: the month has not begun

    @property
    def label(self) -> str:
        return f"{self.start.month:02d}/{self.start.year}"

    @property
    def handled(self) -> int:
        s = self.stats
        return s.early + s.on_time + s.late if s else 0

    @property
    def in_time_rate(self) -> float | None:
        s = self.stats
        return rate(s.early + s.on_time, self.handled) if s else None


@dataclass(frozen=True)
class UnitChoice:
    code: str
    name: str


@dataclass
class Dashboard:
    start: date
    end: date
    today: date
    unit: UnitChoice | None
    units: list[Figures]
    total: Figures
    year: int
    months: list[Month]
    deadlines: DeadlineLists
    dossiers: list[DossierMonth] = field(default_factory=list)
    unit_choices: list[UnitChoice] = field(default_factory=list)

    @property
    def has_dossiers(self) -> bool:
        return any(m.stats and m.stats.received for m in self.dossiers)


def _choices(system: System, actor: str) -> list[UnitChoice]:
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, *READERS, action="read the handling dashboard")
        return [
            UnitChoice(u.code, u.name)
            for u in s.scalars(
                select(OrgUnit).where(OrgUnit.agency_id == user.agency_id).order_by(OrgUnit.name)
            )
        ]


def compute(
    system: System,
    actor: str,
    start: date,
    end: date,
    unit_code: str | None = None,
    *,
    today: date | None = None,
    within_days: int = 3,
) -> Dashboard:
    """The dashboard for [start, end] (Vietnam dates), optionally one lead unit (its
    code): per unit, the total, the twelve months of ``end``'s year, the overdue and
    due-soon lists, and citizens' dossiers per month."""
    if end < start:
        raise ClientError("the end date is before the start date")
    today = today or vn_today()
    choices = _choices(system, actor)
    unit = None
    if unit_code:
        unit = next((c for c in choices if c.code == unit_code), None)
        if unit is None:
            raise NotFound(f"no unit {unit_code!r} in this agency")
    year = end.year
    # A month under way is counted up to today, as `edms stats --to <today>` would.
    months = [(lo, min(hi, today)) for lo, hi in (month_bounds(year, m) for m in range(1, 13))]
    per_period = tracking.handling_stats_periods(system, actor, [(start, end), *months])

    def keep(rows: list[UnitStats]) -> list[UnitStats]:
        return [r for r in rows if unit is None or r.unit == unit.name]

    rows = keep(per_period[0])
    month_figures = [
        Month(lo, hi, Figures.of(f"{lo.month:02d}/{year}", keep(r)) if lo <= today else None)
        for (lo, hi), r in zip(months, per_period[1:], strict=True)
    ]
    lists = tracking.deadlines(system, actor, within_days=within_days, today=today)
    if unit is not None:
        lists.near = [i for i in lists.near if i.lead_unit == unit.name]
        lists.overdue = [i for i in lists.overdue if i.lead_unit == unit.name]
    dossiers = [
        DossierMonth(lo, reception.statistics(system, actor, lo, hi) if lo <= today else None)
        for lo, hi in months
    ]
    return Dashboard(
        start=start,
        end=end,
        today=today,
        unit=unit,
        units=[Figures.of(r.unit, [r]) for r in rows],
        total=Figures.of("Toàn cơ quan" if unit is None else unit.name, rows),
        year=year,
        months=month_figures,
        deadlines=lists,
        dossiers=dossiers,
        unit_choices=choices,
    )


# -- the tables (the page shows them, the CSV files hold them: one definition) -------------

COUNT_COLUMNS = (
    "Trước hạn",
    "Đúng hạn",
    "Quá hạn",
    "Không có hạn",
    "Đang xử lý, trong hạn",
    "Đang xử lý, quá hạn",
)
TABLES = ("don-vi", "thang", "han", "ho-so")


@dataclass(frozen=True)
class Table:
    name: str
    caption: str
    columns: tuple[str, ...]
    rows: list[list[str]]


def _counts(f: Figures) -> list[str]:
    return [
        str(v) for v in (f.early, f.on_time, f.late, f.no_deadline, f.open_on_time, f.open_overdue)
    ]


def _d(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def table(d: Dashboard, name: str) -> Table:
    """One of the dashboard's tables (:data:`TABLES`), as text cells."""
    from .charts import pct

    period = f"từ {_d(d.start)} đến {_d(d.end)}"
    if name == "don-vi":
        rows = [
            [f.label, *_counts(f), pct(f.early_rate), pct(f.on_time_rate), pct(f.late_rate)]
            for f in [*d.units, d.total]
        ]
        rows[-1][0] = "Tổng cộng" if d.unit is None else f"Tổng cộng ({d.unit.name})"
        return Table(
            name,
            f"Kết quả giải quyết văn bản đến theo đơn vị chủ trì, {period}",
            (
                "Đơn vị chủ trì",
                *COUNT_COLUMNS,
                "Tỷ lệ trước hạn",
                "Tỷ lệ đúng hạn",
                "Tỷ lệ quá hạn",
            ),
            rows,
        )
    if name == "thang":
        return Table(
            name,
            f"Kết quả giải quyết văn bản đến theo tháng, năm {d.year}"
            + (f", {d.unit.name}" if d.unit else ""),
            ("Tháng", *COUNT_COLUMNS, "Tỷ lệ giải quyết đúng hạn (kể cả trước hạn)"),
            [
                [m.label, *_counts(m.figures), pct(m.figures.in_time_rate)]
                if m.figures
                else [m.label, *[""] * len(COUNT_COLUMNS), "chưa đến"]
                for m in d.months
            ],
        )
    if name == "han":
        items = [("Quá hạn", i) for i in d.deadlines.overdue] + [
            ("Sắp đến hạn", i) for i in d.deadlines.near
        ]
        return Table(
            name,
            f"Văn bản đến quá hạn và sắp đến hạn, ngày {_d(d.today)}",
            (
                "Tình trạng",
                "Số, ký hiệu",
                "Trích yếu",
                "Đơn vị chủ trì",
                "Hạn giải quyết",
                "Số ngày",
            ),
            [
                [
                    kind,
                    i.number,
                    i.subject,
                    i.lead_unit,
                    _d(i.deadline),
                    f"quá {-i.days_left} ngày" if i.days_left < 0 else f"còn {i.days_left} ngày",
                ]
                for kind, i in items
            ],
        )
    if name == "ho-so":
        return Table(
            name,
            f"Hồ sơ thủ tục hành chính tiếp nhận theo tháng, năm {d.year}",
            (
                "Tháng",
                "Tiếp nhận",
                "Trước hạn",
                "Đúng hạn",
                "Quá hạn",
                "Đang giải quyết, trong hạn",
                "Đang giải quyết, quá hạn",
                "Tỷ lệ đúng hạn (kể cả trước hạn)",
            ),
            [
                [
                    m.label,
                    *(
                        str(v)
                        for v in (
                            m.stats.received,
                            m.stats.early,
                            m.stats.on_time,
                            m.stats.late,
                            m.stats.open_on_time,
                            m.stats.open_late,
                        )
                    ),
                    pct(m.in_time_rate),
                ]
                if m.stats
                else [m.label, *[""] * 6, "chưa đến"]
                for m in d.dossiers
            ],
        )
    raise NotFound(f"no dashboard table {name!r} ({', '.join(TABLES)})")


def to_csv(t: Table) -> bytes:
    """The table as CSV, UTF-8 with a BOM (spreadsheets then read Vietnamese), the caption
    on the first line; no cell can start a formula."""
    from .registers import csv_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([csv_cell(t.caption)])
    w.writerow(t.columns)
    w.writerows([csv_cell(c) for c in row] for row in t.rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


@dataclass(frozen=True)
class Summary:
    """What a leader's or clerk's home page shows: the year so far, and the deadlines."""

    start: date
    today: date
    total: Figures
    overdue: int
    near: int


def summary(system: System, actor: str, *, today: date | None = None) -> Summary:
    """The year to date (Vietnam time) for the whole agency, and how many open incoming
    documents are overdue or due within three days."""
    today = today or vn_today()
    _choices(system, actor)  # the role check
    start = date(today.year, 1, 1)
    rows = tracking.handling_stats(system, actor, start, today)
    lists = tracking.deadlines(system, actor, within_days=3, today=today)
    return Summary(
        start, today, Figures.of("Toàn cơ quan", rows), len(lists.overdue), len(lists.near)
    )
