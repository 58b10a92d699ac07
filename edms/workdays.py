"""Working days: the public holidays of Việt Nam as data, and deadline arithmetic over them.

A working day is Monday to Friday (the civil service's week), unless the day is a holiday
or a compensatory day off; a Saturday or Sunday the Government asks to be worked (ngày làm
bù, when it moves a day off next to a holiday) is a working day.

The days are **data an administrator edits** (``holidays``): the rules below only *seed*
a year, and a seeded year is never seeded again by itself, so an administrator's changes
stay. Seeding follows the Labour Code 2019, Art. 112, which the civil service observes:

* Tết Dương lịch, 1 January; Ngày Chiến thắng, 30 April; Quốc tế Lao động, 1 May;
* Quốc khánh, 2 September and one day next to it (the Prime Minister picks it each year;
  the seed picks the one that joins a weekend, as recent years did);
* Tết Nguyên đán, five days: the seed takes the last day of the lunar year and the first
  four of the new one (the Prime Minister announces the actual days each year);
* Giỗ Tổ Hùng Vương, the 10th day of the 3rd lunar month;
* a holiday that falls on a Saturday or Sunday gives a compensatory day off, the next
  working day (Art. 112(3)).

Lunar dates come from :mod:`edms.lunar` (Vietnamese meridian). An administrator confirms
each year against the Government's announcement on the holidays page, where a seeded year
that nobody confirmed yet is pointed out.

Deadlines follow the Civil Code 2015, Art. 147–148: a period counted in days starts on the
day *after* the event, so a dossier received on a Tuesday with three working days is due
on the Friday; a period in calendar days whose last day is not a working day ends on the
next working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit, lunar
from .db import transaction
from .errors import ClientError, NotFound
from .models import Holiday, HolidayYear
from .orgs import load_user, require_role
from .system import System

OFF, WORK = "off", "work"
KINDS_VI = {OFF: "Ngày nghỉ", WORK: "Ngày làm bù"}
WORKING, CALENDAR = "working", "calendar"
DAY_KINDS_VI = {WORKING: "ngày làm việc", CALENDAR: "ngày"}
WEEKEND = (5, 6)  # Saturday, Sunday
FIRST_YEAR, LAST_YEAR = 1900, 2199
MAX_DAYS = 366  # a procedure's time, at most a year


def _now() -> datetime:
    return datetime.now(UTC)


# -- the seed: the Labour Code's days of a year ----------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    kind: str
    name: str


def _national_day_companion(year: int) -> date:
    """The day next to 2 September that is also off: the one that joins a weekend."""
    national = date(year, 9, 2)
    before = national.weekday() in (1, 2, 4, 5)  # Tue, Wed, Fri, Sat: 1 September
    return national - timedelta(days=1) if before else national + timedelta(days=1)


def statutory(year: int) -> list[Day]:
    """The holidays of ``year`` by the Labour Code (without compensatory days)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ClientError(f"holidays are computed for {FIRST_YEAR}–{LAST_YEAR}")
    eve = lunar.new_years_eve(year)
    last_month = (eve - lunar.to_solar(1, 12, year - 1)).days + 1  # 29 or 30 tháng Chạp
    tet = [
        Day(
            eve,
            OFF,
            f"Tết Nguyên đán ({last_month} tháng Chạp)"
            if last_month <= 30
            else "Tết Nguyên đán (cuối năm âm lịch)",
        )
    ]
    tet += [
        Day(lunar.new_year(year) + timedelta(days=i), OFF, f"Tết Nguyên đán (mùng {i + 1})")
        for i in range(4)
    ]
    days = [
        Day(date(year, 1, 1), OFF, "Tết Dương lịch"),
        *tet,
        Day(lunar.to_solar(10, 3, year), OFF, "Giỗ Tổ Hùng Vương (10/3 âm lịch)"),
        Day(date(year, 4, 30), OFF, "Ngày Chiến thắng (30/4)"),
        Day(date(year, 5, 1), OFF, "Ngày Quốc tế Lao động (1/5)"),
        Day(date(year, 9, 2), OFF, "Quốc khánh (2/9)"),
        Day(_national_day_companion(year), OFF, "Quốc khánh (ngày liền kề)"),
    ]
    return sorted(days, key=lambda d: d.day)


