"""Which devices get room keys and whose commands count: only devices cross-signed by their owner
(the rule Element applies in its default "exclude insecure devices" mode), unless the deployment
allows legacy devices.

nio has no cross-signing, so the signatures are checked here from the raw /keys/query answer and
the verdict is written into nio's own device trust: trusted → verified, untrusted → blacklisted.
nio then shares megolm sessions with verified devices only, and rotates a room's session whenever
a verdict changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nio import AsyncClient

from bots.runtime.crosssigning import cross_signed_devices, query_keys

log = logging.getLogger(__name__)


class DeviceTrust:
    def __init__(self, client: AsyncClient, *, allow_legacy: bool) -> None:
        self.client = client
        self.allow_legacy = allow_legacy
        self._fresh: set[str] = set()  # users whose devices were judged since their last change
        self._signed: dict[str, dict[str, bool]] = {}

    def invalidate(self, users: Iterable[str]) -> None:
        self._fresh.difference_update(users)

    async def ensure(self, users: Iterable[str]) -> None:
        """Judge the devices of every user not judged since their device list last changed."""
        stale = sorted(set(users) - self._fresh)
        if not stale:
            return
        self.client.olm.users_for_key_query.update(stale)
        if self.client.should_query_keys:
            await self.client.keys_query()  # nio's device store must hold the devices we judge
        query = await query_keys(self.client, stale)
        for user_id in stale:
            signed = cross_signed_devices(query, user_id)
            self._signed[user_id] = signed
            self._apply(user_id, signed)
            self._fresh.add(user_id)

    def _apply(self, user_id: str, signed: dict[str, bool]) -> None:
        for device in self.client.device_store.active_user_devices(user_id):
            if user_id == self.client.user_id and device.id == self.client.device_id:
                continue
            if signed.get(device.id, False) or self.allow_legacy:
                self.client.unblacklist_device(device)
                self.client.verify_device(device)
            else:
                self.client.unverify_device(device)
                if self.client.blacklist_device(device):
                    log.info("device not cross-signed by its owner; no room keys for it",
                             extra={"user_id": user_id, "device_id": device.id})

    def is_trusted(self, user_id: str, device_id: str | None) -> bool:
        if self.allow_legacy:
            return True
        return device_id is not None and self._signed.get(user_id, {}).get(device_id, False)

    def device_for_key(self, user_id: str, curve25519: str | None) -> str | None:
        """The device that owns a megolm session's sender key, as nio knows it."""
        for device in self.client.device_store.active_user_devices(user_id):
            if curve25519 and device.curve25519 == curve25519:
                return device.id
        return None
