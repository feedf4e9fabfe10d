"""The discharge bot: the checklist of each patient room, live in the room.

Every change goes through the pure checklist (checklist.py), is sealed in its row with an audit
entry, and edits the live message in place, in the transaction of the command (or reaction, or
job) that made it. Reminders are durable jobs (reminders.py). Runs on an account that also runs
the care-team bot: its patient rooms, teams and roles are the ones this bot works with.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common import capabilities as cap
from bots.common import permissions
from bots.common import records as care_rooms
from bots.common import texts as common_texts
from bots.common.dates import DateError, parse_day
from bots.common.jobs import HANDOVER_JOB
from bots.common.models import PATIENT, CareRoom, TeamMember
from bots.common.render import room_link, when
from bots.common.roles import Roles
from bots.config import Config, ConfigError
from bots.discharge import records, reminders, summary, texts
from bots.discharge.checklist import (
    Answer,
    Checklist,
    ChecklistError,
    may_answer,
)
from bots.discharge.live import Pinner, post_live, update_live
from bots.discharge.models import ChecklistRow
from bots.discharge.notify import Notifier, schedule
from bots.discharge.records import ChecklistProgress, HandedOver, Loaded
from bots.discharge.reminders import DIGEST, DUE, ESCALATE, LETTER
from bots.discharge.render import due_text, render
from bots.discharge.template import Item, Template, TemplateError, load_templates
from bots.discharge.withdrawal import ValidationWithdrawal
from bots.episode import records as episode
from bots.episode import texts as episode_texts
from bots.episode.handover import ChecklistReader
from bots.episode.models import Handover, LetterMail
from bots.episode.modes import ModeError, parse_discharge
from bots.episode.progress import ProgressReader
from bots.episode.risk import RiskError, as_risk, by_hand
from bots.episode.scores import Score, score_text
from bots.episode.scoring import ScoreCommands
from bots.episode.workdays import Calendar
from bots.runtime.bot import Bot, CommandContext, JoinContext, ReactionContext
from bots.runtime.commands import ANYONE, Arg, Caller, Command, as_int, as_user_id, described
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, attachment, join, notice, pill
from bots.runtime.runtime import Runtime
from bots.runtime.store import Transaction, as_utc, utcnow

YES_REACTIONS = frozenset({"✅", "✔️", "☑️"})
BRIDGE = "MSSanté"  # who answered the letter's item when the bridge saw the letter leave
LETTER_POLL = 10.0  # seconds between looks at the mails the bridge sent


def load_checklists(config: Config, roles: Roles) -> dict[str, Template]:
    try:
        return load_templates(config.discharge.templates, known_roles=roles.by_code)
    except TemplateError as exc:  # refused at start, naming the file, the item, the reason
        raise ConfigError(f"discharge/templates: {exc}") from None


def checklists_at_discharge(config: Config) -> ChecklistReader:
    """The validated checklists as the follow-up bot reads them (given by bots/registry.py)."""
    return HandedOver(load_checklists(config, Roles.load(config.careteam.roles_file)),
                      ZoneInfo(config.timezone))


def validation_withdrawal(config: Config) -> ValidationWithdrawal:
    """A discharge the hospital cancelled, on the checklists' side (given by bots/registry.py
    to the ADT applier: ADT A13)."""
    return ValidationWithdrawal(load_checklists(config, Roles.load(config.careteam.roles_file)),
                                ZoneInfo(config.timezone))


def checklist_progress(config: Config) -> ProgressReader:
    """The checklists' progress as the dashboard reads it (given by bots/registry.py)."""
    return ChecklistProgress(load_checklists(config, Roles.load(config.careteam.roles_file)),
                             ZoneInfo(config.timezone))


