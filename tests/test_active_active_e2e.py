"""Two bots processes for one account on PostgreSQL, against the real Synapse with a real E2EE
clinician (docs/SCALING.md): two devices cross-signed by the one identity, each command of a
stream answered exactly once, and still when one process stops in the middle of it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import select

from bots.runtime.crosssigning import cross_signed_devices, master_key_of, query_keys
from bots.runtime.models import OutboxMessage
from tests.conftest import BotFactory, BotHandle, ClinicianFactory

COMMANDS = 12


async def test_two_processes_one_identity_each_command_answered_once(
        make_bot: BotFactory, make_clinician: ClinicianFactory, pg_database: str) -> None:
    a = await make_bot(database=pg_database, instance="a")
    b = BotHandle(replace(a.config, instance="b"))
    await b.start()
    try:
        assert a.runtime and b.runtime
        devices = {a.runtime.client.device_id, b.runtime.client.device_id}
        assert len(devices) == 2 and None not in devices
        doc = await make_clinician()
        query = await query_keys(doc.client, [a.user_id])
        # What Element checks: both devices signed by the account's one master key.
        assert cross_signed_devices(query, a.user_id) == dict.fromkeys(devices, True)
        assert master_key_of(query, a.user_id) == a.runtime.cross_signing.master_key \
            == b.runtime.cross_signing.master_key

        room_id = await doc.create_room(invite=[a.user_id])
        await doc.wait_joined(room_id, a.user_id)
        sent = []
        for n in range(COMMANDS):
            sent.append(await doc.send(room_id, f"!ping {n}"))
            if n == COMMANDS // 2:
                await a.stop()  # one process goes away mid-stream; b carries on alone
            await asyncio.sleep(0.2)
        for n, event_id in enumerate(sent):
            reply = await doc.reply_to(room_id, event_id, a.user_id, timeout=60)
            assert reply.body == f"pong {n}"
        await asyncio.sleep(3)  # a late double would have arrived by now
        counts = [len(doc.replies_to(room_id, e, a.user_id)) for e in sent]
        assert counts == [1] * COMMANDS
    finally:
        await b.stop()



def expire_leases(database: str) -> None:
    """The lease of every pending outbox row runs out now: its holder is dead, and the test
    does not wait the 30 s for that."""
    with psycopg.connect(database.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("UPDATE outbox SET lease_until = now() - interval '1 second' "
                     "WHERE state = 'pending'")


async def outbox(bot: BotHandle) -> list[OutboxMessage]:
    assert bot.store
    async with bot.store.reading(bot.user_id) as tx:
        return list((await tx.session.scalars(select(OutboxMessage).where(
            OutboxMessage.account == bot.user_id))).all())


async def test_a_reply_sent_by_a_process_killed_before_marking_it_goes_out_once(
        make_bot: BotFactory, make_clinician: ClinicianFactory, pg_database: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    a = await make_bot(database=pg_database, instance="a")
    assert a.store
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[a.user_id])
    await doc.wait_joined(room_id, a.user_id)
    on_the_homeserver = asyncio.Event()

    async def killed(*_args: object, **_kwargs: object) -> bool:
        on_the_homeserver.set()  # sent, and the process dies before marking the row sent
        await asyncio.Event().wait()
        return False

    monkeypatch.setattr(a.store, "outbox_done", killed)
    command = await doc.send(room_id, "!ping")
    await asyncio.wait_for(on_the_homeserver.wait(), 60)
    first = await doc.reply_to(room_id, command, a.user_id, timeout=30)
    await a.stop()
    expire_leases(pg_database)
    # The survivor takes the row over and sends it again: as a's device, the same transaction.
    b = BotHandle(replace(a.config, instance="b"))
    await b.start()
    try:
        for _ in range(300):
            (row,) = await outbox(b)
            if row.state == "sent":
                break
            await asyncio.sleep(0.1)
        assert (row.state, row.owner, row.event_id) == ("sent", "b", first.event_id)
        await asyncio.sleep(3)  # a double would have reached the clinician by now
        assert [e.event_id for e in doc.replies_to(room_id, command, a.user_id)] \
            == [first.event_id]
    finally:
        await b.stop()
