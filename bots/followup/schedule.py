"""The follow-up plan: schedule templates (data files, schemas/followup-template.schema.json), the
working-day calendar, and the steps of one patient's 30 days. Pure (the calendar is data).

Days are calendar days from the discharge day (D0); `D+n ouvrés` counts working days (no
weekends, no French public holidays, from the maintained `holidays` library). A step is posted on
its day at the start of working hours, as a wall-clock time in Europe/Paris (DST-safe).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bots.common.dates import wall_clock
from bots.datafiles import Entry, TemplateError, check_schema, entry_id, load_named, notation, read
from bots.episode.scores import Risk
from bots.episode.workdays import Calendar
from bots.runtime.commands import ArgError

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "rh30-default"
_DAY = re.compile(r"^D(?:0|\+(?P<n>[0-9]{1,2}))(?P<working> ouvrés)?$")
Condition = Literal["short_stay", "home_care"]
CONDITIONS: tuple[Condition, ...] = ("short_stay", "home_care")
# As people type them in `!rh30 conditions`; "aucune" clears them.
_CONDITION_WORDS: dict[str, Condition] = {
    "court": "short_stay", "sejour-court": "short_stay", "séjour-court": "short_stay",
    "short": "short_stay", "short-stay": "short_stay", "short_stay": "short_stay",
    "domicile": "home_care", "soins-domicile": "home_care", "home": "home_care",
    "home-care": "home_care", "home_care": "home_care"}
_NO_CONDITION = {"aucune", "aucun", "none"}
# A stay this short (ambulatory, or one night) gets the next-day call (docs/CLINICAL.md §3).
SHORT_STAY_DAYS = 1
DEFAULT_MODES = frozenset({"domicile", "had", "ssr", "ehpad"})
MAX_RETRIES = 2  # a failed step (patient unreachable) is tried again at most this many times


@dataclass(frozen=True)
class Day:
    offset: int
    working: bool = False

    @classmethod
    def parse(cls, text: str) -> Day:
        m = notation(_DAY, text, "a day (D0, D+7, D+2 ouvrés)")
        return cls(int(m["n"] or 0), bool(m["working"]))


@dataclass(frozen=True)
class StepTemplate(Entry):
    day: Day
    until: Day | None
    risks: frozenset[str]
    when: Condition | None
    kind: Literal["task", "close"]


@dataclass(frozen=True)
class Schedule:
    name: str
    title_fr: str
    title_en: str
    version: int
    steps: tuple[StepTemplate, ...]
    modes: frozenset[str] = DEFAULT_MODES  # the discharge modes that start the steps

    def step(self, step_id: int) -> StepTemplate | None:
        return next((s for s in self.steps if s.id == step_id), None)


def parse_schedule(raw: Any, source: str,
                   known_roles: Collection[str] | None = None) -> Schedule:
    check_schema(raw, "followup-template.schema.json", source,
                 lambda r, path: entry_id(r, "steps", path[1])
                 if len(path) >= 2 and path[0] == "steps" else None)
    steps, seen = [], set()
    for entry in raw["steps"]:
        step_id = entry["id"]
        if step_id in seen:
            raise TemplateError(source, "the id is used twice", step_id)
        seen.add(step_id)
        unknown = [r for r in entry["roles"] if known_roles is not None and r not in known_roles]
        if unknown:
            raise TemplateError(source, f"unknown role(s) {', '.join(unknown)}", step_id)
        day = Day.parse(entry["day"])
        until = Day.parse(entry["until"]) if "until" in entry else None
        if until is not None and (until.offset < day.offset or until.working != day.working):
            raise TemplateError(source, "`until` must come after `day`, counted the same way",
                                step_id)
        steps.append(StepTemplate(
            id=step_id, label_fr=entry["label_fr"], label_en=entry.get("label_en"),
            roles=tuple(entry["roles"]), day=day, until=until, risks=frozenset(entry["for"]),
            when=entry.get("when"), kind=entry.get("kind", "task")))
    return Schedule(raw["name"], raw["title_fr"], raw["title_en"], raw["version"],
                    tuple(sorted(steps, key=lambda s: (s.day.offset, s.id))),
                    frozenset(raw.get("modes", DEFAULT_MODES)))


def load_schedules(paths: Sequence[Path] = (),
                   known_roles: Collection[str] | None = None) -> dict[str, Schedule]:
    return load_named([DEFAULT_TEMPLATES_DIR, *map(Path, paths)],
                      lambda file: parse_schedule(read(file), str(file), known_roles))


@dataclass(frozen=True)
class PlannedStep:
    step: StepTemplate
    day: date
    until: date | None
    at: datetime  # when it is posted: its day, at the start of working hours (local)


def plan(schedule: Schedule, discharged_on: date, risk: Risk,
         conditions: Collection[Condition], calendar: Calendar, start: time,
         zone: ZoneInfo) -> list[PlannedStep]:
    """The steps of this patient's 30 days, in order."""
    out = []
    for step in schedule.steps:
        if risk not in step.risks or (step.when is not None and step.when not in conditions):
            continue
        day = calendar.on(discharged_on, step.day.offset, step.day.working)
        until = calendar.on(discharged_on, step.until.offset, step.until.working) \
            if step.until else None
        out.append(PlannedStep(step, day, until, wall_clock(day, start, zone)))
    return out


def retry_day(failed_on: date, calendar: Calendar) -> date:
    """A step that failed (patient unreachable) is tried again the next working day."""
    return calendar.next_working(failed_on)


def replan(current: Mapping[int, str], new: Sequence[PlannedStep]
           ) -> tuple[list[PlannedStep], list[int]]:
    """A plan whose risk or conditions changed: the steps to add (in the new plan, not yet in
    the patient's) and the ones to drop (no longer in it and not yet posted). `current`: step id
    → state. Steps already posted, done or failed stay, whatever the new plan says."""
    wanted = {p.step.id for p in new}
    add = [p for p in new if p.step.id not in current]
    drop = [step for step, state in current.items() if state == "planned" and step not in wanted]
    return add, sorted(drop)


def parse_conditions(text: str) -> tuple[Condition, ...]:
    words = text.lower().replace(",", " ").split()
    if not words or set(words) <= _NO_CONDITION:
        return ()
    unknown = [w for w in words if w not in _CONDITION_WORDS]
    if unknown:
        raise ArgError("followup.bad_condition", value=unknown[0])
    return tuple(c for c in CONDITIONS if c in {_CONDITION_WORDS[w] for w in words})


def conditions_at_discharge(admitted_on: date | None, discharged_on: date,
                            held: Collection[str]) -> tuple[Condition, ...]:
    """What the discharge says: a short stay from the admission date, and the conditions the
    checklist's items marked (e.g. home services ordered → home_care)."""
    short = admitted_on is not None and (discharged_on - admitted_on).days <= SHORT_STAY_DAYS
    return tuple(c for c in CONDITIONS if c in held or (c == "short_stay" and short))


def as_conditions(stored: str) -> tuple[Condition, ...]:
    return tuple(c for c in CONDITIONS if c in stored.split(","))