class Discharge(ScoreCommands):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.discharge
        self.zone = ZoneInfo(config.timezone)
        self.roles = Roles.load(config.careteam.roles_file)
        self.templates = load_checklists(config, self.roles)
        if self.settings.default_template not in self.templates:
            raise ConfigError(f"discharge/default_template: no template named "
                              f"{self.settings.default_template!r} (known: "
                              f"{', '.join(sorted(self.templates))})")
        self.pinner = Pinner()
        self.notifier = Notifier(self.settings, self.zone,
                                 Calendar(config.followup.holidays_subdivision), self.load)

    # --- loading and saving ----------------------------------------------------------------

    def _template(self, row: ChecklistRow) -> Template:
        return self.templates[row.template]

    async def load(self, tx: Transaction, row: ChecklistRow) -> Loaded:
        """The checklist, with the episode's risk level (shared with the follow-up)."""
        c = records.open_checklist(tx, row, self._template(row), self.zone)
        level = await episode.risk_of(tx, row.care_room_id)
        return Loaded(row, replace(c, risk=level.risk if level else None))

    async def _loaded(self, ctx: CommandContext | ReactionContext) -> Loaded | None:
        """The room's checklist, or a reply saying there is none."""
        row = ctx.found(await records.by_room(ctx.tx, ctx.room_id), "discharge.none")
        if row is None:
            return None
        return await self.load(ctx.tx, row)

    @staticmethod
    def _store(tx: Transaction, loaded: Loaded, changed: Checklist, now: datetime) -> Loaded:
        records.save(tx, loaded.row, changed)
        updated = Loaded(loaded.row, changed)
        update_live(tx, loaded.row, render(changed, updated.lang, now))
        return updated

    # --- who may do what -------------------------------------------------------------------

    def _may(self, caller: Caller, capability: str) -> bool:
        return self.roles.may(caller, capability)

    def _answer_refusal(self, caller: Caller, c: Checklist, item: Item,
                        lang: Lang) -> Html | None:
        if may_answer(item, caller.role, any_item=self._may(caller, cap.DISCHARGE_ANY_ITEM),
                      assigned=c.state(item.id).assignee == caller.user_id):
            return None
        return t(lang, "discharge.not_your_item", item=item.id, roles=", ".join(item.roles))

    # --- commands --------------------------------------------------------------------------

    async def show(self, ctx: CommandContext) -> None:
        loaded = await self._loaded(ctx)
        if loaded is not None:
            ctx.reply(render(loaded.checklist, ctx.lang, utcnow()))

    async def plan(self, ctx: CommandContext, date_: str, template_name: str | None) -> None:
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        if room is None or room.status != "open":
            ctx.reply(t(ctx.lang, "discharge.not_patient_room"))
            return
        existing = await records.by_room(ctx.tx, ctx.room_id)
        if existing is not None:
            ctx.reply(t(ctx.lang, "discharge.already_planned" if existing.status == "active"
                        else "checklist.already_validated"))
            return
        name = template_name or self.settings.default_template
        template = self.templates.get(name)
        if template is None:
            ctx.reply(t(ctx.lang, "discharge.unknown_template", name=name,
                        known=", ".join(sorted(self.templates))))
            return
        now = utcnow()
        try:
            day = self._future_day(date_, now)
            admission = care_rooms.PatientFile.open(ctx.tx, room).admission_date
            level = await episode.risk_of(ctx.tx, room.id)
            checklist = Checklist(template, self.zone, day, admission,
                                  level.risk if level else None).move(day)
        except (ChecklistError, DateError) as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        row = ChecklistRow(account=ctx.tx.account, care_room_id=room.id, room_id=ctx.room_id,
                           template=template.name, status="active", sealed=b"", version=1,
                           language=ctx.lang, created_at=now, updated_at=now)
        records.save(ctx.tx, row, checklist)
        ctx.tx.session.add(row)
        await ctx.tx.session.flush()
        records.audit(ctx.tx, row, ctx.sender, "plan", day=day.isoformat(),
                      template=template.name)
        await post_live(ctx.tx, row, render(checklist, ctx.lang, now), self.pinner)
        schedule(ctx.runtime, ctx.tx, reminders.plan(
            row.id, row.version, checklist, self.notifier.hours, now))
        schedule(ctx.runtime, ctx.tx, [reminders.next_digest(
            row.id, now.astimezone(self.zone), self.settings.digest_at, self.notifier.hours)])
        self.notifier.plan_letter(ctx.runtime, ctx.tx, row, checklist, day, now)

    def _future_day(self, raw: str, now: datetime) -> date:
        today = now.astimezone(self.zone).date()
        day = parse_day(raw, today)
        if day < today:
            raise ChecklistError("discharge.past_date", date=when("fr", day))
        return day

    async def move(self, ctx: CommandContext, date_: str) -> None:
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        now = utcnow()
        try:
            day = self._future_day(date_, now)
            changed = loaded.checklist.move(day)
        except (ChecklistError, DateError) as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        row = loaded.row
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, reminders.prefix(row.id, row.version))
        row.version += 1
        self._store(ctx.tx, loaded, changed, now)
        records.audit(ctx.tx, row, ctx.sender, "move", before=loaded.checklist.discharge
                      .isoformat(), after=day.isoformat())
        schedule(ctx.runtime, ctx.tx, reminders.plan(row.id, row.version, changed,
                                                           self.notifier.hours, now))
        await self.notifier.cancel_letter(ctx.runtime, ctx.tx, row)
        self.notifier.plan_letter(ctx.runtime, ctx.tx, row, changed, day, now, again=True)
        ctx.reply(t(ctx.lang, "discharge.moved", day=when(ctx.lang, day)))

    async def answer_yes(self, ctx: CommandContext, item: int, comment: str | None) -> None:
        await self._answer(ctx, item, "oui", comment)

    async def answer_no(self, ctx: CommandContext, item: int, comment: str | None) -> None:
        await self._answer(ctx, item, "non", comment)

    async def answer_na(self, ctx: CommandContext, item: int, comment: str | None) -> None:
        await self._answer(ctx, item, "na", comment)

    async def _answer(self, ctx: CommandContext | ReactionContext, item_id: int, answer: Answer,
                      comment: str | None) -> None:
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        now = utcnow()
        try:
            item = loaded.checklist.item(item_id)
            refusal = self._answer_refusal(ctx.caller, loaded.checklist, item, ctx.lang)
            if refusal is not None:
                ctx.reply(refusal)
                return
            changed = loaded.checklist.answer(item_id, answer, by=ctx.caller.user_id, at=now,
                                              comment=comment)
        except ChecklistError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        updated = self._store(ctx.tx, loaded, changed, now)
        late = changed.state(item_id).late
        records.audit(ctx.tx, loaded.row, ctx.caller.user_id, "answer", item=item_id, at=now,
                      answer=answer, comment=changed.state(item_id).comment,
                      before=loaded.checklist.state(item_id).answer, late=late,
                      # A ✅ sent in clear (Element Web): no device vouches for it.
                      **({"unencrypted": True} if isinstance(ctx, ReactionContext)
                         and not ctx.encrypted else {}))
        if item.letter and changed.letter_sent:
            await self.notifier.cancel_letter(ctx.runtime, ctx.tx, loaded.row)
        if item.letter and changed.letter_sent != loaded.checklist.letter_sent:
            await records.letter_sent(ctx.tx, loaded.row, changed.letter_at)
        mark = {"oui": "✅", "non": "❌", "na": "➖"}[answer]
        reply = ctx.tx.post(ctx.room_id, notice(
            Html(t(ctx.lang, "discharge.answered", mark=mark, item=item_id,
                   label=item.label(ctx.lang), answer=t(ctx.lang, f"checklist.answer.{answer}"))
                 + (t(ctx.lang, "discharge.answered_late") if late else "")),
            reply_to=ctx.event_id if isinstance(ctx, CommandContext) else ctx.reacts_to),
            cause_event_id=ctx.event_id)
        await records.about_item(ctx.tx, loaded.row, reply, item_id)
        await self.notifier.escalate(ctx.tx, updated, now)

    async def assign(self, ctx: CommandContext, item: int, member_id: str) -> None:
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        assert room is not None
        member = await care_rooms.member(ctx.tx, room, member_id)
        if member is None or member.desired != "present":
            ctx.reply(t(ctx.lang, "discharge.not_in_team", user=member_id))
            return
        try:
            target = loaded.checklist.item(item)
            changed = loaded.checklist.assign(item, member_id)
        except ChecklistError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        now = utcnow()
        self._store(ctx.tx, loaded, changed, now)
        records.audit(ctx.tx, loaded.row, ctx.sender, "assign", item=item, at=now, to=member_id)
        message = ctx.tx.post(ctx.room_id, notice(
            t(ctx.lang, "discharge.assigned", user=pill(member_id), item=item,
              label=target.label(ctx.lang), by=ctx.sender), mentions=[member_id],
            reply_to=ctx.event_id), cause_event_id=ctx.event_id)
        await records.about_item(ctx.tx, loaded.row, message, item)

    async def set_risk(self, ctx: CommandContext, risk: str, reason: str | None) -> None:
        """The episode's level by hand: up freely, down by a physician with a reason."""
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        care_room_id = loaded.row.care_room_id
        try:
            changed = loaded.checklist.with_risk(risk)  # type: ignore[arg-type]
            level = by_hand(await episode.risk_of(ctx.tx, care_room_id), risk,  # type: ignore
                            ctx.sender, physician=self._may(ctx.caller, cap.DISCHARGE_OVERRIDE),
                            reason=reason)
        except (ChecklistError, RiskError) as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        await episode.set_risk(ctx.tx, care_room_id, level)
        now = utcnow()
        updated = self._store(ctx.tx, loaded, changed, now)
        records.audit(ctx.tx, loaded.row, ctx.sender, "risk", at=now, risk=risk,
                      reason=level.reason)
        ctx.reply(t(ctx.lang, "discharge.risk_set", level=t(ctx.lang, f"risk.{risk}")))
        await self.notifier.escalate(ctx.tx, updated, now)

    async def scored(self, ctx: CommandContext, score: Score) -> None:
        """A LACE or HOSPITAL score: the episode's level, shared with the follow-up (the
        highest class wins), shown in the live checklist."""
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        ctx.reply(score_text(ctx.lang, score))
        level = await episode.score_risk(ctx.tx, loaded.row.care_room_id, score.risk,
                                         ctx.sender)
        now = utcnow()
        records.audit(ctx.tx, loaded.row, ctx.sender, "score", at=now, score=score.name,
                      points=score.points, risk=level.risk)
        updated = Loaded(loaded.row, replace(loaded.checklist, risk=level.risk))
        update_live(ctx.tx, loaded.row, render(updated.checklist, ctx.lang, now))
        ctx.reply(t(ctx.lang, "discharge.risk_set", level=t(ctx.lang, f"risk.{level.risk}")))
        await self.notifier.escalate(ctx.tx, updated, now)

    async def validate(self, ctx: CommandContext, details: str | None) -> None:
        """`!sortie valider [date] <mode> [iteratif] [raison…]`."""
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        now = utcnow()
        today = now.astimezone(self.zone).date()
        on, words = today, (details or "").split()
        if words:  # an optional date first
            with suppress(DateError):
                on, words = parse_day(words[0], today), words[1:]
        try:
            discharge, rest = parse_discharge(words)
        except ModeError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        reason = " ".join(rest) or None
        try:
            if on > today:
                raise ChecklistError("discharge.future_discharge", date=when(ctx.lang, on))
            changed = loaded.checklist.validate(
                by=ctx.sender, at=now, on=on, reason=reason,
                physician=self._may(ctx.caller, cap.DISCHARGE_OVERRIDE))
        except ChecklistError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        row = loaded.row
        self._store(ctx.tx, loaded, changed, now)
        # Every reminder of the checklist stops, but the letter's: due whatever the checklist
        # says, on the day the patient actually left (planned again if the hospital cancelled
        # an earlier validation, which stopped them).
        await ctx.runtime.scheduler.cancel_prefixed(ctx.tx, reminders.prefix(row.id))
        if on != loaded.checklist.discharge or not await self.notifier.letter_planned(ctx.tx,
                                                                                      row):
            await self.notifier.cancel_letter(ctx.runtime, ctx.tx, row)
            self.notifier.plan_letter(ctx.runtime, ctx.tx, row, changed, on, now, again=True)
        records.audit(ctx.tx, row, ctx.sender, "validate", at=now, on=on.isoformat(),
                      mode=discharge.mode, iterative=discharge.iterative,
                      compliant=changed.compliant)
        if changed.override is not None:
            records.audit(ctx.tx, row, ctx.sender, "override", at=now,
                          items=list(changed.override.items), reason=changed.override.reason)
        room = await ctx.tx.session.get(CareRoom, row.care_room_id)
        handover = Handover(
            account=ctx.tx.account, checklist_id=row.id, care_room_id=row.care_room_id,
            discharged_on=on, risk=changed.risk, mode=discharge.mode,
            iterative=discharge.iterative, ward=room.ward if room else None,
            compliant=changed.compliant, created_at=now, letter_at=changed.letter_at)
        ctx.tx.session.add(handover)
        if HANDOVER_JOB in ctx.runtime.scheduler.handlers:  # the follow-up bot runs here
            await ctx.tx.session.flush()
            # With the plan's version: a validation the hospital cancelled (withdrawal.py) had a
            # hand-over whose ID a new one may take again (SQLite reuses the highest).
            ctx.runtime.scheduler.schedule(ctx.tx, HANDOVER_JOB,
                                           f"followup:handover:{handover.id}:v{row.version}",
                                           now.astimezone(self.zone), {"handover": handover.id})
        ctx.reply(t(ctx.lang, "discharge.validated", day=when(ctx.lang, on),
                    mode=t(ctx.lang, f"mode.{discharge.mode}"),
                    iterative=t(ctx.lang, "mode.iterative") if discharge.iterative else "",
                    not_index="" if discharge.index_stay else t(ctx.lang, "mode.not_index"),
                    letter="" if changed.letter_sent else t(ctx.lang, "discharge.letter_due")))

    async def show_summary(self, ctx: CommandContext) -> None:
        loaded = await self._loaded(ctx)
        if loaded is None:
            return
        room = await ctx.tx.session.get(CareRoom, loaded.row.care_room_id)
        assert room is not None
        identity = care_rooms.PatientFile.open(ctx.tx, room).identity
        patient = f"{identity.family_name} {identity.given_names}, " \
                  f"{when(ctx.lang, identity.birth_date)}" + \
                  (f", INS {identity.ins_display()}" if identity.ins else "")
        ref = room.ref or "?"
        c = loaded.checklist
        ctx.reply(summary.summary_html(c, ctx.lang, ref, patient))
        ctx.tx.post(ctx.room_id, attachment(
            summary.file_name(ref, ctx.lang),
            summary.summary_markdown(c, ctx.lang, ref, patient,
                                     await records.audit_trail(ctx.tx, loaded.row)).encode(),
            "text/markdown"), cause_event_id=ctx.event_id)
        records.audit(ctx.tx, loaded.row, ctx.sender, "summary")

    async def my_tasks(self, ctx: CommandContext) -> None:
        now = utcnow()
        rows = (await ctx.tx.session.execute(
            select(ChecklistRow, CareRoom.ref, TeamMember.role)
            .join(CareRoom, CareRoom.id == ChecklistRow.care_room_id)
            .join(TeamMember, TeamMember.care_room_id == CareRoom.id)
            .where(ChecklistRow.account == ctx.tx.account, ChecklistRow.status == "active",
                   CareRoom.status == "open", TeamMember.user_id == ctx.sender,
                   TeamMember.desired == "present").order_by(CareRoom.ref))).all()
        blocks = []
        for row, ref, role in rows:
            c = (await self.load(ctx.tx, row)).checklist
            mine = [i for i in c.template.items if c.state(i.id).answer is None and (
                c.state(i.id).assignee == ctx.sender or
                (c.state(i.id).assignee is None and role in i.roles))]
            if mine:
                late = {i.id for i in c.overdue(now)}
                blocks.append(t(ctx.lang, "discharge.tasks_room", ref=ref or "?",
                                link=room_link(row.room_id),
                                items=join([t(ctx.lang, "discharge.task", id=i.id,
                                              label=i.label(ctx.lang),
                                              due=due_text(c, i, ctx.lang),
                                              late=t(ctx.lang, "checklist.late")
                                              if i.id in late else "")
                                            for i in mine])))
        ctx.reply(join([t(ctx.lang, "discharge.tasks_title"), *blocks]) if blocks
                  else t(ctx.lang, "discharge.no_tasks"))

    # --- reactions and newcomers -----------------------------------------------------------

    async def on_reaction(self, ctx: ReactionContext) -> None:
        if ctx.key not in YES_REACTIONS:
            return
        found = await records.item_of_message(ctx.tx, ctx.room_id, ctx.reacts_to)
        if found is None:
            return  # a reaction to something else: not ours to answer
        row = await records.by_room(ctx.tx, ctx.room_id)
        if row is None or row.id != found[0]:
            return
        ctx.lang = row.language  # type: ignore[assignment]
        if found[1] == records.LIVE:
            ctx.reply(t(ctx.lang, "discharge.react_on_item"))
            return
        # The command's own check (`!sortie oui`), with the reaction's refusal.
        forbidden = permissions.check(self.roles.permission(cap.CLINICAL, PATIENT), ctx.caller,
                                      "discharge.not_your_item_any")
        if forbidden is not None:
            ctx.reply(forbidden.text(ctx.lang))
            return
        await self._answer(ctx, found[1], "oui", None)

    async def on_join(self, ctx: JoinContext) -> None:
        if ctx.user_id == ctx.runtime.user_id:
            return
        row = await records.by_room(ctx.tx, ctx.room_id)
        if row is None:
            return
        loaded = await self.load(ctx.tx, row)
        # The live message was sent before they joined: unreadable to them. A new one is posted,
        # becomes the live one (and the pinned one); the old one says where to look.
        await post_live(ctx.tx, row, render(loaded.checklist, loaded.lang, utcnow()),
                        self.pinner, intro=t(loaded.lang, "discharge.for_newcomer",
                                             user=pill(ctx.user_id)),
                        mentions=[ctx.user_id])

    # --- the letter seen leaving by mail ---------------------------------------------------

    async def letters(self, runtime: Runtime) -> None:
        """Takes up the mails with a document the MSSanté bridge sent from a patient room: the
        lettre de liaison is recorded as sent (the bridge writes the rows; docs/CLINICAL.md §2)."""
        while True:
            await self.take_letters(runtime)
            await asyncio.sleep(LETTER_POLL)

    async def take_letters(self, runtime: Runtime) -> None:
        async with runtime.transaction() as tx:
            for mail in await episode.letter_mails(tx):
                await self._letter_mail(runtime, tx, mail)

    async def _letter_mail(self, runtime: Runtime, tx: Transaction, mail: LetterMail) -> None:
        row = await tx.session.scalar(select(ChecklistRow).where(
            ChecklistRow.room_id == mail.room_id))
        if row is not None and row.account != tx.account:
            return  # another account's room: theirs to take
        mail.taken_at = utcnow()
        if row is None:
            return
        loaded = await self.load(tx, row)
        c = loaded.checklist
        item = c.template.letter
        at = as_utc(mail.sent_at)
        # A document mailed before the discharge day is not taken for the letter.
        first_day = min(c.discharge, c.discharged_on or c.discharge)
        if item is None or c.letter_sent or at.astimezone(self.zone).date() < first_day:
            return
        changed = loaded.checklist.answer(item.id, "oui", by=BRIDGE, at=at)
        self._store(tx, loaded, changed, at)
        records.audit(tx, row, runtime.user_id, "answer", item=item.id, at=at, answer="oui",
                      comment=None, before=loaded.checklist.state(item.id).answer, late=False,
                      by_mail=mail.outbound_id)
        await self.notifier.cancel_letter(runtime, tx, row)
        await records.letter_sent(tx, row, at)
        message = tx.post(row.room_id, notice(t(loaded.lang, "discharge.letter_by_mail",
                                                item=item.id, label=item.label(loaded.lang),
                                                at=when(loaded.lang, at, self.zone))))
        await records.about_item(tx, row, message, item.id)

    # --- declaration -----------------------------------------------------------------------

    def commands(self) -> list[Command]:
        clinical = self.roles.permission(cap.CLINICAL, PATIENT)
        planner = self.roles.permission(cap.DISCHARGE_PLAN, PATIENT)
        item = Arg("item", "discharge.label.item", as_int)
        comment = Arg("comment", "discharge.label.comment", optional=True, rest=True)
        day = Arg("date_", "label.date")
        cmd = partial(described, permission=clinical)

        return [
            cmd("sortie", "discharge", "discharge.help.show", self.show),
            cmd("sortie prevoir", "discharge plan", "discharge.help.plan", self.plan,
                day, Arg("template_name", "discharge.label.template", optional=True),
                permission=planner, aliases=("sortie prévoir",)),
            cmd("sortie date", "discharge date", "discharge.help.move", self.move,
                day, permission=planner),
            cmd("sortie oui", "discharge yes", "discharge.help.yes", self.answer_yes, item,
                comment),
            cmd("sortie non", "discharge no", "discharge.help.no", self.answer_no, item, comment),
            cmd("sortie na", "discharge na", "discharge.help.na", self.answer_na, item, comment),
            cmd("sortie assigner", "discharge assign", "discharge.help.assign", self.assign, item,
                Arg("member_id", "label.member", as_user_id), permission=planner),
            cmd("sortie risque", "discharge risk", "discharge.help.risk", self.set_risk,
                Arg("risk", "label.level", as_risk),
                Arg("reason", "label.reason", optional=True, rest=True), permission=planner),
            cmd("sortie lace", "discharge lace", "discharge.help.lace", self.lace,
                Arg("values", "label.values", rest=True)),
            cmd("sortie hospital", "discharge hospital", "discharge.help.hospital",
                self.hospital, Arg("values", "label.values", rest=True)),
            cmd("sortie valider", "discharge validate", "discharge.help.validate",
                self.validate, Arg("details", "label.details", optional=True, rest=True),
                permission=planner),
            cmd("sortie resume", "discharge summary", "discharge.help.summary",
                self.show_summary, aliases=("sortie résumé",)),
            cmd("sortie mes-taches", "discharge my-tasks", "discharge.help.tasks", self.my_tasks,
                permission=ANYONE, aliases=("sortie mes-tâches",)),
        ]


def discharge(config: Config) -> Bot:
    bot = Discharge(config)
    return Bot("discharge", commands=bot.commands(), texts=(texts.TEXTS, episode_texts.TEXTS, common_texts.TEXTS),
               on_join=bot.on_join,
               on_reaction=bot.on_reaction, clear_reactions=True,
               services=[bot.pinner.run, bot.letters],
               jobs={DUE: bot.notifier.due_job, DIGEST: bot.notifier.digest_job,
                     ESCALATE: bot.notifier.escalate_job, LETTER: bot.notifier.letter_job})

