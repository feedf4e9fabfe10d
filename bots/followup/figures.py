"""The follow-up's figures for the coordinator dashboard (the port is bots/episode/figures.py):
the RH30 indicator by month and ward from indicator.py's own functions (no second
implementation), the checklists' compliance, the follow-up steps done on time."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from bots.common.dates import month_of
from bots.common.models import CareRoom
from bots.episode.figures import FiguresReader, FollowupFigures, Rate, Readmissions
from bots.followup import records
from bots.followup.indicator import compliance, stats
from bots.followup.models import FollowupPlan, FollowupStep
from bots.runtime.store import Transaction, as_utc

ALL_WARDS = "tous"


def _within(day: date, months: tuple[str, str]) -> bool:
    return months[0] <= month_of(day) <= months[1]


async def _checklists(tx: Transaction, refs: AbstractSet[str] | None,
                      months: tuple[str, str]) -> list[Rate]:
    """Validated checklists complete and on time (§2), by month of discharge and ward."""
    rows = await records.compliance_data(tx, with_ref=True)
    by_month: dict[str, list[tuple[str | None, bool]]] = {}
    for ward, day, ok, ref in rows:
        if (refs is None or ref in refs) and _within(day, months):
            by_month.setdefault(month_of(day), []).append((ward, ok))
    return [Rate(month, c.ward, c.checklists, c.compliant)
            for month, checked in sorted(by_month.items())
            for c in compliance(checked, ALL_WARDS)]


async def _steps(tx: Transaction, refs: AbstractSet[str] | None, months: tuple[str, str],
                 today: date, zone: ZoneInfo) -> list[Rate]:
    """Follow-up steps due by today (not skipped while the plan was frozen, not the closing
    step the bot does itself) and those done on or before their day, by month of the step's
    day and ward at discharge."""
    rows = (await tx.session.execute(
        select(FollowupStep.day, FollowupStep.state == "done", FollowupStep.at,
               FollowupPlan.ward, CareRoom.ref)
        .join(FollowupPlan, FollowupPlan.id == FollowupStep.plan_id)
        .join(CareRoom, CareRoom.id == FollowupPlan.care_room_id)
        .where(FollowupPlan.account == tx.account, FollowupStep.day <= today,
               FollowupStep.day >= date.fromisoformat(f"{months[0]}-01"),
               FollowupStep.state != "skipped",
               or_(FollowupStep.by.is_(None), FollowupStep.by != tx.account)))).all()
    counts: dict[tuple[str, str], list[int]] = {}
    for day, done, at, ward, ref in rows:
        if (refs is not None and ref not in refs) or not _within(day, months):
            continue
        ok = done and at is not None and as_utc(at).astimezone(zone).date() <= day
        for key in ((month_of(day), ward or "?"), (month_of(day), ALL_WARDS)):
            found = counts.setdefault(key, [0, 0])
            found[0] += 1
            found[1] += ok
    return [Rate(month, ward, of, done) for (month, ward), (of, done) in sorted(
        counts.items(), key=lambda kv: (kv[0][0], kv[0][1] == ALL_WARDS, kv[0][1]))]


async def _readmissions(tx: Transaction, refs: AbstractSet[str] | None, months: tuple[str, str],
                        today: date) -> list[Readmissions]:
    """The RH30 indicator's counts by month of discharge and ward (every discharge of the
    records is read: a patient's index stay is their first of the period)."""
    stays, returns = await records.indicator_data(tx)
    chosen = [s for s, _ in stays
              if (refs is None or s.ref in refs) and _within(s.discharged_on, months)]
    return [Readmissions(c.month, c.ward, c.discharges, c.closed7, c.readmitted7, c.closed30,
                         c.readmitted30, c.unplanned30, c.avoidable,
                         c.avoidable + c.not_avoidable, c.final)
            for c in stats(chosen, returns, today, all_wards=ALL_WARDS) if c.month != "total"]


def figures_reader(zone: ZoneInfo) -> FiguresReader:
    """The reader the registry gives the dashboard."""
    async def read(tx: Transaction, refs: AbstractSet[str] | None, months: tuple[str, str],
                   today: date, readmissions: bool) -> FollowupFigures:
        return FollowupFigures(
            await _readmissions(tx, refs, months, today) if readmissions else [],
            await _checklists(tx, refs, months), await _steps(tx, refs, months, today, zone))
    return read
