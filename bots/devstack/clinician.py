"""Clinicians for the tests and the benchmarks: real E2EE matrix-nio clients whose devices are
cross-signed by their owner (as Element would do after the user sets up secure backup), syncing in
the background."""

from __future__ import annotations

import asyncio
import io
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    Event,
    InviteMemberEvent,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)
from nio.crypto.attachments import decrypt_attachment
from nio.store import MatrixStore, SqliteStore

from bots.runtime.crosssigning import ensure_cross_signed


class Clinician:
    def __init__(self, homeserver: str, user_id: str, password: str, store_dir: Path,
                 key_file: Path, store: type[MatrixStore] = SqliteStore) -> None:
        self.user_id, self.password, self.key_file = user_id, password, key_file
        store_dir.mkdir(parents=True, exist_ok=True)
        self.store_dir = store_dir
        self.client = AsyncClient(
            homeserver, user_id, store_path=str(store_dir),
            config=AsyncClientConfig(encryption_enabled=True, store=store,
                                     store_sync_tokens=False, pickle_key="test-" + user_id))
        self.timeline: list[tuple[str, Event]] = []
        self._new_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._first_sync = asyncio.Event()
        self._sent_at: dict[str, int] = {}  # event ID -> timeline length when it was sent
        # Timeline places still undecryptable, and those decrypted since (in that order).
        self._undecrypted: set[int] = set()
        self._late: list[int] = []

    async def login(self, *, cross_sign: bool = True, token: str | None = None) -> None:
        """With the password, or with `token` (m.login.token, what an SSO login hands back)."""
        resp = await self.client.login(None if token else self.password,
                                       device_name="test-clinician", token=token)
        assert isinstance(resp, LoginResponse), resp
        await self.client.keys_upload()
        if cross_sign:
            await ensure_cross_signed(
                self.client, password=self.password, key_file=self.key_file,
                secret=_secret_for(self.key_file))
        self.client.add_response_callback(self._on_sync, SyncResponse)
        self._task = asyncio.create_task(self._sync_forever())
        await asyncio.wait_for(self._first_sync.wait(), 30)

    async def _sync_forever(self) -> None:
        await self.client.sync_forever(timeout=5000, full_state=True)

    async def _on_sync(self, resp: SyncResponse) -> None:
        self._decrypt_late()
        for room_id, info in resp.rooms.join.items():
            for ev in info.timeline.events:
                if isinstance(ev, MegolmEvent):
                    self._undecrypted.add(len(self.timeline))
                self.timeline.append((room_id, ev))
        for room_id, info in resp.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in info.invite_state):
                await self.client.join(room_id)
        self._first_sync.set()
        self._new_event.set()

    def _decrypt_late(self) -> None:
        """A room key may come in a later sync than its message (on Synapse's workers the
        to-device and event streams have writers of their own): as Element does, the message is
        decrypted when its key arrives."""
        for index in sorted(self._undecrypted):
            room_id, ev = self.timeline[index]
            assert isinstance(ev, MegolmEvent)
            try:
                decrypted = self.client.decrypt_event(ev)
            except EncryptionError:
                continue
            self.timeline[index] = (room_id, decrypted)
            self._undecrypted.discard(index)
            self._late.append(index)

    async def pause(self) -> None:
        """Stop syncing, keeping the device and its keys (e.g. while the server moves)."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def resume(self, homeserver: str) -> None:
        """Sync again, from scratch, with the same device, on `homeserver`; returns once the
        first sync (the rooms' recent history again) is in the timeline."""
        self.client.homeserver = homeserver
        self.client.next_batch = ""  # a token of another server's streams means nothing
        self._first_sync.clear()
        self._task = asyncio.create_task(self._sync_forever())
        await asyncio.wait_for(self._first_sync.wait(), 30)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def create_room(self, invite: list[str], name: str = "test") -> str:
        resp = await self.client.room_create(
            name=name, invite=invite,
            initial_state=[{"type": "m.room.encryption", "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        assert isinstance(resp, RoomCreateResponse), resp
        await self.wait_for(lambda r, e: r == resp.room_id, timeout=10)
        return resp.room_id

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            room = self.client.rooms.get(room_id)
            if room and user_id in room.users and not room.users[user_id].invited:
                return
            await self._wait_event(deadline)
        raise AssertionError(f"{user_id} did not join {room_id}")

    async def send(self, room_id: str, body: str, **extra: Any) -> str:
        content = {"msgtype": "m.text", "body": body, **extra}
        mark = len(self.timeline)
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        self._sent_at[resp.event_id] = mark
        return resp.event_id

    async def send_file(self, room_id: str, name: str, data: bytes, mimetype: str,
                        **extra: Any) -> str:
        """An encrypted file, as Element uploads and sends it."""
        resp, keys = await self.client.upload(lambda *_: io.BytesIO(data), content_type=mimetype,
                                              filename=name, encrypt=True, filesize=len(data))
        assert isinstance(resp, UploadResponse), resp
        return await self.send(room_id, name, msgtype="m.file", filename=name,
                               info={"mimetype": mimetype, "size": len(data)},
                               file={**keys, "url": resp.content_uri}, **extra)

    async def react(self, room_id: str, event_id: str, key: str = "✅") -> str:
        """An encrypted reaction, as Element sends it (nio's room_send leaves reactions in
        clear, so the encryption is done here)."""
        client = self.client
        if not client.rooms[room_id].members_synced:
            await client.joined_members(room_id)
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)
        _, content = client.encrypt(room_id, "m.reaction", {"m.relates_to": {
            "rel_type": "m.annotation", "event_id": event_id, "key": key}})
        method, path, data = Api.room_send(client.access_token, room_id, "m.room.encrypted",
                                           content, uuid.uuid4())
        resp = await client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(resp, RoomSendResponse), resp
        self._sent_at[resp.event_id] = len(self.timeline)
        return resp.event_id

    async def download(self, content: dict[str, Any]) -> bytes:
        """The decrypted bytes of an encrypted file message (m.file, m.image)."""
        file = content["file"]
        assert "url" not in content and file["url"].startswith("mxc://")
        server, media = file["url"].removeprefix("mxc://").split("/", 1)
        # Authenticated media (Synapse's default; nio's download uses the legacy endpoint).
        resp = await self.client.send(
            "GET", f"/_matrix/client/v1/media/download/{server}/{media}",
            headers={"Authorization": f"Bearer {self.client.access_token}"})
        assert resp.status == 200, await resp.text()
        return decrypt_attachment(await resp.read(), file["key"]["k"], file["hashes"]["sha256"],
                                  file["iv"])

    def mark(self, event_id: str) -> int:
        """Where the timeline stood when `event_id` was sent."""
        return self._sent_at.get(event_id, 0)

    async def _wait_event(self, deadline: float) -> None:
        self._new_event.clear()
        try:
            await asyncio.wait_for(self._new_event.wait(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            pass

    async def wait_for(self, match: Callable[[str, Event], bool], timeout: float = 30,
                       start: int = 0) -> Event:
        deadline = time.monotonic() + timeout
        seen, late = start, len(self._late)
        while time.monotonic() < deadline:
            places = [i for i in self._late[late:] if start <= i < seen]
            for room_id, ev in [self.timeline[i] for i in places] + self.timeline[seen:]:
                if match(room_id, ev):
                    return ev
            seen, late = len(self.timeline), len(self._late)
            await self._wait_event(deadline)
        raise AssertionError("expected event did not arrive in time")

    async def reply_to(self, room_id: str, event_id: str, sender: str,
                       timeout: float = 30) -> RoomMessageNotice:
        """The bot's notice replying to `event_id`; fails naming a bot message after the
        command that stayed undecryptable (older ones may predate this device)."""
        def match(r: str, ev: Event) -> bool:
            relates = ev.source.get("content", {}).get("m.relates_to", {})
            return r == room_id and ev.sender == sender and isinstance(ev, RoomMessageNotice) \
                and relates.get("m.in_reply_to", {}).get("event_id") == event_id
        start = self.mark(event_id)
        try:
            ev = await self.wait_for(match, timeout, start=start)
        except AssertionError:
            unreadable = [ev.event_id for r, ev in self.timeline[start:]
                          if r == room_id and ev.sender == sender and isinstance(ev, MegolmEvent)]
            if unreadable:
                raise AssertionError(f"bot reply could not be decrypted: {unreadable}") from None
            raise
        assert isinstance(ev, RoomMessageNotice)
        return ev

    def replies_to(self, room_id: str, event_id: str, sender: str) -> list[Event]:
        return [ev for r, ev in self.timeline if r == room_id and ev.sender == sender and
                ev.source.get("content", {}).get("m.relates_to", {})
                .get("m.in_reply_to", {}).get("event_id") == event_id]


_SECRETS: dict[Path, bytes] = {}


def _secret_for(path: Path) -> bytes:
    return _SECRETS.setdefault(path, secrets.token_bytes(32))
