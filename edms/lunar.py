"""The Vietnamese lunar calendar (âm lịch), for the holidays that follow it: Tết Nguyên đán
(1st day of the 1st month) and the Hùng Kings' Commemoration (10th day of the 3rd month).

The calendar is astronomical: a month starts on the day of the new moon, the 11th month
is the one containing the winter solstice, and a year with 13 months repeats the first
month that contains no principal solar term. What makes it *Vietnamese* is the meridian:
days are counted in UTC+7, not China's UTC+8, so the two calendars differ now and then
(Tết 1985 fell on 21 January in Việt Nam and on 20 February in China).

The astronomy is Jean Meeus's (*Astronomical Algorithms*, ch. 47–49 simplified: new moons
to within minutes, the sun's longitude to a fraction of a degree), as used by Hồ Ngọc Đức's
published Vietnamese calendar; accurate for 1800–2199, which is all this System needs.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

VN_OFFSET_HOURS = 7.0
_SYNODIC = 29.530588853
_EPOCH_NEW_MOON = 2415021.076998695  # the new moon of 1900-01-01, as a Julian day


def _jd(day: date) -> int:
    """The Julian day number of a (Gregorian) date."""
    return day.toordinal() + 1721425


def _from_jd(jd: int) -> date:
    return date.fromordinal(jd - 1721425)


def _new_moon(k: int) -> float:
    """The moment (Julian day, UT) of the ``k``-th new moon after 1900-01-01."""
    t = k / 1236.85
    t2, t3 = t * t, t * t * t
    dr = math.pi / 180
    jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd1 += 0.00033 * math.sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3  # sun's anomaly
    mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3  # moon's
    f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3  # latitude arg.
    c1 = (0.1734 - 0.000393 * t) * math.sin(m * dr) + 0.0021 * math.sin(2 * dr * m)
    c1 += -0.4068 * math.sin(mpr * dr) + 0.0161 * math.sin(dr * 2 * mpr)
    c1 += -0.0004 * math.sin(dr * 3 * mpr)
    c1 += 0.0104 * math.sin(dr * 2 * f) - 0.0051 * math.sin(dr * (m + mpr))
    c1 += -0.0074 * math.sin(dr * (m - mpr)) + 0.0004 * math.sin(dr * (2 * f + m))
    c1 += -0.0004 * math.sin(dr * (2 * f - m)) - 0.0006 * math.sin(dr * (2 * f + mpr))
    c1 += 0.0010 * math.sin(dr * (2 * f - mpr)) + 0.0005 * math.sin(dr * (2 * mpr + m))
    if t < -11:
        delta_t = 0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    else:
        delta_t = -0.000278 + 0.000265 * t + 0.000262 * t2
    return jd1 + c1 - delta_t


def _sun_longitude(jdn: float) -> float:
    """The sun's apparent longitude (radians, 0 … 2π) at Julian day ``jdn`` (UT)."""
    t = (jdn - 2451545.0) / 36525
    t2 = t * t
    dr = math.pi / 180
    m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2
    l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2
    dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * math.sin(dr * m)
    dl += (0.019993 - 0.000101 * t) * math.sin(dr * 2 * m) + 0.000290 * math.sin(dr * 3 * m)
    lon = (l0 + dl) * dr
    return lon - 2 * math.pi * math.floor(lon / (2 * math.pi))


def _sun_sector(day_number: int, tz: float) -> int:
    """Which of the twelve 30° sectors the sun is in at the start of local day
    ``day_number`` (0: spring equinox … 9: winter solstice)."""
    return math.floor(_sun_longitude(day_number - 0.5 - tz / 24) / math.pi * 6)


def _new_moon_day(k: int, tz: float) -> int:
    """The local day (Julian day number) on which the ``k``-th new moon falls."""
    return math.floor(_new_moon(k) + 0.5 + tz / 24)


def _month_11(year: int, tz: float) -> int:
    """The first day of the lunar 11th month (the one holding the winter solstice) that
    begins in Gregorian ``year``."""
    off = _jd(date(year, 12, 31)) - 2415021
    k = math.floor(off / _SYNODIC)
    start = _new_moon_day(k, tz)
    if _sun_sector(start, tz) >= 9:  # the month starting here is already past the solstice
        start = _new_moon_day(k - 1, tz)
    return start


def _leap_offset(a11: int, tz: float) -> int:
    """In a 13-month year starting at ``a11``: how many months after the 11th month the
    leap month is (the first month with no principal term)."""
    k = math.floor((a11 - _EPOCH_NEW_MOON) / _SYNODIC + 0.5)
    i = 1
    arc = _sun_sector(_new_moon_day(k + i, tz), tz)
    while True:
        last = arc
        i += 1
        arc = _sun_sector(_new_moon_day(k + i, tz), tz)
        if arc == last or i >= 14:
            break
    return i - 1


def to_solar(
    day: int, month: int, year: int, leap: bool = False, tz: float = VN_OFFSET_HOURS
) -> date:
    """The Gregorian date of lunar ``day``/``month``/``year`` (``leap``: the leap month of
    that number). Raises ValueError for a leap month the year does not have."""
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise ValueError(f"no lunar date {day}/{month}")
    if month < 11:
        a11, b11 = _month_11(year - 1, tz), _month_11(year, tz)
    else:
        a11, b11 = _month_11(year, tz), _month_11(year + 1, tz)
    k = math.floor(0.5 + (a11 - _EPOCH_NEW_MOON) / _SYNODIC)
    off = (month - 11) % 12
    if b11 - a11 > 365:  # a 13-month year
        leap_off = _leap_offset(a11, tz)
        leap_month = (leap_off - 2) % 12
        if leap and month != leap_month:
            raise ValueError(f"lunar year {year} has no leap month {month}")
        if leap or off >= leap_off:
            off += 1
    elif leap:
        raise ValueError(f"lunar year {year} has no leap month")
    return _from_jd(_new_moon_day(k + off, tz) + day - 1)


def new_year(year: int) -> date:
    """Tết Nguyên đán of lunar ``year`` (which starts in Gregorian ``year``)."""
    return to_solar(1, 1, year)


def new_years_eve(year: int) -> date:
    """The last day of the lunar year before Tết ``year`` (29 or 30 tháng Chạp)."""
    return new_year(year) - timedelta(days=1)
