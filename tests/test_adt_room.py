"""The hospital's ADT feed applied against the real Synapse, with E2EE clinicians: rows written
by the intake's own step (`bots.adt.inbox.take`), found by the applier's polling in the bots
process. A discharge that came before its admission waits; the admission opens the room with the
ward's team, whose members read the identity card; the discharge then starts the follow-up; an
admission on day 12 records the readmission, alerts the room and counts in `!rh30 stats`; a
resent message changes nothing; an unknown ward is listed in the coordination room, and a
ward whose team the homeserver does not know is told there. Then the identity update, the
cancelled discharge and the merge, as the team's E2EE clients read them; and the admission and
discharge as FHIR Bundles posted to the provisioning API."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from bots.adt.inbox import take
from bots.adt.models import AdtMessage
from bots.common.models import PATIENT, CareRoom
from bots.config import WardConfig
from bots.devstack.clinician import Clinician
from bots.devstack.patients import ins_for
from bots.followup.models import FollowupPlan
from bots.runtime.runtime import Runtime
from tests.adt_samples import bundle, message
from tests.careteam_helpers import INS, care_setup, welcomed
from tests.discharge_helpers import today


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    for _ in range(int(timeout / 0.2)):
        if found := await check():
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("not reached in time")


@dataclass
class Stack:
    """The bots with the feed's wards, two E2EE clinicians of the CARDIO team, a coordinator."""
    runtime: Runtime
    coordinator: Clinician
    coordination: str
    idec: Clinician
    mh: Clinician

    async def feed(self, raw: bytes) -> bool:
        async with self.runtime.transaction() as tx:
            return (await take(tx, raw)).new

    async def states(self) -> dict[str, str]:
        async with self.runtime.transaction() as tx:
            return {r.control_id: r.state for r in (await tx.session.scalars(
                select(AdtMessage))).all()}

    async def room_id(self) -> str | None:
        """The newest open patient room."""
        async with self.runtime.transaction() as tx:
            return await tx.session.scalar(select(CareRoom.room_id).where(
                CareRoom.kind == PATIENT, CareRoom.status == "open")
                .order_by(CareRoom.id.desc()).limit(1))


async def stack(make_bot: Any, make_clinician: Any) -> Stack:
    idec, mh = await make_clinician(), await make_clinician()
    setup = await care_setup(make_bot, make_clinician, bots=("careteam", "followup", "adt"))
    # The wards, once the coordination room they report to exists (a restart loses nothing).
    server = idec.user_id.split(":", 1)[1]
    wards = {"CARDIO": WardConfig("Cardiologie", ((idec.user_id, "IDEC"), (mh.user_id, "MH")),
                                  setup.coordination_room),
             "GERIA": WardConfig("Gériatrie", ((f"@nobody-here:{server}", "IDE"),),
                                 setup.coordination_room)}
    await setup.bot.stop()
    setup.bot.config = replace(setup.bot.config, adt_wards=wards)
    runtime = await setup.bot.start()
    return Stack(runtime, setup.coordinator, setup.coordination_room, idec, mh)


