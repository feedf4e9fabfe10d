"""Which devices get room keys and whose commands count: only devices cross-signed by their owner
(the rule Element applies in its default "exclude insecure devices" mode), unless the deployment
allows legacy devices.

nio has no cross-signing, so the signatures are checked here from the raw /keys/query answer and
the verdict is written into nio's own device trust: trusted → verified, untrusted → blacklisted.
nio then shares megolm sessions with verified devices only, and rotates a room's session whenever
a verdict changes.

Each user's cross-signing master key is pinned on first use (pins.py). When the homeserver later
gives another one (an identity reset, by someone with the password or by a server admin), every
device of that user is distrusted until a coordinator confirms the change; the rooms they share
with the bot are told once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager

from nio import AsyncClient

from bots.runtime import pins
from bots.runtime.crosssigning import cross_signed_devices, master_key_of, query_keys
from bots.runtime.store import Transaction

log = logging.getLogger(__name__)


class DeviceTrust:
    def __init__(self, client: AsyncClient, *, allow_legacy: bool,
                 transaction: Callable[[], AbstractAsyncContextManager[Transaction]],
                 on_identity_changed: Callable[[Transaction, str], None]) -> None:
        """`transaction`: the runtime's (what is posted in it is sent on commit);
        `on_identity_changed`: tells the rooms, in the transaction that records the change."""
        self.client = client
        self.allow_legacy = allow_legacy
        self._transaction = transaction
        self._on_identity_changed = on_identity_changed
        self._fresh: set[str] = set()  # users whose devices were judged since their last change
        self._signed: dict[str, dict[str, bool]] = {}
        # Users whose identity is not the pinned one: judged again every time (a confirmation
        # may come from the other process), never trusted meanwhile.
        self.changed: set[str] = set()
        # One judgment at a time: after a start every user is stale, and a burst's sends into
        # rooms of the same users (a morning's follow-up steps) would each query the same keys.
        self._judging = asyncio.Lock()

    def invalidate(self, users: Iterable[str]) -> None:
        self._fresh.difference_update(users)

    async def ensure(self, users: Iterable[str]) -> None:
        """Judge the devices of every user not judged since their device list last changed."""
        users = set(users)
        if not self._stale(users):
            return
        async with self._judging:
            if stale := self._stale(users):  # judged meanwhile, by the send ahead
                await self._judge(stale)

    def _stale(self, users: set[str]) -> list[str]:
        return sorted(users - self._fresh | users & self.changed)

    async def _judge(self, stale: list[str]) -> None:
        self.client.olm.users_for_key_query.update(stale)
        if self.client.should_query_keys:
            await self.client.keys_query()  # nio's device store must hold the devices we judge
        query = await query_keys(self.client, stale)
        masters = {u: m for u in stale if u != self.client.user_id
                   and (m := master_key_of(query, u)) is not None}
        async with self._transaction() as tx:
            changed, new = await pins.check(tx, masters)
            for user_id in new:
                log.warning("cross-signing identity changed; devices distrusted until a "
                            "coordinator confirms", extra={"user_id": user_id})
                self._on_identity_changed(tx, user_id)
        self.changed.difference_update(stale)
        self.changed.update(changed)
        for user_id in stale:
            signed = cross_signed_devices(query, user_id)
            self._signed[user_id] = signed
            self._apply(user_id, signed)
            self._fresh.add(user_id)

    def _apply(self, user_id: str, signed: dict[str, bool]) -> None:
        for device in self.client.device_store.active_user_devices(user_id):
            if user_id == self.client.user_id and device.id == self.client.device_id:
                continue
            if user_id not in self.changed and (signed.get(device.id, False) or self.allow_legacy):
                self.client.unblacklist_device(device)
                self.client.verify_device(device)
            else:
                self.client.unverify_device(device)
                if self.client.blacklist_device(device):
                    log.info("device not cross-signed by its owner; no room keys for it",
                             extra={"user_id": user_id, "device_id": device.id})

    def is_trusted(self, user_id: str, device_id: str | None) -> bool:
        if user_id in self.changed:
            return False
        if self.allow_legacy:
            return True
        return device_id is not None and self._signed.get(user_id, {}).get(device_id, False)

    def device_for_key(self, user_id: str, curve25519: str | None) -> str | None:
        """The device that owns a megolm session's sender key, as nio knows it."""
        for device in self.client.device_store.active_user_devices(user_id):
            if curve25519 and device.curve25519 == curve25519:
                return device.id
        return None
