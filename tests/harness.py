"""The bots in-process, without Matrix: a command goes through the real parsing, trust, permission
and handler path in milliseconds.

`Harness` builds the account's Runtime as `liaison bots` does (`bots.app.build_runtimes`, the
bots' registry, on a migrated SQLite file), then swaps the two parts that talk to the homeserver:
the sender (what a committed transaction posts is recorded here, opened, instead of sent) and the
device trust (every device of a known user is taken as cross-signed). A command is handed to the
Runtime's own dispatch, `Runtime._handle`, with the same claim the sync loop gives it
(`Store.claim_new`): nothing of the command path is written again here, so a change to it (the
permission check, the command declarations) is what these tests run.

Rooms are what the care-team bot knows of them (its records decide the caller's role): `patient()`
and `coordination()` write them as if the provisioner had created them, plus a Matrix room
(encrypted unless asked otherwise) in the client's room list.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from nio.rooms import MatrixRoom

from bots.app import build_runtimes
from bots.careteam import records
from bots.careteam.requests import parse_open
from bots.common.models import TeamMember
from bots.common.roles import Roles
from bots.config import AccountConfig, Config
from bots.devstack.patients import ins_for
from bots.runtime.models import OutboxMessage
from bots.runtime.runtime import Runtime
from bots.runtime.store import Store, Transaction, utcnow
from bots.runtime.vault import Vault
from tests.migrated import sqlite_at_head

BOT = "@liaison:localhost"
SERVER = "localhost"
_ids = itertools.count(1)


async def _fresh_database(folder: Path) -> str:
    return await asyncio.to_thread(sqlite_at_head, folder / "bots.db")


@dataclass(frozen=True)
class Sent:
    """A message the bots would have sent (its content opened)."""

    room_id: str
    event_type: str
    content: dict[str, Any]

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def html(self) -> str:
        return str(self.content.get("formatted_body", ""))


class RecordingSender:
    """Stands in for the Runtime's sender: keeps what each committed transaction posted."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.sent: list[Sent] = []

    def enqueue(self, rows: list[OutboxMessage]) -> None:
        for row in rows:
            self.sent.append(Sent(row.room_id, row.event_type,
                                  self.vault.open(row.content, row.bound("content"))))

    async def resume(self) -> None:
        pass

    async def drain(self, timeout: float) -> None:
        pass


class TrustingDevices:
    """Stands in for the device trust: every device cross-signed, no identity changed."""

    changed: set[str] = set()

    async def ensure(self, user_ids: list[str]) -> None:
        pass

    def device_for_key(self, user_id: str, sender_key: str | None) -> str:
        return "HARNESSDEVICE"

    def is_trusted(self, user_id: str, device_id: str | None) -> bool:
        return True

    def invalidate(self, user_ids: Any) -> None:
        pass


class Harness:
    def __init__(self, runtime: Runtime, store: Store, sender: RecordingSender) -> None:
        self.runtime, self.store, self.sender = runtime, store, sender
        self.config = runtime.config

    @classmethod
    @asynccontextmanager
    async def start(cls, folder: Path, bots: tuple[str, ...] = ("careteam", "discharge",
                                                                   "followup"),
                    database: str | None = None, **overrides: Any) -> AsyncIterator[Harness]:
        """The account running `bots`, its database in `folder` (migrated to head), or
        `database` (migrated: a PostgreSQL one shared with another harness, each given its
        `instance` among the overrides, as two bots processes)."""
        database = database or await _fresh_database(folder)
        config = Config(
            homeserver="http://127.0.0.1:9", data_dir=folder / "data", database=database,
            data_keys=(Vault.new_key(),), language="fr", timezone="Europe/Paris",
            allowed_servers=(SERVER,), allow_legacy_devices=False, log_level="INFO",
            accounts=(AccountConfig(BOT, secrets.token_urlsafe(12), "Liaison", bots),))
        config = replace(config, **overrides)
        store = Store(database, Vault(list(config.data_keys)), instance=config.instance)
        runtime = build_runtimes(config, store)[0]
        sender = RecordingSender(store.vault)
        runtime.sender = sender  # type: ignore[assignment]
        runtime.trust = TrustingDevices()  # type: ignore[assignment]
        try:
            yield cls(runtime, store, sender)
        finally:
            await runtime.client.close()
            await store.close()

    # --- rooms ------------------------------------------------------------------------------

    def _matrix_room(self, room_id: str, encrypted: bool, members: dict[str, str | None]) -> None:
        room = MatrixRoom(room_id, BOT, encrypted=encrypted)
        for user_id in (BOT, *members):
            room.add_member(user_id, None, None)
        self.runtime.client.rooms[room_id] = room

    async def _team(self, tx: Transaction, care_room_id: int,
                    members: dict[str, str | None]) -> None:
        for user_id, role in members.items():
            tx.session.add(TeamMember(
                care_room_id=care_room_id, user_id=user_id, role=role, desired="present",
                applied=True, language=self.config.language, updated_at=utcnow()))

    async def coordination(self, members: dict[str, str | None], *,
                           encrypted: bool = True) -> str:
        """A coordination room with these members (user ID → role); its room ID."""
        room_id = f"!coord{next(_ids)}:{SERVER}"
        async with self.runtime.transaction() as tx:
            row = await records.register_coordination_room(
                tx, room_id=room_id, name="Coordination", language=self.config.language)
            await self._team(tx, row.id, members)
        self._matrix_room(room_id, encrypted, members)
        return room_id

    async def patient(self, members: dict[str, str | None], *, ward: str = "Cardiologie",
                      encrypted: bool = True) -> str:
        """An open patient room (a made-up patient) with this team; its room ID."""
        n = next(_ids)
        roles = Roles.load(self.config.careteam.roles_file)
        request = parse_open(f"PATIENT Test 12/03/1948 F {ins_for(f'248037512{n:04d}')} "
                             f"service={ward}", roles, date.today())
        room_id = f"!patient{n}:{SERVER}"
        async with self.runtime.transaction() as tx:
            row, _ = await records.register_patient(
                tx, request, prefix=self.runtime.config.careteam.ref_prefix,
                language=self.config.language, requested_by=BOT)
            row.room_id, row.status, row.opened_at = room_id, "open", utcnow()
            await self._team(tx, row.id, members)
        self._matrix_room(room_id, encrypted, members)
        return room_id

    # --- commands ---------------------------------------------------------------------------

    async def command(self, room_id: str, sender: str, body: str, *,
                      encrypted: bool = True, **content: Any) -> list[Sent]:
        """`body` sent by `sender` in `room_id`, through the Runtime's dispatch; what the bots
        would send in answer (all rooms). Raises what a handler raised."""
        event = {
            "event_id": f"$harness{next(_ids)}", "room_id": room_id, "sender": sender,
            "type": "m.room.message", "content": {"msgtype": "m.text", "body": body, **content},
            "state_key": None, "origin_server_ts": 0, "sender_key": "harness-key",
            "encrypted": encrypted,
        }
        mark = len(self.sender.sent)
        handled = await self.runtime._handle(event, lambda tx: Store.claim_new(tx, event))
        if not handled:
            raise AssertionError(f"the handler of {body!r} failed (see the log)")
        return self.sender.sent[mark:]

    async def reply(self, room_id: str, sender: str, body: str, **kwargs: Any) -> Sent:
        """The one answer to a command, in its room."""
        sent = [s for s in await self.command(room_id, sender, body, **kwargs)
                if s.room_id == room_id]
        assert len(sent) == 1, sent
        return sent[0]