async def test_admission_discharge_and_readmission_from_the_feed(make_bot, make_clinician):
    s = await stack(make_bot, make_clinician)
    runtime, coordinator, coordination, idec, mh = \
        s.runtime, s.coordinator, s.coordination, s.idec, s.mh
    feed, states, room_id = s.feed, s.states, s.room_id

    d0 = today() - timedelta(days=12)
    # The discharge comes first: it waits for its admission, which then opens the room.
    assert await feed(message("A03", "M2", admitted=d0 - timedelta(days=3), discharged=d0,
                              disposition="8"))

    async def discharge_waits() -> bool:
        return await states() == {"M2": "waiting"}

    await until(discharge_waits)
    assert await feed(message("A01", "M1", admitted=d0 - timedelta(days=3)))
    room = await until(room_id)
    opened = await coordinator.wait_for(lambda r, e: r == coordination and room in e.source[
        "content"].get("formatted_body", ""))
    assert "Salon patient ouvert" in opened.body and "DUPONT" not in opened.body
    welcome = await welcomed(idec, room)
    assert welcome.decrypted and "DUPONT" in welcome.body and "Cardiologie" in welcome.body
    plan = await idec.wait_for(lambda r, e: r == room and "Suivi RH30" in getattr(e, "body", "")
                               and f"sortie le {d0:%d/%m/%Y}" in e.body)
    assert plan.decrypted
    assert await states() == {"M1": "applied", "M2": "applied"}

    # Back in hospital on day 12, urgently: the readmission is recorded and the room alerted.
    mark = len(idec.timeline)
    assert await feed(message("A01", "M3", admitted=today(), admission_type="U"))
    alert = await idec.wait_for(lambda r, e: r == room and "à J+12 : comptée dans RH30" in
                                getattr(e, "body", ""), start=mark)
    assert "suspendu" in alert.body and "!rh30 evitable" in alert.body
    assert {idec.user_id, mh.user_id} <= set(alert.source["content"]["m.mentions"]["user_ids"])
    assert not await feed(message("A01", "M3", admitted=today(), admission_type="U"))

    # Another patient, in a ward the configuration does not know: listed for the coordinators.
    mark = len(coordinator.timeline)
    assert await feed(message("A01", "M4", admitted=today(), ward="URG",
                              ins=ins_for("1800175123456"), family="MARTIN", given="PAUL",
                              birth="19800115", sex="M"))
    listing = await coordinator.wait_for(lambda r, e: r == coordination and
                                         "MSH-10 M4" in getattr(e, "body", ""), start=mark)
    assert "Service inconnu dans PV1-3" in listing.body and "MARTIN" not in listing.body
    # A ward whose team the homeserver does not know: the room cannot be made, and they hear it.
    assert await feed(message("A01", "M5", admitted=today(), ward="GERIA",
                              ins=ins_for("1800175123456"), family="MARTIN", given="PAUL",
                              birth="19800115", sex="M"))
    failed = await coordinator.wait_for(lambda r, e: r == coordination and
                                        "n'a pas pu être créé" in getattr(e, "body", ""),
                                        start=mark)
    assert "nobody-here" in failed.body and "MARTIN" not in failed.body

    # The readmission counts, once: the resent admission changed nothing.
    event_id = await coordinator.send(coordination, "!rh30 stats")
    table = await coordinator.reply_to(coordination, event_id, runtime.user_id)
    assert "Réhospitalisations à 30 jours" in table.body and "1 (1)" in table.body
    assert len([e for r, e in idec.timeline if r == room and "à J+12" in getattr(
        e, "body", "")]) == 1
    assert await states() == {"M1": "applied", "M2": "applied", "M3": "applied",
                              "M4": "quarantined", "M5": "applied"}


async def test_identity_update_cancelled_discharge_and_merge_from_the_feed(make_bot,
                                                                          make_clinician):
    s = await stack(make_bot, make_clinician)
    idec = s.idec
    d0 = today() - timedelta(days=3)
    assert await s.feed(message("A01", "M1", admitted=d0))
    room = await until(s.room_id)
    await welcomed(idec, room)
    # The hospital corrects the name: the new card, for the team's clients only.
    mark = len(idec.timeline)
    assert await s.feed(message("A08", "M2", admitted=d0, family="DURAND"))
    card = await idec.wait_for(lambda r, e: r == room and "mis à jour l'identité" in getattr(
        e, "body", ""), start=mark)
    assert card.decrypted and "DURAND" in card.body
    assert idec.user_id in card.source["content"]["m.mentions"]["user_ids"]

    # Discharged, then the discharge cancelled: the follow-up stops, and the team reads why.
    assert await s.feed(message("A03", "M3", admitted=d0, discharged=today(), disposition="8"))
    await idec.wait_for(lambda r, e: r == room and "Suivi RH30 démarré" in getattr(e, "body", ""),
                        start=mark)
    assert await s.feed(message("A13", "M4", admitted=d0))
    withdrawn = await idec.wait_for(lambda r, e: r == room and "annulé la sortie" in getattr(
        e, "body", ""), start=mark)
    assert withdrawn.decrypted and "aucun rappel" in withdrawn.body
    async with s.runtime.transaction() as tx:
        assert await tx.session.scalar(select(FollowupPlan.status)) == "cancelled"

    # A duplicate record of the same patient, with its own room, merged into this one.
    prior = dict(ins=ins_for("2480375999999"), family="DUPOND", ipp="654321")
    assert await s.feed(message("A01", "M5", admitted=d0, **prior))
    other = await until(lambda: _other_room(s, room))
    await welcomed(idec, other)
    mark = len(idec.timeline)
    assert await s.feed(message("A40", "M6", prior_ipp="654321"))
    away = await idec.wait_for(lambda r, e: r == other and "fusionné ce dossier" in getattr(
        e, "body", ""), start=mark)
    into = await idec.wait_for(lambda r, e: r == room and "fusionné dans ce dossier" in getattr(
        e, "body", ""), start=mark)
    assert away.decrypted and into.decrypted and room in away.source["content"]["formatted_body"]
    # Nothing of the patient in the rooms' clear state (names, topics).
    for room_id in (room, other):
        state = idec.client.rooms[room_id]
        assert not any(name in f"{state.name} {state.topic}" for name in ("DUPON", "DURAND"))
    assert (await s.states())["M6"] == "applied"


