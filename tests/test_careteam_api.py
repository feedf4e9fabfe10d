"""The provisioning API against the real Synapse: auth, validation, idempotency, team changes,
and a room created before a crash adopted instead of created twice."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import aiohttp
from nio import RoomCreateError, RoomCreateResponse

from bots.careteam.provisioner import EXPIRE_JOB
from bots.careteam.rooms import EPISODE_EVENT, episode_content
from bots.devstack.patients import ins_for
from bots.runtime.store import utcnow
from tests.careteam_helpers import INS, care_setup, welcomed


def patient(ins: str | None = INS, **extra):
    identity = {"family_name": "DUPONT", "given_names": "Marie", "birth_date": "1948-03-12",
                "sex": "F"}
    if ins:
        identity["ins"] = ins
    return {"identity": identity, **extra}


def patient_rows(setup) -> int:
    with sqlite3.connect(setup.bot.config.database.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT count(*) FROM care_rooms WHERE kind = 'patient'").fetchone()[0]


async def test_auth_and_validation(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    status, body = await setup.call("POST", "/api/v1/patients", patient(), token="wrong" * 8)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = await setup.call("POST", "/api/v1/patients", raw="{not json")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = await setup.call("POST", "/api/v1/patients",
                                    {"identity": {"family_name": "X"}, "extra": 1})
    assert status == 400 and body["error"]["code"] == "invalid_payload"
    assert {d["path"] for d in body["error"]["details"]} >= {"", "/identity"}
    bad_key = INS[:13] + f"{(int(INS[13:]) + 1) % 97:02d}"
    status, body = await setup.call("POST", "/api/v1/patients", patient(bad_key))
    assert status == 400 and body["error"]["code"] == "invalid_ins"
    server = setup.coordinator.user_id.split(":", 1)[1]
    status, body = await setup.call("POST", "/api/v1/patients", patient(
        team=[{"user_id": f"@nobody:{server}", "role": "IDE"}]))
    assert status == 422 and body["error"]["code"] == "unknown_user"
    status, body = await setup.call("POST", "/api/v1/patients", patient(
        team=[{"user_id": "@bob:elsewhere.example", "role": "IDE"}]))
    assert status == 422 and body["error"]["code"] == "server_not_allowed"
    status, body = await setup.call("POST", "/api/v1/patients", patient(
        team=[{"user_id": setup.coordinator.user_id, "role": "CHEF"}]))
    assert status == 422 and body["error"]["code"] == "unknown_role"
    status, body = await setup.call("GET", "/api/v1/patients/P-2026-99999")
    assert status == 404
    assert patient_rows(setup) == 0
    async with aiohttp.ClientSession() as http, \
            http.get(f"{setup.api}/api/v1/openapi.yaml") as resp:
        assert resp.status == 200 and "openapi: 3.1" in await resp.text()
    async with aiohttp.ClientSession() as http, \
            http.get(f"{setup.api}/api/v1/api/patient-create.schema.json") as resp:
        assert resp.status == 200 and "identity" in (await resp.json())["required"]


async def test_open_by_api_is_idempotent_and_never_returns_identity(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    team = [await make_clinician() for _ in range(3)]
    payload = patient(ward="Médecine interne", admission_date="2026-11-20",
                      team=[{"user_id": c.user_id, "role": r}
                            for c, r in zip(team, ("MH", "IDE", "MT"), strict=True)])
    status, created = await setup.call("POST", "/api/v1/patients", payload)
    assert status == 201, created
    assert created["created"] is True and created["status"] == "open"
    assert created["ref"].startswith("P-") and created["room_id"].startswith("!")
    assert {m["role"] for m in created["team"]} == {"MH", "IDE", "MT"}
    text = str(created)
    assert "DUPONT" not in text and "1948" not in text and INS not in text
    status, again = await setup.call("POST", "/api/v1/patients", payload)
    assert status == 200 and again["created"] is False and again["room_id"] == created["room_id"]
    status, got = await setup.call("GET", f"/api/v1/patients/{created['ref']}")
    assert status == 200 and got["room_id"] == created["room_id"]
    # Same traits, another INS: a human must check.
    other = ins_for("2480375123457")
    status, body = await setup.call("POST", "/api/v1/patients", patient(other))
    assert status == 409 and body["error"]["code"] == "identity_conflict"
    assert patient_rows(setup) == 1

    # Team changes through the API.
    extra = await make_clinician()
    status, body = await setup.call("POST", f"/api/v1/patients/{created['ref']}/team",
                                    {"add": [{"user_id": extra.user_id, "role": "PO"}],
                                     "remove": [team[2].user_id]})
    assert status == 200, body
    members = {m["user_id"]: m for m in body["team"]}
    assert members[extra.user_id]["role"] == "PO"
    assert team[2].user_id not in members
    await extra.wait_joined(created["room_id"], extra.user_id)


async def test_a_room_created_before_a_crash_is_adopted_not_created_twice(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    status, created = await setup.call("POST", "/api/v1/patients", patient())
    assert status == 201
    rooms_before = set(setup.bot.runtime.client.rooms)
    await setup.bot.stop()
    # As if the process died after Synapse created the room, before the row recorded it.
    with sqlite3.connect(setup.bot.config.database.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE care_rooms SET status = 'creating', room_id = NULL, attempts = 1 "
                   "WHERE ref = ?", (created["ref"],))
    await setup.bot.start()
    got: dict = {}
    for _ in range(120):
        try:  # the API listens again shortly after the bot is ready
            status, got = await setup.call("GET", f"/api/v1/patients/{created['ref']}")
        except aiohttp.ClientConnectorError:
            status = 0
        if status == 200 and got.get("status") == "open":
            break
        await asyncio.sleep(0.5)
    assert got["status"] == "open" and got["room_id"] == created["room_id"]
    assert set(setup.bot.runtime.client.rooms) == rooms_before


async def test_a_retried_creation_does_not_adopt_a_room_someone_else_made(
        make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    runtime = setup.bot.runtime
    mallory, nurse = await make_clinician(), await make_clinician()
    # File numbers are sequential: the next one is easy to guess. Mallory makes a room of hers
    # that claims it and invites the bot, which accepts invites from its own server. (The
    # server's policy wants it encrypted and unnamed: bots/synapse_modules/policy.py.)
    ref = f"P-{utcnow().year}-00001"
    made = await mallory.client.room_create(invite=[setup.bot.user_id], initial_state=[
        {"type": "m.room.encryption", "state_key": "",
         "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
        {"type": EPISODE_EVENT, "state_key": "", "content": episode_content(ref, None, "open")}])
    assert isinstance(made, RoomCreateResponse)
    trap = made.room_id
    for _ in range(100):
        if trap in runtime.client.rooms:
            break
        await asyncio.sleep(0.2)

    # The first createRoom fails as a busy homeserver may; the provisioner retries it.
    real, calls, failed = runtime.client.room_create, [], asyncio.Event()

    async def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            failed.set()
            return RoomCreateError("slow down", "M_LIMIT_EXCEEDED")
        return await real(**kwargs)

    runtime.client.room_create = flaky
    request = asyncio.create_task(setup.call("POST", "/api/v1/patients", patient(
        team=[{"user_id": nurse.user_id, "role": "IDE"}])))
    await asyncio.wait_for(failed.wait(), 30)
    provisioner = next(b for b in runtime.bots if b.name == "careteam").jobs[EXPIRE_JOB].__self__
    provisioner.wake()  # the retry, without waiting for the next round
    status, created = await request
    assert status == 201, created
    assert created["ref"] == ref and created["room_id"] != trap and len(calls) == 2
    # The real room: encrypted, and the identity card reaches the team there.
    await welcomed(nurse, created["room_id"])
    encryption = await nurse.client.room_get_state_event(created["room_id"],
                                                         "m.room.encryption")
    assert encryption.content["algorithm"] == "m.megolm.v1.aes-sha2"
    # Nothing from the bot in Mallory's room, as the server stores it.
    resp = await mallory.client.send(
        "GET", f"/_matrix/client/v3/rooms/{trap}/messages?dir=b&limit=100",
        headers={"Authorization": f"Bearer {mallory.client.access_token}"})
    sent = [e for e in (await resp.json())["chunk"]
            if e["sender"] == setup.bot.user_id and not e["type"].startswith("m.room.member")]
    assert sent == []


async def post_raw(setup, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{setup.api}/api/v1/patients", data=data,
            headers={**setup.headers(), "Content-Type": content_type}) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_hostile_bodies_get_a_400_that_never_repeats_identity(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)

    def bad(status: int, body: dict, code: str, path: str | None = None) -> None:
        assert status == 400 and body["error"]["code"] == code, (status, body)
        assert body["error"]["message"]
        if path is not None:
            assert path in {d["path"] for d in body["error"]["details"]}, body

    for ward in (" ", "\u2028", "\t\n"):
        status, body = await setup.call("POST", "/api/v1/patients", patient(ward=ward))
        bad(status, body, "invalid_payload", "/ward")
    status, body = await post_raw(setup, b"[" * 50_000 + b"]" * 50_000)
    bad(status, body, "invalid_json")
    status, body = await post_raw(setup, json.dumps(patient()).encode(),
                                  "application/json; charset=x-no-such-charset")
    bad(status, body, "invalid_json")
    # Two values for one key: which one would count is anyone's guess.
    doubled = json.dumps(patient())[:-1] + ', "identity": {"family_name": "MARTIN"}}'
    status, body = await post_raw(setup, doubled.encode())
    bad(status, body, "invalid_json")
    assert "identity" in body["error"]["message"] and "MARTIN" not in json.dumps(body)

    # Refusals say which field and why, never what was sent.
    for field, value, code in (("family_name", "DUP0NT", "invalid_identity"),
                               ("given_names", "M@rie", "invalid_identity"),
                               ("birth_date", "2999-01-01", "invalid_identity"),
                               ("ins", "548037512345678", "invalid_ins")):
        payload = patient()
        payload["identity"][field] = value
        status, body = await setup.call("POST", "/api/v1/patients", payload)
        bad(status, body, code, f"/identity/{field}")
        assert value not in json.dumps(body, ensure_ascii=False), body
    assert patient_rows(setup) == 0


async def test_a_name_mixing_scripts_is_refused_not_a_second_patient(make_bot, make_clinician):
    setup = await care_setup(make_bot, make_clinician)
    status, first = await setup.call("POST", "/api/v1/patients", patient(ins=None))
    assert status == 201, first
    lookalike = patient(ins=None)
    lookalike["identity"]["family_name"] = "DUP\u041eNT"  # a Cyrillic О
    status, body = await setup.call("POST", "/api/v1/patients", lookalike)
    assert status == 400 and body["error"]["code"] == "invalid_identity", body
    assert "/identity/family_name" in {d["path"] for d in body["error"]["details"]}
    assert "DUP" not in json.dumps(body, ensure_ascii=False)
    assert patient_rows(setup) == 1
