"""A patient's RH30 follow-up as the coordinator dashboard shows it: the steps due today or late,
and the readmissions that await the team's review. The follow-up bot reads it from its records
(bots/followup/records.py, `FollowupWorkReader`); the composition (bots/registry.py) gives that
reader to the dashboard, which imports no bot. Pure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bots.datafiles import Entry
from bots.runtime.store import Transaction


@dataclass(frozen=True)
class StepDue:
    what: Entry  # the schedule's step: its number, label and the roles it falls to
    day: date  # planned for this day: today, or before (late)
    posted: bool  # announced in the room (else its morning has not come yet)


@dataclass(frozen=True)
class ReturnToReview:
    """An unplanned readmission counted by RH7/RH30 whose avoidability nobody has judged yet
    (`!rh30 evitable`)."""

    on: date
    delay: int  # days after the discharge
    kind: Literal["rh7", "rh30"]


@dataclass(frozen=True)
class FollowupWork:
    discharged_on: date
    due: tuple[StepDue, ...]  # the active plan's open steps of today and before, oldest first
    to_review: tuple[ReturnToReview, ...]  # oldest first


# The follow-up of these care rooms (by care-room ID) at `now`; rooms without a plan are absent.
FollowupReader = Callable[[Transaction, Sequence[int], datetime],
                          Awaitable[dict[int, FollowupWork]]]
