"""The usage aggregates (bots/dashboard/usage.py, usage_records.py): messages and commands per
room, day and sender, the first human answers, restart-safe. Pure, then SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio
from nio import RoomMessageText
from sqlalchemy import select

from bots.careteam import records as careteam
from bots.careteam.requests import Member, OpenRequest
from bots.common.identity import make_identity
from bots.config import AccountConfig
from bots.dashboard import usage_records
from bots.dashboard.models import UsageAnswer, UsageCount
from bots.dashboard.usage import RoomState, day_of, observe
from bots.runtime.bot import Seen
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from tests.harness import BOT, Harness
from tests.migrated import sqlite_at_head

PARIS = ZoneInfo("Europe/Paris")
ACCOUNT = "@bot:h.fr"
ROOM = "!r:h.fr"


def ms(hour: int, minute: int = 0, day: int = 5) -> int:
    return int(datetime(2026, 12, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def seen(n: int, sender: str, ts: int, command: bool = False, room: str = ROOM) -> Seen:
    return Seen(room, f"$e{n}", sender, ts, command)


def test_messages_and_commands_are_counted_per_day_and_sender():
    messages = [seen(1, "@a:h", ms(9)), seen(2, "@a:h", ms(9, 1), command=True),
                seen(3, "@b:h", ms(10)), seen(4, "@a:h", ms(23, 30))]  # 00:30 in Paris: the 6th
    _, tallies, _ = observe(RoomState(), messages, PARIS)
    got = {(t.day, t.sender): (t.messages, t.commands) for t in tallies}
    assert got == {(date(2026, 12, 5), "@a:h"): (2, 1), (date(2026, 12, 5), "@b:h"): (1, 0),
                   (date(2026, 12, 6), "@a:h"): (1, 0)}


def test_the_first_answer_from_another_human_closes_the_wait():
    messages = [seen(1, "@a:h", ms(9)), seen(2, "@a:h", ms(9, 5)),  # a second line still waits
                seen(3, "@x:h", ms(9, 7), command=True),  # a command neither waits nor answers
                seen(4, "@b:h", ms(9, 20)),  # answers the 09:00 message
                seen(5, "@b:h", ms(10)),  # waits again
                seen(6, "@a:h", ms(10, 30))]
    state, _, answers = observe(RoomState(), messages, PARIS)
    assert [(a.event_id, a.seconds) for a in answers] == [("$e4", 1200.0), ("$e6", 1800.0)]
    assert state.waiting_sender is None


def test_a_wait_carries_over_to_the_next_sync():
    state, _, answers = observe(RoomState(), [seen(1, "@a:h", ms(9))], PARIS)
    assert answers == [] and state.waiting_sender == "@a:h"
    state, _, answers = observe(state, [seen(2, "@b:h", ms(11))], PARIS)
    assert [(a.seconds, a.day) for a in answers] == [(7200.0, date(2026, 12, 5))]


def test_a_replayed_sync_counts_nothing_twice():
    first = [seen(1, "@a:h", ms(9)), seen(2, "@b:h", ms(9, 10)), seen(3, "@c:h", ms(9, 10))]
    state, tallies, answers = observe(RoomState(), first, PARIS)
    assert sum(t.messages for t in tallies) == 3 and len(answers) == 1
    # The restart replays the same events, then one more at the same millisecond.
    again, tallies, answers = observe(state, [*first, seen(4, "@d:h", ms(9, 10))], PARIS)
    assert [(t.sender, t.messages) for t in tallies] == [("@d:h", 1)]
    assert [a.event_id for a in answers] == ["$e4"]  # answers $e3, which waited after $e2
    assert again.last_ids == {"$e2", "$e3", "$e4"}


def test_days_are_the_deployments_zone():
    assert day_of(ms(22, 59), PARIS) == date(2026, 12, 5)
    assert day_of(ms(23, 0), PARIS) == date(2026, 12, 6)


@pytest_asyncio.fixture
async def store(tmp_path: Path):
    url = await asyncio.to_thread(sqlite_at_head, tmp_path / "bots.db")
    store = Store(url, Vault([Vault.new_key()]))
    yield store
    await store.close()


async def test_only_patient_rooms_are_recorded_and_replays_add_nothing(store: Store):
    async with store.transaction(ACCOUNT) as tx:
        room, _ = await careteam.register_patient(
            tx, OpenRequest(make_identity("DUPONT", "Marie", date(1948, 3, 12), "F"),
                            team=(Member("@dac:h.fr", "DAC"),), ward="Cardiologie"),
            prefix="P", language="fr", requested_by="api")
        room.status, room.room_id = "open", ROOM
    observer = usage_records.usage_observer(PARIS)
    sync = [seen(1, "@a:h", ms(9)), seen(2, "@b:h", ms(9, 3), command=True),
            seen(3, "@b:h", ms(9, 4)), seen(9, "@a:h", ms(9), room="!coordination:h.fr")]
    for _ in range(2):  # the second: a replay after a restart
        async with store.transaction(ACCOUNT) as tx:
            await observer(tx, sync)
    async with store.transaction(ACCOUNT) as tx:
        await observer(tx, [seen(4, "@a:h", ms(9, 10))])
    async with store.reading(ACCOUNT) as tx:
        rows = (await tx.session.execute(select(
            UsageCount.room_id, UsageCount.sender, UsageCount.messages, UsageCount.commands)
            .order_by(UsageCount.sender))).all()
        answered = (await tx.session.scalars(select(UsageAnswer.seconds))).all()
        read = await usage_records.activity(tx, None, ("2026-12", "2026-12"))
        theirs = await usage_records.activity(tx, "@dac:h.fr", ("2026-12", "2026-12"))
        none = await usage_records.activity(tx, "@other:h.fr", ("2026-12", "2026-12"))
        earlier = await usage_records.activity(tx, None, ("2026-10", "2026-11"))
    assert [tuple(r) for r in rows] == [(ROOM, "@a:h", 2, 0), (ROOM, "@b:h", 2, 1)]
    assert list(answered) == [240.0]
    assert sorted(read) == [("2026-12", "Cardiologie", "@a:h", None, 2, 0),
                            ("2026-12", "Cardiologie", "@b:h", None, 2, 1)]
    assert sorted(theirs) == sorted(read) and none == [] and earlier == []


async def test_the_indicator_reads_follow_the_persons_scope(store: Store):
    from bots.common.models import COORDINATION, CareRoom, TeamMember
    from bots.dashboard.indicator_data import inputs, scope
    from bots.dashboard.indicators import tables
    from bots.followup.figures import figures_reader
    from bridge.records import mail_counter

    async with store.transaction(ACCOUNT) as tx:
        for n, (name, team) in enumerate([("DUPONT", "@ide:h.fr"), ("MARTIN", "@other:h.fr")]):
            room, _ = await careteam.register_patient(
                tx, OpenRequest(make_identity(name, "X", date(1950, 1, 1), "F"),
                                team=(Member(team, "IDE"),), ward="Cardiologie"),
                prefix="P", language="fr", requested_by="api")
            room.status, room.room_id = "open", f"!p{n}:h.fr"
            room.opened_at = datetime(2026, 12, 1, 9, tzinfo=UTC)
        coordination = CareRoom(account=ACCOUNT, kind=COORDINATION, room_id="!c:h.fr",
                                status="open", sealed=b"", language="fr",
                                created_at=datetime(2026, 1, 1, tzinfo=UTC))
        tx.session.add(coordination)
        await tx.session.flush()
        tx.session.add(TeamMember(care_room_id=coordination.id, user_id="@dac:h.fr",
                                  role="DAC", desired="present", applied=True, language="fr",
                                  updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
        observer = usage_records.usage_observer(PARIS)
        await observer(tx, [seen(1, "@ide:h.fr", ms(9), room="!p0:h.fr"),
                            seen(2, "@other:h.fr", ms(9), room="!p1:h.fr"),
                            seen(3, "@ide:h.fr", ms(9, day=1) - 86_400_000 * 40,
                                 room="!p0:h.fr")])  # October: outside the period
    reader, mails = figures_reader(PARIS), mail_counter(PARIS)
    async with store.reading(ACCOUNT) as tx:
        nurse = await inputs(tx, await scope(tx, "@ide:h.fr"), ("2026-12", "2026-12"),
                             date(2026, 12, 5), PARIS, reader, mails)
        dac = await inputs(tx, await scope(tx, "@dac:h.fr"), ("2026-12", "2026-12"),
                           date(2026, 12, 5), PARIS, reader, mails)
    assert [r.room_id for r in nurse.rooms] == ["!p0:h.fr"]
    assert sorted(r.room_id for r in dac.rooms) == ["!p0:h.fr", "!p1:h.fr"]
    found = {t.name: t for t in tables(nurse, "fr")}
    assert ("2026-12", "tous", 1, 1, 0, 1, None, 0, 0) in found["usage"].rows
    assert found["professionals"].rows == [("2026-12", "IDE", "autre", None, 1)]
    assert found["up_to_date"].rows[-1] == ("tous", 1, "1/1 (100,0 %)")
    usage = {t.name: t for t in tables(dac, "fr")}["usage"].rows
    assert ("2026-12", "tous", 2, 2, 0, 2, None, 0, 0) in usage


async def test_the_deployments_other_accounts_are_not_people(tmp_path: Path):
    """A notice from another of the deployment's bot accounts is neither a professional's
    message nor an answer (the runtime's `_seen`, before any count)."""
    bots = ("careteam", "discharge")
    accounts = (AccountConfig(BOT, "pw", "Liaison", bots),
                AccountConfig("@autre-bot:h.fr", "pw", "Autre", bots))
    async with Harness.start(tmp_path, bots=bots, accounts=accounts) as h:

        def notice(sender: str) -> RoomMessageText:
            return RoomMessageText.from_dict({
                "event_id": "$n", "sender": sender, "origin_server_ts": 0,
                "type": "m.room.message", "content": {"msgtype": "m.notice", "body": "Rappel"}})

        assert h.runtime._seen(ROOM, notice("@idec:h.fr")) is not None
        assert h.runtime._seen(ROOM, notice("@autre-bot:h.fr")) is None
