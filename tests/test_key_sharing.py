"""The runtime's rules on who gets a room's megolm session (bots/runtime/client.py), on nio's own
room state: what a sync does while a session is being shared."""

from __future__ import annotations

from typing import Any

from nio import AsyncClient, MatrixRoom, RoomMemberEvent

from bots.runtime.client import Client

ROOM = "!room:localhost"
BOT = "@bot:localhost"
NURSE = "@nurse:localhost"


def member_event(user_id: str, membership: str, prev: str | None) -> RoomMemberEvent:
    return RoomMemberEvent.from_dict({
        "type": "m.room.member", "event_id": f"${user_id}{membership}", "sender": user_id,
        "state_key": user_id, "origin_server_ts": 0, "content": {"membership": membership},
        "unsigned": {"prev_content": {"membership": prev}} if prev else {}})


async def test_a_member_who_joins_during_a_share_stays_joined_after_a_stale_invite(monkeypatch):
    """Invited when the share starts (so withheld from it), joined while it runs: a later sync
    whose state still carries the invitation (Synapse's workers send such state) must not make
    them invited again, or every later session would be withheld from them."""
    client = Client("http://localhost", BOT)
    room = MatrixRoom(ROOM, BOT)
    room.history_visibility = "joined"
    room.encrypted = True
    room.handle_membership(member_event(BOT, "join", None))
    room.handle_membership(member_event(NURSE, "invite", None))
    client.rooms[ROOM] = room
    seen: list[set[str]] = []

    async def share(self: AsyncClient, room_id: str, ignore_unverified_devices: bool = False,
                    ) -> Any:
        seen.append(set(room.users))
        room.handle_membership(member_event(NURSE, "join", "invite"))  # a sync, meanwhile
        return None

    monkeypatch.setattr(AsyncClient, "share_group_session", share)
    await client.share_group_session(ROOM)
    assert seen == [{BOT}]  # the invited nurse was left out of the share
    assert not room.users[NURSE].invited

    room.handle_membership(member_event(NURSE, "invite", None))  # stale state in a later sync
    assert not room.users[NURSE].invited


async def test_who_may_hold_the_keys_is_asked_when_a_session_is_shared_not_for_each_message(
        monkeypatch):
    """A message in a session already shared reaches only who holds it: no lookup (a burst of a
    thousand messages made as many database transactions). A share asks, and leaves out who
    may not hold the keys."""
    client = Client("http://localhost", BOT)
    room = MatrixRoom(ROOM, BOT)
    room.encrypted = True
    for user_id in (BOT, NURSE, "@guest:localhost"):
        room.handle_membership(member_event(user_id, "join", None))
    client.rooms[ROOM] = room
    asked: list[str] = []
    shared_with: list[set[str]] = []

    async def recipients(room_id: str) -> set[str]:
        asked.append(room_id)
        return {BOT, NURSE}

    async def send(self: AsyncClient, room_id: str, *args: Any, **kwargs: Any) -> Any:
        return None  # nio's, with the session already shared: encrypt and send

    async def share(self: AsyncClient, room_id: str, ignore_unverified_devices: bool = False,
                    ) -> Any:
        shared_with.append(set(room.users))

    client.key_recipients = recipients
    monkeypatch.setattr(AsyncClient, "room_send", send)
    monkeypatch.setattr(AsyncClient, "share_group_session", share)
    for _ in range(3):
        await client.room_send(ROOM, "m.room.message", {"msgtype": "m.notice", "body": "x"})
    assert asked == []
    await client.share_group_session(ROOM)
    assert asked == [ROOM]
    assert shared_with == [{BOT, NURSE}]
    assert set(room.users) == {BOT, NURSE, "@guest:localhost"}  # back in the member list
