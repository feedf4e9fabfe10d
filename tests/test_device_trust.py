"""DeviceTrust (bots/runtime/trust.py): who is judged, and how often the keys are queried."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bots.runtime import trust
from bots.runtime.store import Store
from bots.runtime.trust import DeviceTrust
from bots.runtime.vault import Vault
from tests.migrated import sqlite_at_head

BOT = "@bot:hopital.example"
TEAM = ["@idec:hopital.example", "@mh:hopital.example", "@ide:hopital.example"]


async def test_sends_into_rooms_of_the_same_users_query_their_keys_once(tmp_path, monkeypatch):
    """After a start every user is stale: a burst's sends into a hundred rooms of the same team
    wait for the first judgment instead of each querying the same keys."""
    store = Store(sqlite_at_head(tmp_path / "bots.db"), Vault([Vault.new_key()]))
    queried: list[list[str]] = []

    async def query_keys(_client: Any, users: list[str]) -> dict[str, Any]:
        queried.append(list(users))
        await asyncio.sleep(0.01)  # the homeserver's answer: the other sends come meanwhile
        return {}

    monkeypatch.setattr(trust, "query_keys", query_keys)
    client = SimpleNamespace(
        user_id=BOT, device_id="BOTDEVICE", should_query_keys=False,
        olm=SimpleNamespace(users_for_key_query=set()),
        device_store=SimpleNamespace(active_user_devices=lambda _user: []))
    devices = DeviceTrust(client, allow_legacy=False,  # type: ignore[arg-type]
                          transaction=lambda: store.transaction(BOT),
                          on_identity_changed=lambda _tx, _user: None)
    try:
        await asyncio.gather(*(devices.ensure([BOT, *TEAM]) for _ in range(100)))
        assert queried == [sorted([BOT, *TEAM])]
        await devices.ensure([*TEAM, "@mt:hopital.example"])  # only the one not judged yet
        assert queried[1:] == [["@mt:hopital.example"]]
    finally:
        await store.close()
