"""Which reminder jobs a checklist needs, and when. Pure: the bot hands them to the scheduler.

Keys name the checklist and its plan version: moving the discharge date makes a new version, the
old version's jobs are cancelled by key prefix and the new ones planned. The daily digest is one
chain per checklist (each digest plans the next), independent of the version. The lettre de
liaison's reminders have keys of their own (`letter_prefix`): validating the discharge cancels
the others, never these (docs/CLINICAL.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from bots.common.dates import wall_clock, within_hours
from bots.discharge.checklist import Checklist
from bots.episode.workdays import Calendar

DUE = "discharge.due"
DIGEST = "discharge.digest"
ESCALATE = "discharge.escalate"
LETTER = "discharge.letter"


@dataclass(frozen=True)
class Job:
    kind: str
    key: str
    when: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hours:
    start: time
    end: time

    def place(self, when: datetime) -> datetime:
        return within_hours(when, self.start, self.end)


def prefix(checklist_id: int, version: int | None = None) -> str:
    """The keys of a checklist's jobs (of one plan version when given)."""
    return f"discharge:{checklist_id}:" if version is None else \
        f"discharge:{checklist_id}:v{version}:"


def plan(checklist_id: int, version: int, c: Checklist, hours: Hours,
         now: datetime) -> list[Job]:
    """Reminders still ahead: one per item at its due time (a second one for a re-score), and
    the J0 escalation check; all inside working hours. Items already overdue get no reminder of
    their own (the live message marks them and the daily digest lists them)."""
    base = prefix(checklist_id, version)
    payload = {"checklist": checklist_id, "version": version}
    jobs = []
    for item in c.template.items:
        if item.letter:
            continue  # its own reminders (letter_plan)
        for kind, due in (("due", item.due), ("rescore", item.rescore_due)):
            at = c.due_at(due) if due is not None else None
            if at is None:
                continue
            when = hours.place(at)
            if when > now:
                jobs.append(Job(DUE, f"{base}{kind}:{item.id}", when,
                                {**payload, "item": item.id, "rescore": kind == "rescore"}))
    j0 = hours.place(wall_clock(c.discharge, hours.start, c.zone))
    if j0 > now:
        jobs.append(Job(ESCALATE, f"{base}escalate", j0, payload))
    return jobs


def letter_prefix(checklist_id: int) -> str:
    return f"discharge-letter:{checklist_id}:"


def _letter_base(checklist_id: int, day: date, tag: str) -> str:
    return f"{letter_prefix(checklist_id)}{day.isoformat()}:" + (f"{tag}:" if tag else "")


def letter_plan(checklist_id: int, day: date, c: Checklist, hours: Hours, calendar: Calendar,
                now: datetime, tag: str = "") -> list[Job]:
    """The lettre de liaison of a discharge on `day`: an alert at the end of that day's working
    hours, then a reminder the next working morning. A time already passed comes now (one
    message, not two, when both have). `tag` makes the keys of a plan made again (a job key is
    unique for ever, the cancelled ones' too) fresh; the morning chain keeps it."""
    now = now.astimezone(c.zone)  # a job's time carries the ward's zone
    base = _letter_base(checklist_id, day, tag)
    payload = {"checklist": checklist_id, "day": day.isoformat(), **({"tag": tag} if tag else {})}
    end = wall_clock(day, hours.end, c.zone)
    morning = next_letter_morning(checklist_id, day, day, c, hours, calendar, tag)
    if morning.when <= now:
        return [Job(LETTER, f"{base}late", now, {**payload, "stage": "morning"})]
    return [Job(LETTER, f"{base}end", max(end, now), {**payload, "stage": "end"}), morning]


def next_letter_morning(checklist_id: int, day: date, after: date, c: Checklist, hours: Hours,
                        calendar: Calendar, tag: str = "") -> Job:
    """The reminder on the first working morning after `after`, for the letter of `day`."""
    morning = calendar.next_working(after)
    return Job(LETTER, f"{_letter_base(checklist_id, day, tag)}morning:{morning.isoformat()}",
               wall_clock(morning, hours.start, c.zone),
               {"checklist": checklist_id, "day": day.isoformat(), "stage": "morning",
                **({"tag": tag} if tag else {})})


def next_digest(checklist_id: int, after: datetime, at: time, hours: Hours) -> Job:
    """The digest of the first day whose digest time is after `after`."""
    zone = after.tzinfo
    day: date = after.date()
    when = hours.place(wall_clock(day, at, zone))  # type: ignore[arg-type]
    if when <= after:
        day = day + timedelta(days=1)
        when = hours.place(wall_clock(day, at, zone))  # type: ignore[arg-type]
    return Job(DIGEST, f"{prefix(checklist_id)}digest:{day.isoformat()}", when,
               {"checklist": checklist_id})
