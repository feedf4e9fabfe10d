"""The RH7 / RH30 readmission indicators (BRIEF §3). Pure: index stays and what followed them in,
counts and rates out; `as_of` is the day the figures are computed on.

Rules:
- delay = readmission admission date − index discharge date, in calendar days; a readmission
  counts when 1 ≤ delay ≤ 30 (RH30), 1 ≤ delay ≤ 7 (RH7). A same-day return (delay 0) is logged,
  not counted. An ED visit without admission is logged apart. A planned readmission (flagged by
  the team) is logged and never counted. Each index stay counts once, however many returns.
- Index stays ending in death or transfer, and iterative stays (dialysis, chemotherapy,
  radiotherapy sessions), are not index stays: listed as excluded.
- A window is open until its last day has passed (`as_of` after discharge + 7 or + 30 days). A
  rate only uses closed windows: an open one is neither "readmitted" nor "not readmitted" yet; it
  is shown apart (with the readmissions already known in it), and a month with open windows has a
  provisional rate.
- Avoidability (HAS 2013) is the team's judgement on a counted readmission: judged avoidable,
  judged not avoidable, not judged yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

Ending = Literal["home", "death", "transfer"]
ReturnKind = Literal["admission", "ed"]
# How one return is counted: a readmission within 1–7 days (so also RH30), within 8–30, a
# same-day return, an ED visit, a planned readmission, or one after the 30-day window.
Category = Literal["rh7", "rh30", "same_day", "ed", "planned", "after"]
RH7, RH30 = 7, 30


@dataclass(frozen=True)
class IndexStay:
    ref: str
    discharged_on: date
    ward: str | None = None
    ending: Ending = "home"
    iterative: bool = False  # sessions (dialysis, chemo, radiotherapy): not an index stay


@dataclass(frozen=True)
class Return:
    """Something that followed an index stay: an admission, or an ED visit without admission."""

    ref: str
    on: date
    kind: ReturnKind = "admission"
    planned: bool = False
    avoidable: bool | None = None  # the team's judgement, on a counted readmission


@dataclass(frozen=True)
class Outcome:
    stay: IndexStay
    excluded: bool
    closed7: bool
    closed30: bool
    readmitted7: bool
    readmitted30: bool
    first_delay: int | None  # days to the first counted readmission
    same_day: int  # unplanned admissions on the discharge day
    ed_visits: int  # within 0..30 days
    planned: int  # planned readmissions within 1..30 days
    avoidable: bool | None  # of the first counted readmission


def delay(stay: IndexStay, ret: Return) -> int:
    return (ret.on - stay.discharged_on).days


def category(stay: IndexStay, ret: Return) -> Category:
    """How `ret` counts for `stay` (it must not come before the discharge)."""
    days = delay(stay, ret)
    assert days >= 0, "a return before the discharge"
    if days > RH30:
        return "after"
    if ret.kind == "ed":
        return "ed"
    if ret.planned:
        return "planned"
    if days == 0:
        return "same_day"
    return "rh7" if days <= RH7 else "rh30"


def outcome(stay: IndexStay, returns: Iterable[Return], as_of: date) -> Outcome:
    mine = [r for r in returns if r.ref == stay.ref and 0 <= delay(stay, r) <= RH30]
    counted = sorted((r for r in mine if r.kind == "admission" and not r.planned
                      and delay(stay, r) >= 1), key=lambda r: r.on)
    first = counted[0] if counted else None
    days_since = (as_of - stay.discharged_on).days
    return Outcome(
        stay=stay, excluded=stay.ending != "home" or stay.iterative,
        closed7=days_since > RH7, closed30=days_since > RH30,
        readmitted7=first is not None and delay(stay, first) <= RH7,
        readmitted30=first is not None,
        first_delay=delay(stay, first) if first else None,
        same_day=sum(1 for r in mine if r.kind == "admission" and not r.planned
                     and delay(stay, r) == 0),
        ed_visits=sum(1 for r in mine if r.kind == "ed"),
        planned=sum(1 for r in mine if r.kind == "admission" and r.planned
                    and delay(stay, r) >= 1),
        avoidable=first.avoidable if first else None)


@dataclass(frozen=True)
class Counts:
    month: str  # YYYY-MM of the index discharges, or "total"
    ward: str  # or "tous"
    discharges: int = 0  # index stays (excluded ones not included)
    excluded: int = 0  # death, transfer, iterative stays
    closed7: int = 0
    readmitted7: int = 0
    closed30: int = 0
    readmitted30: int = 0
    open30: int = 0  # windows still open: not counted either way
    open_readmitted30: int = 0  # ... of which already readmitted (provisional)
    same_day: int = 0
    ed_visits: int = 0
    planned: int = 0
    avoidable: int = 0  # counted readmissions (closed windows) judged avoidable
    not_avoidable: int = 0
    not_judged: int = 0
    refs: tuple[str, ...] = field(default=(), compare=False)

    @property
    def rh7(self) -> float | None:
        return self.readmitted7 / self.closed7 if self.closed7 else None

    @property
    def rh30(self) -> float | None:
        return self.readmitted30 / self.closed30 if self.closed30 else None

    @property
    def final(self) -> bool:
        """Every index stay's 30-day window has passed: the rate will not change."""
        return self.open30 == 0

    def add(self, o: Outcome) -> Counts:
        if o.excluded:
            return replace(self, excluded=self.excluded + 1)
        judged = o.readmitted30 and o.closed30
        return replace(
            self, discharges=self.discharges + 1,
            closed7=self.closed7 + o.closed7,
            readmitted7=self.readmitted7 + (o.readmitted7 and o.closed7),
            closed30=self.closed30 + o.closed30,
            readmitted30=self.readmitted30 + (o.readmitted30 and o.closed30),
            open30=self.open30 + (not o.closed30),
            open_readmitted30=self.open_readmitted30 + (o.readmitted30 and not o.closed30),
            same_day=self.same_day + o.same_day, ed_visits=self.ed_visits + o.ed_visits,
            planned=self.planned + o.planned,
            avoidable=self.avoidable + (judged and o.avoidable is True),
            not_avoidable=self.not_avoidable + (judged and o.avoidable is False),
            not_judged=self.not_judged + (judged and o.avoidable is None),
            refs=(*self.refs, o.stay.ref))


def stats(stays: Sequence[IndexStay], returns: Sequence[Return], as_of: date, *,
          months: tuple[str, str] | None = None, ward: str | None = None,
          all_wards: str = "tous") -> list[Counts]:
    """Counts by month of discharge and ward, by month for all wards, by ward for all months,
    and the total. `months`: (first, last) as YYYY-MM, inclusive; `ward`: only that ward."""
    rows: dict[tuple[str, str], Counts] = {}
    for stay in stays:
        month = stay.discharged_on.strftime("%Y-%m")
        if months and not months[0] <= month <= months[1]:
            continue
        if ward is not None and stay.ward != ward:
            continue
        o = outcome(stay, returns, as_of)
        ward_ = stay.ward or "?"
        for key in ((month, ward_), (month, all_wards), ("total", ward_), ("total", all_wards)):
            rows[key] = rows.get(key, Counts(*key)).add(o)
    return sorted(rows.values(), key=lambda c: (c.month == "total", c.month,
                                                c.ward == all_wards, c.ward))
