"""The dashboard's tables: one row per logged-in session, kept server-side so that logout and
expiry are enforced by deleting it (no patient data, no Matrix token: the user ID only); and the
usage aggregates of the patient rooms (counts and delays, never content)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import Base, identifier, moment


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"
    # The SHA-256 of the session ID (session.digest): the cookie's value is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = identifier(index=True)
    created_at: Mapped[datetime] = moment()
    seen_at: Mapped[datetime] = moment(index=True)


class UsageRoom(Base):
    """How far a patient room's messages were counted (bots/dashboard/usage.py `RoomState`):
    the newest origin_server_ts counted, the events counted at it (space-separated), and the
    message waiting for a human answer (its sender and time)."""

    __tablename__ = "usage_rooms"
    account: Mapped[str] = identifier(primary_key=True)
    room_id: Mapped[str] = identifier(primary_key=True)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    last_ids: Mapped[str] = mapped_column(Text)
    waiting_sender: Mapped[str | None] = identifier()
    waiting_since: Mapped[int | None] = mapped_column(BigInteger)


class UsageCount(Base):
    """Messages and bot commands a sender wrote in a patient room on a day (the deployment's
    zone). Counts only: no content, no patient data."""

    __tablename__ = "usage_counts"
    account: Mapped[str] = identifier(primary_key=True)
    room_id: Mapped[str] = identifier(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    sender: Mapped[str] = identifier(primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    commands: Mapped[int] = mapped_column(Integer)


class UsageMonth(Base):
    """The day rows (`UsageCount`) of a month (YYYY-MM, the deployment's zone) summed: written
    beside them in the same transaction, so the Indicators page reads one row per room, month and
    sender and groups by month in SQL the same way on SQLite and PostgreSQL. The primary key
    leads with the month: a period is one range of it."""

    __tablename__ = "usage_months"
    account: Mapped[str] = identifier(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    room_id: Mapped[str] = identifier(primary_key=True)
    sender: Mapped[str] = identifier(primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)
    commands: Mapped[int] = mapped_column(Integer)


class UsageAnswer(Base):
    """A first human answer in a patient room: how long the message it answered waited, on the
    day of the answer; one row per answering event (a replay adds none)."""

    __tablename__ = "usage_answers"
    account: Mapped[str] = identifier(primary_key=True)
    event_id: Mapped[str] = identifier(primary_key=True)
    room_id: Mapped[str] = identifier()
    day: Mapped[date] = mapped_column(Date, index=True)
    seconds: Mapped[float] = mapped_column(Float)
