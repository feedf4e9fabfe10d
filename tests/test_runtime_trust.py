"""Whose events count, against the real Synapse with real E2EE (security review, issue 13):
commands sent in clear, ✅ reactions in clear, identities reset behind a user's back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from nio import Api, RoomGetStateEventResponse, RoomSendResponse

from bots.devstack.clinician import Clinician
from bots.discharge import records
from bots.runtime.crosssigning import (
    CrossSigningKeys,
    _post,
    _sign_own_device,
    cross_signed_devices,
    key_objects,
    query_keys,
)
from tests.careteam_helpers import care_setup, welcomed
from tests.discharge_helpers import today, ward


async def send_clear(member: Clinician, room_id: str, event_type: str,
                     content: dict) -> str:
    """An event in clear, even in an encrypted room (Synapse accepts it): what a stolen access
    token alone can send."""
    method, path, data = Api.room_send(member.client.access_token, room_id, event_type, content,
                                       uuid.uuid4())
    resp = await member.client._send(RoomSendResponse, method, path, data, (room_id,))
    assert isinstance(resp, RoomSendResponse), resp
    member._sent_at[resp.event_id] = len(member.timeline)
    return resp.event_id


async def clear_command(member: Clinician, room_id: str, body: str) -> str:
    return await send_clear(member, room_id, "m.room.message", {"msgtype": "m.text", "body": body})


async def test_a_command_in_clear_is_refused_once_and_changes_nothing(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    doc, room, bot_id = setup.coordinator, setup.coordination_room, setup.bot.user_id
    carol = await make_clinician()

    event_id = await clear_command(doc, room, f"!equipe ajouter {carol.user_id} IDE")
    refusal = await doc.reply_to(room, event_id, bot_id)
    assert "sans chiffrement" in refusal.body and refusal.decrypted
    again = await clear_command(doc, room, f"!equipe ajouter {carol.user_id} IDE")
    # Told once: an encrypted command sent after it is answered, the clear one is not.
    listing = await doc.reply_to(room, await doc.send(room, "!equipe liste"), bot_id)
    assert carol.user_id not in listing.body
    assert doc.replies_to(room, again, bot_id) == []
    assert carol.user_id not in doc.client.rooms[room].users

    # The same command, encrypted from her cross-signed device, is carried out.
    added = await doc.reply_to(room, await doc.send(
        room, f"!equipe ajouter {carol.user_id} IDE"), bot_id, timeout=60)
    assert "ajouté" in added.body
    await carol.wait_joined(room, carol.user_id)


async def test_a_clear_tick_answers_an_item_and_is_audited_as_unencrypted(
        make_bot, make_clinician):
    w = await ward(make_bot, make_clinician)
    await w.dac.send(w.room_id, f"!sortie prevoir {today() + timedelta(days=3):%d/%m/%Y}")
    live = await w.live(w.nurse)
    reply = await w.command(w.dac, f"!sortie assigner 8 {w.sec.user_id}")
    mark = len(w.nurse.timeline)
    # As Element Web sends it: an m.reaction in clear.
    await send_clear(w.sec, w.room_id, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": reply.event_id, "key": "✅"}})
    await w.edit_of(w.nurse, live.event_id, "✅ 8.", start=mark)
    # An encrypted one from a cross-signed device is audited as such.
    await w.nurse.react(w.room_id, (await w.command(w.dac, f"!sortie assigner 18 "
                                                    f"{w.nurse.user_id}")).event_id)
    await w.edit_of(w.nurse, live.event_id, "✅ 18.", start=mark)
    store = w.setup.bot.store
    assert store is not None
    async with store.transaction(w.bot_id) as tx:
        row = await records.by_room(tx, w.room_id)
        assert row is not None
        answers = {e.item: e.detail for e in await records.audit_trail(tx, row)
                   if e.action == "answer"}
    assert answers[8].get("unencrypted") is True
    assert "unencrypted" not in answers[18]


async def sent_by(other: Clinician, member: Clinician, room_id: str, body: str) -> str:
    """`member` sends a command whose answer `other` reads (from this point of her timeline)."""
    mark = len(other.timeline)
    event_id = await member.send(room_id, body)
    other._sent_at[event_id] = mark
    return event_id


async def reset_identity(member: Clinician) -> None:
    """What someone with the password (or a server admin) can do: upload a new cross-signing
    identity, confirmed by the password (user-interactive auth), and sign the device with it."""
    client, user_id = member.client, member.user_id
    keys = CrossSigningKeys.generate()
    body = key_objects(user_id, keys)
    status, data = await _post(client, "/keys/device_signing/upload", body)
    assert status == 401 and "flows" in data, data
    body["auth"] = {"type": "m.login.password", "password": member.password,
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "session": data.get("session")}
    status, data = await _post(client, "/keys/device_signing/upload", body)
    assert status == 200, data
    await _sign_own_device(client, keys, await query_keys(client, [user_id]))
    assert cross_signed_devices(await query_keys(client, [user_id]), user_id)[client.device_id]


async def test_a_reset_identity_is_distrusted_until_a_coordinator_confirms_it(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    doc, room, bot_id = setup.coordinator, setup.coordination_room, setup.bot.user_id
    nurse = await make_clinician()
    status, body = await setup.call("POST", "/api/v1/coordination/members",
                                    {"user_id": nurse.user_id, "role": "IDE"})
    assert status == 200, body
    await nurse.wait_joined(room, nurse.user_id)
    await doc.wait_joined(room, nurse.user_id)
    await welcomed(nurse, room)  # what was sent before is not hers to read
    assert (await nurse.reply_to(room, await nurse.send(room, "!ping avant"), bot_id)).body \
        == "pong avant"

    await reset_identity(nurse)
    await asyncio.sleep(1)
    first = await sent_by(doc, nurse, room, "!ping après")
    refused = await doc.reply_to(room, first, bot_id)
    assert "a changé" in refused.body and "!confiance confirmer" in refused.body
    told = await doc.wait_for(lambda r, e: r == room and e.sender == bot_id
                              and "Ses sessions ne reçoivent plus" in getattr(e, "body", ""))
    assert nurse.user_id in told.source["content"]["m.mentions"]["user_ids"]
    second = await sent_by(doc, nurse, room, "!ping encore")
    assert "a changé" in (await doc.reply_to(room, second, bot_id)).body
    # She cannot vouch for herself; the room was told once.
    denied = await sent_by(doc, nurse, room, f"!confiance confirmer {nurse.user_id}")
    assert "a changé" in (await doc.reply_to(room, denied, bot_id)).body
    assert len([e for r, e in doc.timeline if r == room and e.sender == bot_id
                and "Ses sessions ne reçoivent plus" in getattr(e, "body", "")]) == 1
    # No room key for her devices meanwhile.
    session = setup.bot.runtime.client.olm.outbound_group_sessions[room]
    assert all(user != nurse.user_id for user, _ in session.users_shared_with)

    confirmed = await doc.reply_to(room, await doc.send(
        room, f"!confiance confirmer {nurse.user_id}"), bot_id)
    assert "confirmée" in confirmed.body
    reply = await nurse.reply_to(room, await nurse.send(room, "!ping rétablie"), bot_id,
                                 timeout=60)
    assert reply.body == "pong rétablie"


async def membership(member: Clinician, room_id: str, user_id: str) -> str:
    """The bot's membership once it has answered the invite ("join" or "leave")."""
    for _ in range(150):
        resp = await member.client.room_get_state_event(room_id, "m.room.member", user_id)
        if isinstance(resp, RoomGetStateEventResponse) and \
                resp.content.get("membership") in ("join", "leave"):
            return resp.content["membership"]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{user_id} never answered the invite to {room_id}")


async def test_the_bot_joins_only_rooms_it_is_declared_in_or_asked_into_by_a_role(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    bot_id = setup.bot.user_id
    stranger = await make_clinician()  # a local account with no role anywhere
    theirs = await stranger.create_room(invite=[bot_id])
    assert await membership(stranger, theirs, bot_id) == "leave"
    # A coordinator (DAC in the coordination room) may bring the bot into a room of hers.
    ours = await setup.coordinator.create_room(invite=[bot_id])
    assert await membership(setup.coordinator, ours, bot_id) == "join"
