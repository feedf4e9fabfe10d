"""Liaison's policy module inside the real Synapse (server-config/conf.d/policy.yaml.tmpl, loaded
by the session's homeserver): patient rooms encrypted, invite-only and named by the bot only; no
public or world-readable room; invites to the allowed servers only. The rules themselves, pure,
are checked directly first."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.careteam.rooms import EPISODE_EVENT, create_request, episode_content
from bots.devstack.clinician import Clinician
from bots.synapse_modules.policy import REASON_FIELD, Policy, StateEvent
from tests.conftest import examples

BOT = "@liaison:chu.example"
POLICY = Policy(frozenset({"chu.example"}), (BOT, "@bot*:chu.example"))
ENCRYPTED = {"type": "m.room.encryption", "state_key": "",
             "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
EPISODE = {"type": EPISODE_EVENT, "state_key": "",
           "content": episode_content("P-2026-00042", None, "open")}


# --- The rules, pure -----------------------------------------------------------------------------

def test_the_bots_creation_request_passes_and_its_variants_do_not() -> None:
    request = create_request(bot=BOT, name="P-2026-00042", invite={"@doc:chu.example": 50},
                             allowed_servers=["chu.example"],
                             episode=EPISODE["content"])
    assert POLICY.creation_refusal(BOT, request) is None
    assert POLICY.creation_refusal("@doc:chu.example", request) is not None  # the name
    unencrypted = [e for e in request["initial_state"] if e["type"] != "m.room.encryption"]
    assert "encrypted" in POLICY.creation_refusal(BOT, {**request, "initial_state": unencrypted})
    assert POLICY.creation_refusal(BOT, {**request, "preset": "public_chat", "initial_state": [
        e for e in request["initial_state"] if e["type"] != "m.room.join_rules"]})
    assert POLICY.creation_refusal(BOT, {**request, "visibility": "public"})
    assert POLICY.creation_refusal(BOT, {**request, "invite": ["@x:stranger.example"]})
    assert POLICY.creation_refusal(BOT, {"invite_3pid": [{"medium": "email"}]})


def test_state_rules() -> None:
    patient = {("m.room.encryption", ""): StateEvent(BOT, ENCRYPTED["content"], "$enc"),
               ("m.room.join_rules", ""): StateEvent(BOT, {"join_rule": "invite"}),
               (EPISODE_EVENT, ""): StateEvent(BOT, EPISODE["content"])}

    def refused(event_type: str, content: dict[str, Any], sender: str = "@doc:chu.example",
                state_key: str = "", state: Any = patient) -> bool:
        return POLICY.refusal(event_type, state_key, sender, content, state) is not None

    assert refused("m.room.join_rules", {"join_rule": "public"}, state={})
    assert not refused("m.room.join_rules", {"join_rule": "knock"}, state={})
    assert refused("m.room.join_rules", {"join_rule": "knock"})
    assert refused("m.room.history_visibility", {"history_visibility": "world_readable"}, state={})
    assert refused("m.room.encryption", {})
    assert refused("m.room.name", {"name": "DUPONT Marie"})
    assert not refused("m.room.name", {"name": "P-2026-00042"}, sender="@bot7:chu.example")
    assert not refused("m.room.name", {"name": "Réunion"}, state={})
    assert refused("m.room.member", {"membership": "invite"}, state_key="@x:stranger.example")
    assert not refused("m.room.member", {"membership": "leave"}, state_key="@x:stranger.example")
    named = {**patient, ("m.room.name", ""): StateEvent("@doc:chu.example", {"name": "x"})}
    del named[(EPISODE_EVENT, "")]
    assert refused(EPISODE_EVENT, EPISODE["content"], sender=BOT, state=named)
    assert POLICY.redaction_refusal("$enc", patient) is not None
    assert POLICY.redaction_refusal("$other", patient) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=3), max_leaves=8)
requests = st.fixed_dictionaries({}, optional={
    key: json_values for key in ("visibility", "preset", "invite", "invite_3pid", "name",
                                 "topic", "initial_state")})


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests, st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["m.room.join_rules", "m.room.encryption", EPISODE_EVENT,
                             "m.room.name", "m.room.history_visibility"]),
    "state_key": st.just(""), "content": json_values}), max_size=4))
def test_any_creation_request_gets_an_answer(request: dict[str, Any],
                                             initial_state: list[dict[str, Any]]) -> None:
    """Whatever a client sends, the check answers (a reason or None) rather than failing."""
    for candidate in (request, {**request, "initial_state": initial_state}):
        answer = POLICY.creation_refusal("@doc:chu.example", candidate)
        assert answer is None or answer.startswith(("no ", "a ", "in ", "invites", "this", "room"))


# --- Inside Synapse ------------------------------------------------------------------------------

async def call(who: Clinician, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    resp = await who.client.send(method, f"/_matrix/client/v3{path}",
                                 None if body is None else json.dumps(body), headers={"Authorization": f"Bearer {who.client.access_token}",
                                          "Content-Type": "application/json"})
    return resp.status, await resp.json()


async def create(who: Clinician, **request: Any) -> tuple[int, dict[str, Any]]:
    return await call(who, "POST", "/createRoom", request)


async def put_state(who: Clinician, room_id: str, event_type: str,
                    content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return await call(who, "PUT", f"/rooms/{quote(room_id)}/state/{event_type}/", content)


def refused_by_policy(answer: tuple[int, dict[str, Any]]) -> bool:
    status, body = answer
    return status == 403 and "Liaison policy" in body.get("error", "")


@pytest.fixture
async def doc(make_clinician) -> Clinician:
    return await make_clinician(cross_sign=False)


async def test_a_patient_room_unencrypted_or_public_is_refused(doc: Clinician) -> None:
    assert refused_by_policy(await create(doc, initial_state=[EPISODE]))
    assert refused_by_policy(await create(doc, preset="public_chat",
                                          initial_state=[ENCRYPTED, EPISODE]))
    status, made = await create(doc, initial_state=[ENCRYPTED, EPISODE])
    assert status == 200, made
    room = made["room_id"]
    for join_rule in ("public", "knock"):
        assert refused_by_policy(await put_state(doc, room, "m.room.join_rules",
                                                 {"join_rule": join_rule}))
    assert refused_by_policy(await put_state(doc, room, "m.room.encryption", {}))
    status, state = await call(doc, "GET", f"/rooms/{quote(room)}/state", None)
    encryption = next(e for e in state if e["type"] == "m.room.encryption")
    assert encryption["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    # Redacting it would leave an encryption event with no algorithm.
    assert refused_by_policy(await call(
        doc, "PUT", f"/rooms/{quote(room)}/redact/{quote(encryption['event_id'])}/t1", {}))


async def test_only_the_bot_names_a_patient_room(doc: Clinician) -> None:
    assert refused_by_policy(await create(doc, name="DUPONT Marie",
                                          initial_state=[ENCRYPTED, EPISODE]))
    status, made = await create(doc, initial_state=[ENCRYPTED, EPISODE])
    assert status == 200, made
    for event_type, content in (("m.room.name", {"name": "DUPONT Marie"}),
                                ("m.room.topic", {"topic": "née le 12/03/1948"})):
        # She created the room (power 100): only the policy stops her.
        assert refused_by_policy(await put_state(doc, made["room_id"], event_type, content))
    # A room she named does not become a patient room afterwards.
    status, named = await create(doc, name="DUPONT Marie", initial_state=[ENCRYPTED])
    assert status == 200
    assert refused_by_policy(await put_state(doc, named["room_id"], EPISODE_EVENT,
                                             EPISODE["content"]))


async def test_no_public_or_world_readable_room(doc: Clinician) -> None:
    assert refused_by_policy(await create(doc, preset="public_chat"))
    assert refused_by_policy(await create(doc, visibility="public"))
    assert refused_by_policy(await create(doc, initial_state=[{
        "type": "m.room.history_visibility", "state_key": "",
        "content": {"history_visibility": "world_readable"}}]))
    status, made = await create(doc, name="Réunion de service")
    assert status == 200, made
    room = made["room_id"]
    assert refused_by_policy(await put_state(doc, room, "m.room.history_visibility",
                                             {"history_visibility": "world_readable"}))
    assert refused_by_policy(await put_state(doc, room, "m.room.join_rules",
                                             {"join_rule": "public"}))
    status, body = await call(doc, "PUT", f"/directory/list/room/{quote(room)}",
                              {"visibility": "public"})
    assert status == 403, body
    # Ordinary changes still go through.
    assert (await put_state(doc, room, "m.room.topic", {"topic": "mardi 14 h"}))[0] == 200


async def test_invites_reach_the_allowed_servers_only(doc: Clinician) -> None:
    stranger = "@someone:stranger.example"
    assert refused_by_policy(await create(doc, invite=[stranger]))
    status, made = await create(doc)
    assert status == 200
    status, body = await call(doc, "POST", f"/rooms/{quote(made['room_id'])}/invite",
                              {"user_id": stranger})
    assert status == 403 and body.get(REASON_FIELD), body
