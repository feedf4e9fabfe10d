"""The follow-up bot's tables: one plan per patient room after discharge, its steps, and what
happened to the patient within the window (readmissions, ED visits).

The rows are the truth (the scheduler's jobs only time the steps): a step's state says whether it
was posted, done, failed (and retried), so a restart neither loses nor repeats one. Notes that
users write are sealed by the vault.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bots.common.models import OnePerCareRoom
from bots.runtime.models import ID, Base, identifier, moment


class FollowupPlan(OnePerCareRoom, Base):
    """The 30 days after a discharge. `status`: active | not_followed (the schedule has no
    follow-up for this discharge mode: the stay is only recorded for the indicator) | frozen (a readmission or ED visit was
    reported: no step is posted until `!rh30 reprise`) | deceased (no step is posted again) |
    closed (D+30 passed) | cancelled (the hospital cancelled the discharge, ADT A13: no step
    posted, out of the indicator; a new discharge starts the same row again). `conditions`: the
    schedule's `when` tags that hold (comma-separated: short_stay, home_care). `ward`: the
    ward at discharge, for the indicator by ward (the room's ward may change later)."""

    __tablename__ = "followup_plans"
    schedule: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    discharged_on: Mapped[date] = mapped_column(Date)
    risk: Mapped[str] = mapped_column(String(16))
    conditions: Mapped[str] = mapped_column(String(64))
    ward: Mapped[str | None] = mapped_column(String(100))
    # How the stay ended (episode/modes.py) and whether it was iterative: a transfer to an
    # acute ward, a death or sessions are not index stays of the indicator.
    mode: Mapped[str] = mapped_column(String(16), default="domicile")
    iterative: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(2))
    started_by: Mapped[str] = identifier()
    created_at: Mapped[datetime] = moment()
    closed_at: Mapped[datetime | None] = moment()


class FollowupStep(Base):
    """One step of a plan. `state`: planned | posted | done | failed (no retry left) | skipped
    (its day passed while the plan was frozen); `attempts`: how many times it was posted (a
    failure plans the next attempt)."""

    __tablename__ = "followup_steps"
    __table_args__ = (UniqueConstraint("plan_id", "step"),)
    sealed_by = ("plan_id", "step")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("followup_plans.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    by: Mapped[str | None] = identifier()
    at: Mapped[datetime | None] = moment()
    note: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: what the caller wrote


class FollowupEvent(Base):
    """A return to hospital after the index discharge, as reported in the room: `kind` admission
    | ed (an ED visit without admission) | death (not a return: the patient died at home); `planned` flagged by the team; `avoidable` the team's
    judgement (HAS 2013), None until judged. `note` (sealed): what the reporter and the judge
    wrote."""

    __tablename__ = "followup_events"
    sealed_by = ("plan_id", "id")  # nothing else unique: sealed once inserted (SealOnInsert)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("followup_plans.id", ondelete="CASCADE"), index=True)
    on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    planned: Mapped[bool] = mapped_column(Boolean)
    avoidable: Mapped[bool | None] = mapped_column(Boolean)
    by: Mapped[str] = identifier()
    at: Mapped[datetime] = moment()
    judged_by: Mapped[str | None] = identifier()
    judged_at: Mapped[datetime | None] = moment()
    note: Mapped[bytes] = mapped_column(LargeBinary)
