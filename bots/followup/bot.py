"""The RH30 follow-up bot: the 30 days after discharge, step by step, in the patient room.

A plan starts when the discharge bot validates a discharge (a `followup.start` job written in
the validation's transaction) or by `!rh30 debut`. Its steps are rows, each timed by a durable
job on its day; the bot posts the task and mentions whoever is responsible; `!rh30 fait` and
`!rh30 echec` record what was done (a failure is retried the next working day, at most twice).
Runs on the account of the care-team bot (its rooms, teams and roles).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.careteam import service as careteam
from bots.careteam.models import CareRoom
from bots.careteam.roles import PATIENT, Roles
from bots.config import Config, ConfigError
from bots.datafiles import TemplateError
from bots.discharge.bot import HANDOVER_JOB
from bots.discharge.checklist import RISKS, ChecklistError, Risk, as_risk, parse_day, wall_clock
from bots.discharge.models import Handover
from bots.discharge.render import when
from bots.followup import texts  # noqa: F401 - the catalogue
from bots.followup.models import FollowupPlan, FollowupStep
from bots.followup.schedule import (
    MAX_RETRIES,
    Calendar,
    Schedule,
    StepTemplate,
    load_schedules,
    plan,
    retry_day,
)
from bots.followup.scores import Score, ScoreError, parse_hospital, parse_lace
from bots.runtime.bot import Bot, CommandContext, JobContext
from bots.runtime.commands import Arg, Command, as_int, described
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join, notice, pill
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

STEP = "followup.step"
# Who is told when nobody holds a step's role in the team: the coordinators.
FALLBACK_ROLES = ("IDEC", "DAC")


class Followup:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.followup
        self.zone = ZoneInfo(config.timezone)
        self.roles = Roles.load(config.careteam.roles_file)
        self.calendar = Calendar(self.settings.holidays_subdivision)
        try:
            self.schedules = load_schedules(self.settings.templates,
                                            known_roles=self.roles.by_code)
        except TemplateError as exc:
            raise ConfigError(f"followup/templates: {exc}") from None
        if self.settings.default_template not in self.schedules:
            raise ConfigError(f"followup/default_template: no schedule named "
                              f"{self.settings.default_template!r}")

    # --- starting a plan -------------------------------------------------------------------

    async def start(self, tx: Transaction, runtime: Runtime, room: CareRoom,
                    discharged_on: date, risk: Risk, by: str, lang: Lang,
                    now: datetime) -> FollowupPlan:
        schedule = self.schedules[self.settings.default_template]
        row = FollowupPlan(account=tx.account, care_room_id=room.id, room_id=room.room_id or "",
                           schedule=schedule.name, status="active", discharged_on=discharged_on,
                           risk=risk, conditions="", language=lang, started_by=by,
                           created_at=now)
        tx.session.add(row)
        await tx.session.flush()
        steps = plan(schedule, discharged_on, risk, (), self.calendar, self.settings.post_at,
                     self.zone)
        for planned in steps:
            tx.session.add(FollowupStep(plan_id=row.id, step=planned.step.id, day=planned.day,
                                        state="planned", attempts=0, note=tx.vault.seal({})))
            # A step whose day has passed (a plan started late) is posted at once, marked late.
            runtime.scheduler.schedule(
                tx, STEP, f"followup:{row.id}:{planned.step.id}:1", planned.at,
                {"plan": row.id, "step": planned.step.id, "attempt": 1})
        tx.post(row.room_id, notice(t(lang, "followup.started", day=when(lang, discharged_on),
                                      risk=t(lang, f"followup.risk.{risk}"),
                                      plan=self.plan_html(schedule, row, [
                                          (p.step, p.day, "planned") for p in steps], lang))))
        return row

    async def start_job(self, ctx: JobContext) -> None:
        """A discharge validated by the discharge bot (written in its transaction)."""
        handover = await ctx.tx.session.get(Handover, ctx.payload["handover"])
        if handover is None or handover.taken_at is not None:
            return
        handover.taken_at = ctx.now
        room = await ctx.tx.session.get(CareRoom, handover.care_room_id)
        if room is None or await self._plan_of(ctx.tx, room.room_id or "") is not None:
            return
        risk: Risk = handover.risk if handover.risk in RISKS else "eleve"  # type: ignore
        await self.start(ctx.tx, ctx.runtime, room, handover.discharged_on, risk,
                         ctx.runtime.user_id, room.language, ctx.now)  # type: ignore[arg-type]

    async def begin(self, ctx: CommandContext, date_: str, risque: str | None) -> None:
        room = await careteam.room_by_id(ctx.tx, ctx.room_id)
        if room is None:
            ctx.reply(t(ctx.lang, "followup.not_patient_room"))
            return
        if await self._plan_of(ctx.tx, ctx.room_id) is not None:
            ctx.reply(t(ctx.lang, "followup.already"))
            return
        now = utcnow()
        try:
            day = parse_day(date_, now.astimezone(self.zone).date())
        except ChecklistError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        if day > now.astimezone(self.zone).date():
            ctx.reply(t(ctx.lang, "followup.future", day=when(ctx.lang, day)))
            return
        # Without a risk level every step is planned (the high-risk plan holds them all but
        # the intermediate ones): safer to remind too much than too little.
        await self.start(ctx.tx, ctx.runtime, room, day, risque or "eleve",  # type: ignore
                         ctx.sender, ctx.lang, now)

    async def _plan_of(self, tx: Transaction, room_id: str) -> FollowupPlan | None:
        return await tx.session.scalar(select(FollowupPlan).where(
            FollowupPlan.account == tx.account, FollowupPlan.room_id == room_id))

    # --- the steps -------------------------------------------------------------------------

    async def step_job(self, ctx: JobContext) -> None:
        row = await ctx.tx.session.get(FollowupPlan, ctx.payload["plan"])
        if row is None or row.status != "active":
            return
        step = await self._step(ctx.tx, row, ctx.payload["step"])
        template = self.schedules[row.schedule].step(ctx.payload["step"])
        if step is None or template is None or step.state in ("done", "failed"):
            return
        lang: Lang = row.language  # type: ignore[assignment]
        step.state, step.attempts = "posted", ctx.payload["attempt"]
        late = t(lang, "followup.late", day=when(lang, step.day)) if ctx.late else ""
        if template.kind == "close":
            row.status, row.closed_at = "closed", ctx.now
            step.state, step.at, step.by = "done", ctx.now, ctx.runtime.user_id
            ctx.tx.post(row.room_id, notice(t(lang, "followup.closed", late=late)))
            return
        who = await careteam.members_with(ctx.tx, row.care_room_id, template.roles) or \
            await careteam.members_with(ctx.tx, row.care_room_id, FALLBACK_ROLES)
        retry = t(lang, "followup.retry", attempt=step.attempts - 1) if step.attempts > 1 else ""
        ctx.tx.post(row.room_id, notice(t(
            lang, "followup.task", id=template.id, label=template.label(lang),
            who=join([pill(u) for u in who], ", "), late=late, retry=retry), mentions=who))

    async def _step(self, tx: Transaction, row: FollowupPlan, step_id: int) -> FollowupStep | None:
        return await tx.session.scalar(select(FollowupStep).where(
            FollowupStep.plan_id == row.id, FollowupStep.step == step_id))

    async def _active_step(self, ctx: CommandContext,
                           step_id: int) -> tuple[FollowupPlan, FollowupStep] | None:
        row = await self._plan_of(ctx.tx, ctx.room_id)
        if row is None:
            ctx.reply(t(ctx.lang, "followup.none"))
            return None
        step = await self._step(ctx.tx, row, step_id)
        if step is None:
            ctx.reply(t(ctx.lang, "followup.unknown_step", step=step_id))
            return None
        if row.status != "active" or step.state in ("done", "failed"):
            ctx.reply(t(ctx.lang, "followup.step_over", step=step_id))
            return None
        return row, step

    async def done(self, ctx: CommandContext, etape: int, note: str | None) -> None:
        found = await self._active_step(ctx, etape)
        if found is None:
            return
        _, step = found
        step.state, step.by, step.at = "done", ctx.sender, utcnow()
        step.note = ctx.tx.vault.seal({"note": note})
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, f"followup:{step.plan_id}:{etape}:")
        ctx.reply(t(ctx.lang, "followup.done", step=etape))

    async def failed(self, ctx: CommandContext, etape: int, note: str | None) -> None:
        found = await self._active_step(ctx, etape)
        if found is None:
            return
        row, step = found
        step.by, step.at = ctx.sender, utcnow()
        step.note = ctx.tx.vault.seal({"note": note})
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, f"followup:{row.id}:{etape}:")
        attempt = max(step.attempts, 1) + 1
        if attempt > 1 + MAX_RETRIES:
            step.state = "failed"
            ctx.reply(t(ctx.lang, "followup.given_up", step=etape, tries=attempt - 1))
            return
        today = utcnow().astimezone(self.zone).date()
        day = retry_day(today, self.calendar)
        step.state, step.day = "planned", day
        ctx.runtime.scheduler.schedule(
            ctx.tx, STEP, f"followup:{row.id}:{etape}:{attempt}",
            wall_clock(day, self.settings.post_at, self.zone),
            {"plan": row.id, "step": etape, "attempt": attempt})
        ctx.reply(t(ctx.lang, "followup.retry_planned", step=etape, day=when(ctx.lang, day),
                    left=1 + MAX_RETRIES - attempt))

    async def show(self, ctx: CommandContext) -> None:
        row = await self._plan_of(ctx.tx, ctx.room_id)
        if row is None:
            ctx.reply(t(ctx.lang, "followup.none"))
            return
        schedule = self.schedules[row.schedule]
        steps = (await ctx.tx.session.scalars(select(FollowupStep).where(
            FollowupStep.plan_id == row.id).order_by(FollowupStep.day, FollowupStep.step))).all()
        lines = [(template, s.day, s.state) for s in steps
                 if (template := schedule.step(s.step)) is not None]
        ctx.reply(self.plan_html(schedule, row, lines, ctx.lang))

    def plan_html(self, schedule: Schedule, row: FollowupPlan,
                  steps: list[tuple[StepTemplate, date, str]], lang: Lang) -> Html:
        return t(lang, "followup.plan", title=schedule.title_fr if lang == "fr"
                 else schedule.title_en, day=when(lang, row.discharged_on),
                 risk=t(lang, f"followup.risk.{row.risk}"),
                 steps=join([t(lang, "followup.step_line", id=s.id, label=s.label(lang),
                               day=when(lang, day), state=t(lang, f"followup.state.{state}"))
                             for s, day, state in steps]))

    # --- scores ----------------------------------------------------------------------------

    async def lace(self, ctx: CommandContext, valeurs: str) -> None:
        await self._score(ctx, valeurs, parse_lace)

    async def hospital(self, ctx: CommandContext, valeurs: str) -> None:
        await self._score(ctx, valeurs, parse_hospital)

    async def _score(self, ctx: CommandContext, text: str,
                     parse: Callable[[str], Score]) -> None:
        try:
            score = parse(text)
        except ScoreError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        ctx.reply(t(ctx.lang, "followup.score", name=score.name, points=score.points,
                    maximum=score.maximum, risk=t(ctx.lang, f"followup.risk.{score.risk}"),
                    parts=", ".join(f"{k} {v}" for k, v in score.parts),
                    meaning=t(ctx.lang, f"followup.meaning.{score.name}")))

    # --- declaration -----------------------------------------------------------------------

    def commands(self) -> list[Command]:
        clinical = self.roles.permission("clinical", PATIENT)
        starter = self.roles.permission("followup.plan", PATIENT)
        step = Arg("etape", "step", as_int)
        note = Arg("note", "note", optional=True, rest=True)
        cmd = partial(described, permission=clinical)

        return [
            cmd("rh30 debut", "followup start", "followup.help.start", self.begin,
                Arg("date_", "date"), Arg("risque", "risk", as_risk, optional=True),
                permission=starter, aliases=("rh30 début",)),
            cmd("rh30 plan", "followup plan", "followup.help.plan", self.show),
            cmd("rh30 fait", "followup done", "followup.help.done", self.done, step, note),
            cmd("rh30 echec", "followup failed", "followup.help.failed", self.failed, step, note,
                aliases=("rh30 échec",)),
            cmd("rh30 lace", "followup lace", "followup.help.lace", self.lace,
                Arg("valeurs", "values", rest=True)),
            cmd("rh30 hospital", "followup hospital", "followup.help.hospital", self.hospital,
                Arg("valeurs", "values", rest=True)),
        ]


def followup(config: Config) -> Bot:
    bot = Followup(config)
    return Bot("followup", commands=bot.commands(),
               jobs={HANDOVER_JOB: bot.start_job, STEP: bot.step_job})