def seed_days(year: int) -> list[Day]:
    """The year's statutory holidays and the compensatory days off they give."""
    days = statutory(year)
    off = {d.day for d in days}
    out = list(days)
    for d in days:
        if d.day.weekday() not in WEEKEND:
            continue
        comp = d.day + timedelta(days=1)
        while comp.weekday() in WEEKEND or comp in off:
            comp += timedelta(days=1)
        off.add(comp)
        out.append(Day(comp, OFF, f"Nghỉ bù {d.name}"))
    return sorted(out, key=lambda d: d.day)


# -- arithmetic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Working days between ``first`` and ``last`` (inclusive): arithmetic past them is
    refused rather than guessed."""

    first: date
    last: date
    off: Mapping[date, str] = field(default_factory=dict)
    worked: frozenset[date] = frozenset()

    def _in_range(self, d: date) -> None:
        if not self.first <= d <= self.last:
            raise ClientError(
                f"{d.isoformat()} is outside the calendar loaded "
                f"({self.first.isoformat()} – {self.last.isoformat()})"
            )

    def is_working_day(self, d: date) -> bool:
        self._in_range(d)
        if d in self.worked:
            return True
        return d not in self.off and d.weekday() not in WEEKEND

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself does not count);
        ``n`` = 0: ``start`` if it is a working day, else the next one."""
        if n < 0:
            raise ClientError("a number of days cannot be negative")
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        d = start
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def end_of_period(self, start: date, n: int) -> date:
        """``n`` calendar days after ``start``; a last day that is not a working day moves
        to the next working day (Civil Code, Art. 148)."""
        if n < 0:
            raise ClientError("a number of days cannot be negative")
        end = start + timedelta(days=n)
        return end if self.is_working_day(end) else self.next_working_day(end)

    def due(self, start: date, n: int, kind: str) -> date:
        if kind == WORKING:
            return self.add_working_days(start, n)
        if kind == CALENDAR:
            return self.end_of_period(start, n)
        raise ClientError(f"unknown kind of days {kind!r} (working or calendar)")

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (``a``, ``b``]; negative when ``b`` is before ``a``."""
        if b < a:
            return -self.working_days_between(b, a)
        count, d = 0, a
        while d < b:
            d += timedelta(days=1)
            count += self.is_working_day(d)
        return count


def _span(start: date, n: int) -> tuple[date, date]:
    """Days enough for ``n`` working days after ``start``: two weeks' worth per week of
    work, plus Tết."""
    return start - timedelta(days=7), start + timedelta(days=2 * n + 40)


# -- the data ---------------------------------------------------------------------------------


def ensure_seeded(s: Session, years: Iterable[int], actor: str = "system") -> list[int]:
    """Seed each of ``years`` not seeded yet (in the caller's transaction; another process
    seeding the same year at once is harmless). Returns the years seeded now."""
    done = set(s.scalars(select(HolidayYear.year).where(HolidayYear.year.in_(list(years)))))
    seeded = []
    for year in sorted(set(years) - done):
        days = seed_days(year)
        try:
            with s.begin_nested():
                s.add(HolidayYear(year=year, seeded_at=_now(), seeded_by=actor))
                s.flush()
                existing = set(
                    s.scalars(
                        select(Holiday.day).where(
                            Holiday.day.between(date(year, 1, 1), date(year, 12, 31))
                        )
                    )
                )
                for d in days:
                    if d.day not in existing:
                        s.add(
                            Holiday(
                                day=d.day,
                                kind=d.kind,
                                name=d.name,
                                origin="seeded",
                                updated_by=actor,
                                updated_at=_now(),
                            )
                        )
                s.flush()
        except IntegrityError:
            continue  # seeded concurrently
        audit.record(s, actor, "holidays.seed", "holiday_year", str(year), {"days": len(days)})
        seeded.append(year)
    return seeded


def calendar(s: Session, first: date, last: date) -> Calendar:
    """The working-day calendar over [first, last], its years seeded if need be."""
    ensure_seeded(s, range(first.year, last.year + 1))
    rows = list(s.scalars(select(Holiday).where(Holiday.day.between(first, last))))
    return Calendar(
        first,
        last,
        {r.day: r.name for r in rows if r.kind == OFF},
        frozenset(r.day for r in rows if r.kind == WORK),
    )


def due_date(s: Session, start: date, n: int, kind: str) -> date:
    """The last day of a period of ``n`` working (or calendar) days from ``start``."""
    if not 0 <= n <= MAX_DAYS:
        raise ClientError(f"a period is 0 to {MAX_DAYS} days")
    first, last = _span(start, n)
    return calendar(s, first, last).due(start, n, kind)


def next_working_day(s: Session, day: date) -> date:
    first, last = _span(day, 1)
    return calendar(s, first, last).next_working_day(day)


@dataclass(frozen=True)
class YearView:
    year: int
    days: list[Holiday]
    seeded_at: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str


def year_view(system: System, year: int, seed: bool = True) -> YearView:
    """The days of ``year`` (seeded first if it never was and ``seed``)."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ClientError(f"a year between {FIRST_YEAR} and {LAST_YEAR}")
    with transaction(system.sessions) as s:
        if seed:
            ensure_seeded(s, [year])
        days = list(
            s.scalars(
                select(Holiday)
                .where(Holiday.day.between(date(year, 1, 1), date(year, 12, 31)))
                .order_by(Holiday.day)
            )
        )
        row = s.get(HolidayYear, year)
        return YearView(
            year,
            days,
            row.seeded_at if row else None,
            row.confirmed_at if row else None,
            row.confirmed_by if row else "",
        )


