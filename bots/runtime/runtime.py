"""The Matrix runtime: one per bot account, serving every bot that account runs (and the bridge).

Start: restore the device (log in only the first time), upload device keys, cross-sign the device,
then a full-state sync from the stored token so room state is rebuilt before anything is sent.
Loop: sync → record the events worth handling and the new token in one transaction (the inbox)
→ handle each inbox row exactly once → the sender posts what the handlers decided.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from nio import (
    AsyncClientConfig,
    EncryptionError,
    Event,
    KeysUploadError,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    ReactionEvent,
    RoomMemberEvent,
    RoomMessage,
    RoomMessagesResponse,
    RoomMessageText,
    SyncError,
    SyncResponse,
)

from bots.common import permissions
from bots.config import AccountConfig, Config
from bots.runtime import i18n, pins
from bots.runtime.account import AccountFolder
from bots.runtime.backoff import Backoff
from bots.runtime.bot import Bot, CommandContext, JoinContext, ReactionContext, Seen, Service
from bots.runtime.builtin import builtin_commands
from bots.runtime.client import Client
from bots.runtime.commands import Caller, CommandSet, Invocation, Rejection, command_text
from bots.runtime.crosssigning import CrossSigningStatus, ensure_cross_signed
from bots.runtime.cryptostore import CryptoStore
from bots.runtime.files import write_private
from bots.runtime.i18n import Lang, t
from bots.runtime.metrics import AnswerClock, command_handled
from bots.runtime.models import InboxEvent
from bots.runtime.notice import Html, notice
from bots.runtime.ratelimit import exempt_from_rate_limits
from bots.runtime.scheduler import JobScheduler
from bots.runtime.sender import Sender
from bots.runtime.store import Store, Transaction, as_utc, utcnow
from bots.runtime.trust import DeviceTrust
from bots.runtime.vault import VaultError

log = logging.getLogger(__name__)

SYNC_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 50}, "state": {"lazy_load_members": False}},
    "presence": {"not_types": ["*"]},
}
MAX_HANDLER_ATTEMPTS = 3
UNDECRYPTABLE_GIVE_UP = timedelta(minutes=10)
BACKFILL_PAGES = 20
CREATION_WAIT = 60.0  # seconds a sync's events wait for a room being created (creating_room)
TOKEN_SAVE_EVERY = timedelta(seconds=30)


class LoginError(RuntimeError):
    pass


class Runtime:
    def __init__(self, config: Config, account: AccountConfig, store: Store,
                 bots: Sequence[Bot] = (), *, foreign: frozenset[str] = frozenset(),
                 companions: frozenset[str] = frozenset(),
                 declared_rooms: frozenset[str] = frozenset(),
                 own_accounts: frozenset[str] = frozenset()) -> None:
        """What the runtime knows of the bots around it is given (bots/app.py), never read from
        their settings. `foreign`: first words of commands that a companion bot in the same rooms
        answers (`!mss …`): not ours, and not "unknown" either. `companions`: the companion bots'
        accounts (their joins are no newcomers). `declared_rooms`: the coordination rooms the
        bots are declared in (joined on any allowed invite). `own_accounts`: the deployment's
        accounts, whose invites are followed."""
        self.config = config
        self.foreign = foreign
        self.companions = companions
        self.declared_rooms = declared_rooms
        self.own_accounts = own_accounts
        self.account = account
        self.store = store
        self.bots = list(bots)
        self.user_id = account.user_id
        self.folder = AccountFolder(config.data_dir, account.user_id, store.vault,
                                    config.instance)
        self.secrets = self.folder.load()
        self.client = Client(
            config.homeserver, account.user_id, device_id=self.secrets.device_id,
            store_path=str(self.folder.crypto_store),
            config=AsyncClientConfig(
                encryption_enabled=True, store=CryptoStore, store_name="nio.db",
                pickle_key=self.secrets.pickle_key,
                # Our own table holds the sync token, written with the inbox (see record_sync).
                store_sync_tokens=False,
                # nio itself waits out 429s (retry_after_ms) and connection errors, forever,
                # with exponential backoff capped at 30 s: nothing is dropped.
                max_limit_exceeded=None, max_timeouts=None, backoff_factor=0.25,
                max_timeout_retry_wait_time=30, request_timeout=90,
            ),
        )
        # A companion (the MSSanté bridge) shares rooms with another bot: it answers its own
        # commands only, neither the built-ins (`!aide` twice) nor the others' as unknown.
        self.companion = bool(self.bots) and all(b.companion for b in self.bots)
        self.commands = CommandSet(() if self.companion else builtin_commands())
        for bot in self.bots:
            for catalogue in bot.texts:
                i18n.register(catalogue)
            for command in bot.commands:
                self.commands.add(command)
        # Who may hold a room's keys: the bot that knows the room's team says (the care team).
        self.client.key_recipients = next((functools.partial(b.key_recipients, self)
                                           for b in self.bots if b.key_recipients), None)
        self.trust = DeviceTrust(self.client, allow_legacy=config.allow_legacy_devices,
                                 transaction=self.transaction,
                                 on_identity_changed=self._tell_identity_changed)
        self.sender = Sender(self.client, store, self.trust, self.user_id, self.room_ready,
                             config.language)
        self.answers = AnswerClock()  # answer latency (metrics.py)
        self.sender.on_sent.append(self.answers.sent)
        self.scheduler = JobScheduler(self, {k: h for b in self.bots for k, h in b.jobs.items()})
        self.cross_signing: CrossSigningStatus | None = None
        self._services: list[asyncio.Task[None]] = []
        self._service_failed = asyncio.Event()
        self.ready = asyncio.Event()
        self._synced = asyncio.Condition()
        self._token: str | None = None
        self._last_sync_at: datetime | None = None
        self._token_saved_at = datetime.min.replace(tzinfo=UTC)
        # Whether the database may hold pending rows (at start, after a failure or a late key):
        # then the next round reads them back; otherwise a round handles only its sync's events.
        self._inbox_backlog = True
        self._undecryptable_backlog = True
        self._rooms_in_creation = 0
        self._no_room_in_creation = asyncio.Event()
        self._no_room_in_creation.set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """The unit of work for handlers and jobs; what it posts goes to the sender on commit.
        Keep network calls out of it: on SQLite it holds the single writer's turn."""
        async with self.store.transaction(self.user_id) as tx:
            yield tx
        self.sender.enqueue(tx.posted)

    @asynccontextmanager
    async def creating_room(self) -> AsyncIterator[None]:
        """Around a room's creation and the transaction that records it: a sync's events wait
        meanwhile. A member invited at creation may join at once, and the sync that brings the
        join (Synapse's workers deliver it quickly) must find the room on record, or the newcomer
        would get no briefing."""
        self._rooms_in_creation += 1
        self._no_room_in_creation.clear()
        try:
            yield
        finally:
            self._rooms_in_creation -= 1
            if not self._rooms_in_creation:
                self._no_room_in_creation.set()

    # --- start -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._login_once()
        # For the other bots process, should it take over a message this device may have sent.
        await self.store.record_device(self.user_id, self.client.device_id,
                                       self.client.access_token)
        await exempt_from_rate_limits(self.config, self.user_id, self.client.access_token)
        if self.client.should_upload_keys:
            await self._upload_keys_at_start()
        self.cross_signing = await ensure_cross_signed(
            self.client, password=self.account.password, key_file=self.folder.cross_signing_file,
            secret=bytes.fromhex(self.secrets.cross_signing_secret))
        self._token, self._last_sync_at = await self.store.sync_token(self.user_id)
        # Full state once: nio keeps no room state across restarts, and nothing may be sent to a
        # room before its members and encryption settings are known.
        backoff = Backoff()
        while True:
            try:
                await self._sync_once(initial=True)
                break
            except SyncFailed as exc:
                log.warning("first sync failed, retrying", extra={"error": str(exc)})
                await backoff.wait()
            except (TimeoutError, OSError) as exc:
                log.warning("first sync failed, retrying", extra={"error": repr(exc)})
                await backoff.wait()
        self.ready.set()
        self._write_status()
        log.info("bot ready", extra={"user_id": self.user_id, "device_id": self.client.device_id})
        await self.sender.resume()
        await self.scheduler.start()
        for bot in self.bots:
            for service in bot.services:
                self._services.append(asyncio.create_task(self._run_service(service)))

    async def _upload_keys_at_start(self) -> None:
        """The device's keys, before joining anything, so senders can reach it; cross-signing
        signs them next. A homeserver that fails it (restarting, a proxy's 502) is asked again,
        as for the first sync, rather than the start failing on keys said to be missing."""
        backoff = Backoff()
        while True:
            try:
                response = await self.client.keys_upload()
                if not isinstance(response, KeysUploadError):
                    return
                status = getattr(response.transport_response, "status", None)
                error = f"HTTP {status}: {response}"  # nio's own text may say only "unknown"
            except (TimeoutError, OSError) as exc:
                error = repr(exc)
            log.warning("device keys upload failed, retrying", extra={"error": error})
            await backoff.wait()

    async def _run_service(self, service: Service) -> None:
        try:
            await service(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A service that dies would go unnoticed in a task: stop the whole runtime instead.
            log.exception("bot service failed",
                          extra={"service": getattr(service, "__name__", "?")})
            self._service_failed.set()
            raise

    async def _login_once(self) -> None:
        if self.secrets.device_id and self.secrets.access_token:
            self.client.restore_login(self.user_id, self.secrets.device_id,
                                      self.secrets.access_token)
            return
        resp = await self.client.login(self.account.password,
                                       device_name=self.account.device_name)
        if not isinstance(resp, LoginResponse):
            raise LoginError(f"login of {self.user_id} failed: {resp.message}")
        self.secrets.device_id, self.secrets.access_token = resp.device_id, resp.access_token
        self.folder.save(self.secrets)
        log.info("logged in with a new device", extra={"device_id": resp.device_id})

    def _write_status(self) -> None:
        status = {
            "user_id": self.user_id, "device_id": self.client.device_id,
            "homeserver": self.config.homeserver, "pid": os.getpid(),
            "started_at": utcnow().isoformat(),
            "cross_signed": bool(self.cross_signing and self.cross_signing.device_signed),
            "master_key": self.cross_signing.master_key if self.cross_signing else None,
        }
        write_private(self.folder.status_file, json.dumps(status, indent=2).encode())

    @property
    def synced_at(self) -> datetime | None:
        """When the last sync round ended (health: bots/monitoring.py)."""
        return self._last_sync_at if self.ready.is_set() else None

    # --- loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, then sync until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        loop: asyncio.Task[None] | None = None
        stopper = asyncio.create_task(stop.wait())
        failed = asyncio.create_task(self._service_failed.wait())
        try:
            await self.start()
            loop = asyncio.create_task(self._sync_forever())
            await asyncio.wait({loop, stopper, failed}, return_when=asyncio.FIRST_COMPLETED)
            if loop.done():
                loop.result()  # the sync loop only ends by an error: raise it
            if failed.done():
                raise RuntimeError("a bot service failed (see the log above)")
        finally:
            # Also on cancellation: a handler still running must not commit after we return.
            for task in (loop, stopper, failed):
                if task:
                    task.cancel()
            await asyncio.gather(*(t for t in (loop, stopper, failed) if t),
                                 return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        """Stop without logging out: a logout would destroy the device and its keys."""
        for task in self._services:
            task.cancel()
        await asyncio.gather(*self._services, return_exceptions=True)
        self._services.clear()
        self.scheduler.shutdown()
        await self.sender.drain(timeout=5)
        await self.client.close()

    async def _sync_forever(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._sync_once(initial=False)
                backoff.reset()
            except LoginError:
                raise
            except SyncFailed as exc:
                log.warning("sync failed, retrying", extra={"error": str(exc)})
                await backoff.wait()
            except Exception:
                # A network error while judging devices or claiming keys, say: the token only
                # moves with the inbox, so the next round picks up where this one stopped.
                log.exception("sync round failed, retrying")
                await backoff.wait()

    async def _sync_once(self, *, initial: bool) -> None:
        resp = await self.client.sync(
            timeout=0 if initial else 30_000, since=self._token, full_state=initial,
            sync_filter=SYNC_FILTER)
        if isinstance(resp, SyncError):
            if resp.status_code == "M_UNKNOWN_TOKEN":
                raise LoginError(
                    f"the homeserver rejected the access token of {self.user_id} (device logged "
                    f"out?). Remove {self.folder.path} to log in again with a new device.")
            raise SyncFailed(f"{resp.status_code}: {resp.message}")
        await self._after_sync(resp, initial=initial)

    async def _after_sync(self, resp: SyncResponse, *, initial: bool) -> None:
        await self._crypto_housekeeping()
        self.trust.invalidate(resp.device_list.changed)
        self.trust.invalidate(resp.device_list.left)
        events: list[dict[str, Any]] = []
        undecryptable: set[str] = set()
        seen: list[Seen] = []
        for room_id, info in resp.rooms.join.items():
            timeline = list(info.timeline.events)
            if info.timeline.limited and self._last_sync_at and info.timeline.prev_batch \
                    and not self._joined_in(timeline):
                timeline = await self._backfill(room_id, info.timeline.prev_batch) + timeline
            for ev in timeline:
                self._collect(room_id, ev, events, undecryptable)
                if (message := self._seen(room_id, ev)) is not None:
                    seen.append(message)
        await self._observe(seen)
        if events:
            try:  # bounded: a creation stuck on the network must not stop the bot
                await asyncio.wait_for(self._no_room_in_creation.wait(), CREATION_WAIT)
            except TimeoutError:
                log.warning("a room creation is still under way; handling this sync's events")
        # Commands are handled at once, each claimed by inserting its inbox row as handled in
        # the transaction of its effects. Only what could not be handled now (undecryptable,
        # failed) is recorded as pending, together with the token. A crash before the token is
        # stored replays the sync, and the inbox rows make the replay a no-op.
        deferred = [ev for ev in events if ev["event_id"] in undecryptable]
        for ev in events:
            if ev["event_id"] not in undecryptable and not await self._handle(
                    ev, lambda tx, ev=ev: Store.claim_new(tx, ev)):
                deferred.append(ev)
        now = utcnow()
        rows: list[InboxEvent] = []
        # With nothing left to record (the bot's own answers coming back, chat, commands done)
        # the stored token moves at most every TOKEN_SAVE_EVERY: a restart replays a little more.
        if deferred or initial or now - self._token_saved_at >= TOKEN_SAVE_EVERY:
            rows = await self.store.record_sync(self.user_id, resp.next_batch, deferred,
                                                undecryptable)
            self._token_saved_at = now
        self._token, self._last_sync_at = resp.next_batch, now
        for row in rows:
            if row.state == "undecryptable":
                self._undecryptable_backlog = True
                await self._request_key(row)
            else:
                self._inbox_backlog = True  # a handler failed: tried again from the inbox
        async with self._synced:
            self._synced.notify_all()
        await self._handle_invites(resp)
        if self._undecryptable_backlog:
            await self._retry_undecryptable()
        if self._inbox_backlog:
            await self._process_backlog()

    async def _crypto_housekeeping(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    def _collect(self, room_id: str, ev: Event, events: list[dict[str, Any]],
                 undecryptable: set[str]) -> None:
        if ev.sender == self.user_id:
            return
        if isinstance(ev, MegolmEvent):
            # Kept (sealed) until its room key arrives: it may be a command.
            events.append({**ev.source, "room_id": room_id})
            undecryptable.add(ev.event_id)
        elif self._wanted(ev):
            events.append(self._normalize(room_id, ev))

    def _seen(self, room_id: str, ev: Event) -> Seen | None:
        """A decrypted room message from someone else than the deployment's own accounts (an
        edit is not a new message), for the usage counts; its content is only parsed as a
        command would be."""
        if not isinstance(ev, RoomMessage) or ev.sender == self.user_id \
                or ev.sender in self.companions or ev.sender in self.own_accounts:
            return None
        content = ev.source.get("content", {})
        relation = content.get("m.relates_to")
        if isinstance(relation, dict) and relation.get("rel_type") == "m.replace":
            return None
        return Seen(room_id, ev.event_id, ev.sender, ev.server_timestamp,
                    isinstance(ev, RoomMessageText) and self._is_command(content))

    async def _observe(self, seen: list[Seen]) -> None:
        """Hands the sync's messages to the bots that count them; a failure is logged, never
        raised (the counts are not worth a stuck sync). A replayed sync hands them again: the
        observer's own records make that harmless."""
        if not seen:
            return
        for bot in self.bots:
            if bot.observe is None:
                continue
            try:
                async with self.transaction() as tx:
                    await bot.observe(tx, seen)
            except Exception:
                log.exception("usage observer failed", extra={"bot": bot.name})

    def _wanted(self, ev: Event) -> bool:
        """An event some handler is for: a command, a join, a reaction."""
        if isinstance(ev, RoomMessageText):
            return self._is_command(ev.source.get("content", {}))
        if isinstance(ev, RoomMemberEvent):
            # Companion bots (the MSSanté bridge) need no welcome, no briefing, no copy of
            # what the room holds: they are not care-team members.
            return bool(self._join_handlers) and ev.membership == "join" and \
                ev.prev_membership != "join" and \
                ev.state_key not in self.companions
        return isinstance(ev, ReactionEvent) and bool(self._reaction_handlers)

    def _is_command(self, content: dict[str, Any]) -> bool:
        return self._parse(content, "fr") is not None

    def _parse(self, content: dict[str, Any], lang: Lang) -> Invocation | Rejection | None:
        parsed = self.commands.parse(command_text(content), lang)
        if isinstance(parsed, Rejection) and parsed.key == "cmd.unknown" and (
                self.companion or str(parsed.values["name"])[1:] in self.foreign):
            return None  # another bot's command
        return parsed

    @property
    def _join_handlers(self) -> list[Any]:
        return [bot.on_join for bot in self.bots if bot.on_join]

    @property
    def _reaction_handlers(self) -> list[Any]:
        return [bot.on_reaction for bot in self.bots if bot.on_reaction]

    @staticmethod
    def _normalize(room_id: str, ev: Event) -> dict[str, Any]:
        return {
            "event_id": ev.event_id, "room_id": room_id, "sender": ev.sender,
            "type": ev.source.get("type", "m.room.message"), "content": ev.source.get("content", {}),
            "state_key": getattr(ev, "state_key", None),
            "origin_server_ts": ev.server_timestamp,
            "sender_key": getattr(ev, "sender_key", None),
            "encrypted": bool(getattr(ev, "decrypted", False)),
        }

    def _joined_in(self, timeline: list[Event]) -> bool:
        """The bot joined in this very timeline: there is nothing of interest before it."""
        return any(isinstance(ev, RoomMemberEvent) and ev.state_key == self.user_id
                   and ev.membership == "join" and ev.prev_membership != "join"
                   for ev in timeline)

    async def _backfill(self, room_id: str, prev_batch: str) -> list[Event]:
        """A limited timeline after downtime: page back to the last sync we recorded, so a
        command sent while the bot was down is not skipped."""
        assert self._last_sync_at is not None
        horizon_ms = (self._last_sync_at - timedelta(minutes=5)).timestamp() * 1000
        older: list[Event] = []
        token = prev_batch
        for _ in range(BACKFILL_PAGES):
            resp = await self.client.room_messages(room_id, start=token,
                                                   direction=MessageDirection.back, limit=100)
            if not isinstance(resp, RoomMessagesResponse) or not resp.chunk:
                break
            for ev in resp.chunk:
                if ev.server_timestamp < horizon_ms:
                    return older[::-1]
                older.append(ev)
            if not resp.end:
                break
            token = resp.end
        return older[::-1]

    # --- undecryptable events ------------------------------------------------------------

    async def _request_key(self, row: InboxEvent) -> None:
        event = self._megolm(self.store.vault.open(row.payload, row.bound("payload")))
        if event is not None and event.session_id not in self.client.outgoing_key_requests:
            await self.client.request_room_key(event)

    @staticmethod
    def _megolm(source: dict[str, Any]) -> MegolmEvent | None:
        event = MegolmEvent.from_dict(source)
        if not isinstance(event, MegolmEvent):
            return None
        event.room_id = source["room_id"]
        return event

    async def _retry_undecryptable(self) -> None:
        rows = await self.store.inbox(self.user_id, "undecryptable")
        self._undecryptable_backlog = bool(rows)
        for row in rows:
            source = await self._opened(row)
            event = self._megolm(source) if source is not None else None
            if event is None:
                continue
            try:
                decrypted = self.client.decrypt_event(event)
            except EncryptionError:
                if utcnow() - as_utc(row.received_at) > UNDECRYPTABLE_GIVE_UP:
                    await self._give_up_undecryptable(row, source)
                continue
            if self._wanted(decrypted):
                await self.store.set_inbox_payload(
                    row, self._normalize(source["room_id"], decrypted), "pending")
                self._inbox_backlog = True
            else:
                async with self.transaction() as tx:
                    await Store.mark_handled(tx, row.id)

    async def _give_up_undecryptable(self, row: InboxEvent, source: dict[str, Any]) -> None:
        log.warning("room key never arrived", extra={"event_id": row.event_id})
        async with self.transaction() as tx:
            if await Store.mark_handled(tx, row.id):
                tx.post(row.room_id, notice(t(self.config.language, "event.undecryptable",
                                              sender=source.get("sender", "?")),
                                            reply_to=row.event_id),
                        cause_event_id=row.event_id)

    # --- handling --------------------------------------------------------------------------

    async def _process_backlog(self) -> None:
        """Inbox rows left pending: by a failed handler, a key that came late, or a crash."""
        self._inbox_backlog = False
        for row in await self.store.inbox(self.user_id, "pending"):
            event = await self._opened(row)
            if event is None:
                continue
            if await self._handle(event, lambda tx, row=row: Store.mark_handled(tx, row.id)):
                continue
            attempts = await self.store.bump_attempts(row.id)
            if attempts < MAX_HANDLER_ATTEMPTS:
                self._inbox_backlog = True  # tried again next round
                continue
            async with self.transaction() as tx:
                if await Store.mark_handled(tx, row.id):
                    tx.post(row.room_id, notice(t(self.config.language, "cmd.failed",
                                                  ref=row.event_id),
                                                reply_to=row.event_id),
                            cause_event_id=row.event_id)

    async def _opened(self, row: InboxEvent) -> dict[str, Any] | None:
        """A kept event's payload. One that does not open (altered or moved in the database, or
        its key gone) is set aside with the apology, so it never holds up the rows after it."""
        try:
            return self.store.vault.open(row.payload, row.bound("payload"))
        except VaultError as exc:  # names the table and column, never the content
            log.error("kept event does not open: set aside",
                      extra={"event_id": row.event_id, "error": str(exc)})
            async with self.transaction() as tx:
                if await Store.mark_handled(tx, row.id):
                    tx.post(row.room_id, notice(t(self.config.language, "cmd.failed",
                                                  ref=row.event_id), reply_to=row.event_id),
                            cause_event_id=row.event_id)
            return None

    async def _handle(self, event: dict[str, Any],
                      claim: Callable[[Transaction], Awaitable[bool]]) -> bool:
        """Handle one event in one transaction that `claim`s it first. True when it is handled
        (now, or already before); False when the handler failed and everything rolled back."""
        started = time.perf_counter()
        event_id = event["event_id"]
        try:
            if event.get("type") == "m.room.member":
                name = await self._handle_join(event, claim)
            elif event.get("type") == "m.reaction":
                name = await self._handle_reaction(event, claim)
            else:
                name = await self._handle_command(event, claim)
        except Exception:
            log.exception("handler failed", extra={"event_id": event_id})
            if event.get("type") == "m.room.message":
                lang = self.config.language
                parsed = self._parse(event["content"], lang)  # type: ignore[arg-type]
                command_handled(self, parsed, "failed", event)
            return False
        log.info("event handled", extra={
            "event_id": event_id, "room_id": event["room_id"], "command": name,
            "ms": round((time.perf_counter() - started) * 1000, 1)})
        return True

    async def _handle_join(self, event: dict[str, Any],
                           claim: Callable[[Transaction], Awaitable[bool]]) -> str | None:
        async with self.transaction() as tx:
            if await claim(tx):
                ctx = JoinContext(self, tx, event["room_id"], event["state_key"],
                                  event["event_id"])
                for handler in self._join_handlers:
                    await handler(ctx)
        return None

    async def _handle_reaction(self, event: dict[str, Any],
                               claim: Callable[[Transaction], Awaitable[bool]]) -> str | None:
        relates = event["content"].get("m.relates_to", {})
        key, target = relates.get("key"), relates.get("event_id")
        encrypted = bool(event.get("encrypted"))
        device_id = await self._sending_device(event)
        async with self.transaction() as tx:
            if not await claim(tx) or not isinstance(key, str) or not isinstance(target, str):
                return None
            caller = await self._caller(tx, event)
            lang = self.config.language
            ctx = ReactionContext(self, tx, caller, event["event_id"], key, target,
                                  lang, encrypted=encrypted)  # type: ignore[arg-type]
            # Element Web sends reactions in clear (matrix-js-sdk never encrypts them): no device
            # to judge, so only the bots that act on them for a checklist tick get them.
            refusal = self._distrust(caller.user_id, device_id, ctx.lang) if encrypted \
                else self._identity_refusal(caller.user_id, ctx.lang)
            if refusal is not None:
                ctx.reply(refusal)
                return None
            for bot in self.bots:
                if bot.on_reaction and (encrypted or bot.clear_reactions):
                    await bot.on_reaction(ctx)
        return None

    async def _sending_device(self, event: dict[str, Any]) -> str | None:
        """The device an encrypted event came from (judged now: trust is checked before acting).
        The sender's identity is judged for a clear event too (a reset one is refused)."""
        await self.trust.ensure([event["sender"]])
        if not event.get("encrypted"):
            return None
        return self.trust.device_for_key(event["sender"], event.get("sender_key"))

    def _identity_refusal(self, user_id: str, lang: Lang) -> Html | None:
        if user_id in self.trust.changed:
            return t(lang, "cmd.identity_changed", user=user_id)
        return None

    def _distrust(self, user_id: str, device_id: str | None, lang: Lang) -> Html | None:
        """Why an encrypted event from this device may not act, or None if it may."""
        refusal = self._identity_refusal(user_id, lang)
        if refusal is None and not self.trust.is_trusted(user_id, device_id):
            refusal = t(lang, "cmd.untrusted_device", device=device_id or "?")
        return refusal

    def _tell_identity_changed(self, tx: Transaction, user_id: str) -> None:
        for room_id, room in self.client.rooms.items():
            if user_id in room.users:
                tx.post(room_id, notice(t(self.config.language, "trust.identity_changed",
                                          user=user_id), mentions=[user_id]))

    async def _caller(self, tx: Transaction, event: dict[str, Any]) -> Caller:
        sender, room_id = event["sender"], event["room_id"]
        room = self.client.rooms.get(room_id)
        caller = Caller(user_id=sender, room_id=room_id,
                        power_level=room.power_levels.get_user_level(sender) if room else 0)
        for bot in self.bots:
            if bot.resolve_caller:
                caller = await bot.resolve_caller(tx, caller)
        return caller

    async def _handle_command(self, event: dict[str, Any],
                              claim: Callable[[Transaction], Awaitable[bool]]) -> str | None:
        lang = self.config.language
        parsed = self._parse(event["content"], lang)  # type: ignore[arg-type]
        sender, event_id, room_id = event["sender"], event["event_id"], event["room_id"]
        # Synapse accepts events in clear in an encrypted room, so a stolen access token alone
        # could send them: no device to judge, the command is refused.
        room = self.client.rooms.get(room_id)
        in_clear = not event.get("encrypted") and (room is None or room.encrypted)
        device_id = await self._sending_device(event) \
            if parsed is not None and not in_clear else None
        outcome = "ok"
        async with self.transaction() as tx:
            if not await claim(tx) or parsed is None:
                return None
            caller = await self._caller(tx, event)
            ctx = CommandContext(self, tx, caller, event_id, parsed.lang,
                                 replying_to=replying_to(event["content"]))
            refusal = None if in_clear else self._distrust(sender, device_id, ctx.lang)
            if in_clear:
                log.warning("command sent in clear in an encrypted room refused",
                            extra={"event_id": event_id, "room_id": room_id, "sender": sender})
                if await pins.first_clear_command(tx, room_id, sender):  # told once
                    ctx.reply(t(ctx.lang, "cmd.in_clear"))
                outcome = "untrusted"
            elif refusal is not None:
                ctx.reply(refusal)
                outcome = "untrusted"
            elif isinstance(parsed, Rejection):
                ctx.reply(parsed.text())
                outcome = "refused"
            elif forbidden := permissions.check(parsed.command.permission, caller,
                                                usage=parsed.command.usage(ctx.lang)):
                ctx.reply(forbidden.text(ctx.lang))
                outcome = "forbidden"
            else:
                await parsed.command.handler(ctx, **parsed.args)
        command_handled(self, parsed, outcome, event)
        return parsed.command.name if isinstance(parsed, Invocation) else None

    # --- rooms -----------------------------------------------------------------------------

    async def _handle_invites(self, resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.invite.items():
            inviter = next((e.sender for e in info.invite_state
                            if getattr(e, "state_key", None) == self.user_id
                            and getattr(e, "membership", None) == "invite"), None)
            refusal = await self._invite_refusal(room_id, inviter)
            if refusal is None:
                result = await self.client.join(room_id)
                log.info("invite accepted", extra={"room_id": room_id, "inviter": inviter,
                                                   "result": type(result).__name__})
            else:
                await self.client.room_leave(room_id)
                log.warning("invite refused", extra={"room_id": room_id, "inviter": inviter,
                                                     "reason": refusal})

    async def _invite_refusal(self, room_id: str, inviter: str | None) -> str | None:
        """Why the bot does not join this room, or None. It joins the coordination rooms it is
        declared in, rooms the deployment's own bots ask it into (the care-team bot invites the
        bridge), and rooms one of its bots was asked into by someone whose role allows it. An
        account whose bots say nothing of invites (no `accepts_invite`) and work in no other
        bot's rooms (not a companion), e.g. one with only !aide and !ping, joins the rooms of
        the allowed servers."""
        if inviter is None or inviter.partition(":")[2] not in self.config.allowed_servers:
            return "the inviter's server is not allowed"
        if room_id in self.declared_rooms or not self.companion and not any(
                bot.accepts_invite for bot in self.bots):
            return None
        if inviter in self.own_accounts:
            return None
        async with self.store.transaction(self.user_id) as tx:
            for bot in self.bots:
                if bot.accepts_invite and await bot.accepts_invite(tx, room_id, inviter):
                    return None
        return "not a declared coordination room, and the inviter's role does not allow it"

    async def room_ready(self, room_id: str, timeout: float = 60.0) -> bool:
        """True once the room is known from sync (the bot is in it); False if it never is."""
        await self.ready.wait()
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._synced:
            while room_id not in self.client.rooms:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._synced.wait(), remaining)
                except TimeoutError:
                    return False
        return True


class SyncFailed(RuntimeError):
    pass


def replying_to(content: dict[str, Any]) -> str | None:
    """The event a message answers: its thread's root in a thread (where the reply fallback
    only points at the thread's last message), else the event it replies to."""
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.thread":
        return relates.get("event_id")
    return (relates.get("m.in_reply_to") or {}).get("event_id")
