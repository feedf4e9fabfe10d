"""The floor: the least an E2EE bot on matrix-nio can do to answer `!ping x`.

One AsyncClient with encryption and a SQLite crypto store, nio's own sync loop (which also uploads,
queries and claims keys and sends to-device messages), invites accepted, and on a text message
starting with "!ping" an m.notice "pong x" replying to it, sent at once in a task started from
the event callback (ignore_unverified_devices=True: no trust decisions, no database, no outbox).

Run as its own process: `python -m bench.echo_floor SPEC.json` (homeserver, user_id, password,
store_dir); SIGTERM stops it. With BENCH_TRACE_FILE set, bench/trace.py times nio's stages.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    RoomMessageText,
)
from nio.store import SqliteStore

from bench import trace


async def login(spec: dict[str, Any], device_name: str) -> AsyncClient | None:
    """A floor's client, logged in as a new device of `spec`'s account with its keys uploaded
    (bench/send_floor.py's too); None, said on stderr, when the login fails."""
    store = Path(spec["store_dir"])
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(spec["homeserver"], spec["user_id"], store_path=str(store),
                         config=AsyncClientConfig(encryption_enabled=True, store=SqliteStore,
                                                  store_sync_tokens=False))
    resp = await client.login(spec["password"], device_name=device_name)
    if not isinstance(resp, LoginResponse):
        print(f"{device_name}: login failed: {resp}", file=sys.stderr)
        await client.close()
        return None
    if client.should_upload_keys:
        await client.keys_upload()
    return client


async def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    if trace.enabled():
        trace.install_nio()
    client = await login(spec, "echo floor")
    if client is None:
        return 1

    sending: set[asyncio.Task[object]] = set()

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or not event.body.startswith("!ping"):
            return
        # Sent in a task, not awaited here: the sync loop goes on, and answers to several rooms
        # go out in parallel (as Liaison's sender does), so under load the floor is not held
        # back by one POST at a time.
        task = asyncio.create_task(client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice", "body": "pong " + event.body[len("!ping"):].strip(),
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        }, ignore_unverified_devices=True))
        sending.add(task)
        task.add_done_callback(sending.discard)

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    client.add_event_callback(on_message, RoomMessageText)  # type: ignore[arg-type]
    client.add_event_callback(on_invite, InviteMemberEvent)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(client.sync_forever(timeout=30_000, full_state=True))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await client.close()
        trace.dump()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
