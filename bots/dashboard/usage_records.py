"""The usage aggregates in the database: written from each sync's messages (the runtime's
observer, `usage_observer`), read by the Indicators page. Only patient rooms of the care-team
records are counted; the rows hold counts, senders' user IDs and delays, never content."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.models import PATIENT, CareRoom
from bots.dashboard.models import UsageAnswer, UsageCount, UsageRoom
from bots.dashboard.usage import RoomState, observe
from bots.runtime.bot import Observer, Seen
from bots.runtime.store import Transaction


def _state(row: UsageRoom | None) -> RoomState:
    if row is None:
        return RoomState()
    return RoomState(row.last_ts, frozenset(row.last_ids.split()), row.waiting_sender,
                     row.waiting_since)


async def record(tx: Transaction, seen: Sequence[Seen], zone: ZoneInfo) -> None:
    """Counts a sync's messages in the patient rooms among them (upserts, one transaction)."""
    by_room: dict[str, list[Seen]] = defaultdict(list)
    for message in seen:
        by_room[message.room_id].append(message)
    patient_rooms = set((await tx.session.scalars(select(CareRoom.room_id).where(
        CareRoom.account == tx.account, CareRoom.kind == PATIENT,
        CareRoom.room_id.in_(list(by_room))))).all())
    for room_id in sorted(patient_rooms):
        row = await tx.session.get(UsageRoom, (tx.account, room_id))
        state, tallies, answers = observe(_state(row), by_room[room_id], zone)
        if row is None:
            row = UsageRoom(account=tx.account, room_id=room_id)
            tx.session.add(row)
        row.last_ts, row.last_ids = state.last_ts, " ".join(sorted(state.last_ids))
        row.waiting_sender, row.waiting_since = state.waiting_sender, state.waiting_since
        for tally in tallies:
            key = (tx.account, room_id, tally.day, tally.sender)
            count = await tx.session.get(UsageCount, key)
            if count is None:
                tx.session.add(UsageCount(account=tx.account, room_id=room_id, day=tally.day,
                                          sender=tally.sender, messages=tally.messages,
                                          commands=tally.commands))
            else:
                count.messages += tally.messages
                count.commands += tally.commands
        for answer in answers:
            if await tx.session.get(UsageAnswer, (tx.account, answer.event_id)) is None:
                tx.session.add(UsageAnswer(account=tx.account, event_id=answer.event_id,
                                           room_id=room_id, day=answer.day,
                                           seconds=answer.seconds))


def usage_observer(zone: ZoneInfo) -> Observer:
    """The runtime's observer for the care-team account (given by bots/registry.py)."""
    async def observer(tx: Transaction, seen: list[Seen]) -> None:
        await record(tx, seen, zone)
    return observer


# The reads take the period's rows and keep the rooms in scope here: a coordinator's scope may
# be thousands of rooms, more than a query's parameters allow.

async def counts(tx: Transaction, room_ids: AbstractSet[str], first: date, last: date
                 ) -> list[tuple[str, date, str, int, int]]:
    """(room, day, sender, messages, commands) of these rooms between two days, inclusive."""
    rows = await tx.session.execute(select(
        UsageCount.room_id, UsageCount.day, UsageCount.sender, UsageCount.messages,
        UsageCount.commands).where(
        UsageCount.account == tx.account, UsageCount.day >= first, UsageCount.day <= last))
    return [(r, d, s, m, c) for r, d, s, m, c in rows.all() if r in room_ids]


async def answers(tx: Transaction, room_ids: AbstractSet[str], first: date, last: date
                  ) -> list[tuple[str, date, float]]:
    """(room, day, seconds waited) of the first human answers in these rooms."""
    rows = await tx.session.execute(select(
        UsageAnswer.room_id, UsageAnswer.day, UsageAnswer.seconds).where(
        UsageAnswer.account == tx.account, UsageAnswer.day >= first, UsageAnswer.day <= last))
    return [(r, d, s) for r, d, s in rows.all() if r in room_ids]
