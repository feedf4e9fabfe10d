"""The dashboard's sessions in the database: opened at login, found (and kept alive) on each
page, closed at logout, ended by expiry. Inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_

from bots.dashboard.models import DashboardSession
from bots.dashboard.session import Lifetime, digest, new_token
from bots.runtime.store import Transaction, as_utc

# Pages within this long of the last recorded use do not write it again.
TOUCH_EVERY = timedelta(minutes=1)


async def open_session(tx: Transaction, user_id: str, lifetime: Lifetime, now: datetime) -> str:
    """A new session for the user (the cookie's value); the expired ones go at the same time."""
    await tx.session.execute(delete(DashboardSession).where(or_(
        DashboardSession.seen_at <= now - lifetime.idle,
        DashboardSession.created_at <= now - lifetime.absolute)))
    token = new_token()
    tx.session.add(DashboardSession(token_hash=digest(token), user_id=user_id, created_at=now,
                                    seen_at=now))
    return token


async def session_user(tx: Transaction, token: str, lifetime: Lifetime,
                       now: datetime) -> str | None:
    """The user of a live session, whose use is recorded; None (and the row gone) if it
    expired or never existed."""
    row = await tx.session.get(DashboardSession, digest(token))
    if row is None:
        return None
    if lifetime.expired(as_utc(row.created_at), as_utc(row.seen_at), now):
        await tx.session.delete(row)
        return None
    if now - as_utc(row.seen_at) >= TOUCH_EVERY:
        row.seen_at = now
    return row.user_id


async def close_session(tx: Transaction, token: str) -> None:
    await tx.session.execute(delete(DashboardSession).where(
        DashboardSession.token_hash == digest(token)))