def _admin(s: Session, actor: str) -> None:
    if actor in ("cli", "system"):
        return
    require_role(load_user(s, actor), "admin", action="edit the holidays")


def set_day(system: System, actor: str, day: date, kind: str, name: str) -> Holiday:
    """Add or change a day (administrators; ``cli`` from the command line)."""
    if kind not in KINDS_VI:
        raise ClientError(
            "a day is 'off' (a holiday or a day off) or 'work' (a weekend day worked instead)"
        )
    name = name.strip()
    if not name or len(name) > 200:
        raise ClientError("name the day (up to 200 characters), e.g. 'Nghỉ bù Quốc khánh'")
    if kind == WORK and day.weekday() not in WEEKEND:
        raise ClientError(f"{day:%d/%m/%Y} is a weekday: it is a working day already")
    with transaction(system.sessions) as s:
        _admin(s, actor)
        ensure_seeded(s, [day.year], actor)
        row = s.get(Holiday, day)
        before = None if row is None else {"kind": row.kind, "name": row.name}
        if row is None:
            row = Holiday(day=day)
            s.add(row)
        row.kind, row.name, row.origin = kind, name, "admin"
        row.updated_by, row.updated_at = actor, _now()
        audit.record(
            s,
            actor,
            "holidays.set",
            "holiday",
            day.isoformat(),
            {"kind": kind, "name": name, "before": before},
        )
        return row


def remove_day(system: System, actor: str, day: date) -> None:
    with transaction(system.sessions) as s:
        _admin(s, actor)
        row = s.get(Holiday, day)
        if row is None:
            raise NotFound(f"{day:%d/%m/%Y} is not in the list of holidays")
        audit.record(
            s,
            actor,
            "holidays.remove",
            "holiday",
            day.isoformat(),
            {"kind": row.kind, "name": row.name},
        )
        s.delete(row)


def reseed_year(system: System, actor: str, year: int) -> int:
    """Replace a year's days with the seed (an administrator starting the year over).
    Returns the number of days now listed."""
    with transaction(system.sessions) as s:
        _admin(s, actor)
        s.execute(delete(Holiday).where(Holiday.day.between(date(year, 1, 1), date(year, 12, 31))))
        s.execute(delete(HolidayYear).where(HolidayYear.year == year))
        s.flush()
        ensure_seeded(s, [year], actor)
        return len(seed_days(year))


def confirm_year(system: System, actor: str, year: int) -> None:
    """An administrator states that the year's days match the Government's announcement."""
    with transaction(system.sessions) as s:
        _admin(s, actor)
        ensure_seeded(s, [year], actor)
        row = s.get(HolidayYear, year)
        assert row is not None
        row.confirmed_at, row.confirmed_by = _now(), actor
        audit.record(s, actor, "holidays.confirm", "holiday_year", str(year))
