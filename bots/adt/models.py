"""The ADT intake's table: every message the feed sent, as received (sealed), and how far it
went. The intake process (`liaison adt`) writes a row before it acknowledges the message; the
bots process applies the rows in order per patient. A row is the work still to do, so a crash
on either side loses nothing, and the unique (sender, control ID) makes a resent message the
same row: acknowledged again, never applied twice.

`state`:
- `stored`: taken, not yet applied;
- `waiting`: cannot be applied yet (a discharge before its admission): tried again when the
  patient's next message is applied;
- `applied`: done (`care_room_id` says in which room);
- `cancelled`: an admission applied, then cancelled by a later A11 (which a second A11 finds);
- `quarantined`: refused (`reason`, `field`: never a value) or impossible to apply (an unknown
  ward); listed in the coordination room, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import ID, Base, identifier, moment


class AdtMessage(Base):
    __tablename__ = "adt_messages"
    __table_args__ = (UniqueConstraint("sender", "control_id"),)
    sealed_by = ("sender", "control_id")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # MSH-3 and MSH-4 (application^facility): which system numbered the message. No patient data.
    sender: Mapped[str] = identifier()
    control_id: Mapped[str] = identifier()  # MSH-10
    event: Mapped[str | None] = mapped_column(String(8))  # A01, A03…; None when unreadable
    # Blind index (vault.index) of the patient's INS: the rows of one patient, in order,
    # without the INS in clear. None for a refused message whose INS could not be read.
    patient: Mapped[str | None] = mapped_column(String(64), index=True)
    # Blind index of the sender's facility and the IPP (PID-3, type PI): how a merge (A40),
    # which names the merged-away patient by IPP (MRG-1), finds that patient's INS index.
    ipp: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    field: Mapped[str | None] = mapped_column(String(16))
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: the message as received
    care_room_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_rooms.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = moment()
    applied_at: Mapped[datetime | None] = moment()
    # When the coordination room was told of a quarantined row (told once).
    reported_at: Mapped[datetime | None] = moment()


class AdtAlias(Base):
    """A patient merged away by the hospital (A40): messages that still name them by their INS
    are applied to the surviving patient from then on. Blind indexes only; the survivor's
    identity (as the A40's PID gave it) sealed, to stand for the old one in those messages."""

    __tablename__ = "adt_aliases"
    sealed_by = ("prior",)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    prior: Mapped[str] = mapped_column(String(64), unique=True)  # the old INS's blind index
    survivor: Mapped[str] = mapped_column(String(64), index=True)  # the surviving INS's
    identity: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: the survivor's Identity
    merged_at: Mapped[datetime] = moment()
