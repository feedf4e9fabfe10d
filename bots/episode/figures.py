"""The follow-up's figures as the coordinator dashboard reads them, by month of discharge (or of
the step's day) and ward: RH7 / RH30 (official all-cause, unplanned, avoidable), checklists
complete and on time, follow-up steps done on time. The follow-up bot computes them with its own
indicator (bots/followup/figures.py); the composition (bots/registry.py) gives that reader to the
dashboard, which imports no bot. Pure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date

from bots.runtime.store import Transaction


@dataclass(frozen=True)
class Readmissions:
    """The RH30 indicator's counts (docs/CLINICAL.md §3) of one month of discharges and ward."""

    month: str
    ward: str
    discharges: int  # index stays
    closed7: int
    readmitted7: int
    closed30: int
    readmitted30: int  # all-cause: the official figure
    unplanned30: int
    avoidable: int
    judged: int  # unplanned readmissions judged avoidable or not
    final: bool  # every 30-day window closed


@dataclass(frozen=True)
class Rate:
    """Of `of` (checklists validated, steps due), how many `ok` (complete and on time, done on
    time), in one month and ward."""

    month: str
    ward: str
    of: int
    ok: int


@dataclass(frozen=True)
class FollowupFigures:
    readmissions: list[Readmissions]
    checklists: list[Rate]
    steps: list[Rate]


# The figures of the discharges from these rooms (their references; None: every room of the
# records) in the months (first, last), as of a day; with the RH7 / RH30 figures or without them
# (empty: the dashboard keeps them for the day, bots/dashboard/indicator_cache.py).
FiguresReader = Callable[[Transaction, AbstractSet[str] | None, tuple[str, str], date, bool],
                         Awaitable[FollowupFigures]]
# The mails the MSSanté bridge posted into these rooms (in) and sent from them (out) between two
# days (None: into and from any room): (room ID, day, "in" | "out", count).
MailCounter = Callable[[Transaction, AbstractSet[str] | None, date, date],
                       Awaitable[list[tuple[str, date, str, int]]]]
