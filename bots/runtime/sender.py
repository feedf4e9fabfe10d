"""The one send path for everything the bots post.

Rows come from the outbox (written in the transaction that decided to post), so a crash between
deciding and sending loses nothing. Each row keeps its transaction ID across retries. Before the
first attempt the room must be known from sync and every member's devices judged (trust.py) so
the megolm session goes exactly to the devices that may read it. Nothing is ever posted in a room
without end-to-end encryption (fail closed): the row fails with the reason, and the room gets
one fixed notice, in clear, that says only that it must be encrypted.

A row may refer to an earlier one (an edit of a message, say): one room's rows go out in order,
so the earlier row's event ID is known by then and is filled into `m.relates_to`. A row may carry
a file (notice.attachment): it is uploaded encrypted just before sending, without a file name (an
upload's name is in the media URL and the homeserver's media table, in clear): the name travels
only in the encrypted event.

Two bots processes may share the database (PostgreSQL): a row is sent by the process that holds
its lease (Store.take_outbox), the one that wrote it; it renews the lease while it lives, and
once a dead process's lease runs out the other takes its rows over and sends them. Each attempt
first checks the row is still this process's (Store.outbox_turn) and stamps the device it goes
as. A process killed between sending a row and marking it sent leaves a row that the other sends
again: as the dead process's device (its access token, kept sealed in the database) with the
same transaction ID, so the homeserver answers with the event it already has, and nobody gets
the message twice.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import Callable
from typing import Any

from nio import RoomSendError, RoomSendResponse, UploadResponse

from bots.runtime.backoff import Backoff
from bots.runtime.client import Client
from bots.runtime.i18n import Lang, t
from bots.runtime.models import OutboxMessage
from bots.runtime.notice import UPLOAD_KEY, notice
from bots.runtime.store import OUTBOX_LEASE, Store
from bots.runtime.trust import DeviceTrust
from bots.runtime.vault import VaultError

log = logging.getLogger(__name__)

# Answers that no retry can change: the room is gone or the bot may not post there.
PERMANENT = {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN", "M_BAD_JSON", "M_NOT_JSON", "M_TOO_LARGE"}


class Sender:
    def __init__(self, client: Client, store: Store, trust: DeviceTrust, account: str,
                 room_ready: Callable[[str], asyncio.Future[bool]], language: Lang) -> None:
        self.client = client
        self.store = store
        self.trust = trust
        self.account = account
        self.language = language
        self._told_unencrypted: set[str] = set()  # rooms told (once per run) to turn it on
        self._room_ready = room_ready
        self._in_flight: set[int] = set()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._leases: asyncio.Task[None] | None = None
        self._tokens: dict[str, str] = {}  # other devices of the account -> access token
        # Told of every row sent (its event ID known), e.g. to pin a message once it exists.
        self.on_sent: list[Callable[[OutboxMessage, str], None]] = []
        # Sends go out as soon as their rows are committed, also while due jobs still run: in a
        # burst (a morning's RH30 steps) the homeserver then works on the first messages while
        # the bots write the last ones. Holding sends until the jobs were done left it idle:
        # 1,000 steps sent 1.22x the bare nio time, written by 6 s but sent from then on.

    async def resume(self) -> None:
        """At start: send what an earlier run decided but did not get sent, then keep the lease
        on the rows being sent and take over those of another bots process that died."""
        self.enqueue(await self.store.take_outbox(self.account))
        self._leases = asyncio.create_task(self._keep_leases())

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(OUTBOX_LEASE.total_seconds() / 3)
            try:
                self.enqueue(await self.store.take_outbox(self.account))
            except Exception:  # the database away for a moment: the next round tries again
                log.exception("outbox lease renewal failed")

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
        if self._leases:
            self._leases.cancel()
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
        try:
            content = self.store.vault.open(row.content, row.bound("content"))
        except VaultError as exc:  # altered or moved in the database: never sent, never retried
            log.error("message does not open: not sent",
                      extra={"room_id": row.room_id, "outbox_id": row.id, "error": str(exc)})
            await self.store.outbox_done(row.id, event_id=None, attempts=row.attempts,
                                         error="not sent: its sealed content does not open")
            return
        if not await self._room_ready(row.room_id):
            await self.store.outbox_done(row.id, event_id=None, attempts=row.attempts,
                                         error="the bot is not in this room")
            return
        if row.refers_to is not None:
            target = await self.store.outbox_event_id(row.refers_to)
            if target is None:
                await self.store.outbox_done(row.id, event_id=None, attempts=row.attempts,
                                             error="the message it refers to was not sent")
                return
            content = {**content, "m.relates_to": {**content["m.relates_to"],
                                                   "event_id": target}}
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
            if not room.encrypted:
                await self._refuse_unencrypted(row, attempts)
                return
            try:
                if not room.members_synced:
                    await self.client.joined_members(row.room_id)
                await self.trust.ensure(room.users)
                if UPLOAD_KEY in content:
                    content = await self._upload(content)
                turn = await self._turn(row)
                if turn is None:
                    return
                device, as_token = turn
                # Every non-blacklisted device is verified by trust.ensure, so nothing is ignored
                # here unless legacy devices are allowed.
                resp = await self.client.room_send(
                    row.room_id, row.event_type, content, tx_id=row.txn_id,
                    ignore_unverified_devices=self.trust.allow_legacy, as_token=as_token)
                if isinstance(resp, RoomSendResponse):
                    if not await self.store.outbox_done(row.id, event_id=resp.event_id,
                                                        error=None, attempts=attempts):
                        log.info("sent a row another process took over meanwhile: it sends it "
                                 "again as the same device, the homeserver folds it",
                                 extra={"room_id": row.room_id, "outbox_id": row.id})
                        return
                    for listener in self.on_sent:
                        listener(row, resp.event_id)
                    return
                assert isinstance(resp, RoomSendError)
                if as_token is not None and resp.status_code == "M_UNKNOWN_TOKEN":
                    # That device is gone (logged out, deleted), and with it what the homeserver
                    # knew of its transactions: nothing left to fold into, so this device sends.
                    log.warning("the device a message was first sent as is gone: sent as this "
                                "one", extra={"room_id": row.room_id, "device_id": device})
                    self._tokens.pop(device, None)
                    await self.store.outbox_turn(row.id, self._device, replace=True)
                    continue
                if resp.status_code in PERMANENT:
                    log.warning("message refused by the homeserver",
                                extra={"room_id": row.room_id, "errcode": resp.status_code})
                    await self.store.outbox_done(row.id, event_id=None, attempts=attempts,
                                                 error=f"{resp.status_code}: {resp.message}")
                    return
                error = f"{resp.status_code}: {resp.message}"
            except UploadFailed as exc:
                error = str(exc)
            except (TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # e.g. a key claim that failed: retried like the network
                log.exception("send attempt failed", extra={"room_id": row.room_id})
                error = f"{type(exc).__name__}: {exc}"
            log.warning("send failed, will retry with the same transaction ID",
                        extra={"room_id": row.room_id, "attempt": attempts, "error": error})
            await self.store.outbox_attempt(row.id, attempts, error)
            await backoff.wait()

    @property
    def _device(self) -> str:
        assert self.client.device_id is not None
        return self.client.device_id

    async def _turn(self, row: OutboxMessage) -> tuple[str, str | None] | None:
        """Right before an attempt: the device the row goes as and, for another device than
        this one, its access token; None when the row is no longer this process's to send."""
        device = await self.store.outbox_turn(row.id, self._device)
        if device is None:
            log.info("message taken over by another bots process: not sent from here",
                     extra={"room_id": row.room_id, "outbox_id": row.id})
            return None
        if device == self._device:
            return device, None
        token = self._tokens.get(device) or await self.store.device_token(self.account, device)
        if token is None:  # a device never recorded: nothing to send as but this one
            replaced = await self.store.outbox_turn(row.id, self._device, replace=True)
            return (self._device, None) if replaced else None
        self._tokens[device] = token
        return device, token

    async def _refuse_unencrypted(self, row: OutboxMessage, attempts: int) -> None:
        """Patient data never goes in clear: the row fails (its content is not logged)."""
        log.warning("message not sent: the room is not end-to-end encrypted",
                    extra={"room_id": row.room_id, "outbox_id": row.id})
        await self.store.outbox_done(row.id, event_id=None, attempts=attempts,
                                     error="not sent: the room is not end-to-end encrypted")
        if row.room_id in self._told_unencrypted:
            return
        self._told_unencrypted.add(row.room_id)
        # A fixed text, the same for every room and message: it tells the server nothing.
        resp = await self.client.room_send(row.room_id, "m.room.message",
                                           notice(t(self.language, "room.not_encrypted")))
        if not isinstance(resp, RoomSendResponse):
            log.warning("could not tell the room it must be encrypted",
                        extra={"room_id": row.room_id, "error": getattr(resp, "message", "")})

    async def _upload(self, content: dict[str, Any]) -> dict[str, Any]:
        data = base64.b64decode(content[UPLOAD_KEY])
        content = {k: v for k, v in content.items() if k != UPLOAD_KEY}
        resp, keys = await self.client.upload(
            io.BytesIO(data), content_type=content["info"]["mimetype"], filename=None,
            encrypt=True, filesize=len(data))
        if not isinstance(resp, UploadResponse):
            raise UploadFailed(f"upload failed: {resp.status_code}: {resp.message}")
        assert keys is not None
        return {**content, "file": {**keys, "url": resp.content_uri}}


class UploadFailed(RuntimeError):
    pass
