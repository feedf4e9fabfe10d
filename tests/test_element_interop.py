"""Interop with Element's crypto stack: matrix-js-sdk with the Rust crypto (matrix-sdk-crypto), in
Element's default mode that only trusts devices cross-signed by their owner, as the clinician."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from tests.careteam_helpers import INS, care_setup
from tests.element_helpers import run_element_client


async def element_in_patient_room(homeserver, setup, role: str) -> dict:
    """A new account in a patient room opened by the API with `role`: the Element client's
    parameters, but the commands."""
    localpart, password = f"element{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    user_id = await homeserver.register(localpart, password)
    status, created = await setup.call("POST", "/api/v1/patients", {
        "identity": {"family_name": "DUPONT", "given_names": "Marie", "birth_date": "1948-03-12",
                     "sex": "F", "ins": INS},
        "team": [{"user_id": user_id, "role": role}]})
    assert status == 201, created
    return {"homeserver": homeserver.url, "user_id": user_id, "password": password,
            "room_id": created["room_id"], "bot_user_id": setup.bot.user_id, "timeout_s": 90}


async def test_element_client_in_only_signed_devices_mode(homeserver, make_bot, make_clinician):
    bot = await make_bot()
    localpart, password = f"element{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    user_id = await homeserver.register(localpart, password)
    coordinator = await make_clinician()
    room_id = await coordinator.create_room(invite=[bot.user_id, user_id])
    await coordinator.wait_joined(room_id, bot.user_id)

    result = await run_element_client({
        "homeserver": homeserver.url, "user_id": user_id, "password": password,
        "room_id": room_id, "bot_user_id": bot.user_id, "timeout_s": 90,
        "commands": ["!ping depuis Element", "!aide", "!pnig", "!ping <b>gras</b>"],
        "expect": ["pong depuis Element", "Commandes disponibles", "Commande inconnue",
                   "pong <b>gras</b>"],
    })
    assert result["errors"] == [], result["errors"]
    assert result["bot_device_id"] == bot.runtime.client.device_id
    assert result["bot_device_signed_by_owner"] is True
    for reply in result["replies"]:
        assert reply["decrypted"] and reply["encrypted"], reply
        assert reply["shield_colour"] != "RED", reply
        assert reply["contains_expected"], reply
    assert result["ok"] is True
    # The escaped HTML reached Element as text, not markup.
    assert result["replies"][3]["body"] == "pong <b>gras</b>"


async def test_element_client_in_a_patient_room(homeserver, make_bot, make_clinician):
    """A room the bot created (room version of the server, joined-only history): Element's
    stack joins, gets its briefing and answers, all decrypted, no red shield."""
    setup = await care_setup(make_bot, make_clinician)
    result = await run_element_client({
        **await element_in_patient_room(homeserver, setup, "IDE"),
        "commands": ["!patient identite", "!equipe liste"],
        "expect": ["DUPONT", "Infirmier(e) du service"],
    })
    assert result["errors"] == [], result["errors"]
    for reply in result["replies"]:
        assert reply["decrypted"] and reply["shield_colour"] != "RED", reply
    assert result["ok"] is True


async def test_element_client_runs_the_discharge_checklist(homeserver, make_bot, make_clinician):
    """Element's stack plans a discharge and answers an item: the live checklist and the bot's
    edits of it (m.replace) all decrypt, from a cross-signed bot device."""
    setup = await care_setup(make_bot, make_clinician, bots=("careteam", "discharge"))
    day = date.today() + timedelta(days=2)
    result = await run_element_client({
        **await element_in_patient_room(homeserver, setup, "IDEC"),
        "commands": [f"!sortie prevoir {day:%d/%m/%Y}", "!sortie oui 20", "!sortie na 1"],
        "expect": ["Check-list de sortie", "✅ 20.", "ne peut pas être « NA »"],
    })
    assert result["errors"] == [], result["errors"]
    for reply in result["replies"]:
        assert reply["decrypted"] and reply["shield_colour"] != "RED", reply
    # The live checklist (first reply) as Element shows it: replaced by the bot's edit.
    live = result["replies"][0]
    assert live["edit_decrypted"] is True and "✅ 20." in live["edited_body"], live
    assert result["ok"] is True
