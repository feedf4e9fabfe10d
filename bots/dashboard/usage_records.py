"""The usage aggregates in the database: written from each sync's messages (the runtime's
observer, `usage_observer`), read by the Indicators page. Only patient rooms of the care-team
records are counted; the rows hold counts, senders' user IDs and delays, never content."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import aliased

from bots.common.models import PATIENT, CareRoom, TeamMember
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


# The reads aggregate in the database, one query per month, grouped by ward, sender and role: a
# coordinator's scope may be 20,000 rooms with hundreds of thousands of day rows (bench/dashboard).


def months_of(first: date, last: date) -> list[tuple[str, date, date]]:
    """(YYYY-MM, first day, last day) of each month from `first`'s to `last`'s."""
    found, day = [], first.replace(day=1)
    while day <= last:
        after = (day + timedelta(days=32)).replace(day=1)
        found.append((f"{day.year:04d}-{day.month:02d}", day, after - timedelta(days=1)))
        day = after
    return found


def _in_scope(member: str | None) -> ColumnElement[bool]:
    """The patient rooms of the records, or only those whose team has `member`."""
    rooms = CareRoom.kind == PATIENT
    if member is None:
        return rooms
    return rooms & CareRoom.id.in_(select(TeamMember.care_room_id).where(
        TeamMember.user_id == member, TeamMember.desired == "present"))


async def activity(tx: Transaction, member: str | None, first: date, last: date
                   ) -> list[tuple[str, str | None, str, str | None, int, int]]:
    """(month, ward, sender, their role in the room's team, messages, commands) between two
    days, in the rooms in scope (`member`: only that person's rooms; None: all)."""
    role = aliased(TeamMember)
    found = []
    for month, start, end in months_of(first, last):
        rows = await tx.session.execute(
            select(CareRoom.ward, UsageCount.sender, role.role, func.sum(UsageCount.messages),
                   func.sum(UsageCount.commands))
            .join(CareRoom, (CareRoom.room_id == UsageCount.room_id)
                  & (CareRoom.account == UsageCount.account))
            .outerjoin(role, (role.care_room_id == CareRoom.id)
                       & (role.user_id == UsageCount.sender))
            .where(UsageCount.account == tx.account, UsageCount.day >= max(start, first),
                   UsageCount.day <= min(end, last), _in_scope(member))
            .group_by(CareRoom.ward, UsageCount.sender, role.role))
        found.extend((month, ward, sender, r, int(m), int(c)) for ward, sender, r, m, c in rows)
    return found


async def answers(tx: Transaction, member: str | None, first: date, last: date
                  ) -> list[tuple[str, str | None, float]]:
    """(month, ward, seconds waited) of the first human answers in the rooms in scope."""
    found = []
    for month, start, end in months_of(first, last):
        rows = await tx.session.execute(
            select(CareRoom.ward, UsageAnswer.seconds)
            .join(CareRoom, (CareRoom.room_id == UsageAnswer.room_id)
                  & (CareRoom.account == UsageAnswer.account))
            .where(UsageAnswer.account == tx.account, UsageAnswer.day >= max(start, first),
                   UsageAnswer.day <= min(end, last), _in_scope(member)))
        found.extend((month, ward, seconds) for ward, seconds in rows)
    return found


async def updated_since(tx: Transaction, member: str | None, since: date) -> set[str]:
    """The rooms in scope with a message on or after `since`."""
    return set((await tx.session.scalars(
        select(UsageCount.room_id).distinct()
        .join(CareRoom, (CareRoom.room_id == UsageCount.room_id)
              & (CareRoom.account == UsageCount.account))
        .where(UsageCount.account == tx.account, UsageCount.day >= since,
               _in_scope(member)))).all())
