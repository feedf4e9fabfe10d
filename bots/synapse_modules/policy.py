"""Liaison's room policy inside Synapse, in the spirit of Tchap's room_access_rules: patient rooms
(the ones holding the episode state) stay encrypted, invite-only and named by the bot alone; no
room anywhere is public, world-readable or published; invites reach the allowed servers only.

`Policy.refusal` is the whole rule set, pure: one state event against the room's state before it.
`LiaisonPolicy` plugs it into Synapse's module API (third-party rules and spam checker callbacks),
and checks a createRoom request as a whole before Synapse makes any of its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from synapse.module_api import NOT_SPAM
from synapse.module_api.errors import Codes, ConfigError, SynapseError

EPISODE_EVENT = "fr.liaison.episode"  # bots/careteam/rooms.py: the mark of a patient room
MEGOLM = "m.megolm.v1.aes-sha2"
JOIN_RULES, HISTORY, ENCRYPTION = "m.room.join_rules", "m.room.history_visibility", "m.room.encryption"
NAME, TOPIC, MEMBER, POWER_LEVELS = "m.room.name", "m.room.topic", "m.room.member", "m.room.power_levels"
# What a patient room's safety rests on: redacting one of these would empty its content.
_PROTECTIVE = (JOIN_RULES, HISTORY, ENCRYPTION, NAME, TOPIC, EPISODE_EVENT)
# createRoom presets and the join rule each sets (the spec's table).
_PRESET_JOIN_RULE = {"public_chat": "public", "private_chat": "invite",
                     "trusted_private_chat": "invite"}

REASON_FIELD = "fr.liaison.policy"  # in an invite refusal's error body: why
StateKey = tuple[str, str]


@dataclass(frozen=True)
class StateEvent:
    sender: str
    content: Mapping[str, Any]
    event_id: str = ""


State = Mapping[StateKey, StateEvent]


@dataclass(frozen=True)
class Policy:
    allowed_servers: frozenset[str]
    bots: tuple[str, ...]  # user IDs, `*` patterns allowed (`@bot*:localhost` in the tests)

    def is_bot(self, user_id: str) -> bool:
        return any(fnmatchcase(user_id, pattern) for pattern in self.bots)

    def server_allowed(self, user_id: str) -> bool:
        return user_id.partition(":")[2] in self.allowed_servers

    def refusal(self, event_type: str, state_key: str, sender: str,
                content: Mapping[str, Any], state: State) -> str | None:
        """Why this state event may not go into a room whose state is `state` (None: it may)."""
        patient = (EPISODE_EVENT, "") in state
        if event_type == JOIN_RULES:
            rule = content.get("join_rule")
            if rule == "public":
                return "no public room on this server"
            if patient and rule != "invite":
                return "a patient room stays invite-only"
        elif event_type == HISTORY and content.get("history_visibility") == "world_readable":
            return "no world-readable room on this server"
        elif event_type == ENCRYPTION and content.get("algorithm") != MEGOLM:
            return "room encryption stays megolm"
        elif event_type in (NAME, TOPIC) and patient and not self.is_bot(sender):
            return "in a patient room only the bot sets the name and topic"
        elif event_type == EPISODE_EVENT:
            return self._not_patient_ready(state)
        elif (event_type == MEMBER and content.get("membership") in ("invite", "join", "knock")
              and not self.server_allowed(state_key)):
            return "this user's server is not allowed"
        return None

    def _not_patient_ready(self, state: State) -> str | None:
        """A room becomes a patient room only once encrypted and invite-only, with no name or
        topic set by anyone but the bot."""
        encryption = state.get((ENCRYPTION, ""))
        join_rules = state.get((JOIN_RULES, ""))
        if encryption is None or encryption.content.get("algorithm") != MEGOLM:
            return "a patient room must be encrypted first"
        if join_rules is None or join_rules.content.get("join_rule") != "invite":
            return "a patient room must be invite-only first"
        if any((t, "") in state and not self.is_bot(state[(t, "")].sender) for t in (NAME, TOPIC)):
            return "a patient room's name and topic come from the bot only"
        return None

    def redaction_refusal(self, redacts: str | None, state: State) -> str | None:
        """Redacting a protective state event of a patient room would empty it."""
        if (EPISODE_EVENT, "") not in state:
            return None
        if any(state[(t, "")].event_id == redacts for t in _PROTECTIVE if (t, "") in state):
            return "a patient room's protective state may not be redacted"
        return None

    def creation_refusal(self, requester: str, request: Mapping[str, Any]) -> str | None:
        """A createRoom request checked as a whole: Synapse makes its events in a batch whose
        state the per-event check does not see, so they are run through `refusal` here, in
        Synapse's order (the preset's join rule, then initial_state, then name and topic)."""
        if request.get("visibility") == "public":
            return "no room in the public directory"
        if request.get("invite_3pid"):
            return "invites go to Matrix users of the allowed servers only"
        if any(not self.server_allowed(str(u)) for u in _list(request.get("invite"))):
            return "this user's server is not allowed"
        state: dict[StateKey, StateEvent] = {}
        for event_type, state_key, content in _creation_events(request):
            reason = self.refusal(event_type, state_key, requester, content, state)
            if reason:
                return reason
            state[(event_type, state_key)] = StateEvent(requester, content)
        return None


def _creation_events(request: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    # Malformed parts are left to Synapse, which refuses the request for them.
    initial = {(e["type"], e.get("state_key", "")): _dict(e.get("content"))
               for e in _list(request.get("initial_state"))
               if isinstance(e, Mapping) and isinstance(e.get("type"), str)
               and isinstance(e.get("state_key", ""), str)}
    preset = str(request.get("preset") or (
        "public_chat" if request.get("visibility") == "public" else "private_chat"))
    if (JOIN_RULES, "") not in initial:
        yield JOIN_RULES, "", {"join_rule": _PRESET_JOIN_RULE.get(preset, "invite")}
    for (event_type, state_key), content in initial.items():
        yield event_type, state_key, content
    if "name" in request:
        yield NAME, "", {"name": request["name"]}
    if "topic" in request:
        yield TOPIC, "", {"topic": request["topic"]}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class LiaisonPolicy:
    """The Synapse module. Configuration (its `modules:` entry):
    `allowed_servers: [chu.example]`, `bots: ["@liaison:chu.example"]`."""

    def __init__(self, config: Policy, api: Any) -> None:
        self.policy = config
        api.register_third_party_rules_callbacks(
            check_event_allowed=self.check_event_allowed,
            on_create_room=self.on_create_room,
            check_threepid_can_be_invited=self.check_threepid_can_be_invited,
            check_visibility_can_be_modified=self.check_visibility_can_be_modified,
        )
        api.register_spam_checker_callbacks(user_may_invite=self.user_may_invite)

    @staticmethod
    def parse_config(config: Mapping[str, Any]) -> Policy:
        servers, bots = config.get("allowed_servers"), config.get("bots", [])
        if not servers or not all(isinstance(s, str) for s in servers):
            raise ConfigError("allowed_servers: a list of server names is needed")
        if not isinstance(bots, list) or not all(isinstance(b, str) for b in bots):
            raise ConfigError("bots: a list of user IDs")
        return Policy(frozenset(servers), tuple(bots))

    async def check_event_allowed(self, event: Any,
                                  state_events: Mapping[StateKey, Any]) -> tuple[bool, None]:
        # Events of a room being created are checked before it exists (on_create_room): their
        # state here misses the batch made with them, power levels first.
        if (POWER_LEVELS, "") not in state_events:
            return True, None
        state = {key: StateEvent(e.sender, e.content, e.event_id)
                 for key, e in state_events.items()}
        if event.type == "m.room.redaction":
            reason = self.policy.redaction_refusal(getattr(event, "redacts", None), state)
        elif event.is_state():
            reason = self.policy.refusal(event.type, event.state_key, event.sender,
                                         event.content, state)
        else:
            reason = None
        if reason:
            _refuse(reason)
        return True, None

    async def on_create_room(self, requester: Any, request: dict[str, Any],
                             is_requester_admin: bool) -> None:
        reason = self.policy.creation_refusal(requester.user.to_string(), request)
        if reason:
            _refuse(reason)

    async def check_threepid_can_be_invited(self, medium: str, address: str,
                                            state_events: Any) -> bool:
        return False  # an e-mail invite could reach anyone: accounts come from the hospital

    async def check_visibility_can_be_modified(self, room_id: str, state_events: Any,
                                               new_visibility: str) -> bool:
        return new_visibility != "public"

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str) -> Any:
        if self.policy.server_allowed(inviter) and self.policy.server_allowed(invitee):
            return NOT_SPAM
        return Codes.FORBIDDEN, {REASON_FIELD: "this user's server is not allowed"}


def _refuse(reason: str) -> None:
    raise SynapseError(403, f"Liaison policy: {reason}", Codes.FORBIDDEN)
