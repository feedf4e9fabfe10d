"""Pinned cross-signing identities in the database (the decisions DeviceTrust acts on)."""

from __future__ import annotations

from bots.runtime import pins
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from tests.migrated import sqlite_at_head

USER = "@ide:hopital.example"


async def test_a_key_is_pinned_on_first_use_and_a_change_told_once_until_confirmed(tmp_path):
    url = sqlite_at_head(tmp_path / "bots.db")
    store = Store(url, Vault([Vault.new_key()]))

    async def check(master: str) -> tuple[set[str], set[str]]:
        async with store.transaction("@bot:hopital.example") as tx:
            return await pins.check(tx, {USER: master})

    try:
        assert await check("A") == (set(), set())  # first use: pinned
        assert await check("A") == (set(), set())
        assert await check("B") == ({USER}, {USER})  # changed: told
        assert await check("B") == ({USER}, set())  # still changed, not told again
        assert await check("A") == (set(), set())  # back to the pinned key
        assert await check("B") == ({USER}, {USER})  # a new change is told again
        async with store.transaction("@bot:hopital.example") as tx:
            assert await pins.confirm(tx, USER)
        async with store.transaction("@bot:hopital.example") as tx:
            assert not await pins.confirm(tx, USER)  # nothing left to confirm
        assert await check("B") == (set(), set())
        assert await check("A") == ({USER}, {USER})
    finally:
        await store.close()
