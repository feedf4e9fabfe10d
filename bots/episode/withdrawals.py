"""What the hospital's cancellations undo in a follow-up (ADT A13, A11: bots/adt/). Pure: the
rules only; the follow-up bot applies them to its rows (bots/followup/bot.py, readmissions.py)
and the ADT applier reads the verdict (shared code: neither bot imports the other).

A cancelled discharge (A13) withdraws the plan it started: the plan keeps its row with the
status `cancelled` (its steps' jobs cancelled, no reminder sent, left out of the RH30 indicator),
and a later discharge of the same episode starts it again with fresh steps. A cancelled
admission (A11) withdraws the readmission the feed recorded from it. What a person recorded or
judged is never undone by the feed: the team is told to do it by hand.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Literal

CANCELLED = "cancelled"  # FollowupPlan.status of a plan whose discharge the hospital cancelled

Verdict = Literal["withdraw", "none", "already", "by_hand"]
# Why a cancellation is left to a person (the ADT applier's reasons, bots/adt/texts.py).
ByHand = Literal["other_discharge", "returns_recorded", "recorded_by_hand", "judged"]


@dataclass(frozen=True)
class Withdrawal:
    verdict: Verdict
    why: ByHand | None = None


NONE, ALREADY, WITHDRAW = Withdrawal("none"), Withdrawal("already"), Withdrawal("withdraw")


def by_hand(why: ByHand) -> Withdrawal:
    return Withdrawal("by_hand", why)


def discharge_withdrawal(status: str | None, discharged_on: date | None,
                         cancelled_day: date | None, events: int) -> Withdrawal:
    """A13 against the room's plan (`status` None: no plan). `cancelled_day`: the discharge day
    the message names (PV1-45), if it does; `events`: the returns and deaths recorded after
    the discharge, which a cancelled discharge would leave without their index stay."""
    if status is None:
        return NONE
    if status == CANCELLED:
        return ALREADY  # the same cancellation again: nothing changes
    if cancelled_day is not None and cancelled_day != discharged_on:
        return by_hand("other_discharge")
    if events:
        return by_hand("returns_recorded")
    return WITHDRAW


def admission_withdrawal(recorded_by: str | None, judged: bool, feed: str) -> Withdrawal:
    """A11 against the readmission recorded on the cancelled admission's day (`recorded_by`
    None: none was). Only what the feed (`feed`, its `by`) recorded is withdrawn."""
    if recorded_by is None:
        return NONE
    if recorded_by != feed:
        return by_hand("recorded_by_hand")
    if judged:
        return by_hand("judged")
    return WITHDRAW


# What becomes of the follow-up plan once a readmission is withdrawn (A11).
AfterWithdrawal = Literal["resume", "stays_frozen", "unchanged"]


def after_withdrawal(status: str, others: Collection[date]) -> AfterWithdrawal:
    """A plan is frozen by a return within the window (no call to a patient in hospital) until
    `!rh30 reprise`; nothing records which return froze it, nor whether the team resumed it
    in between. `others`: the days of the returns within the window still recorded once one
    is withdrawn. A frozen plan resumes when none is left (the withdrawn one was the only
    reason); with one left it stays frozen and the room is told which and how to resume —
    never silently, since the team may have resumed after that one. A plan not frozen
    (active, resumed by hand, deceased…) is left as it is."""
    if status != "frozen":
        return "unchanged"
    return "stays_frozen" if others else "resume"
