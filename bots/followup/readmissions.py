"""Readmissions and ED visits reported in a patient room, the team's judgement on them, and the
window's outcome at D+30.

`!rh30 rehospitalisation <date> [programmee] [urgences]` records the return, says how it counts
(docs/CLINICAL.md §3: 1–7 and 1–30 days count, planned or not, in the official figure; planned
ones are left out of the unplanned rate; day 0 is a same-day return, planned or not; ED visits
are logged apart), alerts the physician and the coordinators, freezes the plan (no call to a patient
in hospital) and opens a short review: the checklist items answered "Non" at discharge.
The same command with `programmee` on a return already noted flags it planned (an admission
from the hospital's feed that did not say). `!rh30 evitable oui|non <note>` records the HAS 2013 judgement on the counted readmission.
`!rh30 deces <date>` records a death after the discharge: every call and reminder stops for good
(the D+30 close still comes, for the indicator: the index stay ended at home, docs/CLINICAL.md
§3).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

from bots.common import records as care_rooms
from bots.common.dates import DateError, parse_day
from bots.common.models import CareRoom
from bots.common.render import when
from bots.episode.modes import Discharge
from bots.episode.withdrawals import (
    NONE,
    WITHDRAW,
    Withdrawal,
    admission_withdrawal,
    after_withdrawal,
)
from bots.followup import records
from bots.followup.indicator import RH30, category, outcome
from bots.followup.models import FollowupEvent, FollowupPlan
from bots.runtime.bot import CommandContext
from bots.runtime.commands import ArgError
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join, notice
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.followup.bot import Followup
    from bots.runtime.runtime import Runtime

# Who hears of a return to hospital: the physician and the coordinators.
ALERTED_ROLES = ("MH", "IDEC", "DAC")
_PLANNED = {"programmee", "programmée", "programme", "prevue", "prévue", "planned"}
_ED = {"urgences", "urgence", "ed", "er", "su"}
_YES = {"oui", "yes", "o", "y"}
_NO = {"non", "no", "n"}
# "J+12" in a follow-up counts from the discharge day (J0), as the team says it.
_FROM_DISCHARGE = re.compile(r"^j\+(\d{1,3})$")


def parse_details(text: str | None) -> tuple[bool, bool]:
    """(planned, ED visit) from the words after the date."""
    planned = ed = False
    for word in (text or "").lower().replace(",", " ").split():
        if word in _PLANNED:
            planned = True
        elif word in _ED:
            ed = True
        else:
            raise ArgError("followup.bad_detail", value=word)
    return planned, ed


def return_day(text: str, discharged_on: date, today: date) -> date:
    m = _FROM_DISCHARGE.match(text.strip().lower())
    if m:
        return discharged_on + timedelta(days=int(m[1]))
    return parse_day(text, today, past=True)


class Readmissions:
    def __init__(self, bot: Followup) -> None:
        self.bot = bot

    async def _day(self, ctx: CommandContext, row: FollowupPlan, text: str,
                   what: str) -> date | None:
        """The day of an event after the discharge, or None once the reply says what is wrong."""
        today = self.bot.today()
        try:
            day = return_day(text, row.discharged_on, today)
        except DateError as exc:
            ctx.reply(exc.text(ctx.lang))
            return None
        if day < row.discharged_on:
            ctx.reply(t(ctx.lang, f"{what}.before", day=when(ctx.lang, day),
                        discharged=when(ctx.lang, row.discharged_on)))
            return None
        if day > today:
            ctx.reply(t(ctx.lang, f"{what}.future", day=when(ctx.lang, day)))
            return None
        return day

    async def report(self, ctx: CommandContext, date_: str, details: str | None) -> None:
        row = await self.bot.plan_or_reply(ctx)
        if row is None:
            return
        try:
            planned, ed = parse_details(details)
        except ArgError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        day = await self._day(ctx, row, date_, "readmission")
        if day is None:
            return
        kind = "ed" if ed else "admission"
        found = next((e for e in await records.events(ctx.tx, row)
                      if e.on == day and e.kind == kind), None)
        if found is not None and planned and not found.planned:
            # Flagged planned afterwards (the feed's admission did not say, or a slip).
            found.planned = True
            ctx.reply(t(ctx.lang, "readmission.now_planned", day=when(ctx.lang, day)))
            return
        if found is not None:
            ctx.reply(t(ctx.lang, f"readmission.already_{kind}", day=when(ctx.lang, day)))
            return
        text, who = await self.record(ctx.tx, ctx.runtime, row, day, planned, kind=kind,
                                      by=ctx.sender, lang=ctx.lang)
        ctx.reply(text, mentions=who)

    async def record(self, tx: Transaction, runtime: Runtime, row: FollowupPlan, day: date,
                     planned: bool | None, *, kind: str, by: str,
                     lang: Lang) -> tuple[Html, list[str]]:
        """The return written, the plan frozen, and the alert (its text, whom it mentions): for
        `!rh30 rehospitalisation` and for an admission the hospital's feed reports (bots/adt/).
        `planned` None: the feed did not say; counted as unplanned (as a return nobody flagged)
        and the team is asked."""
        event = FollowupEvent(plan_id=row.id, on=day, kind=kind, planned=bool(planned),
                              avoidable=None, by=by, at=utcnow(), note=tx.seal_on_insert({}))
        tx.session.add(event)
        counts_as = category(records.as_stay("", row), records.as_return("", event))
        counted = counts_as in ("rh7", "rh30")
        parts = [t(lang, f"readmission.{counts_as}", day=when(lang, day),
                   delay=(day - row.discharged_on).days)]
        if counted and planned:
            parts.append(t(lang, "readmission.planned"))
        if counted and planned is None:
            parts.append(t(lang, "readmission.planned_unknown", date=f"{day:%d/%m/%Y}"))
        if counts_as != "after":
            if row.status == "active":
                await self._stop_steps(tx, runtime, row, "frozen")
                parts.append(t(lang, "readmission.frozen"))
            if not (counted and planned):  # a planned same-day return is logged like any
                parts.append(await self._review(tx, row, lang))
            if counted and not planned:
                parts.append(t(lang, "readmission.judge"))
        who = await care_rooms.members_with(tx, row.care_room_id, ALERTED_ROLES)
        return join(parts, " "), who

    async def admitted(self, tx: Transaction, runtime: Runtime, room: CareRoom, day: date,
                       planned: bool | None, by: str) -> bool:
        """An admission the hospital's feed reports (bots/adt/): a readmission when the room's
        RH30 window is open (an index stay discharged 0 to 30 days before, docs/CLINICAL.md §3),
        recorded and alerted in the room as `!rh30 rehospitalisation` does. False when no window
        is open; True also when a person already noted that day's return."""
        row = await records.plan_of(tx, room.room_id or "")
        if row is None or row.status == "deceased" or \
                not Discharge(row.mode, row.iterative).index_stay:  # type: ignore[arg-type]
            return False
        if not 0 <= (day - row.discharged_on).days <= RH30:
            return False
        if any(e.on == day and e.kind == "admission" for e in await records.events(tx, row)):
            return True
        lang: Lang = row.language  # type: ignore[assignment]
        text, who = await self.record(tx, runtime, row, day, planned, kind="admission", by=by,
                                      lang=lang)
        tx.post(row.room_id, notice(text, mentions=who))
        return True

    async def admission_cancelled(self, tx: Transaction, runtime: Runtime, room: CareRoom,
                                  day: date, by: str) -> Withdrawal:
        """An admission the hospital's feed cancels (A11, bots/adt/): the readmission the feed
        (`by`) recorded on that day withdrawn (bots/episode/withdrawals.py), the room told, and
        the plan resumed when no other return within the window is left, else told that it
        stays frozen and how to resume it (`after_withdrawal`)."""
        row = await records.plan_of(tx, room.room_id or "")
        if row is None:
            return NONE
        returns = list(await records.events(tx, row))
        event = next((e for e in returns if e.on == day and e.kind == "admission"), None)
        verdict = admission_withdrawal(event.by if event else None,
                                       event is not None and event.avoidable is not None, by)
        if event is None or verdict != WITHDRAW:
            return verdict
        await tx.session.delete(event)
        lang: Lang = row.language  # type: ignore[assignment]
        parts = [t(lang, "readmission.withdrawn", day=when(lang, day))]
        stay = records.as_stay("", row)
        others = [e.on for e in returns if e is not event
                  and category(stay, records.as_return("", e)) != "after"]
        then = after_withdrawal(row.status, others)
        if then == "resume":
            parts.append(t(lang, "readmission.withdrawn_resumed",
                           skipped=await self.bot.unfreeze(tx, runtime, row)))
        elif then == "stays_frozen":
            parts.append(t(lang, "readmission.withdrawn_still_frozen",
                           day=when(lang, max(others))))
        tx.post(row.room_id, notice(join(parts, " ")))
        return verdict

    async def _stop_steps(self, tx: Transaction, runtime: Runtime, row: FollowupPlan,
                          status: str) -> None:
        """No step is posted any more (frozen: while the patient is in hospital; deceased: for
        good, the steps still ahead skipped); the D+30 close still comes."""
        row.status = status
        schedule = self.bot.schedules[row.schedule]
        for step in await records.steps(tx, row):
            template = schedule.step(step.step)
            if template is not None and template.kind != "close":
                await runtime.scheduler.cancel_prefixed(tx, f"followup:{row.id}:{step.step}:")
                if status == "deceased" and step.state in ("planned", "posted"):
                    step.state = "skipped"

    async def death(self, ctx: CommandContext, date_: str) -> None:
        row = await self.bot.plan_or_reply(ctx)
        if row is None:
            return
        if row.status == "closed":
            ctx.reply(t(ctx.lang, "followup.plan_closed"))
            return
        found = await records.death(ctx.tx, row)
        if found is not None:
            ctx.reply(t(ctx.lang, "death.already", day=when(ctx.lang, found.on)))
            return
        day = await self._day(ctx, row, date_, "death")
        if day is None:
            return
        ctx.tx.session.add(FollowupEvent(
            plan_id=row.id, on=day, kind="death", planned=False, avoidable=None, by=ctx.sender,
            at=utcnow(), note=ctx.tx.seal_on_insert({})))
        await self._stop_steps(ctx.tx, ctx.runtime, row, "deceased")
        who = await care_rooms.members_with(ctx.tx, row.care_room_id, ALERTED_ROLES)
        ctx.reply(t(ctx.lang, "death.recorded", day=when(ctx.lang, day),
                    delay=(day - row.discharged_on).days,
                    last=when(ctx.lang, row.discharged_on + timedelta(days=RH30))),
                  mentions=who)

    async def _review(self, tx: Transaction, row: FollowupPlan, lang: Lang) -> Html:
        checklist = await self.bot.checklist_at_discharge(tx, row.care_room_id)
        if checklist is None:
            return t(lang, "review.no_checklist")
        lines = []
        for item in checklist.items:
            if item.answer == "non":
                lines.append(t(lang, "review.item", id=item.id, label=item.label(lang),
                               comment=f" — {item.comment}" if item.comment else ""))
        if not lines:
            return t(lang, "review.all_done")
        return t(lang, "review.items", items=join(lines))

    async def judge(self, ctx: CommandContext, answer: str, note: str) -> None:
        row = await self.bot.plan_or_reply(ctx)
        if row is None:
            return
        verdict = answer.lower()
        if verdict not in _YES | _NO:
            ctx.reply(t(ctx.lang, "readmission.bad_verdict", value=answer))
            return
        counted = [e for e in await records.events(ctx.tx, row) if not e.planned
                   and category(records.as_stay("", row), records.as_return("", e))
                   in ("rh7", "rh30")]
        if not counted:
            ctx.reply(t(ctx.lang, "readmission.nothing_to_judge"))
            return
        event = counted[0]  # the indicator's: the first unplanned readmission (HAS 2013)
        again = event.avoidable is not None
        event.avoidable = verdict in _YES
        event.judged_by, event.judged_at = ctx.sender, utcnow()
        at = event.bound("note")
        event.note = ctx.tx.vault.seal({**ctx.tx.vault.open(event.note, at), "judgement": note}, at)
        ctx.reply(t(ctx.lang, "readmission.judged", day=when(ctx.lang, event.on),
                    verdict=t(ctx.lang, f"readmission.avoidable.{event.avoidable}"),
                    again=t(ctx.lang, "readmission.rejudged") if again else ""))

    async def closing_text(self, tx: Transaction, row: FollowupPlan, late: Html,
                           lang: Lang) -> Html:
        """D+30: the window's outcome so far (a return later that day still counts)."""
        found = [records.as_return("", e) for e in await records.events(tx, row)]
        last = row.discharged_on + timedelta(days=RH30)
        result = outcome(records.as_stay("", row), found, as_of=last)
        if result.readmitted30:
            head = t(lang, "followup.closed_readmitted", late=late, delay=result.first_delay,
                     rh7=t(lang, "followup.and_rh7") if result.readmitted7 else "",
                     verdict=t(lang, f"readmission.avoidable.{result.avoidable}")
                     if result.unplanned30 else t(lang, "readmission.avoidable.planned"))
        else:
            head = t(lang, "followup.closed", late=late)
        also = [t(lang, f"followup.also.{name}", n=n) for name, n in (
            ("same_day", result.same_day), ("ed", result.ed_visits),
            ("planned", result.planned)) if n]
        died = await records.death(tx, row)
        if died is not None:
            also.append(t(lang, "followup.also.death", day=when(lang, died.on),
                          delay=(died.on - row.discharged_on).days))
        tail = t(lang, "readmission.judge") if result.unplanned30 and \
            result.avoidable is None else t(lang, "followup.still_counts", last=when(lang, last))
        return join([head, *also, tail], " ")
