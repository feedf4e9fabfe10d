"""The episode's shared rows, read and written inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bots.episode.models import EpisodeRisk, LetterMail
from bots.episode.risk import Level, Risk, with_score
from bots.runtime.store import Transaction, utcnow


async def risk_of(tx: Transaction, care_room_id: int) -> Level | None:
    row = await tx.session.get(EpisodeRisk, care_room_id)
    if row is None:
        return None
    return Level(row.risk, row.source, row.by,  # type: ignore[arg-type]
                 tx.vault.open(row.reason, row.bound("reason")).get("reason"))


async def set_risk(tx: Transaction, care_room_id: int, level: Level) -> None:
    row = await tx.session.get(EpisodeRisk, care_room_id)
    if row is None:
        row = EpisodeRisk(care_room_id=care_room_id)
        tx.session.add(row)
    row.risk, row.source, row.by, row.at = level.risk, level.source, level.by, utcnow()
    row.reason = tx.vault.seal({"reason": level.reason}, row.bound("reason"))


def letter_mail_sent(tx: Transaction, room_id: str, outbound_id: int, at: datetime) -> None:
    """The bridge sent a mail with a document from `room_id` (its transaction)."""
    tx.session.add(LetterMail(room_id=room_id, outbound_id=outbound_id, sent_at=at))


async def letter_mails(tx: Transaction) -> list[LetterMail]:
    """Mails not taken up yet, oldest first, claimed until `tx` ends: locked on PostgreSQL, where
    another bots process taking them up at once skips them (SKIP LOCKED) instead of taking them
    up too, and finds them taken once this transaction commits."""
    return list((await tx.session.scalars(select(LetterMail).where(
        LetterMail.taken_at.is_(None)).order_by(LetterMail.id)
        .with_for_update(skip_locked=True))).all())


async def score_risk(tx: Transaction, care_room_id: int, risk: Risk, by: str) -> Level:
    """A score's class entered for the episode: the level it leaves (the highest wins)."""
    current = await risk_of(tx, care_room_id)
    level = with_score(current, risk, by)
    if level != current:
        await set_risk(tx, care_room_id, level)
    return level
