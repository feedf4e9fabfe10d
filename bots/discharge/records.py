"""The discharge bot's records: a checklist's state sealed in its row and opened again, the audit
trail, the messages about one item, the readers other code is given (validated checklists for the
follow-up, progress for the dashboard). Database only, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.discharge.checklist import Checklist, ItemState, Override
from bots.discharge.models import AuditEntry, ChecklistRow, ItemMessage
from bots.discharge.summary import Entry
from bots.discharge.template import Template
from bots.episode.handover import ItemAnswer, ValidatedChecklist
from bots.episode.models import Handover
from bots.episode.progress import DischargeProgress, Overdue
from bots.runtime.i18n import Lang
from bots.runtime.models import OutboxMessage
from bots.runtime.store import Transaction, as_utc, utcnow

LIVE = 0  # ItemMessage.item of a live checklist message


@dataclass
class Loaded:
    """A checklist row and its state, opened."""

    row: ChecklistRow
    checklist: Checklist

    @property
    def lang(self) -> Lang:
        return self.row.language  # type: ignore[return-value]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_dict(c: Checklist) -> dict[str, Any]:
    return {
        "discharge": c.discharge.isoformat(),
        "admission": c.admission.isoformat() if c.admission else None,
        "risk": c.risk,
        "states": {str(k): {"answer": s.answer, "by": s.by,
                            "at": s.at.isoformat() if s.at else None,
                            "comment": s.comment, "assignee": s.assignee, "late": s.late}
                   for k, s in c.states.items()},
        "validated_at": c.validated_at.isoformat() if c.validated_at else None,
        "discharged_on": c.discharged_on.isoformat() if c.discharged_on else None,
        "override": None if c.override is None else {
            "by": c.override.by, "at": c.override.at.isoformat(),
            "reason": c.override.reason, "items": list(c.override.items)},
    }


def from_dict(raw: dict[str, Any], template: Template, zone: ZoneInfo) -> Checklist:
    override = raw.get("override")
    return Checklist(
        template=template, zone=zone, discharge=date.fromisoformat(raw["discharge"]),
        admission=date.fromisoformat(raw["admission"]) if raw.get("admission") else None,
        risk=raw.get("risk"),
        states={int(k): ItemState(answer=s["answer"], by=s["by"], at=_time(s["at"]),
                                  comment=s["comment"], assignee=s["assignee"],
                                  late=s.get("late", False))
                for k, s in raw["states"].items()},
        validated_at=_time(raw.get("validated_at")),
        discharged_on=date.fromisoformat(raw["discharged_on"]) if raw.get("discharged_on")
        else None,
        override=None if override is None else Override(
            by=override["by"], at=datetime.fromisoformat(override["at"]),
            reason=override["reason"], items=tuple(override["items"])))


def open_checklist(tx: Transaction, row: ChecklistRow, template: Template,
                   zone: ZoneInfo) -> Checklist:
    return from_dict(tx.vault.open(row.sealed, row.bound("sealed")), template, zone)


def save(tx: Transaction, row: ChecklistRow, checklist: Checklist) -> None:
    row.sealed = tx.vault.seal(to_dict(checklist), row.bound("sealed"))
    row.status = "validated" if checklist.validated_at else "active"
    row.updated_at = utcnow()


async def by_room(tx: Transaction, room_id: str) -> ChecklistRow | None:
    return await tx.session.scalar(select(ChecklistRow).where(
        ChecklistRow.account == tx.account, ChecklistRow.room_id == room_id))


def audit(tx: Transaction, row: ChecklistRow, actor: str, action: str, *,
          item: int | None = None, at: datetime | None = None, **detail: Any) -> None:
    tx.session.add(AuditEntry(checklist_id=row.id, at=at or utcnow(), actor=actor,
                              action=action, item=item, detail=tx.seal_on_insert(detail)))


async def audit_trail(tx: Transaction, row: ChecklistRow) -> list[Entry]:
    entries = (await tx.session.scalars(select(AuditEntry).where(
        AuditEntry.checklist_id == row.id).order_by(AuditEntry.id))).all()
    return [Entry(as_utc(e.at), e.actor, e.action, e.item,
                  tx.vault.open(e.detail, e.bound("detail")))
            for e in entries]


async def escalated_items(tx: Transaction, row: ChecklistRow) -> set[int]:
    """Items the physician was already told about (escalations are sent once)."""
    return set((await tx.session.scalars(select(AuditEntry.item).where(
        AuditEntry.checklist_id == row.id, AuditEntry.action == "escalation"))).all())


async def about_item(tx: Transaction, row: ChecklistRow, message: OutboxMessage,
                     item: int) -> None:
    """`message` is about one item (a ✅ on it answers that item), or with item LIVE the
    checklist itself."""
    await tx.session.flush()  # the outbox row's ID
    tx.session.add(ItemMessage(checklist_id=row.id, item=item, outbox_id=message.id))


async def item_of_message(tx: Transaction, room_id: str, event_id: str) -> tuple[int, int] | None:
    """(checklist ID, item) of a message about one item, by its event ID."""
    found = (await tx.session.execute(
        select(ItemMessage.checklist_id, ItemMessage.item)
        .join(OutboxMessage, OutboxMessage.id == ItemMessage.outbox_id)
        .where(OutboxMessage.event_id == event_id, OutboxMessage.room_id == room_id,
               OutboxMessage.account == tx.account))).first()
    return (found[0], found[1]) if found else None


async def letter_sent(tx: Transaction, row: ChecklistRow, at: datetime | None) -> None:
    """The time the letter of a validated checklist was recorded as sent (None: no longer),
    on its hand-over (the dashboard's letters on J0); nothing before validation."""
    handover = await tx.session.scalar(select(Handover).where(Handover.checklist_id == row.id))
    if handover is not None:
        handover.letter_at = at


async def checklist_at_discharge(tx: Transaction, care_room_id: int) -> ChecklistRow | None:
    """The discharge checklist validated for this room (the latest one), if the discharge bot
    kept one."""
    return await tx.session.scalar(select(ChecklistRow).join(
        Handover, Handover.checklist_id == ChecklistRow.id).where(
        Handover.care_room_id == care_room_id).order_by(Handover.id.desc()).limit(1))


class HandedOver:
    """The follow-up bot's reader of validated checklists (bots/episode/handover.py)."""

    def __init__(self, templates: Mapping[str, Template], zone: ZoneInfo) -> None:
        self.templates, self.zone = templates, zone

    async def __call__(self, tx: Transaction, care_room_id: int) -> ValidatedChecklist | None:
        row = await checklist_at_discharge(tx, care_room_id)
        template = self.templates.get(row.template) if row else None
        if row is None or template is None:
            return None
        c = open_checklist(tx, row, template, self.zone)
        return ValidatedChecklist(c.admission, tuple(
            ItemAnswer(item.id, item.label_fr, item.label_en, c.state(item.id).answer,
                       c.state(item.id).comment, item.followup_condition)
            for item in template.items))


class ChecklistProgress:
    """The dashboard's reader of checklists in progress (bots/episode/progress.py)."""

    def __init__(self, templates: Mapping[str, Template], zone: ZoneInfo) -> None:
        self.templates, self.zone = templates, zone

    async def __call__(self, tx: Transaction, care_room_ids: Sequence[int],
                       now: datetime) -> dict[int, DischargeProgress]:
        rows = (await tx.session.scalars(select(ChecklistRow).where(
            ChecklistRow.account == tx.account,
            ChecklistRow.care_room_id.in_(care_room_ids)))).all() if care_room_ids else []
        found = {}
        for row in rows:
            template = self.templates.get(row.template)
            if template is None:  # a template since removed from the configuration
                continue
            c = open_checklist(tx, row, template, self.zone)
            found[row.care_room_id] = DischargeProgress(
                discharge=c.discharge,
                answered=sum(1 for i in template.items if c.state(i.id).answer is not None),
                total=len(template.items),
                overdue=() if c.validated_at else tuple(
                    Overdue(i.id, i.roles, c.state(i.id).assignee) for i in c.overdue(now)),
                validated=c.validated_at is not None)
        return found
