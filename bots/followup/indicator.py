"""The RH7 / RH30 readmission indicators (docs/CLINICAL.md §3). Pure: stays and what followed
them in, counts and rates out; `as_of` is the day the figures are computed on.

Rules:
- The headline is the official ATIH/DGOS figure: **all-cause** (planned readmissions count) and
  **per patient** (a patient's index stay is their first eligible stay of the period; a second
  room of the same patient is not a second index stay). Beside it: the **unplanned** rate
  (planned readmissions left out) and the **avoidable** count (HAS 2013, the team's judgement on
  the first unplanned readmission), per patient too.
- delay = readmission admission date − index discharge date, in calendar days; a readmission
  counts when 1 ≤ delay ≤ 30 (RH30), 1 ≤ delay ≤ 7 (RH7). A same-day return (delay 0), planned
  or not, is logged, not counted. An ED visit without admission is logged apart. Each index stay
  counts once, however many returns.
- Stays ending in death or a transfer to an acute ward (MCO), and iterative stays (dialysis,
  chemotherapy, radiotherapy sessions), are not index stays: listed as excluded.
- A window is open until its last day has passed (`as_of` after discharge + 7 or + 30 days). A
  rate only uses closed windows: an open one is neither "readmitted" nor "not readmitted" yet; it
  is shown apart (with the readmissions already known in it), and a month with open windows has a
  provisional rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from bots.episode.modes import Discharge, Mode

ReturnKind = Literal["admission", "ed"]
# How one return is counted: a readmission within 1–7 days (so also RH30), within 8–30, a
# same-day return, an ED visit, or one after the 30-day window. Planned or not is apart.
Category = Literal["rh7", "rh30", "same_day", "ed", "after"]
# Why a stay is not an index stay: its discharge mode, sessions, or the patient's earlier stay.
Exclusion = Literal["mco", "deces", "iterative", "repeat"]
RH7, RH30 = 7, 30


@dataclass(frozen=True)
class IndexStay:
    """A stay that ended in a discharge (a candidate index stay). `patient`: the same patient
    across rooms (a blind index); empty, the room's reference stands for it."""

    ref: str
    discharged_on: date
    ward: str | None = None
    mode: Mode = "domicile"
    iterative: bool = False  # sessions (dialysis, chemo, radiotherapy): not an index stay
    patient: str = ""

    @property
    def who(self) -> str:
        return self.patient or self.ref

    def exclusion(self) -> Exclusion | None:
        """Why this stay cannot be an index stay whoever the patient is, or None."""
        if Discharge(self.mode, self.iterative).index_stay:
            return None
        return "iterative" if self.mode not in ("mco", "deces") else self.mode  # type: ignore


@dataclass(frozen=True)
class Return:
    """Something that followed a stay: an admission, or an ED visit without admission."""

    ref: str
    on: date
    kind: ReturnKind = "admission"
    planned: bool = False
    avoidable: bool | None = None  # the team's judgement, on an unplanned readmission
    patient: str = ""

    @property
    def who(self) -> str:
        return self.patient or self.ref


@dataclass(frozen=True)
class Outcome:
    stay: IndexStay
    exclusion: Exclusion | None
    closed7: bool
    closed30: bool
    readmitted7: bool  # all-cause (the official figure)
    readmitted30: bool
    unplanned7: bool
    unplanned30: bool
    first_delay: int | None  # days to the first counted readmission (all-cause)
    same_day: int  # admissions on the discharge day, planned or not
    ed_visits: int  # within 0..30 days
    planned: int  # planned readmissions within 1..30 days
    avoidable: bool | None  # of the first unplanned readmission

    @property
    def excluded(self) -> bool:
        return self.exclusion is not None


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
    if days == 0:
        return "same_day"
    return "rh7" if days <= RH7 else "rh30"


