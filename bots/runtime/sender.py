"""The one send path for everything the bots post.

Rows come from the outbox (written in the transaction that decided to post), so a crash between
deciding and sending loses nothing. Each row keeps its transaction ID across retries. Before the
first attempt the room must be known from sync and, if encrypted, every member's devices judged
(trust.py) so the megolm session goes exactly to the devices that may read it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nio import AsyncClient, RoomSendError, RoomSendResponse

from bots.runtime.backoff import Backoff
from bots.runtime.models import OutboxMessage
from bots.runtime.store import Store
from bots.runtime.trust import DeviceTrust

log = logging.getLogger(__name__)

# Answers that no retry can change: the room is gone or the bot may not post there.
PERMANENT = {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"}


class Sender:
    def __init__(self, client: AsyncClient, store: Store, trust: DeviceTrust, account: str,
                 room_ready: Callable[[str], asyncio.Future[bool]]) -> None:
        self.client = client
        self.store = store
        self.trust = trust
        self.account = account
        self._room_ready = room_ready
        self._in_flight: set[int] = set()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def resume(self) -> None:
        """At start: send what an earlier run decided but did not get sent."""
        self.enqueue(await self.store.pending_outbox(self.account))

    def enqueue(self, rows: list[OutboxMessage]) -> None:
        """Rows from a committed transaction: each is delivered by a task of its own."""
        for row in rows:
            if row.id not in self._in_flight:
                self._in_flight.add(row.id)
                task = asyncio.create_task(self._deliver(row))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Let messages already being sent finish (clean shutdown), then stop the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in set(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, row: OutboxMessage) -> None:
        # One room's messages go out in the order they were decided; rooms go in parallel.
        lock = self._room_locks.setdefault(row.room_id, asyncio.Lock())
        try:
            async with lock:
                await self._send(row)
        finally:
            self._in_flight.discard(row.id)

    async def _send(self, row: OutboxMessage) -> None:
        content = self.store.vault.open(row.content)
        if not await self._room_ready(row.room_id):
            await self.store.outbox_done(row.id, event_id=None, attempts=row.attempts,
                                         error="the bot is not in this room")
            return
        backoff = Backoff()
        attempts = row.attempts
        while True:
            attempts += 1
            error: str
            room = self.client.rooms.get(row.room_id)
            if room is None:  # the bot left (or was removed) since the message was decided
                await self.store.outbox_done(row.id, event_id=None, attempts=attempts,
                                             error="the bot is no longer in this room")
                return
            try:
                if room.encrypted:
                    if not room.members_synced:
                        await self.client.joined_members(row.room_id)
                    await self.trust.ensure(room.users)
                # Every non-blacklisted device is verified by trust.ensure, so nothing is ignored
                # here unless legacy devices are allowed.
                resp = await self.client.room_send(
                    row.room_id, row.event_type, content, tx_id=row.txn_id,
                    ignore_unverified_devices=self.trust.allow_legacy)
                if isinstance(resp, RoomSendResponse):
                    await self.store.outbox_done(row.id, event_id=resp.event_id, error=None,
                                                 attempts=attempts)
                    return
                assert isinstance(resp, RoomSendError)
                if resp.status_code in PERMANENT:
                    log.warning("message refused by the homeserver",
                                extra={"room_id": row.room_id, "errcode": resp.status_code})
                    await self.store.outbox_done(row.id, event_id=None, attempts=attempts,
                                                 error=f"{resp.status_code}: {resp.message}")
                    return
                error = f"{resp.status_code}: {resp.message}"
            except (TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # e.g. a key claim that failed: retried like the network
                log.exception("send attempt failed", extra={"room_id": row.room_id})
                error = f"{type(exc).__name__}: {exc}"
            log.warning("send failed, will retry with the same transaction ID",
                        extra={"room_id": row.room_id, "attempt": attempts, "error": error})
            await self.store.outbox_attempt(row.id, attempts, error)
            await backoff.wait()