async def _other_room(s: Stack, known: str) -> str | None:
    found = await s.room_id()
    return found if found != known else None


async def test_fhir_bundles_through_the_api_open_the_room_then_discharge(make_bot, make_clinician):
    """POST /api/v1/fhir on the real API (its token, its errors): the admission Bundle is
    stored and applied like the feed's A01 (the room opened with the ward's team, the identity
    card readable), the same Bundle again changes nothing, refusals never echo identity, and the
    discharge Bundle starts the follow-up."""
    idec = await make_clinician()
    setup = await care_setup(make_bot, make_clinician, bots=("careteam", "followup", "adt"))
    wards = {"CARDIO": WardConfig("Cardiologie", ((idec.user_id, "IDEC"),),
                                  setup.coordination_room)}
    await setup.bot.stop()
    setup.bot.config = replace(setup.bot.config, adt_wards=wards)
    runtime = await setup.bot.start()

    async def api_up() -> bool:  # the API is a service of the restarted runtime
        try:
            return (await setup.call("GET", "/api/v1/patients/P-0000-00000"))[0] == 404
        except aiohttp.ClientConnectionError:
            return False

    await until(api_up)
    d0 = today() - timedelta(days=2)
    start = f"{d0 - timedelta(days=3)}T10:30:00+01:00"
    admission = bundle(start=start)

    status, body = await setup.call("POST", "/api/v1/fhir", admission, token="wrong" * 8)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    bad = copy.deepcopy(admission)
    bad["entry"][0]["resource"]["identifier"][0]["value"] = INS[:13] + "00"
    status, body = await setup.call("POST", "/api/v1/fhir", bad)
    assert (status, body["error"]["code"]) == (400, "ins_key")
    assert body["error"]["details"][0]["path"] == "/entry/0/resource/identifier"
    bad["entry"][0]["resource"]["birthDate"] = "DUPONT-1948"
    status, body = await setup.call("POST", "/api/v1/fhir", bad)
    assert (status, body["error"]["code"]) == (400, "invalid_fhir")
    assert "DUPONT" not in json.dumps(body) and INS[:13] not in json.dumps(body)

    status, body = await setup.call("POST", "/api/v1/fhir", admission)
    receipt = body["id"]  # a keyed hash: the sender's identifier is not echoed
    assert (status, body) == (201, {"id": receipt, "event": "A01", "created": True})
    assert "MVT-1" not in receipt
    status, body = await setup.call("POST", "/api/v1/fhir", admission)
    assert (status, body) == (200, {"id": receipt, "event": "A01", "created": False})

    async def room_id() -> str | None:
        async with runtime.transaction() as tx:
            return await tx.session.scalar(select(CareRoom.room_id).where(
                CareRoom.kind == PATIENT, CareRoom.status == "open"))

    room = await until(room_id)
    welcome = await welcomed(idec, room)
    assert welcome.decrypted and "DUPONT" in welcome.body and "Cardiologie" in welcome.body

    # The same Encounter finished, with no identifier nor version: a new movement, not the
    # admission resent (review: the discharge was folded into it and lost).
    del admission["identifier"], admission["entry"][1]["resource"]["meta"]
    status, body = await setup.call("POST", "/api/v1/fhir", admission)
    assert (status, body["created"]) == (201, True)
    discharge = bundle(status="finished", start=start, end=str(d0), disposition="home",
                       identifier=False)
    del discharge["entry"][1]["resource"]["meta"]
    status, body = await setup.call("POST", "/api/v1/fhir", discharge)
    assert (status, body["event"], body["created"]) == (201, "A03", True)
    plan = await idec.wait_for(lambda r, e: r == room and "Suivi RH30" in getattr(e, "body", "")
                               and f"sortie le {d0:%d/%m/%Y}" in e.body)
    assert plan.decrypted
    async with runtime.transaction() as tx:
        rows = (await tx.session.scalars(select(AdtMessage).order_by(AdtMessage.id))).all()
    assert [(r.sender, r.event, r.state) for r in rows] == [
        ("FHIR^API", "A01", "applied"), ("FHIR^API", "A01", "applied"),
        ("FHIR^API", "A03", "applied")]
    assert rows[0].control_id == receipt
