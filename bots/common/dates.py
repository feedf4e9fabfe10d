"""Days and times as the bots read and place them: a day as people type it, a wall-clock time in
the ward's zone, the next moment inside working hours. Pure: no I/O, no clock (`today` is given).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bots.runtime.commands import ArgError


class DateError(ArgError):
    """A day that cannot be read; the key (texts) and the value typed say why."""


_DAY = re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})(?:/(?P<y>\d{4}))?$")
_RELATIVE = {"aujourdhui": 0, "aujourd'hui": 0, "today": 0, "demain": 1, "tomorrow": 1,
             "apres-demain": 2, "après-demain": 2, "hier": -1, "yesterday": -1,
             "avant-hier": -2}


def parse_day(text: str, today: date, *, past: bool = False) -> date:
    """A day as people type it: 24/11/2026, 24/11 (the next such day; with `past`, the last
    one), 2026-11-24, demain, hier, J+3 or J-3 (days from today)."""
    raw = text.strip().lower()
    if raw in _RELATIVE:
        return today + timedelta(days=_RELATIVE[raw])
    try:
        if (m := re.match(r"^j([+-])(\d{1,3})$", raw)):
            return today + timedelta(days=int(m[2]) * (1 if m[1] == "+" else -1))
        if (m := _DAY.match(raw)):
            if m["y"]:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            day = date(today.year, int(m["m"]), int(m["d"]))
            if past:
                return day if day <= today else date(today.year - 1, day.month, day.day)
            return day if day >= today else date(today.year + 1, day.month, day.day)
        return date.fromisoformat(raw)
    except ValueError:
        raise DateError("date.bad", value=text) from None


def wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at local time `at` in `zone`, as an aware time. A time that does not exist (the
    spring-forward gap) moves forward by the gap, as a wall clock does; an ambiguous one (the
    autumn repeat) is the first occurrence."""
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone)


def within_hours(when: datetime, start: time, end: time) -> datetime:
    """`when`, or the next moment inside the working hours [start, end) of its zone: a
    reminder due at night waits for the morning."""
    zone = when.tzinfo
    assert isinstance(zone, ZoneInfo)
    local = when.astimezone(zone)
    if local.time() < start:
        return wall_clock(local.date(), start, zone)
    if local.time() >= end:
        return wall_clock(local.date() + timedelta(days=1), start, zone)
    return local


@cache  # the dashboard asks for every day row, step and stay of the records: a few hundred days
def month_of(day: date) -> str:
    """The month of a day, as YYYY-MM."""
    return f"{day.year:04d}-{day.month:02d}"


def months_back(today: date, n: int) -> tuple[str, str]:
    """The last `n` months (YYYY-MM), the current one included."""
    index = today.year * 12 + today.month - 1 - (n - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}", month_of(today)
