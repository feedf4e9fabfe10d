"""The dashboard's table: one row per logged-in session, kept server-side so that logout and
expiry are enforced by deleting it. No patient data, no Matrix token: the user ID only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import Base, identifier, moment


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"
    # The SHA-256 of the session ID (session.digest): the cookie's value is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = identifier(index=True)
    created_at: Mapped[datetime] = moment()
    seen_at: Mapped[datetime] = moment(index=True)
