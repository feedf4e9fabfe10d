"""The RH30 follow-up bot: the 30 days after discharge, step by step, in the patient room.

A plan starts when the discharge bot validates a discharge (a `followup.start` job written in
the validation's transaction), by `!rh30 debut`, or through the provisioning API. Its steps are
rows, each timed by a durable job on its day; the bot posts the task and mentions whoever is
responsible; `!rh30 fait` and `!rh30 echec` record what was done (a failure is retried the next
working day, at most twice). A new risk level or new conditions re-plan the steps not yet
posted. Readmissions (readmissions.py) freeze the plan; the indicator is in report_commands.py.
Runs on the account of the care-team bot (its rooms, teams and roles).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from bots.common import capabilities as cap
from bots.common import records as care_rooms
from bots.common import texts as common_texts
from bots.common.dates import parse_day, wall_clock
from bots.common.jobs import HANDOVER_JOB
from bots.common.models import COORDINATION, PATIENT, CareRoom
from bots.common.render import when
from bots.common.roles import Roles
from bots.config import Config, ConfigError
from bots.datafiles import TemplateError
from bots.episode import records as episode
from bots.episode import texts as episode_texts
from bots.episode.followup_work import FollowupReader
from bots.episode.handover import ChecklistReader
from bots.episode.models import Handover
from bots.episode.modes import Discharge, ModeError, parse_discharge
from bots.episode.risk import Level, Risk, RiskError, as_risk, by_hand, effective, plan_level
from bots.episode.scores import Score, score_text
from bots.episode.scoring import ScoreCommands
from bots.episode.withdrawals import CANCELLED, WITHDRAW, Withdrawal, discharge_withdrawal
from bots.followup import records, texts
from bots.followup.api import routes
from bots.followup.models import FollowupPlan, FollowupStep
from bots.followup.readmissions import Readmissions
from bots.followup.report_commands import REPORT, Reports
from bots.followup.schedule import (
    MAX_RETRIES,
    Calendar,
    Condition,
    PlannedStep,
    Schedule,
    StepTemplate,
    as_conditions,
    conditions_at_discharge,
    load_schedules,
    parse_conditions,
    plan,
    replan,
    retry_day,
)
from bots.runtime.bot import Bot, CommandContext, JobContext, JoinContext
from bots.runtime.commands import Arg, ArgError, Command, as_int, described
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join, notice, pill
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

STEP = "followup.step"
# Who is told when nobody holds a step's role in the team: the coordinators.
FALLBACK_ROLES = ("IDEC", "DAC")


def configured_schedules(config: Config, roles: Roles) -> dict[str, Schedule]:
    try:
        return load_schedules(config.followup.templates, known_roles=roles.by_code)
    except TemplateError as exc:
        raise ConfigError(f"followup/templates: {exc}") from None


def followup_work(config: Config) -> FollowupReader:
    """The follow-ups as the dashboard reads them (given by bots/registry.py)."""
    return records.FollowupWorkReader(
        configured_schedules(config, Roles.load(config.careteam.roles_file)),
        ZoneInfo(config.timezone))


class Followup(ScoreCommands):
    def __init__(self, config: Config, checklists: ChecklistReader) -> None:
        """`checklists`: what the discharge said (conditions, the items answered "Non" for a
        readmission review), read by the discharge bot's code (bots/registry.py gives it)."""
        self.config = config
        self.checklist_at_discharge = checklists
        self.settings = config.followup
        self.zone = ZoneInfo(config.timezone)
        self.roles = Roles.load(config.careteam.roles_file)
        self.calendar = Calendar(self.settings.holidays_subdivision)
        self.schedules = configured_schedules(config, self.roles)
        if self.settings.default_template not in self.schedules:
            raise ConfigError(f"followup/default_template: no schedule named "
                              f"{self.settings.default_template!r}")
        self.readmissions = Readmissions(self)
        self.reports = Reports(self.zone, self.settings.post_at)

    def today(self) -> date:
        return utcnow().astimezone(self.zone).date()

    # --- starting a plan -------------------------------------------------------------------

    async def start(self, tx: Transaction, runtime: Runtime, room: CareRoom,
                    discharged_on: date, discharge: Discharge,
                    conditions: Collection[Condition], by: str, lang: Lang,
                    now: datetime) -> FollowupPlan:
        """The discharge recorded (for the indicator, whatever its mode) and, when the schedule
        follows this discharge mode, its steps planned at the episode's risk level (high while
        unknown, and said so)."""
        cancelled = await records.plan_row(tx, room.room_id or "")
        if cancelled is not None and cancelled.status != CANCELLED:
            raise records.PlanExists
        schedule = self.schedules[self.settings.default_template]
        level = await episode.risk_of(tx, room.id)
        risk = effective(level)
        followed = discharge.mode in schedule.modes
        values = dict(schedule=schedule.name, status="active" if followed else "not_followed",
                      discharged_on=discharged_on, risk=risk, conditions=",".join(conditions),
                      ward=room.ward, mode=discharge.mode, iterative=discharge.iterative,
                      language=lang, started_by=by, created_at=now, closed_at=None)
        if cancelled is None:
            row = FollowupPlan(account=tx.account, care_room_id=room.id,
                               room_id=room.room_id or "", **values)
            tx.session.add(row)
        else:
            # Discharged again after the hospital cancelled the discharge: the same row (one
            # per room), its old steps gone; the new ones' jobs get fresh keys (`_arm`).
            row = cancelled
            for name, value in values.items():
                setattr(row, name, value)
            await tx.session.execute(delete(FollowupStep).where(FollowupStep.plan_id == row.id))
        await tx.session.flush()
        mode = t(lang, "followup.mode", mode=t(lang, f"mode.{discharge.mode}"),
                 iterative=t(lang, "mode.iterative") if discharge.iterative else "",
                 not_index="" if discharge.index_stay else t(lang, "mode.not_index"))
        if not followed:
            tx.post(row.room_id, notice(t(lang, "followup.recorded_only",
                                          day=when(lang, discharged_on), mode=mode)))
            return row
        steps = self._plan(row)
        for planned in steps:
            tx.session.add(FollowupStep(plan_id=row.id, step=planned.step.id, day=planned.day,
                                        state="planned", attempts=0, note=tx.vault.seal(
                                            {}, FollowupStep.bind("note", row.id,
                                                                  planned.step.id))))
            # A step whose day has passed (a plan started late) is posted at once, marked late.
            self._arm(tx, runtime, row, planned.step.id, 1, planned.day,
                      again=cancelled is not None)
        tx.post(row.room_id, notice(t(lang, "followup.started", day=when(lang, discharged_on),
                                      risk=t(lang, f"followup.risk.{risk}"), mode=mode,
                                      unknown=t(lang, "followup.risk_unknown",
                                                note=t(lang, "risk.unknown"))
                                      if level is None else "",
                                      plan=self.plan_html(row, [
                                          (p.step, p.day, "planned") for p in steps], lang))))
        return row

    def _plan(self, row: FollowupPlan) -> list[PlannedStep]:
        return plan(self.schedules[row.schedule], row.discharged_on, row.risk,  # type: ignore
                    as_conditions(row.conditions), self.calendar, self.settings.post_at,
                    self.zone)

    def _arm(self, tx: Transaction, runtime: Runtime, row: FollowupPlan, step_id: int,
             attempt: int, day: date, *, again: bool = False) -> None:
        # Keys are unique for ever (cancelled rows keep theirs): a step armed again after a
        # freeze or a re-plan gets a fresh suffix; the prefix still cancels them all.
        key = f"followup:{row.id}:{step_id}:{attempt}"
        if again:
            key += f":{secrets.token_hex(4)}"
        runtime.scheduler.schedule(tx, STEP, key, wall_clock(day, self.settings.post_at,
                                                             self.zone),
                                   {"plan": row.id, "step": step_id, "attempt": attempt})

    async def start_job(self, ctx: JobContext) -> None:
        """A discharge validated by the discharge bot (written in its transaction)."""
        handover = await ctx.tx.session.get(Handover, ctx.payload["handover"])
        if handover is None or handover.taken_at is not None:
            return
        handover.taken_at = ctx.now
        room = await ctx.tx.session.get(CareRoom, handover.care_room_id)
        if room is None:
            return
        conditions = await self._conditions_at_discharge(ctx.tx, room.id, handover.discharged_on)
        try:
            await self.start(ctx.tx, ctx.runtime, room, handover.discharged_on,
                             Discharge(handover.mode, handover.iterative),  # type: ignore
                             conditions, ctx.runtime.user_id, room.language,  # type: ignore
                             ctx.now)
        except records.PlanExists:
            pass  # started by hand before the discharge was validated

    async def discharged(self, tx: Transaction, runtime: Runtime, room: CareRoom, day: date,
                         discharge: Discharge, by: str) -> bool:
        """A discharge the hospital's feed reports (bots/adt/): recorded and the plan started as
        the provisioning API starts it, with the conditions its validated checklist holds. True
        once done, or already done for that day and mode; False when the episode's plan is for
        another discharge (a person decides)."""
        conditions = await self._conditions_at_discharge(tx, room.id, day)
        try:
            await self.start(tx, runtime, room, day, discharge, conditions, by,
                             room.language, utcnow())  # type: ignore[arg-type]
        except records.PlanExists:
            row = await records.plan_of(tx, room.room_id or "")
            return row is not None and (row.discharged_on, row.mode, row.iterative) == (
                day, discharge.mode, discharge.iterative)
        return True

    async def discharge_cancelled(self, tx: Transaction, runtime: Runtime, room: CareRoom,
                                  day: date | None) -> Withdrawal:
        """A discharge the hospital's feed cancels (A13, bots/adt/; `day`: the one it names, if
        it does): the plan it started withdrawn (bots/episode/withdrawals.py), its jobs
        cancelled so no reminder comes, the room told. The verdict says what was done."""
        row = await records.plan_row(tx, room.room_id or "")
        events = 0
        if row is not None:
            events = len(await records.events(tx, row)) + (
                await records.death(tx, row) is not None)
        verdict = discharge_withdrawal(row.status if row else None,
                                       row.discharged_on if row else None, day, events)
        if row is None or verdict != WITHDRAW:
            return verdict
        await runtime.scheduler.cancel_prefixed(tx, f"followup:{row.id}:")
        for step in await records.steps(tx, row):
            if step.state in ("planned", "posted"):
                step.state = "skipped"
        row.status, row.closed_at = CANCELLED, utcnow()
        lang: Lang = row.language  # type: ignore[assignment]
        tx.post(row.room_id, notice(t(lang, "followup.withdrawn",
                                      day=when(lang, row.discharged_on))))
        return verdict

    async def following(self, tx: Transaction, room: CareRoom) -> bool:
        """Whether the room's follow-up is running (active or frozen): what a merge of two
        patients (ADT A40, bots/adt/) cannot move from one room to another."""
        row = await records.plan_of(tx, room.room_id or "")
        return row is not None and row.status in ("active", "frozen")

    async def _conditions_at_discharge(self, tx: Transaction, care_room_id: int,
                                       discharged_on: date) -> tuple[Condition, ...]:
        checklist = await self.checklist_at_discharge(tx, care_room_id)
        if checklist is None:
            return ()
        held = {item.followup_condition for item in checklist.items
                if item.followup_condition and item.answer == "oui"}
        return conditions_at_discharge(checklist.admission, discharged_on, held)

    async def begin(self, ctx: CommandContext, date_: str, details: str | None) -> None:
        """`!rh30 debut <date> <mode> [iteratif] [risque]`."""
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        if room is None:
            ctx.reply(t(ctx.lang, "followup.not_patient_room"))
            return
        now = utcnow()
        today = now.astimezone(self.zone).date()
        try:
            day = parse_day(date_, today, past=True)
            discharge, rest = parse_discharge((details or "").split())
            if len(rest) > 1:
                raise ArgError("followup.extra", extra=" ".join(rest[1:]))
            risk: Risk | None = as_risk(rest[0]) if rest else None
        except (ModeError, ArgError) as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        if day > today:
            ctx.reply(t(ctx.lang, "followup.future", day=when(ctx.lang, day)))
            return
        if await records.plan_of(ctx.tx, ctx.room_id) is not None:
            ctx.reply(t(ctx.lang, "followup.already"))
            return
        if risk is not None and not await self._set_level(ctx, room.id, risk, None):
            return
        # Without a risk level the patient is treated as high risk (start says so).
        conditions = await self._conditions_at_discharge(ctx.tx, room.id, day)
        await self.start(ctx.tx, ctx.runtime, room, day, discharge, conditions, ctx.sender,
                         ctx.lang, now)

    async def _set_level(self, ctx: CommandContext, care_room_id: int, risk: Risk,
                         reason: str | None) -> Level | None:
        """The episode's level set by hand (lowering: a physician, with a reason); None once
        the reply says why not."""
        try:
            level = by_hand(await episode.risk_of(ctx.tx, care_room_id), risk, ctx.sender,
                            physician=self.roles.may(ctx.caller, cap.DISCHARGE_OVERRIDE),
                            reason=reason)
        except RiskError as exc:
            ctx.reply(exc.text(ctx.lang))
            return None
        await episode.set_risk(ctx.tx, care_room_id, level)
        return level

    async def plan_or_reply(self, ctx: CommandContext) -> FollowupPlan | None:
        return ctx.found(await records.plan_of(ctx.tx, ctx.room_id), "followup.none")

    # --- the steps -------------------------------------------------------------------------

    async def step_job(self, ctx: JobContext) -> None:
        # The plan and its step in one query: a morning's steps all fire at once.
        found = (await ctx.tx.session.execute(select(FollowupPlan, FollowupStep).outerjoin(
            FollowupStep, (FollowupStep.plan_id == FollowupPlan.id)
            & (FollowupStep.step == ctx.payload["step"])).where(
            FollowupPlan.id == ctx.payload["plan"]))).first()
        row, step = found if found else (None, None)
        template = self.schedules[row.schedule].step(ctx.payload["step"]) if row else None
        if row is None or template is None or row.status in ("closed", CANCELLED):
            return
        if row.status in ("frozen", "deceased") and template.kind != "close":
            return  # back in hospital (`!rh30 reprise` arms the step again), or deceased
        if step is None or step.state in ("done", "failed", "skipped"):
            return
        lang: Lang = row.language  # type: ignore[assignment]
        step.state, step.attempts = "posted", ctx.payload["attempt"]
        late = t(lang, "followup.late", day=when(lang, step.day)) if ctx.late else ""
        if template.kind == "close":
            row.status, row.closed_at = "closed", ctx.now
            step.state, step.at, step.by = "done", ctx.now, ctx.runtime.user_id
            ctx.tx.post(row.room_id, notice(await self.readmissions.closing_text(
                ctx.tx, row, late, lang)))
            return
        who = await care_rooms.members_with(ctx.tx, row.care_room_id, template.roles,
                                          FALLBACK_ROLES)
        retry = t(lang, "followup.retry", attempt=step.attempts - 1) if step.attempts > 1 else ""
        ctx.tx.post(row.room_id, notice(t(
            lang, "followup.task", id=template.id, label=template.label(lang),
            who=join([pill(u) for u in who], ", "), late=late, retry=retry), mentions=who))

    async def _open_step(self, ctx: CommandContext,
                         step_id: int) -> tuple[FollowupPlan, FollowupStep] | None:
        row = await self.plan_or_reply(ctx)
        if row is None:
            return None
        step = await records.step(ctx.tx, row, step_id)
        if step is None:
            ctx.reply(t(ctx.lang, "followup.unknown_step", step=step_id))
            return None
        if row.status == "closed" or step.state in ("done", "failed", "skipped"):
            ctx.reply(t(ctx.lang, "followup.step_over", step=step_id))
            return None
        return row, step

    async def done(self, ctx: CommandContext, step_id: int, note: str | None) -> None:
        found = await self._open_step(ctx, step_id)
        if found is None:
            return
        _, step = found
        step.state, step.by, step.at = "done", ctx.sender, utcnow()
        step.note = ctx.tx.vault.seal({"note": note}, step.bound("note"))
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, f"followup:{step.plan_id}:{step_id}:")
        ctx.reply(t(ctx.lang, "followup.done", step=step_id))

    async def failed(self, ctx: CommandContext, step_id: int, note: str | None) -> None:
        found = await self._open_step(ctx, step_id)
        if found is None:
            return
        row, step = found
        step.by, step.at = ctx.sender, utcnow()
        step.note = ctx.tx.vault.seal({"note": note}, step.bound("note"))
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, f"followup:{row.id}:{step_id}:")
        attempt = max(step.attempts, 1) + 1
        if attempt > 1 + MAX_RETRIES:
            step.state = "failed"
            ctx.reply(t(ctx.lang, "followup.given_up", step=step_id, tries=attempt - 1))
            return
        day = retry_day(self.today(), self.calendar)
        step.state, step.day = "planned", day
        if row.status == "active":
            self._arm(ctx.tx, ctx.runtime, row, step_id, attempt, day)
        ctx.reply(t(ctx.lang, "followup.retry_planned", step=step_id, day=when(ctx.lang, day),
                    left=1 + MAX_RETRIES - attempt))

    async def show(self, ctx: CommandContext) -> None:
        row = await self.plan_or_reply(ctx)
        if row is not None:
            ctx.reply(await self.current_plan_html(ctx.tx, row, ctx.lang))

    async def current_plan_html(self, tx: Transaction, row: FollowupPlan, lang: Lang) -> Html:
        schedule = self.schedules[row.schedule]
        lines = [(template, s.day, s.state) for s in await records.steps(tx, row)
                 if (template := schedule.step(s.step)) is not None]
        return self.plan_html(row, lines, lang)

    def plan_html(self, row: FollowupPlan, steps: list[tuple[StepTemplate, date, str]],
                  lang: Lang) -> Html:
        schedule: Schedule = self.schedules[row.schedule]
        conditions = as_conditions(row.conditions)
        return t(lang, "followup.plan", title=schedule.title_fr if lang == "fr"
                 else schedule.title_en, day=when(lang, row.discharged_on),
                 risk=t(lang, f"followup.risk.{row.risk}"),
                 conditions=t(lang, "followup.conditions_line", conditions=", ".join(
                     str(t(lang, f"followup.condition.{c}")) for c in conditions))
                 if conditions else "",
                 status=t(lang, f"followup.status.{row.status}"),
                 steps=join([t(lang, "followup.step_line", id=s.id, label=s.label(lang),
                               day=when(lang, day), state=t(lang, f"followup.state.{state}"))
                             for s, day, state in steps]))

    # --- changing the plan -----------------------------------------------------------------

    async def set_risk(self, ctx: CommandContext, risk: str, reason: str | None) -> None:
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        if room is None:
            ctx.reply(t(ctx.lang, "followup.not_patient_room"))
            return
        row = await records.plan_of(ctx.tx, ctx.room_id)
        if row is not None and row.status in ("closed", "deceased", "not_followed"):
            ctx.reply(t(ctx.lang, f"followup.plan_{row.status}"))
            return
        level = await self._set_level(ctx, room.id, risk, reason)  # type: ignore[arg-type]
        if level is None:
            return
        if row is None:  # before the discharge: the checklist and the plan to come use it
            ctx.reply(t(ctx.lang, "followup.level_set",
                        risk=t(ctx.lang, f"followup.risk.{level.risk}")))
            return
        await self._replan(ctx, row, level.risk, as_conditions(row.conditions))

    async def set_conditions(self, ctx: CommandContext, conditions: tuple[Condition, ...]
                             ) -> None:
        row = await self.plan_or_reply(ctx)
        if row is not None:
            await self._replan(ctx, row, row.risk, conditions)  # type: ignore[arg-type]

    async def _replan(self, ctx: CommandContext, row: FollowupPlan, risk: Risk,
                      conditions: Collection[Condition]) -> None:
        if row.status in ("closed", "deceased", "not_followed"):
            ctx.reply(t(ctx.lang, f"followup.plan_{row.status}"))
            return
        row.risk, row.conditions = risk, ",".join(conditions)
        current = {s.step: s.state for s in await records.steps(ctx.tx, row)}
        add, drop = replan(current, self._plan(row))
        for step_id in drop:
            await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, f"followup:{row.id}:{step_id}:")
        if drop:
            await ctx.tx.session.execute(delete(FollowupStep).where(
                FollowupStep.plan_id == row.id, FollowupStep.step.in_(drop)))
        today = self.today()
        for planned in add:
            # A step that would have come already is due today, not in the past.
            day = max(planned.day, today)
            ctx.tx.session.add(FollowupStep(plan_id=row.id, step=planned.step.id, day=day,
                                            state="planned", attempts=0,
                                            note=ctx.tx.vault.seal({}, FollowupStep.bind(
                                                "note", row.id, planned.step.id))))
            if row.status == "active":
                self._arm(ctx.tx, ctx.runtime, row, planned.step.id, 1, day, again=True)
        await ctx.tx.session.flush()
        ctx.reply(t(ctx.lang, "followup.replanned",
                    risk=t(ctx.lang, f"followup.risk.{risk}"),
                    added=", ".join(str(p.step.id) for p in add) or "—",
                    dropped=", ".join(map(str, drop)) or "—",
                    plan=await self.current_plan_html(ctx.tx, row, ctx.lang)))

    async def resume(self, ctx: CommandContext) -> None:
        row = await self.plan_or_reply(ctx)
        if row is None:
            return
        if row.status != "frozen":
            ctx.reply(t(ctx.lang, "followup.plan_deceased" if row.status == "deceased"
                        else "followup.not_frozen"))
            return
        skipped = await self.unfreeze(ctx.tx, ctx.runtime, row)
        ctx.reply(t(ctx.lang, "followup.resumed", skipped=skipped,
                    plan=await self.current_plan_html(ctx.tx, row, ctx.lang)))

    async def unfreeze(self, tx: Transaction, runtime: Runtime, row: FollowupPlan) -> str:
        """A frozen plan active again (`!rh30 reprise`, or its readmission withdrawn): the steps
        ahead armed again, those whose day passed in hospital skipped (said: their numbers)."""
        row.status = "active"
        today = self.today()
        skipped = []
        for step in await records.steps(tx, row):
            if step.state != "planned":
                continue
            if step.day < today:
                step.state = "skipped"  # its day passed in hospital: no late call now
                skipped.append(step.step)
            else:
                self._arm(tx, runtime, row, step.step, max(step.attempts, 1), step.day,
                          again=True)
        return ", ".join(map(str, skipped)) or "—"

    # --- scores ----------------------------------------------------------------------------

    async def scored(self, ctx: CommandContext, score: Score) -> None:
        ctx.reply(score_text(ctx.lang, score))
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        if room is None:
            return
        # The episode's level, shared with the discharge checklist: the highest class wins.
        level = await episode.score_risk(ctx.tx, room.id, score.risk, ctx.sender)
        ctx.reply(t(ctx.lang, "followup.episode_level",
                    risk=t(ctx.lang, f"followup.risk.{level.risk}")))
        row = await records.plan_of(ctx.tx, ctx.room_id)
        if row is None or row.status in ("closed", "deceased", "not_followed"):
            return
        new = plan_level(row.risk, level)  # type: ignore[arg-type]
        if new is not None:
            await self._replan(ctx, row, new, as_conditions(row.conditions))
        elif score.risk != row.risk:
            ctx.reply(t(ctx.lang, "followup.score_not_lowered",
                        plan=t(ctx.lang, f"followup.risk.{row.risk}"),
                        risk=t(ctx.lang, f"followup.risk.{score.risk}"), level=score.risk))

    # --- newcomers -------------------------------------------------------------------------

    async def on_join(self, ctx: JoinContext) -> None:
        if ctx.user_id == ctx.runtime.user_id:
            return
        row = await records.plan_of(ctx.tx, ctx.room_id)
        if row is None or row.status == "closed":
            return
        # The plan was posted before they joined: unreadable to them (no key sharing).
        lang: Lang = row.language  # type: ignore[assignment]
        ctx.post(t(lang, "followup.for_newcomer", user=pill(ctx.user_id),
                   plan=await self.current_plan_html(ctx.tx, row, lang)),
                 mentions=[ctx.user_id])

    # --- declaration -----------------------------------------------------------------------

    def commands(self) -> list[Command]:
        clinical = self.roles.permission(cap.CLINICAL, PATIENT)
        planner = self.roles.permission(cap.FOLLOWUP_PLAN, PATIENT)
        stats = self.roles.permission(cap.FOLLOWUP_STATS, COORDINATION)
        step = Arg("step_id", "followup.label.step", as_int)
        note = Arg("note", "followup.label.note", optional=True, rest=True)
        day = Arg("date_", "label.date")
        values = Arg("values", "label.values", rest=True)
        filter_ = Arg("filter_", "followup.label.filter", optional=True, rest=True)
        cmd = partial(described, permission=clinical)
        readmission = self.readmissions

        return [
            cmd("rh30 debut", "followup start", "followup.help.start", self.begin,
                day, Arg("details", "label.details", optional=True, rest=True),
                permission=planner, aliases=("rh30 début",)),
            cmd("rh30 plan", "followup plan", "followup.help.plan", self.show),
            cmd("rh30 fait", "followup done", "followup.help.done", self.done, step, note),
            cmd("rh30 echec", "followup failed", "followup.help.failed", self.failed, step, note,
                aliases=("rh30 échec",)),
            cmd("rh30 risque", "followup risk", "followup.help.risk", self.set_risk,
                Arg("risk", "label.level", as_risk),
                Arg("reason", "label.reason", optional=True, rest=True), permission=planner),
            cmd("rh30 conditions", "followup conditions", "followup.help.conditions",
                self.set_conditions,
                Arg("conditions", "followup.label.conditions", parse_conditions, rest=True),
                permission=planner),
            cmd("rh30 reprise", "followup resume", "followup.help.resume", self.resume,
                permission=planner),
            cmd("rh30 rehospitalisation", "followup readmission", "followup.help.readmission",
                readmission.report, day,
                Arg("details", "followup.label.readmission", optional=True, rest=True),
                aliases=("rh30 réhospitalisation", "rh30 rehosp")),
            cmd("rh30 evitable", "followup avoidable", "followup.help.avoidable",
                readmission.judge, Arg("answer", "followup.label.verdict"),
                Arg("note", "followup.label.note", rest=True),
                permission=planner, aliases=("rh30 évitable",)),
            cmd("rh30 deces", "followup death", "followup.help.death", readmission.death,
                day, permission=planner, aliases=("rh30 décès",)),
            cmd("rh30 lace", "followup lace", "followup.help.lace", self.lace, values),
            cmd("rh30 hospital", "followup hospital", "followup.help.hospital", self.hospital,
                values),
            cmd("rh30 stats", "followup stats", "followup.help.stats", self.reports.stats,
                filter_, permission=stats),
            cmd("rh30 export", "followup export", "followup.help.export", self.reports.export,
                filter_, permission=stats),
        ]


def followup(config: Config, checklists: ChecklistReader, bot: Followup | None = None) -> Bot:
    """`bot`: built by the composition when another bot's code needs this one's (bots/registry.py)."""
    bot = bot or Followup(config, checklists)
    return Bot("followup", commands=bot.commands(), texts=(texts.TEXTS, episode_texts.TEXTS, common_texts.TEXTS),
               on_join=bot.on_join,
               services=[bot.reports.keep_scheduled], api_routes=routes(bot),
               jobs={HANDOVER_JOB: bot.start_job, STEP: bot.step_job,
                     REPORT: bot.reports.monthly_job})
