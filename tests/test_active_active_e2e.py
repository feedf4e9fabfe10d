"""Two bots processes for one account on PostgreSQL, against the real Synapse with a real E2EE
clinician (docs/SCALING.md): two devices cross-signed by the one identity, each command of a
stream answered exactly once, and still when one process stops in the middle of it; the invite,
which both processes see, joined once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from nio import RoomMemberEvent

from bots.runtime.crosssigning import cross_signed_devices, master_key_of, query_keys
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
        # Both processes saw the invite and may both have joined: the homeserver folds a join
        # the same as the membership already there, so the room shows one.
        joins = [ev for r, ev in doc.timeline if r == room_id and isinstance(
            ev, RoomMemberEvent) and ev.state_key == a.user_id and ev.membership == "join"]
        assert len(joins) == 1
    finally:
        await b.stop()
