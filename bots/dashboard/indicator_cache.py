"""The Indicators page's tables kept for the day (docs/DASHBOARD.md, Speed). A settled month's
rows change no more but by late corrections (a room moved to another ward), so they are
computed with the whole period on the first page of the day and kept until the next day; the
open months' rows are read again on every page. Open: for the usage counts (by the month of
each message, answer, mail or opening, counted as it comes), the current month; for the
discharges' and the steps' tables (a checklist validated, a step ticked after the month), also
the months whose 30-day windows are not all over (CLINICAL §3): the previous one until the
30th. The RH7 / RH30 table is kept whole for the day: a patient's index stay is their first of
the period, so its months cannot be computed apart (its windows close by the day: none closes
between two pages of a day; a return recorded today counts from tomorrow).

Kept per (account, scope, period, language): a scope is the rooms a person may see, named by
`indicator_data.Scope.key`, so one person's tables never serve another who sees other rooms.
Aggregates only (months, wards, roles, structures and counts: no patient, no user ID), and
bounded: at most `size` entries, the least recently used dropped first, all of them when the
day changes. One per process: a cache, not a record (two bots processes each keep their own;
the database stays the truth). Pure: no I/O, the day given."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, timedelta

from bots.common.dates import month_of
from bots.dashboard.indicators import Table

WINDOW_DAYS = 30  # the RH30 window (CLINICAL §3)
DAILY = frozenset({"rh30"})  # kept whole for the day
USAGE = frozenset({"usage", "professionals"})  # settled when the month is over
Key = tuple[str, str, tuple[str, str], str]  # account, scope, period, language


def first_open(today: date, table: str) -> str:
    """The first month whose rows of `table` may still change (later months too): the
    current one for the usage counts; else the month of a discharge whose 30-day window is
    still open today."""
    return month_of(today if table in USAGE else today - timedelta(days=WINDOW_DAYS))


def open_span(months: tuple[str, str], today: date, table: str) -> tuple[str, str] | None:
    """The period's open months for `table` (None: all of them settled)."""
    start = first_open(today, table)
    return (max(months[0], start), months[1]) if months[1] >= start else None


def _by_month(table: Table) -> bool:
    return table.columns[0][0] == "month"


def settled_part(found: list[Table], today: date) -> list[Table]:
    """What a page's tables leave to keep for the day: the daily tables whole, the settled
    months' rows of the others by month; nothing of those as of today (not by month)."""
    return [table if table.name in DAILY else
            Table(table.name, table.columns,
                  [r for r in table.rows if str(r[0]) < first_open(today, table.name)])
            for table in found if table.name in DAILY or _by_month(table)]


def merged(kept: list[Table], fresh: list[Table]) -> list[Table]:
    """The fresh tables (of the open months) after what was kept of the settled ones: the rows
    are by month first, the settled months come before the open ones."""
    old = {table.name: table for table in kept}
    found = []
    for table in fresh:
        before = old.get(table.name)
        if before is None:
            found.append(table)
        elif table.name in DAILY:
            found.append(before)
        else:
            found.append(Table(table.name, table.columns, [*before.rows, *table.rows]))
    return found


class DayCache:
    """The kept tables of one day, at most `size` entries (see the module's docstring)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._day: date | None = None
        self._kept: OrderedDict[Key, list[Table]] = OrderedDict()

    def get(self, today: date, key: Key) -> list[Table] | None:
        self._roll(today)
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def put(self, today: date, key: Key, tables: list[Table]) -> None:
        self._roll(today)
        self._kept[key] = tables
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)

    def _roll(self, today: date) -> None:
        if today != self._day:
            self._kept.clear()
            self._day = today
