"""Whose events count, against the real Synapse with real E2EE (security review, issue 13):
commands sent in clear, ✅ reactions in clear, identities reset behind a user's back."""

from __future__ import annotations

import uuid
from datetime import timedelta

from nio import Api, RoomSendResponse

from bots.discharge import records
from tests.careteam_helpers import care_setup
from tests.clients import Clinician
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
