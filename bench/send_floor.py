"""The floor of a burst: the least an E2EE client on matrix-nio can do to send given messages.

Run as its own process: `python -m bench.send_floor SPEC.json` (homeserver, user_id, password,
store_dir, messages: a JSON file of [room_id, event_type, content], out: where the timings go).
One AsyncClient with encryption and nio's SQLite crypto store, nio's own sync loop (which also
uploads, queries and claims keys and sends to-device messages). Once the first sync is done it
sends one warm-up notice in each room (as the bots' welcome messages did there: Olm sessions
with the members' devices are then set up before the measure), drops its megolm sessions (the
bots process, started again for the burst, has none in memory: each room's first message shares
a new one, here too), then all the messages at one instant, one task per message, one room's messages in order and rooms in parallel (as
Liaison's sender does), ignore_unverified_devices=True: no trust decisions, no database, no
outbox. It writes each message's seconds from that instant to the homeserver's answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from nio import AsyncClient, RoomSendResponse, SyncResponse

from bench.echo_floor import login


async def send_all(client: AsyncClient, messages: list[list[Any]]) -> tuple[list[float], int]:
    """Every message sent from now: seconds until each was answered, and how many failed."""
    per_room: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for room_id, event_type, content in messages:
        per_room[room_id].append((event_type, content))
    locks = {room_id: asyncio.Lock() for room_id in per_room}
    sent: list[float] = []
    failed = 0
    start = time.monotonic()

    async def one(room_id: str, event_type: str, content: dict[str, Any]) -> None:
        nonlocal failed
        async with locks[room_id]:
            resp = await client.room_send(room_id, event_type, content,
                                          ignore_unverified_devices=True)
        if isinstance(resp, RoomSendResponse):
            sent.append(time.monotonic() - start)
        else:
            failed += 1

    # Tasks created in the rooms' order, each room's in its order: the locks keep it.
    await asyncio.gather(*(one(room_id, event_type, content)
                           for room_id, items in per_room.items()
                           for event_type, content in items))
    return sent, failed


async def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    messages = json.loads(Path(spec["messages"]).read_text())
    client = await login(spec, "send floor")
    if client is None:
        return 1
    synced = asyncio.Event()

    async def on_sync(_: SyncResponse) -> None:
        synced.set()

    client.add_response_callback(on_sync, SyncResponse)  # type: ignore[arg-type]
    task = asyncio.create_task(client.sync_forever(timeout=30_000, full_state=True))
    try:
        await asyncio.wait_for(synced.wait(), 120)
        rooms = sorted({room_id for room_id, *_ in messages})
        missing = [r for r in rooms if r not in client.rooms]
        if missing:
            print(f"send floor: {len(missing)} rooms not in the first sync", file=sys.stderr)
            return 1
        if client.should_query_keys:
            await client.keys_query()
        _, failed = await send_all(client, [
            [room_id, "m.room.message", {"msgtype": "m.notice", "body": "warm-up"}]
            for room_id in rooms])
        if failed:
            print(f"send floor: {failed} warm-up messages failed", file=sys.stderr)
            return 1
        # The bots process, started again for the burst, shares a new megolm session in each
        # room (nio keeps outbound sessions in memory only) over the Olm sessions it has: so
        # does the floor.
        for room_id in rooms:
            client.invalidate_outbound_session(room_id)
        await asyncio.sleep(1)
        sent, failed = await send_all(client, messages)
        Path(spec["out"]).write_text(json.dumps({"sent": sent, "failed": failed}))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
