"""Reminders as they reach the room: the due-item reminder, the lettre de liaison's alert and
reminders, the daily digest and the J0 escalation, fired by the scheduler; the escalation also
follows a command (a "Non", a risk raised on J0). Whom each one mentions is decided here from the
team's roles."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.models import CareRoom
from bots.common.records import members_with
from bots.common.render import when
from bots.config import DischargeConfig
from bots.discharge import records, reminders
from bots.discharge.checklist import Checklist
from bots.discharge.live import update_live
from bots.discharge.models import ChecklistRow
from bots.discharge.records import Loaded
from bots.discharge.reminders import Hours, Job, letter_plan, letter_prefix, next_letter_morning
from bots.discharge.render import due_text, render
from bots.discharge.template import Item
from bots.episode.workdays import Calendar
from bots.runtime.bot import JobContext
from bots.runtime.i18n import t
from bots.runtime.models import ScheduledJob
from bots.runtime.notice import join, notice, pill
from bots.runtime.runtime import Runtime
from bots.runtime.store import Transaction

# Who is told when nobody holds an item's role in the team: the coordinators.
FALLBACK_ROLES = ("IDEC", "DAC")
PHYSICIANS = ("MH",)
# Who hears of a letter still missing the next working morning (docs/CLINICAL.md §2).
LETTER_MORNING = ("MH", "DAC")


def schedule(runtime: Runtime, tx: Transaction, jobs: list[Job]) -> None:
    for job in jobs:
        runtime.scheduler.schedule(tx, job.kind, job.key, job.when, job.payload)


class Notifier:
    def __init__(self, settings: DischargeConfig, zone: ZoneInfo, calendar: Calendar,
                 load: Callable[[Transaction, ChecklistRow], Awaitable[Loaded]]) -> None:
        self.settings = settings
        self.zone = zone
        self.calendar = calendar
        self.hours = Hours(*settings.working_hours)
        self.load = load

    async def _job_checklist(self, ctx: JobContext) -> Loaded | None:
        row = await ctx.tx.session.get(ChecklistRow, ctx.payload["checklist"])
        if row is None or row.status != "active":
            return None
        room = await ctx.tx.session.get(CareRoom, row.care_room_id)
        if room is None or room.status != "open":
            return None  # the episode was closed: the room is read-only, nothing to remind
        version = ctx.payload.get("version")
        if version is not None and version != row.version:
            return None  # planned before the date moved (its cancellation lost a race)
        return await self.load(ctx.tx, row)

    async def due_job(self, ctx: JobContext) -> None:
        loaded = await self._job_checklist(ctx)
        if loaded is None:
            return
        c, lang = loaded.checklist, loaded.lang
        item = c.template.item(ctx.payload["item"])
        if item is None:
            return
        due = c.due_at(item.rescore_due if ctx.payload.get("rescore") and item.rescore_due
                       else item.due)
        state = c.state(item.id)
        if ctx.payload.get("rescore"):
            key, action = "discharge.rescore", "rescore_reminder"
        elif state.answer is None:
            key, action = "discharge.reminder", "reminder"
        else:
            return
        targets = await self._targets(ctx.tx, loaded.row, c, item)
        message = ctx.tx.post(loaded.row.room_id, notice(
            t(lang, key, item=item.id, label=item.label(lang),
              due=when(lang, due, c.zone) if due else "",
              who=join([pill(u) for u in targets], ", ")), mentions=targets))
        await records.about_item(ctx.tx, loaded.row, message, item.id)
        records.audit(ctx.tx, loaded.row, ctx.runtime.user_id, action, item=item.id,
                      at=ctx.now, to=targets, late=ctx.late)
        update_live(ctx.tx, loaded.row, render(c, lang, ctx.now))

    def plan_letter(self, runtime: Runtime, tx: Transaction, row: ChecklistRow, c: Checklist,
                    day: date, now: datetime, *, again: bool = False) -> None:
        """The letter's reminders for a discharge on `day` (none once it is sent). `again`:
        planned after a cancel, maybe for a day planned before: fresh keys."""
        if c.template.letter is not None and not c.letter_sent:
            schedule(runtime, tx, letter_plan(row.id, day, c, self.hours, self.calendar, now,
                                              secrets.token_hex(4) if again else ""))

    async def cancel_letter(self, runtime: Runtime, tx: Transaction, row: ChecklistRow) -> None:
        await runtime.scheduler.cancel_prefixed(tx, letter_prefix(row.id))

    @staticmethod
    async def letter_planned(tx: Transaction, row: ChecklistRow) -> bool:
        """Whether a reminder of the letter is still to come (none after the hospital cancelled
        the discharge it was planned for: bots/discharge/withdrawal.py)."""
        return await tx.session.scalar(select(ScheduledJob.id).where(
            ScheduledJob.account == tx.account, ScheduledJob.state == "pending",
            ScheduledJob.key.startswith(letter_prefix(row.id))).limit(1)) is not None

    async def letter_job(self, ctx: JobContext) -> None:
        """The lettre de liaison still missing: at the end of the discharge day's working hours
        an alert to its roles and the physicians; each next working morning a reminder to the
        physicians and the DAC. Validated or not: only the letter sent stops them."""
        row = await ctx.tx.session.get(ChecklistRow, ctx.payload["checklist"])
        room = await ctx.tx.session.get(CareRoom, row.care_room_id) if row else None
        if row is None or room is None or room.status != "open":
            return
        loaded = await self.load(ctx.tx, row)
        c, lang, day = loaded.checklist, loaded.lang, date.fromisoformat(ctx.payload["day"])
        item = c.template.letter
        if item is None or c.letter_sent or day != (c.discharged_on or c.discharge):
            return  # sent, or planned for a discharge day that has changed since
        morning = ctx.payload["stage"] == "morning"
        if morning:
            targets = await members_with(ctx.tx, row.care_room_id, LETTER_MORNING) or                 await members_with(ctx.tx, row.care_room_id, FALLBACK_ROLES)
            schedule(ctx.runtime, ctx.tx, [next_letter_morning(
                row.id, day, ctx.now.astimezone(self.zone).date(), c, self.hours,
                self.calendar, ctx.payload.get("tag", ""))])
        else:
            targets = await self._targets(ctx.tx, row, c, item, physicians=True)
        message = ctx.tx.post(row.room_id, notice(
            t(lang, "discharge.letter_morning" if morning else "discharge.alert", item=item.id,
              label=item.label(lang), due=when(lang, day),
              who=join([pill(u) for u in targets], ", ")), mentions=targets))
        await records.about_item(ctx.tx, row, message, item.id)
        records.audit(ctx.tx, row, ctx.runtime.user_id,
                      "letter_reminder" if morning else "alert", item=item.id, at=ctx.now,
                      to=targets, late=ctx.late)

    async def digest_job(self, ctx: JobContext) -> None:
        loaded = await self._job_checklist(ctx)
        if loaded is None:
            return  # validated: the chain stops
        c, lang, row = loaded.checklist, loaded.lang, loaded.row
        overdue = c.overdue(ctx.now)
        if overdue:
            everyone: set[str] = set()
            lines = []
            for item in overdue:
                targets = await self._targets(ctx.tx, row, c, item)
                everyone.update(targets)
                lines.append(t(lang, "discharge.digest_line", id=item.id, label=item.label(lang),
                               due=due_text(c, item, lang),
                               who=join([pill(u) for u in targets], ", ")))
            ctx.tx.post(row.room_id, notice(t(lang, "discharge.digest", items=join(lines)),
                                            mentions=sorted(everyone)))
            records.audit(ctx.tx, row, ctx.runtime.user_id, "digest", at=ctx.now,
                          items=[i.id for i in overdue])
        schedule(ctx.runtime, ctx.tx, [reminders.next_digest(
            row.id, ctx.now.astimezone(self.zone), self.settings.digest_at, self.hours)])

    async def escalate_job(self, ctx: JobContext) -> None:
        loaded = await self._job_checklist(ctx)
        if loaded is not None:
            await self.escalate(ctx.tx, loaded, ctx.now)

    async def escalate(self, tx: Transaction, loaded: Loaded, now: datetime) -> None:
        """High risk, from J0, "Non" on an escalation item: tell the physicians, once per item."""
        items = loaded.checklist.escalations(now)
        if not items:
            return
        done = await records.escalated_items(tx, loaded.row)
        new = [i for i in items if i.id not in done]
        if not new:
            return
        lang, row = loaded.lang, loaded.row
        physicians = await members_with(tx, row.care_room_id, PHYSICIANS) or \
            await members_with(tx, row.care_room_id, FALLBACK_ROLES)
        tx.post(row.room_id, notice(t(
            lang, "discharge.escalation", who=join([pill(u) for u in physicians], ", "),
            items=join([t(lang, "discharge.escalation_line", id=i.id, label=i.label(lang),
                          comment=loaded.checklist.state(i.id).comment or "") for i in new])),
            mentions=physicians))
        for item in new:
            records.audit(tx, row, tx.account, "escalation", item=item.id, at=now, to=physicians)

    async def _targets(self, tx: Transaction, row: ChecklistRow, c: Checklist, item: Item, *,
                       physicians: bool = False) -> list[str]:
        """Whom a reminder mentions: the assignee, else the members with the item's roles,
        else the coordinators; alerts add the physicians."""
        assignee = c.state(item.id).assignee
        users = [assignee] if assignee else await members_with(tx, row.care_room_id, item.roles)
        if not users:
            users = await members_with(tx, row.care_room_id, FALLBACK_ROLES)
        if physicians:
            users = [*users, *await members_with(tx, row.care_room_id, PHYSICIANS)]
        return sorted(set(users))
