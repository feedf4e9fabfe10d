"""Patient rooms against the real Synapse: opening by command, what the server can see, what is
stored, newcomers, team changes with key rotation, power levels, closing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta

from nio import (
    MegolmEvent,
    RoomGetStateResponse,
    RoomMessageNotice,
    RoomPutStateError,
    RoomSendError,
)

from bots.careteam.rooms import EPISODE_EVENT
from bots.runtime.store import utcnow
from tests.careteam_helpers import INS, care_setup, welcomed

# The birth date in every form the bots write it, never a bare year or day: four or five
# characters also turn up by chance in random IDs, ciphertexts and timestamps' microseconds.
IDENTITY_TRAITS = ("DUPONT", "Dupont", "Marie", "1948-03-12", "12/03/1948", "19480312", INS,
                   INS[:13])


async def raw_event(member, room_id: str, event_id: str) -> dict:
    """The event as the server stores it (nio would decrypt it)."""
    resp = await member.client.send(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/event/{event_id}",
        headers={"Authorization": f"Bearer {member.client.access_token}"})
    return await resp.json()


def db_path(setup) -> str:
    return setup.bot.config.database.removeprefix("sqlite:///")


async def test_open_by_command_keeps_identity_out_of_what_the_server_sees(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    nurse = await make_clinician()
    body, room_id = await setup.open_by_command(
        f"DUPONT Marie 12/03/1948 F {INS} service=Cardiologie {nurse.user_id}:IDE")
    assert "Salon patient ouvert" in body and room_id, body
    await nurse.wait_joined(room_id, nurse.user_id)

    # The newcomer is briefed, in an encrypted message that mentions them.
    welcome = await welcomed(nurse, room_id)
    assert welcome.decrypted and "DUPONT" in welcome.body and "Cardiologie" in welcome.body
    assert "2 48 03 75 123 456" in welcome.body

    # Everything the homeserver holds as room state, read as it stores it.
    state = await nurse.client.room_get_state(room_id)
    assert isinstance(state, RoomGetStateResponse)
    dumped = json.dumps(state.events, ensure_ascii=False)
    for trait in IDENTITY_TRAITS:
        assert trait not in dumped, f"{trait!r} is in the room state"
    by_type = {(e["type"], e["state_key"]): e["content"] for e in state.events}
    episode = by_type[(EPISODE_EVENT, "")]
    episode_ref = episode["ref"]
    assert episode_ref.startswith("P-")
    assert by_type[("m.room.encryption", "")]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert by_type[("m.room.join_rules", "")]["join_rule"] == "invite"
    assert by_type[("m.room.history_visibility", "")]["history_visibility"] == "joined"
    assert by_type[("m.room.guest_access", "")]["guest_access"] == "forbidden"
    assert by_type[("m.room.name", "")]["name"] == episode_ref  # no initials by default
    assert episode["status"] == "open" and episode["ward"] == "Cardiologie"
    levels = by_type[("m.room.power_levels", "")]
    create = next(e for e in state.events if e["type"] == "m.room.create")
    assert create["sender"] == setup.bot.user_id  # the bot made it: it is never without power
    if int(create["content"].get("room_version", "1")) < 12:
        assert levels["users"][setup.bot.user_id] == 100
    else:  # from v12 the creator has all power and is not listed
        assert setup.bot.user_id not in levels["users"]
    assert levels["users"][setup.coordinator.user_id] == 50  # the DAC who opened it
    assert nurse.user_id not in levels["users"]  # IDE: 0
    assert levels["events"]["m.room.history_visibility"] == 100
    # Only the allowed servers take part, whoever a coordinator invites; only the bot changes it.
    server = setup.bot.user_id.split(":", 1)[1].split(":")[0]
    assert by_type[("m.room.server_acl", "")] == {"allow": [server], "deny": [],
                                                  "allow_ip_literals": False}
    assert levels["events"]["m.room.server_acl"] == 100
    # Encrypted from the very first event: the creation timeline has nothing in clear.
    raw = await nurse.client.send(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=100",
        headers={"Authorization": f"Bearer {nurse.client.access_token}"})
    chunk = (await raw.json())["chunk"]
    assert chunk and all(e["type"] != "m.room.message" for e in chunk)
    assert any(e["type"] == "m.room.encrypted" for e in chunk)

    # Not in the public directory.
    public = await nurse.client.room_get_state_event(room_id, "m.room.create")
    assert public
    directory = await nurse.client.send("GET", "/_matrix/client/v3/publicRooms")
    assert room_id not in await directory.text()

    # At rest: identity sealed, no trait readable in any table.
    with sqlite3.connect(db_path(setup)) as db:
        sealed, ins_index = db.execute(
            "SELECT sealed, ins_index FROM care_rooms WHERE room_id = ?", (room_id,)).fetchone()
        everything = b"".join(
            json.dumps(row, default=repr).encode()
            for table in ("care_rooms", "care_team", "inbox", "outbox")
            for row in db.execute(f"SELECT * FROM {table}").fetchall())
    assert sealed.startswith(b"\x01")  # sealed bound to its row (AES-256-GCM, vault.py)
    assert ins_index and INS not in ins_index
    for trait in IDENTITY_TRAITS:
        assert trait.encode() not in everything and trait.encode() not in sealed


async def test_opening_the_same_patient_again_returns_the_same_room(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    _, first = await setup.open_by_command(f"DUPONT Marie 12/03/1948 F {INS}")
    # Same patient, typed differently (lower case, ISO date, INS with spaces).
    spaced = " ".join([INS[0], INS[1:3], INS[3:5], INS[5:7], INS[7:10], INS[10:13], INS[13:]])
    body, again = await setup.open_by_command(f"dupont Marie 1948-03-12 F {spaced}")
    assert again == first and "déjà un salon" in body
    # No INS this time: the traits find the same patient.
    _, third = await setup.open_by_command("Dupont marie 12/03/1948 f")
    assert third == first
    with sqlite3.connect(db_path(setup)) as db:
        assert db.execute("SELECT count(*) FROM care_rooms WHERE kind = 'patient'"
                          ).fetchone()[0] == 1


async def test_bad_input_opens_nothing(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    doc, room = setup.coordinator, setup.coordination_room
    wrong_key = INS[:13] + f"{(int(INS[13:]) + 1) % 97:02d}"
    cases = {
        f"DUPONT Marie 12/03/1948 F {wrong_key}": "clé",
        "DUPONT Marie 12/03/1948": "sexe",
        "DUPONT Marie 31/02/1948 F": "date",
        f"DUPONT Marie 12/03/1948 M {INS}": "INS",  # the INS says female
        "DUPONT Marie 12/03/1948 F @ghost:nowhere.example:IDE": "serveur non autorisé",
        "DUPONT Marie 12/03/1948 F @bob:localhost:CHEF": "rôle",
    }
    for text, expected in cases.items():
        event_id = await doc.send(room, f"!patient ouvrir {text}")
        reply = await doc.reply_to(room, event_id, setup.bot.user_id, timeout=60)
        assert expected.lower() in reply.body.lower(), (text, reply.body)
    unknown = f"@nobody{INS[-4:]}:{doc.user_id.split(':')[1]}"
    event_id = await doc.send(room, f"!patient ouvrir DURAND Paul 01/01/1950 M {unknown}:IDE")
    reply = await doc.reply_to(room, event_id, setup.bot.user_id, timeout=60)
    assert "inconnu" in reply.body and "Rien n'a été créé" in reply.body
    with sqlite3.connect(db_path(setup)) as db:
        assert db.execute("SELECT count(*) FROM care_rooms WHERE kind = 'patient'"
                          ).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM care_team").fetchone()[0] == 1  # the DAC only
    assert len(setup.bot.runtime.client.rooms) == 1  # the coordination room, no orphan


async def test_only_coordinators_open_rooms_and_only_in_coordination_rooms(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    nurse = await make_clinician()
    _, room_id = await setup.open_by_command(f"DUPONT Marie 12/03/1948 F {nurse.user_id}:IDE")
    await nurse.wait_joined(room_id, nurse.user_id)
    await welcomed(nurse, room_id)  # what the bot sent before it saw her join is not hers
    event_id = await nurse.send(room_id, "!patient ouvrir MARTIN Jean 01/01/1940 M")
    reply = await nurse.reply_to(room_id, event_id, setup.bot.user_id)
    assert "pas le droit" in reply.body
    event_id = await nurse.send(room_id, "!equipe ajouter @x:localhost IDE")
    assert "pas le droit" in (await nurse.reply_to(room_id, event_id, setup.bot.user_id)).body
    # Synapse enforces the same: an IDE (power 0) can neither invite nor rename.
    invite = await nurse.client.room_invite(room_id, setup.coordinator.user_id)
    assert getattr(invite, "status_code", None) == "M_FORBIDDEN"
    rename = await nurse.client.room_put_state(room_id, "m.room.name", {"name": "DUPONT"})
    assert isinstance(rename, RoomPutStateError)
    # Help lists what each may do where they are.
    help_nurse = await nurse.reply_to(room_id, await nurse.send(room_id, "!aide"),
                                      setup.bot.user_id)
    assert "!patient identite" in help_nurse.body and "!patient ouvrir" not in help_nurse.body
    doc, coordination = setup.coordinator, setup.coordination_room
    help_doc = await doc.reply_to(coordination, await doc.send(coordination, "!aide"),
                                  setup.bot.user_id)
    assert "!patient ouvrir" in help_doc.body and "JJ/MM/AAAA" in help_doc.body
    # The nurse may ask for the identity again.
    event_id = await nurse.send(room_id, "!patient identite")
    assert "DUPONT" in (await nurse.reply_to(room_id, event_id, setup.bot.user_id)).body


async def test_team_add_and_remove_rotate_keys(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    doc = setup.coordinator
    bob, carol = await make_clinician(), await make_clinician()
    room_id = await setup.open_with(bob, "IDE")
    before = await doc.send(room_id, "message avant l'arrivée de Carol")

    event_id = await doc.send(room_id, f"!equipe ajouter {carol.user_id} IDEL")
    added = await doc.reply_to(room_id, event_id, setup.bot.user_id, timeout=60)
    assert "ajouté" in added.body and "IDEL" in added.body
    await carol.wait_joined(room_id, carol.user_id)
    welcome = await welcomed(carol, room_id)
    assert "DUPONT" in welcome.body and "Infirmier(e) libéral(e)" in welcome.body
    # What was said before she joined is not hers to read.
    assert not any(e.event_id == before and not isinstance(e, MegolmEvent)
                   for r, e in carol.timeline if r == room_id)

    ghost = f"@ghost{room_id[1:6].lower()}:{doc.user_id.split(':')[1]}"
    event_id = await doc.send(room_id, f"!equipe ajouter {ghost} IDE")
    refused = await doc.reply_to(room_id, event_id, setup.bot.user_id, timeout=60)
    assert "n'a pas pu être ajouté" in refused.body and "inconnu" in refused.body
    listing = await doc.reply_to(room_id, await doc.send(room_id, "!equipe liste"),
                                 setup.bot.user_id)
    assert carol.user_id in listing.body and bob.user_id in listing.body
    assert ghost not in listing.body

    # Bob has the session of the bot's messages so far.
    bot_before = next(e for r, e in bob.timeline if r == room_id
                      and e.sender == setup.bot.user_id and isinstance(e, RoomMessageNotice))
    event_id = await doc.send(room_id, f"!equipe retirer {bob.user_id}")
    removed = await doc.reply_to(room_id, event_id, setup.bot.user_id, timeout=60)
    assert "retiré" in removed.body
    room = doc.client.rooms[room_id]
    assert bob.user_id not in room.users or room.users[bob.user_id].invited is False
    after = await raw_event(doc, room_id, removed.event_id)
    old = await raw_event(doc, room_id, bot_before.event_id)
    assert after["type"] == old["type"] == "m.room.encrypted"
    store = bob.client.olm.inbound_group_store
    assert store.get(room_id, old["content"]["sender_key"], old["content"]["session_id"])
    assert old["content"]["session_id"] != after["content"]["session_id"]
    assert store.get(room_id, after["content"]["sender_key"],
                     after["content"]["session_id"]) is None, \
        "the removed member holds the key of a message sent after their removal"


async def test_closing_makes_the_room_read_only_until_retention_ends(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician, retention_days=30)
    doc = setup.coordinator
    nurse = await make_clinician()
    room_id = await setup.open_with(nurse, "IDE")
    event_id = await nurse.send(room_id, "!patient clore")
    assert "pas le droit" in (await nurse.reply_to(room_id, event_id, setup.bot.user_id)).body
    event_id = await doc.send(room_id, "!patient clore")
    closed = await doc.reply_to(room_id, event_id, setup.bot.user_id, timeout=60)
    assert "lecture seule" in closed.body
    episode = await doc.client.room_get_state_event(room_id, EPISODE_EVENT)
    assert episode.content["status"] == "closed"
    refused = await nurse.client.room_send(room_id, "m.room.message",
                                           {"msgtype": "m.text", "body": "encore là ?"},
                                           ignore_unverified_devices=True)
    assert isinstance(refused, RoomSendError) and refused.status_code == "M_FORBIDDEN"

    # Retention over (a controlled clock): members removed, the bot gone, identity erased.
    runtime = setup.bot.runtime
    assert await runtime.scheduler.run_due(utcnow() + timedelta(days=29)) == 0
    assert await runtime.scheduler.run_due(utcnow() + timedelta(days=31)) == 1
    for _ in range(100):
        with sqlite3.connect(db_path(setup)) as db:
            status, sealed, index = db.execute(
                "SELECT status, sealed, traits_index FROM care_rooms WHERE room_id = ?",
                (room_id,)).fetchone()
        if status == "expired":
            break
        await asyncio.sleep(0.2)
    assert (status, sealed, index) == ("expired", b"", None)
    state = await setup.bot.runtime.client.joined_members(room_id)
    assert getattr(state, "status_code", None) == "M_FORBIDDEN"  # the bot has left
    member = await nurse.client.room_get_state_event(room_id, "m.room.member", nurse.user_id)
    assert member.content["membership"] == "leave" and member.content.get("reason") == "retention"


async def test_identity_and_keys_go_to_the_care_team_only(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    doc = setup.coordinator
    helper = await make_clinician()
    room_id = await setup.open_with(helper, "SAAD")
    # A home-help worker is in the team, but her role does not see the identity.
    welcome = await welcomed(helper, room_id)
    for trait in IDENTITY_TRAITS:
        assert trait not in welcome.body, trait
    assert welcome.decrypted and "pas accès à l'identité" in welcome.body

    # A coordinator invites someone from Element, not through the bot: the team is told.
    outsider = await make_clinician()
    mark = len(doc.timeline)
    invite = await doc.client.room_invite(room_id, outsider.user_id)
    assert not getattr(invite, "status_code", None), invite
    await outsider.wait_joined(room_id, outsider.user_id)
    told = await doc.wait_for(lambda r, e: r == room_id and isinstance(e, RoomMessageNotice)
                              and outsider.user_id in e.body and "équipe" in e.body,
                              timeout=30, start=mark)
    assert "DUPONT" not in told.body

    # The bot's next message: the team reads it, the outsider gets no key for it.
    event_id = await doc.send(room_id, "!equipe liste")
    listing = await doc.reply_to(room_id, event_id, setup.bot.user_id)
    assert outsider.user_id in listing.body
    await helper.wait_for(lambda r, e: e.event_id == listing.event_id
                          and isinstance(e, RoomMessageNotice))
    seen = await outsider.wait_for(lambda r, e: e.event_id == listing.event_id)
    assert isinstance(seen, MegolmEvent), "the outsider decrypted the bot's message"
    await asyncio.sleep(2)  # a key sent to their device would have arrived by now
    raw = await raw_event(doc, room_id, listing.event_id)
    assert outsider.client.olm.inbound_group_store.get(
        room_id, raw["content"]["sender_key"], raw["content"]["session_id"]) is None
