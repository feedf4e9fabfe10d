"""The usage aggregates in the database: written from each sync's messages (the runtime's
observer, `usage_observer`), read by the Indicators page. Only patient rooms of the care-team
records are counted; the rows hold counts, senders' user IDs and delays, never content."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import aliased

from bots.common.dates import month_of
from bots.common.models import PATIENT, CareRoom, TeamMember
from bots.dashboard.models import UsageAnswer, UsageCount, UsageMonth, UsageRoom
from bots.dashboard.usage import RoomState, Tally, observe
from bots.runtime.bot import Observer, Seen
from bots.runtime.store import Transaction, dialect_insert


def _state(row: UsageRoom) -> RoomState:
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
    for room_id in sorted(patient_rooms):  # locked in one order: two processes never deadlock
        row = await _locked(tx, room_id)
        state, tallies, answers = observe(_state(row), by_room[room_id], zone)
        row.last_ts, row.last_ids = state.last_ts, " ".join(sorted(state.last_ids))
        row.waiting_sender, row.waiting_since = state.waiting_sender, state.waiting_since
        for tally in tallies:
            # The day row and its month's row, in step: the month's is their sum.
            await _add(tx, UsageCount, (tx.account, room_id, tally.day, tally.sender), tally)
            await _add(tx, UsageMonth, (tx.account, month_of(tally.day), room_id, tally.sender),
                       tally)
        for answer in answers:
            if await tx.session.get(UsageAnswer, (tx.account, answer.event_id)) is None:
                tx.session.add(UsageAnswer(account=tx.account, event_id=answer.event_id,
                                           room_id=room_id, day=answer.day,
                                           seconds=answer.seconds))


async def _locked(tx: Transaction, room_id: str) -> UsageRoom:
    """The room's row, made if missing, locked until the transaction ends (PostgreSQL): another
    bots process counting the same messages waits here, then reads how far this one counted,
    so a message is counted once and no increment is lost. The row is made with ON CONFLICT DO
    NOTHING: both processes may make it at once."""
    key = (tx.account, room_id)
    row = await tx.session.get(UsageRoom, key, with_for_update=True)
    if row is None:
        fresh = RoomState()
        await tx.session.execute(dialect_insert(tx)(UsageRoom).values(
            account=tx.account, room_id=room_id, last_ts=fresh.last_ts, last_ids="")
            .on_conflict_do_nothing())
        row = await tx.session.get(UsageRoom, key, with_for_update=True)
    assert row is not None
    return row


async def _add(tx: Transaction, table: type[UsageCount] | type[UsageMonth],
               key: tuple[str, str | date, str, str], tally: Tally) -> None:
    """Adds a tally's counts to a row of `table` (its primary key `key`), made if missing."""
    row = await tx.session.get(table, key)
    if row is None:
        columns = [c.key for c in table.__mapper__.primary_key]
        tx.session.add(table(**dict(zip(columns, key, strict=True)), messages=tally.messages,
                             commands=tally.commands))
    else:
        row.messages += tally.messages
        row.commands += tally.commands


def usage_observer(zone: ZoneInfo) -> Observer:
    """The runtime's observer for the care-team account (given by bots/registry.py)."""
    async def observer(tx: Transaction, seen: list[Seen]) -> None:
        await record(tx, seen, zone)
    return observer


# The reads aggregate in the database, one query each: a coordinator's scope may be 20,000 rooms
# with hundreds of thousands of day rows (bench/dashboard.py).


def in_scope(member: str | None) -> ColumnElement[bool]:
    """The patient rooms of the records, or only those whose team has `member`."""
    rooms = CareRoom.kind == PATIENT
    if member is None:
        return rooms
    return rooms & CareRoom.id.in_(select(TeamMember.care_room_id).where(
        TeamMember.user_id == member, TeamMember.desired == "present"))


async def activity(tx: Transaction, member: str | None, months: tuple[str, str]
                   ) -> list[tuple[str, str | None, str, str | None, int, int]]:
    """(month, ward, sender, their role in the room's team, messages, commands) in a period of
    months (YYYY-MM, inclusive), in the rooms in scope (`member`: only that person's rooms;
    None: all). From the monthly rows: the ward and the role are the room's and team's now."""
    role = aliased(TeamMember)
    rows = await tx.session.execute(
        select(UsageMonth.month, CareRoom.ward, UsageMonth.sender, role.role,
               func.sum(UsageMonth.messages), func.sum(UsageMonth.commands))
        .join(CareRoom, (CareRoom.room_id == UsageMonth.room_id)
              & (CareRoom.account == UsageMonth.account))
        .outerjoin(role, (role.care_room_id == CareRoom.id) & (role.user_id == UsageMonth.sender))
        .where(UsageMonth.account == tx.account, UsageMonth.month >= months[0],
               UsageMonth.month <= months[1], in_scope(member))
        .group_by(UsageMonth.month, CareRoom.ward, UsageMonth.sender, role.role))
    return [(month, ward, sender, r, int(m), int(c)) for month, ward, sender, r, m, c in rows]


async def answers(tx: Transaction, member: str | None, first: date, last: date
                  ) -> list[tuple[str, str | None, float]]:
    """(month, ward, seconds waited) of the first human answers in the rooms in scope."""
    rows = await tx.session.execute(
        select(UsageAnswer.day, CareRoom.ward, UsageAnswer.seconds)
        .join(CareRoom, (CareRoom.room_id == UsageAnswer.room_id)
              & (CareRoom.account == UsageAnswer.account))
        .where(UsageAnswer.account == tx.account, UsageAnswer.day >= first,
               UsageAnswer.day <= last, in_scope(member)))
    return [(month_of(day), ward, seconds) for day, ward, seconds in rows]


async def up_to_date(tx: Transaction, member: str | None, since: date
                     ) -> list[tuple[str | None, int, int]]:
    """(ward, open rooms, those with a message on or after `since`) of the open rooms in scope
    that have a Matrix room and a reference, counted in the database."""
    # Per room, a look-up along the day rows' key (account, room, day): no scan of the month.
    recent = select(UsageCount.room_id).where(
        UsageCount.account == CareRoom.account, UsageCount.room_id == CareRoom.room_id,
        UsageCount.day >= since).exists()
    rows = await tx.session.execute(
        select(CareRoom.ward, func.count(), func.count(case((recent, 1))))
        .where(CareRoom.account == tx.account, CareRoom.status == "open",
               CareRoom.room_id.is_not(None), CareRoom.ref.is_not(None), in_scope(member))
        .group_by(CareRoom.ward))
    return [(ward, int(rooms), int(updated)) for ward, rooms, updated in rows]
