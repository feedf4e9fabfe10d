"""Working days: no weekends, no French public holidays (from the maintained `holidays`
library). Pure (the calendar is data). Used by the follow-up schedule ("D+2 ouvrés") and the
lettre de liaison's next-working-morning reminder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday to Friday, except French public holidays (of a subdivision when
    given, e.g. "57" for the Moselle's extra days)."""

    subdivision: str | None = None

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # Imported at first use: `holidays` (with dateutil) is ~4 MiB resident in every
        # process running the discharge or follow-up bot, for a date computed now and then.
        import holidays

        return holidays.country_holidays("FR", subdiv=self.subdivision)

    def is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def add_working(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n = 0: `day` if it is one, else the next)."""
        if n == 0:
            while not self.is_working(day):
                day += timedelta(days=1)
            return day
        while n:
            day += timedelta(days=1)
            n -= self.is_working(day)
        return day

    def next_working(self, day: date) -> date:
        return self.add_working(day, 1)

    def on(self, d0: date, offset: int, working: bool) -> date:
        """`offset` days after `d0`, counted in working days when `working`."""
        return self.add_working(d0, offset) if working else d0 + timedelta(days=offset)
