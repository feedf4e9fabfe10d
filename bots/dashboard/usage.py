"""Usage counts of the patient rooms, from what the runtime sees of each room message (sender,
time, command or not; never the content): per room, day and sender, messages and commands, and
the time to the first human answer (docs/CLINICAL.md §6). Pure: a room's state and its new
messages in, the new state and what to add out.

Restart-safe: a room's state keeps the newest `origin_server_ts` counted and the events counted
at that very millisecond; a replayed sync hands the same events again and they are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bots.runtime.bot import Seen


@dataclass(frozen=True)
class RoomState:
    """How far a patient room was counted, and the message waiting for an answer."""

    last_ts: int = -1  # the newest origin_server_ts counted (ms)
    last_ids: frozenset[str] = frozenset()  # the events counted at last_ts
    waiting_sender: str | None = None  # who wrote the message waiting for another human
    waiting_since: int | None = None  # its origin_server_ts (ms)

    def counted(self, message: Seen) -> bool:
        return message.ts < self.last_ts or (
            message.ts == self.last_ts and message.event_id in self.last_ids)


@dataclass(frozen=True)
class Tally:
    """What to add to a (room, day, sender) row."""

    room_id: str
    day: date
    sender: str
    messages: int = 0
    commands: int = 0


@dataclass(frozen=True)
class Answer:
    """A first human answer: the event that answered, on the day of the answer, how long the
    message it answered waited."""

    room_id: str
    event_id: str
    day: date
    seconds: float


def day_of(ts: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts / 1000, UTC).astimezone(zone).date()


def observe(state: RoomState, messages: Iterable[Seen], zone: ZoneInfo
            ) -> tuple[RoomState, list[Tally], list[Answer]]:
    """One room's new messages (in timeline order) counted: the state after them, the tallies
    (one per day and sender) and the answers. Messages already counted are skipped.

    A message that is not a command waits for an answer when none waits; the first later one
    from another sender answers it (commands talk to the bots: they neither wait nor answer)."""
    tallies: dict[tuple[date, str], Tally] = {}
    answers: list[Answer] = []
    for message in messages:
        if state.counted(message):
            continue
        day = day_of(message.ts, zone)
        tally = tallies.get((day, message.sender), Tally(message.room_id, day, message.sender))
        tallies[(day, message.sender)] = replace(
            tally, messages=tally.messages + 1, commands=tally.commands + message.command)
        # Not counted: at or after last_ts.
        ids = state.last_ids if message.ts == state.last_ts else frozenset()
        state = replace(state, last_ts=message.ts, last_ids=ids | {message.event_id})
        if message.command:
            continue
        if state.waiting_sender is None:
            state = replace(state, waiting_sender=message.sender, waiting_since=message.ts)
        elif message.sender != state.waiting_sender:
            waited = max(0, message.ts - (state.waiting_since or message.ts)) / 1000
            answers.append(Answer(message.room_id, message.event_id, day, waited))
            state = replace(state, waiting_sender=None, waiting_since=None)
    return state, list(tallies.values()), answers
