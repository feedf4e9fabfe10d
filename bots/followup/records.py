"""The follow-up bot's reads: a room's plan, its steps and events, and the index stays with
their returns for the indicator. Database only, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.models import CareRoom
from bots.episode.followup_work import FollowupWork, ReturnToReview, StepDue
from bots.episode.models import Handover
from bots.episode.withdrawals import CANCELLED
from bots.followup.indicator import IndexStay, Return, category, same_patients
from bots.followup.models import FollowupEvent, FollowupPlan, FollowupStep
from bots.followup.schedule import Schedule
from bots.runtime.store import Transaction

RETURNS = ("admission", "ed")  # the events that are returns to hospital (not a death)


class PlanExists(Exception):
    """The room already has its follow-up plan (one per episode)."""


async def plan_of(tx: Transaction, room_id: str) -> FollowupPlan | None:
    """The room's plan; none while its discharge is cancelled (withdrawals.py)."""
    row = await plan_row(tx, room_id)
    return None if row is None or row.status == CANCELLED else row


async def plan_row(tx: Transaction, room_id: str) -> FollowupPlan | None:
    """The room's plan row whatever its status: a cancelled one is started again in place."""
    return await tx.session.scalar(select(FollowupPlan).where(
        FollowupPlan.account == tx.account, FollowupPlan.room_id == room_id))


async def steps(tx: Transaction, plan: FollowupPlan) -> Sequence[FollowupStep]:
    return (await tx.session.scalars(select(FollowupStep).where(
        FollowupStep.plan_id == plan.id).order_by(FollowupStep.day, FollowupStep.step))).all()


async def step(tx: Transaction, plan: FollowupPlan, step_id: int) -> FollowupStep | None:
    return await tx.session.scalar(select(FollowupStep).where(
        FollowupStep.plan_id == plan.id, FollowupStep.step == step_id))


async def events(tx: Transaction, plan: FollowupPlan) -> Sequence[FollowupEvent]:
    """The returns to hospital (admissions, ED visits) after the discharge, oldest first."""
    return (await tx.session.scalars(select(FollowupEvent).where(
        FollowupEvent.plan_id == plan.id, FollowupEvent.kind.in_(RETURNS))
        .order_by(FollowupEvent.on, FollowupEvent.id))).all()


async def death(tx: Transaction, plan: FollowupPlan) -> FollowupEvent | None:
    return await tx.session.scalar(select(FollowupEvent).where(
        FollowupEvent.plan_id == plan.id, FollowupEvent.kind == "death"))


class ReturnFacts(Protocol):
    """What a return is read from: an event row, or only its columns (the indicator's reads)."""

    on: date
    kind: str
    planned: bool
    avoidable: bool | None


class StayFacts(Protocol):
    """What a stay is read from: a plan row, or only its columns (the indicator's reads)."""

    discharged_on: date
    ward: str | None
    mode: str
    iterative: bool


def as_return(ref: str, event: ReturnFacts, patient: str = "") -> Return:
    return Return(ref, event.on, "ed" if event.kind == "ed" else "admission",
                  planned=event.planned, avoidable=event.avoidable, patient=patient)


def as_stay(ref: str, plan: StayFacts, patient: str = "") -> IndexStay:
    return IndexStay(ref, plan.discharged_on, plan.ward, plan.mode,  # type: ignore[arg-type]
                     plan.iterative, patient)


