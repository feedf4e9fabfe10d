"""The discharge bot's tables: one checklist per patient room, its audit trail, the messages that
are about one item (a ✅ on them answers it). The hand-overs to the RH30 follow-up are the
episode's (bots/episode/models.py).

What users wrote (comments, reasons) and the checklist's answers are sealed by the vault; the clear
columns are what the bot looks rows up by.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bots.common.models import OnePerCareRoom
from bots.runtime.models import ID, Base, identifier, moment


class ChecklistRow(OnePerCareRoom, Base):
    """A patient's discharge checklist. `sealed` holds its state (records.py); `version` changes
    with every re-plan (date moved), and names the reminder jobs of that plan. `live_outbox_id` is
    the live message now edited in place; `pinned_event_id` the one pinned in the room."""

    __tablename__ = "discharge_checklists"
    sealed_by = ("care_room_id",)
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | validated
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    live_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    pinned_event_id: Mapped[str | None] = identifier()
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = moment()
    updated_at: Mapped[datetime] = moment()


class AuditEntry(Base):
    """Every answer, assignment, plan change, override, reminder, alert: who, when, what (the
    detail, which may quote a comment, sealed)."""

    __tablename__ = "discharge_audit"
    sealed_by = ("checklist_id", "id")  # nothing else unique: sealed once inserted (SealOnInsert)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    checklist_id: Mapped[int] = mapped_column(
        ForeignKey("discharge_checklists.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = moment()
    actor: Mapped[str] = identifier()  # a user ID, or the bot's
    action: Mapped[str] = mapped_column(String(32))
    item: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[bytes] = mapped_column(LargeBinary)


class ItemMessage(Base):
    """A message the bot posted about one item (reminder, answer, assignment); item 0: a live
    checklist message."""

    __tablename__ = "discharge_item_messages"
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    checklist_id: Mapped[int] = mapped_column(
        ForeignKey("discharge_checklists.id", ondelete="CASCADE"), index=True)
    item: Mapped[int] = mapped_column(Integer)
