"""The runtime against a real Synapse with real E2EE: commands, replies, trust, restarts."""

from __future__ import annotations

import asyncio

from nio import MegolmEvent, RoomMessageNotice, ToDeviceMessage

from bots.runtime.crosssigning import cross_signed_devices, query_keys
from tests.conftest import BotFactory, ClinicianFactory


async def open_room(make_bot: BotFactory, make_clinician: ClinicianFactory):
    bot = await make_bot()
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    return bot, doc, room_id


async def test_bot_device_is_cross_signed_for_a_clinician(make_bot, make_clinician):
    bot = await make_bot()
    doc = await make_clinician()
    query = await query_keys(doc.client, [bot.user_id])
    devices = cross_signed_devices(query, bot.user_id)
    assert devices == {bot.runtime.client.device_id: True}


async def test_encrypted_command_round_trip(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    event_id = await doc.send(room_id, "!ping bonjour")
    reply = await doc.reply_to(room_id, event_id, bot.user_id)
    assert reply.source["content"]["body"] == "pong bonjour"
    assert reply.decrypted  # it came through megolm, not in clear


async def test_help_in_french_and_english(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    fr = await doc.reply_to(room_id, await doc.send(room_id, "!aide"), bot.user_id)
    en = await doc.reply_to(room_id, await doc.send(room_id, "!help"), bot.user_id)
    assert "!ping" in fr.body and "Commandes disponibles" in fr.body
    assert "Commands available" in en.body


async def test_unknown_command_and_bad_arguments_get_usage(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    unknown = await doc.reply_to(room_id, await doc.send(room_id, "!pnig"), bot.user_id)
    assert "Commande inconnue" in unknown.body and "!ping" in unknown.body
    extra = await doc.reply_to(room_id, await doc.send(room_id, "!aide trop d'arguments"),
                               bot.user_id)
    assert "Usage" in extra.body and "!aide" in extra.body


async def test_html_in_arguments_comes_back_escaped(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    attack = '<img src=x onerror="alert(1)"><b>gras</b>'
    reply = await doc.reply_to(room_id, await doc.send(room_id, f"!ping {attack}"), bot.user_id)
    content = reply.source["content"]
    assert "<img" not in content["formatted_body"] and "<b>" not in content["formatted_body"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in content["formatted_body"]
    assert content["body"] == f"pong {attack}"  # the plain body keeps the user's text as typed
    assert content["m.mentions"] == {"user_ids": []}


async def test_second_device_of_the_same_clinician(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    await doc.reply_to(room_id, await doc.send(room_id, "!ping un"), bot.user_id)
    second = await make_clinician(doc.user_id.split(":")[0][1:], doc.password, register=False)
    # Same identity: the new device is signed with the same cross-signing keys.
    await asyncio.sleep(0.5)
    event_id = await second.send(room_id, "!ping deux")
    reply = await second.reply_to(room_id, event_id, bot.user_id)
    assert reply.body == "pong deux"
    # The first device reads the answer to the second one too.
    first_view = await doc.reply_to(room_id, event_id, bot.user_id)
    assert isinstance(first_view, RoomMessageNotice)


async def test_member_who_joins_later_reads_new_answers(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    await doc.reply_to(room_id, await doc.send(room_id, "!ping avant"), bot.user_id)
    nurse = await make_clinician()
    await doc.client.room_invite(room_id, nurse.user_id)
    await nurse.wait_joined(room_id, nurse.user_id)
    await doc.wait_joined(room_id, nurse.user_id)
    event_id = await nurse.send(room_id, "!ping après")
    reply = await nurse.reply_to(room_id, event_id, bot.user_id)
    assert reply.body == "pong après"


async def test_unsigned_device_gets_no_keys_and_its_commands_are_refused(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    rogue = await make_clinician(doc.user_id.split(":")[0][1:], doc.password, register=False,
                                 cross_sign=False)
    await asyncio.sleep(0.5)
    event_id = await rogue.send(room_id, "!ping intrus")
    # The signed device sees the refusal; the rogue device cannot decrypt the bot's answer.
    refusal = await doc.reply_to(room_id, event_id, bot.user_id)
    assert "Commande refusée" in refusal.body
    ev = await rogue.wait_for(
        lambda r, e: r == room_id and e.sender == bot.user_id and
        isinstance(e, MegolmEvent | RoomMessageNotice), timeout=20, start=rogue.mark(event_id))
    assert isinstance(ev, MegolmEvent), "an unsigned device must not get the room key"


async def test_round_trip_with_the_store_on_postgresql(make_bot, make_clinician, pg_database):
    bot = await make_bot(database=pg_database)
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    reply = await doc.reply_to(room_id, await doc.send(room_id, "!ping pg"), bot.user_id)
    assert reply.body == "pong pg"


async def test_command_whose_key_arrives_late_is_retried_and_answered(make_bot, make_clinician):
    """The command's room key reaches the bot only after the command: the bot records it as
    undecryptable, asks for the key, and answers once the key arrives."""
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    client = doc.client
    bot_device = client.device_store[bot.user_id][bot.runtime.client.device_id]
    client.blacklist_device(bot_device)  # the next session is not shared with the bot
    client.olm.create_outbound_group_session(room_id)
    session = client.olm.outbound_group_sessions[room_id]
    first_index_key, session_id = session.session_key, session.id
    event_id = await doc.send(room_id, "!ping tardif")

    for _ in range(100):
        rows = await bot.store.inbox(bot.user_id, "undecryptable")
        if any(r.event_id == event_id for r in rows):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the bot did not record the undecryptable command")
    for _ in range(50):  # requested right after the sync is recorded (a to-device round trip)
        if session_id in bot.runtime.client.outgoing_key_requests:
            break
        await asyncio.sleep(0.2)
    assert session_id in bot.runtime.client.outgoing_key_requests, "the key must be requested"

    # Deliver the key late, Olm-encrypted to the bot's device, as a lagging to-device would.
    client.unblacklist_device(bot_device)
    await client.keys_claim({bot.user_id: [bot_device.id]})
    olm_session = client.olm.session_store.get(bot_device.curve25519)
    payload = client.olm._olm_encrypt(olm_session, bot_device, "m.room_key", {
        "algorithm": "m.megolm.v1.aes-sha2", "room_id": room_id,
        "session_id": session_id, "session_key": first_index_key})
    await client.to_device(ToDeviceMessage("m.room.encrypted", bot.user_id, bot_device.id,
                                           payload))
    reply = await doc.reply_to(room_id, event_id, bot.user_id, timeout=60)
    assert reply.body == "pong tardif"


async def test_a_member_who_left_gets_no_new_room_keys(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    nurse = await make_clinician()
    await doc.client.room_invite(room_id, nurse.user_id)
    await nurse.wait_joined(room_id, nurse.user_id)
    await doc.wait_joined(room_id, nurse.user_id)
    await doc.reply_to(room_id, await doc.send(room_id, "!ping ensemble"), bot.user_id)
    shared = bot.runtime.client.olm.outbound_group_sessions[room_id].users_shared_with
    assert any(user == nurse.user_id for user, _ in shared)

    await nurse.client.room_leave(room_id)
    for _ in range(100):
        if nurse.user_id not in bot.runtime.client.rooms[room_id].users:
            break
        await asyncio.sleep(0.1)
    await doc.reply_to(room_id, await doc.send(room_id, "!ping après départ"), bot.user_id)
    session = bot.runtime.client.olm.outbound_group_sessions[room_id]
    assert all(user != nurse.user_id for user, _ in session.users_shared_with)
    assert any(user == doc.user_id for user, _ in session.users_shared_with)