async def indicator_data(tx: Transaction) -> tuple[list[tuple[IndexStay, str]], list[Return]]:
    """Every recorded discharge of this account with its risk level, and every return after
    one; each names its patient across rooms (the care-team register's blind indexes). A
    discharge the hospital cancelled is none. Only the columns the indicator uses are read:
    the dashboard asks for every discharge of the records on each page."""
    plans = (await tx.session.execute(
        select(FollowupPlan.id, FollowupPlan.care_room_id, FollowupPlan.discharged_on,
               FollowupPlan.ward, FollowupPlan.mode, FollowupPlan.iterative, FollowupPlan.risk,
               CareRoom.ref, CareRoom.ins_index, CareRoom.traits_index)
        .join(CareRoom, CareRoom.id == FollowupPlan.care_room_id)
        .where(FollowupPlan.account == tx.account, FollowupPlan.status != CANCELLED)
        .order_by(FollowupPlan.discharged_on, FollowupPlan.id))).all()
    patients = same_patients([(p.care_room_id, p.ins_index, p.traits_index) for p in plans])
    refs = {p.id: (p.ref or f"#{p.id}", patients[p.care_room_id]) for p in plans}
    found = (await tx.session.execute(
        select(FollowupEvent.plan_id, FollowupEvent.on, FollowupEvent.kind,
               FollowupEvent.planned, FollowupEvent.avoidable)
        .join(FollowupPlan, FollowupPlan.id == FollowupEvent.plan_id).where(
            FollowupPlan.account == tx.account, FollowupPlan.status != CANCELLED,
            FollowupEvent.kind.in_(RETURNS)))).all()
    return ([(as_stay(refs[p.id][0], p, refs[p.id][1]), p.risk) for p in plans],
            [as_return(refs[e.plan_id][0], e, refs[e.plan_id][1]) for e in found])


async def compliance_data(tx: Transaction, with_ref: bool = False) -> list[tuple[Any, ...]]:
    """(ward, discharge day, complete and on time) of each validated checklist of this
    account; with its room's reference last when `with_ref` (the dashboard's scope)."""
    rows = (await tx.session.execute(select(
        Handover.ward, Handover.discharged_on, Handover.compliant, CareRoom.ref)
        .join(CareRoom, CareRoom.id == Handover.care_room_id).where(
        Handover.account == tx.account, Handover.compliant.is_not(None)))).all()
    return [(ward, day, bool(ok), ref) if with_ref else (ward, day, bool(ok))
            for ward, day, ok, ref in rows]


class FollowupWorkReader:
    """The dashboard's reader of follow-ups (bots/episode/followup_work.py)."""

    def __init__(self, schedules: Mapping[str, Schedule], zone: ZoneInfo) -> None:
        self.schedules, self.zone = schedules, zone

    async def __call__(self, tx: Transaction, care_room_ids: Sequence[int],
                       now: datetime) -> dict[int, FollowupWork]:
        if not care_room_ids:
            return {}
        today = now.astimezone(self.zone).date()
        plans = {p.id: p for p in (await tx.session.scalars(select(FollowupPlan).where(
            FollowupPlan.account == tx.account, FollowupPlan.status != CANCELLED,
            FollowupPlan.care_room_id.in_(care_room_ids)))).all()}
        due: dict[int, list[StepDue]] = {i: [] for i in plans}
        active = [i for i, p in plans.items() if p.status == "active"]
        for step in (await tx.session.scalars(select(FollowupStep).where(
                FollowupStep.plan_id.in_(active), FollowupStep.state.in_(("planned", "posted")),
                FollowupStep.day <= today).order_by(FollowupStep.day, FollowupStep.step))).all():
            schedule = self.schedules.get(plans[step.plan_id].schedule)
            template = schedule.step(step.step) if schedule else None
            if template is not None and template.kind == "task":  # D+30's closing is no task
                due[step.plan_id].append(StepDue(template, step.day, step.state == "posted"))
        review: dict[int, list[ReturnToReview]] = {i: [] for i in plans}
        for event in (await tx.session.scalars(select(FollowupEvent).where(
                FollowupEvent.plan_id.in_(list(plans)), FollowupEvent.kind == "admission",
                FollowupEvent.planned.is_(False), FollowupEvent.avoidable.is_(None))
                .order_by(FollowupEvent.on, FollowupEvent.id))).all():
            plan = plans[event.plan_id]
            counts_as = category(as_stay("", plan), as_return("", event))
            if counts_as in ("rh7", "rh30"):
                review[plan.id].append(ReturnToReview(
                    event.on, (event.on - plan.discharged_on).days, counts_as))  # type: ignore[arg-type]
        return {p.care_room_id: FollowupWork(p.discharged_on, tuple(due[i]), tuple(review[i]))
                for i, p in plans.items()}