def outcome(stay: IndexStay, returns: Iterable[Return], as_of: date,
            exclusion: Exclusion | None = None) -> Outcome:
    """What followed `stay` (returns of the same patient, from any of their rooms)."""
    mine = [r for r in returns if r.who == stay.who and 0 <= delay(stay, r) <= RH30]
    counted = sorted((r for r in mine if category(stay, r) in ("rh7", "rh30")),
                     key=lambda r: r.on)
    unplanned = [r for r in counted if not r.planned]
    first = counted[0] if counted else None
    first_unplanned = unplanned[0] if unplanned else None
    days_since = (as_of - stay.discharged_on).days
    return Outcome(
        stay=stay, exclusion=exclusion or stay.exclusion(),
        closed7=days_since > RH7, closed30=days_since > RH30,
        readmitted7=first is not None and delay(stay, first) <= RH7,
        readmitted30=first is not None,
        unplanned7=first_unplanned is not None and delay(stay, first_unplanned) <= RH7,
        unplanned30=first_unplanned is not None,
        first_delay=delay(stay, first) if first else None,
        same_day=sum(1 for r in mine if category(stay, r) == "same_day"),
        ed_visits=sum(1 for r in mine if r.kind == "ed"),
        planned=sum(1 for r in counted if r.planned),
        avoidable=first_unplanned.avoidable if first_unplanned else None)


def index_stays(stays: Sequence[IndexStay]) -> list[tuple[IndexStay, Exclusion | None]]:
    """Each stay with why it is not an index stay (None: it is one). Per patient: the first
    eligible stay of those given is the index stay, later ones are `repeat`."""
    seen: set[str] = set()
    why: dict[int, Exclusion | None] = {}
    for i in sorted(range(len(stays)), key=lambda i: (stays[i].discharged_on, i)):
        stay = stays[i]
        excluded = stay.exclusion()
        if excluded is None and stay.who in seen:
            excluded = "repeat"
        elif excluded is None:
            seen.add(stay.who)
        why[i] = excluded
    return [(stay, why[i]) for i, stay in enumerate(stays)]


def outcomes(stays: Sequence[IndexStay], returns: Sequence[Return],
             as_of: date) -> list[Outcome]:
    """The outcome of every stay, index stays chosen per patient among `stays`."""
    by_patient: dict[str, list[Return]] = defaultdict(list)  # each stay reads its patient's
    for r in returns:
        by_patient[r.who].append(r)
    return [outcome(stay, by_patient.get(stay.who, ()), as_of, why)
            for stay, why in index_stays(stays)]


@dataclass(frozen=True)
class Counts:
    month: str  # YYYY-MM of the index discharges, or "total"
    ward: str  # or "tous"
    discharges: int = 0  # index stays (excluded ones not included)
    excluded: int = 0  # death, transfer MCO, iterative stays
    repeat: int = 0  # later stays of a patient already counted
    closed7: int = 0
    readmitted7: int = 0
    closed30: int = 0
    readmitted30: int = 0  # all-cause
    unplanned30: int = 0
    open30: int = 0  # windows still open: not counted either way
    open_readmitted30: int = 0  # ... of which already readmitted (provisional)
    same_day: int = 0
    ed_visits: int = 0
    planned: int = 0
    avoidable: int = 0  # unplanned readmissions (closed windows) judged avoidable
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
    def unplanned_rh30(self) -> float | None:
        return self.unplanned30 / self.closed30 if self.closed30 else None

    @property
    def final(self) -> bool:
        """Every index stay's 30-day window has passed: the rate will not change."""
        return self.open30 == 0

    @classmethod
    def of(cls, month: str, ward: str, found: Sequence[Outcome]) -> Counts:
        """The counts of these outcomes (one pass per figure: a month of 20,000 stays adds up
        in milliseconds)."""
        counted = [o for o in found if not o.excluded]
        judged = [o for o in counted if o.unplanned30 and o.closed30]
        return cls(
            month, ward, discharges=len(counted),
            excluded=sum(o.excluded and o.exclusion != "repeat" for o in found),
            repeat=sum(o.exclusion == "repeat" for o in found),
            closed7=sum(o.closed7 for o in counted),
            readmitted7=sum(o.readmitted7 and o.closed7 for o in counted),
            closed30=sum(o.closed30 for o in counted),
            readmitted30=sum(o.readmitted30 and o.closed30 for o in counted),
            unplanned30=len(judged),
            open30=sum(not o.closed30 for o in counted),
            open_readmitted30=sum(o.readmitted30 and not o.closed30 for o in counted),
            same_day=sum(o.same_day for o in counted), ed_visits=sum(o.ed_visits for o in counted),
            planned=sum(o.planned for o in counted),
            avoidable=sum(o.avoidable is True for o in judged),
            not_avoidable=sum(o.avoidable is False for o in judged),
            not_judged=sum(o.avoidable is None for o in judged),
            refs=tuple(o.stay.ref for o in counted))


