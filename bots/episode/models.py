"""Tables shared by the bots of a patient episode: its risk level, the mails with a document that
left a room by MSSanté (for the lettre de liaison), and the validated discharges the discharge bot
hands over to the RH30 follow-up."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import ID, Base, identifier, moment


class EpisodeRisk(Base):
    """The episode's readmission-risk level (no row: unknown). `source`: score | hand |
    lowered; `reason` (sealed): why a physician lowered it."""

    __tablename__ = "episode_risks"
    sealed_by = ("care_room_id",)
    care_room_id: Mapped[int] = mapped_column(
        ForeignKey("care_rooms.id", ondelete="CASCADE"), primary_key=True)
    risk: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = identifier()
    at: Mapped[datetime] = moment()
    reason: Mapped[bytes] = mapped_column(LargeBinary)


class LetterMail(Base):
    """A mail with a document that the MSSanté bridge sent from a patient room: the discharge
    bot takes it as the lettre de liaison sent (`taken_at` once it has)."""

    __tablename__ = "episode_letter_mails"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    room_id: Mapped[str] = identifier(index=True)
    outbound_id: Mapped[int] = mapped_column(Integer, unique=True)
    sent_at: Mapped[datetime] = moment()
    taken_at: Mapped[datetime | None] = moment(index=True)


class Handover(Base):
    """A validated discharge, for the RH30 follow-up to take up (`taken_at` once it has): its
    mode and iterative flag, the ward then, and whether its checklist was complete and on time
    (`compliant`, docs/CLINICAL.md §2); when its lettre de liaison was recorded as sent
    (`letter_at`: the letter's item answered Oui, by hand or by the MSSanté bridge). A discharge
    the hospital cancels (ADT A13) loses its hand-over (bots/discharge/withdrawal.py)."""

    __tablename__ = "discharge_handovers"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier(index=True)
    checklist_id: Mapped[int] = mapped_column(
        ForeignKey("discharge_checklists.id", ondelete="CASCADE"), unique=True)
    care_room_id: Mapped[int] = mapped_column(ForeignKey("care_rooms.id", ondelete="CASCADE"))
    discharged_on: Mapped[date] = mapped_column(Date)
    risk: Mapped[str | None] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16), default="domicile")
    iterative: Mapped[bool] = mapped_column(Boolean, default=False)
    ward: Mapped[str | None] = mapped_column(String(100))
    compliant: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = moment()
    taken_at: Mapped[datetime | None] = moment()
    letter_at: Mapped[datetime | None] = moment()
