"""Tables shared by the bots of a patient episode: its risk level, and the mails with a
document that left a room by MSSanté (for the lettre de liaison)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class EpisodeRisk(Base):
    """The episode's readmission-risk level (no row: unknown). `source`: score | hand |
    lowered; `reason` (sealed): why a physician lowered it."""

    __tablename__ = "episode_risks"
    sealed_by = ("care_room_id",)
    care_room_id: Mapped[int] = mapped_column(
        ForeignKey("care_rooms.id", ondelete="CASCADE"), primary_key=True)
    risk: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[bytes] = mapped_column(LargeBinary)


class LetterMail(Base):
    """A mail with a document that the MSSanté bridge sent from a patient room: the discharge
    bot takes it as the lettre de liaison sent (`taken_at` once it has)."""

    __tablename__ = "episode_letter_mails"
    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    outbound_id: Mapped[int] = mapped_column(Integer, unique=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