def stats(stays: Sequence[IndexStay], returns: Sequence[Return], as_of: date, *,
          months: tuple[str, str] | None = None, ward: str | None = None,
          all_wards: str = "tous") -> list[Counts]:
    """Counts by month of discharge and ward, by month for all wards, by ward for all months,
    and the total. `months`: (first, last) as YYYY-MM, inclusive: the period whose first
    eligible stay of each patient is their index stay; `ward`: only that ward's stays."""
    chosen = [s for s in stays
              if not months or months[0] <= s.discharged_on.strftime("%Y-%m") <= months[1]]
    found: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes(chosen, returns, as_of):
        if ward is not None and o.stay.ward != ward:
            continue
        month = o.stay.discharged_on.strftime("%Y-%m")
        ward_ = o.stay.ward or "?"
        for key in ((month, ward_), (month, all_wards), ("total", ward_), ("total", all_wards)):
            found[key].append(o)
    return sorted((Counts.of(*key, group) for key, group in found.items()),
                  key=lambda c: (c.month == "total", c.month, c.ward == all_wards, c.ward))


@dataclass(frozen=True)
class Compliance:
    """Validated checklists of a ward and how many were complete and on time (§2)."""

    ward: str
    checklists: int = 0
    compliant: int = 0


def compliance(checklists: Iterable[tuple[str | None, bool]],
               all_wards: str = "tous") -> list[Compliance]:
    """(ward, compliant) of each validated checklist → by ward, then all wards."""
    rows: dict[str, Compliance] = {}
    for ward, ok in checklists:
        for key in (ward or "?", all_wards):
            c = rows.get(key, Compliance(key))
            rows[key] = replace(c, checklists=c.checklists + 1, compliant=c.compliant + ok)
    return sorted(rows.values(), key=lambda c: (c.ward == all_wards, c.ward))


def same_patients(rooms: Sequence[tuple[int, str | None, str | None]]) -> dict[int, str]:
    """A patient key for each room, from (room id, INS blind index, traits blind index), as the
    care-team register finds a patient again: the same INS, or the same traits when one side has
    no INS (same traits with two different INS are two patients)."""
    parent = {room: room for room, _, _ in rooms}

    def root(room: int) -> int:
        while parent[room] != room:
            parent[room] = parent[parent[room]]
            room = parent[room]
        return room

    def link(a: int, b: int) -> None:
        parent[root(b)] = root(a)

    first_by_ins: dict[str, int] = {}
    first_by_traits: dict[str, tuple[int, str | None]] = {}
    for room, ins, traits in sorted(rooms):
        if ins is not None:
            link(first_by_ins.setdefault(ins, room), room)
        if traits is not None:
            other, other_ins = first_by_traits.setdefault(traits, (room, ins))
            if ins is None or other_ins is None or ins == other_ins:
                link(other, room)
    return {room: f"patient:{root(room)}" for room, _, _ in rooms}
