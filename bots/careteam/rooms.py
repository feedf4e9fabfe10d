"""What a care room looks like on Matrix: creation request, power levels, episode state. Pure.

Room state is never end-to-end encrypted, so nothing here may carry identity: the name is the
pseudonymous reference (and initials, if the deployment keeps them), the episode state event holds
the reference, the ward and the status only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

EPISODE_EVENT = "fr.liaison.episode"
BOT_POWER = 100
COORDINATOR_POWER = 50

# Only the bot keeps the settings that protect the room: who may read (history, join rules,
# encryption), who has power, and what the server sees (name, topic, episode state).
_BOT_ONLY = ("m.room.power_levels", "m.room.history_visibility", "m.room.encryption",
             "m.room.join_rules", "m.room.guest_access", "m.room.name", "m.room.topic",
             "m.room.canonical_alias", "m.room.server_acl", "m.room.tombstone", EPISODE_EVENT)


def creator_has_all_power(room_version: str) -> bool:
    """From room version 12, the creator's power is above any level and may not be listed."""
    return room_version.isdigit() and int(room_version) >= 12


def power_levels(bot: str | None, members: Mapping[str, int], *,
                 closed: bool = False) -> dict[str, Any]:
    """Coordinators (50) invite, remove and change ordinary state; everyone writes messages
    while the episode is open; a closed room is read-only for all but the bot. `bot` is None
    when the room version gives the creator (the bot) all power already."""
    writable = 0 if not closed else BOT_POWER
    bot_level = {bot: BOT_POWER} if bot else {}
    return {
        "users": {**{u: pl for u, pl in members.items() if pl > 0}, **bot_level},
        "users_default": 0,
        "events_default": writable,
        "state_default": COORDINATOR_POWER if not closed else BOT_POWER,
        "invite": COORDINATOR_POWER if not closed else BOT_POWER,
        "kick": COORDINATOR_POWER,
        "ban": COORDINATOR_POWER,
        "redact": COORDINATOR_POWER,
        "events": {**{t: BOT_POWER for t in _BOT_ONLY}, "m.room.redaction": writable},
        "notifications": {"room": COORDINATOR_POWER},
    }


def episode_content(ref: str, ward: str | None, status: str) -> dict[str, Any]:
    return {"ref": ref, "ward": ward, "status": status, "version": 1}


# What protects a care room, as the bot sets it at creation (one more, the server ACL, comes
# from the configuration). A room is only ever adopted with these as they are here.
_PROTECTIVE = {
    # Encrypted from the first event: nothing can be sent in clear, even by a fast client.
    "m.room.encryption": {"algorithm": "m.megolm.v1.aes-sha2"},
    "m.room.history_visibility": {"history_visibility": "joined"},
    "m.room.guest_access": {"guest_access": "forbidden"},
    "m.room.join_rules": {"join_rule": "invite"},
}


def server_acl(allowed_servers: Sequence[str]) -> dict[str, Any]:
    """Only the allowed homeservers take part in the room, whoever invites whom."""
    # An ACL names hosts: a port in a server name is dropped.
    hosts = {re.sub(r":[0-9]+$", "", server) for server in allowed_servers}
    return {"allow": sorted(hosts), "deny": [], "allow_ip_literals": False}


def _private_state(extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*({"type": t, "state_key": "", "content": c} for t, c in _PROTECTIVE.items()),
            *extra]


def not_adoptable(state: Sequence[Mapping[str, Any]], bot: str) -> str | None:
    """Why a room found with a pending file's episode state may not be taken as the one the bot
    created before a crash (None if it may): anyone can put that state in a room of theirs and
    invite the bot, so the room must be the bot's own, still protected as it made it."""
    by_type = {e.get("type"): e for e in state if e.get("state_key") == ""}
    create = by_type.get("m.room.create")
    if create is None or create.get("sender") != bot:
        return "not created by the bot"
    for event_type, content in _PROTECTIVE.items():
        found = by_type.get(event_type, {}).get("content", {})
        if any(found.get(k) != v for k, v in content.items()):
            return f"{event_type} is not as the bot sets it"
    return None


def closed_power_levels(current: dict[str, Any]) -> dict[str, Any]:
    """The room's power levels with writing and inviting left to the bot alone."""
    return {**current, "events_default": BOT_POWER, "state_default": BOT_POWER,
            "invite": BOT_POWER,
            "events": {**current.get("events", {}), "m.room.redaction": BOT_POWER}}


def create_request(*, bot: str | None, name: str, invite: Mapping[str, int],
                   allowed_servers: Sequence[str],
                   episode: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for nio's `room_create`: private (not in the directory), invite-only,
    history for joined members only, encrypted, closed to other servers than the allowed ones,
    the team invited with their power levels."""
    extra = [{"type": "m.room.server_acl", "state_key": "",
              "content": server_acl(allowed_servers)}]
    if episode:
        extra.append({"type": EPISODE_EVENT, "state_key": "", "content": episode})
    return {
        "name": name,
        "invite": sorted(invite),
        "initial_state": _private_state(extra),
        "power_level_override": power_levels(bot, invite),
        "federate": len(allowed_servers) > 1,
    }


def room_name(template: str, ref: str, initials: str) -> str:
    return template.format(ref=ref, initials=initials)
