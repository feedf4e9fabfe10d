"""A discharge the hospital cancelled (ADT A13, bots/adt/), on the discharge bot's side: the
checklist validated for that day is open again. Database and outbox only, in the applier's
transaction (the composition, bots/registry.py, hands this in as a port: no bot imports
another).

The validation is undone, not erased: the answers stay, the audit trail says who validated
and that the hospital cancelled it (with the hand-over's facts: day, mode, compliance), the
hand-over leaves the discharge indicators (checklist compliance, letters sent), the letter's
reminders stop (no letter is due for a discharge that did not happen), and the room is told
how to go on. The real discharge is validated again with `!sortie date` then `!sortie
valider`, which make a new hand-over and plan the letter for that day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.models import CareRoom
from bots.common.render import when
from bots.discharge import records, reminders
from bots.discharge.live import update_live
from bots.discharge.render import render
from bots.discharge.template import Template
from bots.episode import records as episode
from bots.episode.models import Handover
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import notice
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime


class ValidationWithdrawal:
    def __init__(self, templates: dict[str, Template], zone: ZoneInfo) -> None:
        self.templates, self.zone = templates, zone

    async def __call__(self, tx: Transaction, runtime: Runtime, room: CareRoom,
                       day: date | None) -> bool:
        """The room's checklist validated for `day` (None: whichever day) open again; False
        when there is none (never validated, or for another day: a person decides)."""
        row = await records.by_room(tx, room.room_id or "")
        if row is None or row.status != "validated" or row.template not in self.templates:
            return False
        checklist = records.open_checklist(tx, row, self.templates[row.template], self.zone)
        left = checklist.discharged_on
        if left is None or (day is not None and left != day):
            return False
        handover = await tx.session.scalar(select(Handover).where(
            Handover.checklist_id == row.id))
        now = utcnow()
        reopened = replace(checklist, validated_at=None, discharged_on=None, override=None)
        records.save(tx, row, reopened)
        row.version += 1  # a new plan: the next validation's jobs are not the cancelled one's
        level = await episode.risk_of(tx, row.care_room_id)
        lang: Lang = row.language  # type: ignore[assignment]
        update_live(tx, row, render(replace(reopened, risk=level.risk if level else None),
                                    lang, now))
        records.audit(tx, row, runtime.user_id, "validation_cancelled", at=now,
                      on=left.isoformat(), **({} if handover is None else {
                          "mode": handover.mode, "iterative": handover.iterative,
                          "compliant": handover.compliant, "ward": handover.ward}))
        await runtime.scheduler.cancel_prefixed(tx, reminders.letter_prefix(row.id))
        if handover is not None:
            await tx.session.delete(handover)
        tx.post(row.room_id, notice(t(lang, "discharge.validation_cancelled",
                                      day=when(lang, left))))
        return True
