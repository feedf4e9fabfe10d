"""nio's AsyncClient, with the rules on who gets a room's megolm session tightened.

1. nio shares the session with every member, invited ones included. In a room whose history is
   visible to joined members only (every patient room), an invited user who has not joined yet
   must not read what is sent meanwhile: they get the session when they join, at its current
   index, so they read from their join on, as Element does.
2. nio drops the session when someone arrives or leaves, but a membership change that lands
   while the session is being shared (an await) is lost: the share then completes and marks the
   session shared. Here such a change is remembered and applied before the next message.
3. A bot may say who, of a room's members, may hold its keys (`key_recipients`, the care team
   of a patient room): anyone else who joins, invited from Element by a coordinator say, reads
   nothing the bot sends. Asked when a session is shared, not for every message: a message in a
   session already shared reaches only who holds it (a burst of 1,000 messages made as many
   database transactions for nothing).
4. A message may be sent as another device of the account (`as_token`, its access token): the
   PUT of its transaction alone goes with that token, everything around it (keys shared, claimed,
   queried) with this device's own. The homeserver folds a transaction ID per device, so a
   message another bots process may have sent already goes again as its device (sender.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiohttp import ClientResponse
from nio import AsyncClient, SyncResponse

# A room ID -> the users who may get its keys, or None when the bot sets no limit there.
KeyRecipients = Callable[[str], Awaitable[Collection[str] | None]]


class Client(AsyncClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rotate_next: set[str] = set()  # a member left during a share: new session
        self._reshare_next: set[str] = set()  # a member joined during a share: share again
        self.key_recipients: KeyRecipients | None = None
        self._send_as: dict[str, str] = {}  # transaction ID -> the access token it goes with

    async def _handle_joined_rooms(self, response: SyncResponse) -> None:
        # Whoever is joined after this sync and was not before: seen invited earlier, or invited
        # and joined within this one sync (a busy homeserver, workers, batch them).
        joined = {room_id: {u for u, m in self.rooms[room_id].users.items() if not m.invited}
                  if room_id in self.rooms else {self.user_id} for room_id in response.rooms.join}
        await super()._handle_joined_rooms(response)
        for room_id, before in joined.items():
            room = self.rooms.get(room_id)
            if room is not None and room.history_visibility == "joined" and any(
                    not m.invited and u not in before for u, m in room.users.items()):
                self.reshare(room_id)

    def reshare(self, room_id: str) -> None:
        """Have the next message share the current session with whoever lacks it."""
        if room_id in self.sharing_session:
            self._reshare_next.add(room_id)
        session = self.olm.outbound_group_sessions.get(room_id) if self.olm else None
        if session is not None:
            session.shared = False

    def invalidate_outbound_session(self, room_id: str) -> None:
        if room_id in self.sharing_session:
            self._rotate_next.add(room_id)
        super().invalidate_outbound_session(room_id)

    async def room_send(self, room_id: str, *args: Any, as_token: str | None = None,
                        **kwargs: Any) -> Any:
        tx_id = kwargs.get("tx_id")
        if as_token is None or tx_id is None:
            return await self._room_send(room_id, *args, **kwargs)
        self._send_as[tx_id] = as_token
        try:
            return await self._room_send(room_id, *args, **kwargs)
        finally:
            del self._send_as[tx_id]

    async def send(self, method: str, path: str, data: Any = None,
                   headers: dict[str, str] | None = None, *args: Any, **kwargs: Any,
                   ) -> ClientResponse:
        # `…/rooms/{room}/send/{type}/{txn}`: the transaction ID is the path's last part.
        token = self._send_as.get(path.partition("?")[0].rsplit("/", 1)[-1]) \
            if method == "PUT" and self._send_as else None
        if token is not None:
            headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return await super().send(method, path, data, headers, *args, **kwargs)

    async def _room_send(self, room_id: str, *args: Any, **kwargs: Any) -> Any:
        if room_id in self._rotate_next:
            self._rotate_next.discard(room_id)
            super().invalidate_outbound_session(room_id)
        if room_id in self._reshare_next:
            self._reshare_next.discard(room_id)
            self.reshare(room_id)
        return await super().room_send(room_id, *args, **kwargs)

    async def share_group_session(self, room_id: str, ignore_unverified_devices: bool = False,
                                  ) -> Any:
        # Before the member list is read: it is current after this await.
        allowed = await self.key_recipients(room_id) if self.key_recipients else None
        room = self.rooms.get(room_id)
        withheld = {}
        if room is not None:
            joined_only = room.history_visibility == "joined"
            # Out of the member list while nio shares (and marks the session shared).
            withheld = {u: m for u, m in room.users.items() if u != self.user_id and (
                (joined_only and m.invited) or (allowed is not None and u not in allowed))}
            for user_id in withheld:
                del room.users[user_id]
        try:
            return await super().share_group_session(room_id, ignore_unverified_devices)
        finally:
            if room is not None:
                for user_id, member in withheld.items():
                    now = room.users.setdefault(user_id, member)  # unless a sync moved them
                    if not now.invited:
                        # Joined meanwhile: nio found them absent and added them without
                        # clearing the invitation, which a stale invite in a later sync's state
                        # (Synapse's workers send them) would then take as current.
                        room.invited_users.pop(user_id, None)
