"""What the Today page shows: the open patient rooms the user is a member of (and the closed ones
while follow-up work is due there), each with its file number, ward, the patient named
(decrypted here because the user is in the team), the discharge checklist's progress and the
RH30 follow-up (through the readers the composition gives) and a link into the room; from them,
the discharges planned this week, the follow-up steps due today or late and the readmissions of
the last 30 days awaiting review. Its tables as CSV name rooms by file number only."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bots.common import permissions, records
from bots.common.render import room_link
from bots.common.spreadsheet import csv_bytes
from bots.episode.followup_work import FollowupReader, FollowupWork, ReturnToReview, StepDue
from bots.episode.progress import DischargeProgress, ProgressReader
from bots.runtime.store import Transaction

REVIEW_DAYS = 30  # readmissions awaiting review: those of the last 30 days


@dataclass(frozen=True)
class PatientLine:
    ref: str
    ward: str | None
    name: str
    birth_date: date
    room_url: str
    progress: DischargeProgress | None
    followup: FollowupWork | None = None
    closed: bool = False  # the room is closed: listed only while follow-up work is due there


@dataclass(frozen=True)
class Today:
    day: date
    patients: list[PatientLine]
    discharges: list[PatientLine]  # planned this week (Monday to Sunday), by day
    steps: list[tuple[PatientLine, StepDue]]  # due today or late, oldest first
    reviews: list[tuple[PatientLine, ReturnToReview]]  # oldest first


def room_url(room_id: str, element_url: str | None) -> str:
    """The deployment's Element when configured, else matrix.to (which offers the clients)."""
    if element_url:
        return f"{element_url}/#/room/{urllib.parse.quote(room_id, safe='!:')}"
    return room_link(room_id)


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the day's week."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def steps_due(work: FollowupWork | None, day: date) -> list[StepDue]:
    """The follow-up's steps due on `day` or late."""
    return [s for s in work.due if s.day <= day] if work else []


def to_review(work: FollowupWork | None, day: date) -> list[ReturnToReview]:
    """The readmissions of the REVIEW_DAYS before `day` awaiting review."""
    since = day - timedelta(days=REVIEW_DAYS)
    return [r for r in work.to_review if r.on >= since] if work else []


def on_today(line: PatientLine, day: date) -> bool:
    """An open room, or a closed one while follow-up work is due there (a step due or late, a
    readmission to review): closing the room ends neither."""
    return not line.closed or bool(steps_due(line.followup, day) or to_review(line.followup, day))


def today_of(lines: list[PatientLine], day: date) -> Today:
    monday, sunday = week_of(day)
    lines = [line for line in lines if on_today(line, day)]
    discharges = sorted((line for line in lines if line.progress
                         and monday <= line.progress.discharge <= sunday),
                        key=lambda line: (line.progress.discharge, line.ref))  # type: ignore[union-attr]
    steps = sorted(((line, s) for line in lines for s in steps_due(line.followup, day)),
                   key=lambda ls: (ls[1].day, ls[0].ref, ls[1].what.id))
    reviews = sorted(((line, r) for line in lines for r in to_review(line.followup, day)),
                     key=lambda lr: (lr[1].on, lr[0].ref))
    return Today(day, lines, discharges, steps, reviews)


async def patient_lines(tx: Transaction, user_id: str, progress: ProgressReader,
                        followup: FollowupReader, element_url: str | None,
                        now: datetime) -> list[PatientLine]:
    rooms = [r for r in await permissions.patient_rooms(tx, user_id) if r.room_id and r.ref]
    followups = await followup(tx, [r.id for r in rooms], now)
    # A closed room without any follow-up work is not opened (today_of says which are due).
    rooms = [r for r in rooms if r.status == "open" or (
        (work := followups.get(r.id)) is not None and (work.due or work.to_review))]
    checklists = await progress(tx, [r.id for r in rooms], now)
    lines = []
    for room in rooms:
        identity = records.PatientFile.open(tx, room).identity
        lines.append(PatientLine(
            ref=room.ref or "", ward=room.ward,
            name=f"{identity.family_name} {identity.given_names}",
            birth_date=identity.birth_date, room_url=room_url(room.room_id or "", element_url),
            progress=checklists.get(room.id), followup=followups.get(room.id),
            closed=room.status != "open"))
    return lines


# --- the tables as CSV: file number, ward and room link; never the patient's identity -------

TABLES = ("patients", "discharges", "steps", "reviews")
_WHERE = ("ref", "ward", "room")


def _where(line: PatientLine) -> tuple[str, str, str]:
    return line.ref, line.ward or "", line.room_url


def _checklist(p: DischargeProgress | None) -> tuple[str, int | None, int | None, int | None]:
    if p is None:
        return "", None, None, None
    return p.discharge.isoformat(), p.answered, p.total, int(p.validated)


def today_csv(page: Today, table: str, lang: str) -> bytes:
    """One of TABLES; step labels in `lang` (they come from the schedule file)."""
    checklist = ("discharge_planned", "items_answered", "items_total", "validated")
    if table == "patients":
        return csv_bytes((*_WHERE, *checklist, "overdue_items", "steps_due", "to_review",
                          "room_closed"), (
            (*_where(line), *_checklist(line.progress),
             " ".join(str(o.item) for o in line.progress.overdue) if line.progress else "",
             len(line.followup.due) if line.followup else None,
             len(line.followup.to_review) if line.followup else None, int(line.closed))
            for line in page.patients))
    if table == "discharges":
        return csv_bytes((*_WHERE, *checklist), (
            (*_where(line), *_checklist(line.progress)) for line in page.discharges))
    if table == "steps":
        return csv_bytes((*_WHERE, "step", "label", "roles", "day", "late", "posted"), (
            (*_where(line), s.what.id, s.what.label(lang), "/".join(s.what.roles),
             s.day.isoformat(), int(s.day < page.day), int(s.posted))
            for line, s in page.steps))
    if table == "reviews":
        return csv_bytes((*_WHERE, "readmitted_on", "delay_days", "counts_as"), (
            (*_where(line), r.on.isoformat(), r.delay, r.kind) for line, r in page.reviews))
    raise KeyError(table)
