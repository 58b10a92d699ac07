"""Working days over Vietnamese holidays: the lunar calendar on the Vietnamese meridian, the
Labour Code's seed with compensatory days, deadlines over Tết and across a year boundary,
and administrators' edits that stay."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from edms import lunar, workdays
from edms.config import Settings
from edms.errors import EdmsError
from edms.system import System
from edms.workdays import CALENDAR, WORKING, Calendar


def test_lunar_new_year_and_hung_kings_day_on_the_vietnamese_meridian() -> None:
    # Tết as announced: 2023-01-22, 2024-02-10, 2025-01-29, 2026-02-17, 2027-02-06.
    assert [lunar.new_year(y) for y in range(2023, 2028)] == [
        date(2023, 1, 22),
        date(2024, 2, 10),
        date(2025, 1, 29),
        date(2026, 2, 17),
        date(2027, 2, 6),
    ]
    # Giỗ Tổ Hùng Vương (10/3 âm lịch): 2024-04-18, 2025-04-07, 2026-04-26; 2023 had a
    # leap second month, which pushes it to 2023-04-29.
    assert [lunar.to_solar(10, 3, y) for y in (2023, 2024, 2025, 2026)] == [
        date(2023, 4, 29),
        date(2024, 4, 18),
        date(2025, 4, 7),
        date(2026, 4, 26),
    ]
    # UTC+7, not China's UTC+8: Tết 1985 fell a month apart in the two countries.
    assert lunar.new_year(1985) == date(1985, 1, 21)
    assert lunar.new_year(1985) != lunar.to_solar(1, 1, 1985, tz=8.0)
    assert lunar.to_solar(1, 2, 2023, leap=True) == date(2023, 3, 22)
    with pytest.raises(ValueError):
        lunar.to_solar(1, 5, 2024, leap=True)  # 2024 had no leap month


def test_seed_follows_the_labour_code_with_compensatory_days() -> None:
    days = {d.day: d.name for d in workdays.seed_days(2026)}
    # Tết 2026: 29 tháng Chạp (16/2, Monday) to mùng 4 (20/2): five weekdays.
    for d in range(16, 21):
        assert date(2026, 2, d) in days
    assert "29 tháng Chạp" in days[date(2026, 2, 16)]
    # Giỗ Tổ on Sunday 26/4 gives Monday 27/4; 30/4 and 1/5 are Thursday and Friday.
    assert days[date(2026, 4, 26)].startswith("Giỗ Tổ")
    assert days[date(2026, 4, 27)] == "Nghỉ bù Giỗ Tổ Hùng Vương (10/3 âm lịch)"
    assert date(2026, 4, 30) in days and date(2026, 5, 1) in days
    # 2/9/2026 is a Wednesday: 1/9 joins it.
    assert date(2026, 9, 1) in days and date(2026, 9, 2) in days
    # 2027: Tết on Saturday 6/2, so Saturday and Sunday give Wednesday and Thursday off.
    days27 = {d.day: d.name for d in workdays.seed_days(2027)}
    assert days27[date(2027, 2, 5)].startswith("Tết Nguyên đán")
    assert days27[date(2027, 2, 10)].startswith("Nghỉ bù Tết")
    assert days27[date(2027, 2, 11)].startswith("Nghỉ bù Tết")
    assert date(2027, 2, 12) not in days27
    # 2022: 30/4 Saturday and 1/5 Sunday gave Monday 2/5 and Tuesday 3/5.
    days22 = {d.day for d in workdays.seed_days(2022)}
    assert {date(2022, 5, 2), date(2022, 5, 3)} <= days22


def _calendar(
    *years: int, extra_off: dict[date, str] | None = None, worked: frozenset[date] = frozenset()
) -> Calendar:
    off = {d.day: d.name for y in years for d in workdays.seed_days(y)}
    off.update(extra_off or {})
    return Calendar(date(min(years), 1, 1), date(max(years), 12, 31), off, worked)


def test_working_days_across_a_year_boundary_and_over_tet() -> None:
    cal = _calendar(2026, 2027)
    # Received Tuesday 29/12/2026, five working days: 30, 31/12, (1/1 holiday, weekend),
    # 4, 5, 6/1/2027.
    assert cal.add_working_days(date(2026, 12, 29), 5) == date(2027, 1, 6)
    assert cal.working_days_between(date(2026, 12, 29), date(2027, 1, 6)) == 5
    assert cal.working_days_between(date(2027, 1, 6), date(2026, 12, 29)) == -5
    # Received Thursday 4/2/2027, three working days: Friday 5/2 is Tết (29 Chạp), then
    # Tết and its compensatory days to Thursday 11/2: due 12, 15, 16/2.
    assert cal.add_working_days(date(2027, 2, 4), 3) == date(2027, 2, 16)
    # Zero days: the same day, or the next working day when received on a holiday.
    assert cal.add_working_days(date(2027, 1, 6), 0) == date(2027, 1, 6)
    assert cal.add_working_days(date(2027, 1, 1), 0) == date(2027, 1, 4)
    # Calendar days: 15 days from 28/1/2027 end on 12/2 (a working day); 10 days from
    # 28/1 end on Sunday 7/2, inside Tết: moved to the next working day, 12/2.
    assert cal.end_of_period(date(2027, 1, 28), 15) == date(2027, 2, 12)
    assert cal.due(date(2027, 1, 28), 10, CALENDAR) == date(2027, 2, 12)
    assert cal.due(date(2027, 1, 28), 10, WORKING) == date(2027, 2, 18)
    with pytest.raises(EdmsError, match="outside the calendar"):
        cal.add_working_days(date(2027, 12, 20), 30)


def test_a_weekend_day_worked_counts_and_an_added_day_off_does_not() -> None:
    # The Government moves a day: Friday 2/1/2026 off, worked back on Saturday 10/1.
    cal = _calendar(
        2026, extra_off={date(2026, 1, 2): "Nghỉ (hoán đổi)"}, worked=frozenset({date(2026, 1, 10)})
    )
    assert not cal.is_working_day(date(2026, 1, 2))
    assert cal.is_working_day(date(2026, 1, 10))
    # From Wednesday 31/12/2025 is outside; from Wednesday 7/1: 8, 9, (Sat) 10, 12.
    assert cal.add_working_days(date(2026, 1, 7), 4) == date(2026, 1, 12)


@pytest.fixture
def system(tmp_path: Path) -> System:
    sys_ = System(Settings.from_env({"EDMS_DATA_DIR": str(tmp_path / "data")}))
    sys_.init()
    return sys_


def test_years_are_seeded_once_and_admin_changes_stay(system: System) -> None:
    with system.sessions() as s, s.begin():
        # The first computation seeds the years it touches.
        assert workdays.due_date(s, date(2026, 12, 29), 5, WORKING) == date(2027, 1, 6)
    view = workdays.year_view(system, 2027, seed=False)
    assert view.seeded_at is not None and view.confirmed_at is None
    assert any(h.day == date(2027, 2, 10) for h in view.days)
    # An administrator (here the command line) adds a day off, and removes one.
    workdays.set_day(system, "cli", date(2027, 1, 5), "off", "Nghỉ theo thông báo")
    workdays.remove_day(system, "cli", date(2027, 2, 11))
    with system.sessions() as s, s.begin():
        assert workdays.due_date(s, date(2026, 12, 29), 5, WORKING) == date(2027, 1, 7)
        workdays.ensure_seeded(s, [2027])  # already seeded: nothing comes back
        assert workdays.next_working_day(s, date(2027, 2, 10)) == date(2027, 2, 11)
    workdays.confirm_year(system, "cli", 2027)
    assert workdays.year_view(system, 2027).confirmed_by == "cli"
    # A weekday cannot be "worked in exchange"; starting the year over restores the seed.
    with pytest.raises(EdmsError, match="weekday"):
        workdays.set_day(system, "cli", date(2027, 1, 6), "work", "Làm bù")
    assert workdays.reseed_year(system, "cli", 2027) == len(workdays.seed_days(2027))
    with system.sessions() as s, s.begin():
        assert workdays.next_working_day(s, date(2027, 2, 10)) == date(2027, 2, 12)
