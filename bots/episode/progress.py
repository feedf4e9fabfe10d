"""A patient's discharge checklist as the coordinator dashboard shows it: items answered out of
the total, the overdue ones and who answers them, the planned date. The discharge bot reads it
from its records (bots/discharge/records.py, `ChecklistProgress`); the composition
(bots/registry.py) gives that reader to the dashboard, which imports no bot. Pure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bots.runtime.store import Transaction


@dataclass(frozen=True)
class Overdue:
    item: int
    roles: tuple[str, ...]  # who answers it (the template's roles)
    assignee: str | None  # or the member it was assigned to


@dataclass(frozen=True)
class DischargeProgress:
    discharge: date  # planned (J0)
    answered: int
    total: int
    overdue: tuple[Overdue, ...]
    validated: bool


# The checklists of these care rooms (by care-room ID) at `now`; rooms without one are absent.
ProgressReader = Callable[[Transaction, Sequence[int], datetime],
                          Awaitable[dict[int, DischargeProgress]]]
