"""The care rooms and their teams: the care-team bot writes them, the other bots and the bridge
read them (bots/common/records.py).

A row is also the work still to do on Matrix: a room `creating` is created by the provisioner, a
member not `applied` is invited or removed, a room `closing` is closed. A crash leaves the row as
it was and the provisioner picks it up again at start, so nothing is lost or half-done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import ID, Base, identifier, moment

# The kinds of care room (`CareRoom.kind`).
COORDINATION = "coordination"
PATIENT = "patient"


class CareRoom(Base):
    """A coordination room or a patient room. For a patient, `sealed` holds the identity (and
    the admission date) encrypted by the vault; `ins_index` / `traits_index` are blind indexes
    (HMAC) to find the patient again without storing the identity in clear."""

    __tablename__ = "care_rooms"
    __table_args__ = (UniqueConstraint("account", "ref"), UniqueConstraint("room_id"))
    sealed_by = ("account", "ref")  # the file number: set before the identity is sealed
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier(index=True)
    kind: Mapped[str] = mapped_column(String(16))  # coordination | patient
    room_id: Mapped[str | None] = identifier()
    ref: Mapped[str | None] = mapped_column(String(32))
    # creating | open | closing | closed | expiring | expired (retention over, identity erased)
    status: Mapped[str] = mapped_column(String(16), index=True)
    ward: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(100))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    ins_index: Mapped[str | None] = mapped_column(String(64), index=True)
    traits_index: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(2))
    requested_by: Mapped[str | None] = identifier()
    origin_room_id: Mapped[str | None] = identifier()
    cause_event_id: Mapped[str | None] = identifier()
    created_at: Mapped[datetime] = moment()
    opened_at: Mapped[datetime | None] = moment()
    closed_at: Mapped[datetime | None] = moment()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class TeamMember(Base):
    """A member of a room's team with their role. `desired` is what was asked (present/absent),
    `applied` whether Matrix was brought in line with it (the room itself says who joined)."""

    __tablename__ = "care_team"
    __table_args__ = (UniqueConstraint("care_room_id", "user_id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    care_room_id: Mapped[int] = mapped_column(
        ForeignKey("care_rooms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = identifier()
    role: Mapped[str | None] = mapped_column(String(16))
    desired: Mapped[str] = mapped_column(String(8))  # present | absent
    applied: Mapped[bool] = mapped_column(Boolean, index=True)
    requested_by: Mapped[str | None] = identifier()
    cause_event_id: Mapped[str | None] = identifier()
    language: Mapped[str] = mapped_column(String(2))
    updated_at: Mapped[datetime] = moment()
    last_error: Mapped[str | None] = mapped_column(Text)


class OnePerCareRoom:
    """The first columns of a table that holds one row per care room (a discharge checklist, a
    follow-up plan): its key, the account, the care room (deleted with it) and its Matrix room.
    They come first in the table, as the migrations create them (`sort_order`)."""

    id: Mapped[int] = mapped_column(ID, primary_key=True, sort_order=-1)
    account: Mapped[str] = identifier(index=True, sort_order=-1)
    care_room_id: Mapped[int] = mapped_column(
        ForeignKey("care_rooms.id", ondelete="CASCADE"), unique=True, sort_order=-1)
    room_id: Mapped[str] = identifier(index=True, sort_order=-1)
