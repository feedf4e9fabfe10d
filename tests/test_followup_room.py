"""The RH30 follow-up in a real encrypted patient room, with the real scheduler and a controlled
clock: started by the discharge validation, steps posted on their (working) days to whoever is
responsible, an unreachable patient retried twice then given up, a step done early never posted,
a restart with missed steps (posted once, marked late), the window closed at D+30; a readmission
on day 12 (alert, frozen plan, review, judgement, resumed, outcome at D+30) and the indicator in
the coordination room (stats, CSV export, monthly report with its chart); a plan started through
the API, re-planned by risk and conditions, shown again to a newcomer, and stopped for good by a
death at home."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bots.followup.schedule import Calendar
from bots.runtime.models import ScheduledJob
from tests.careteam_helpers import INS
from tests.discharge_helpers import PARIS, today, ward


def at(day, hour: int = 9, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def tasks(w, step: int) -> list:
    return [e for e in w.bot_notices(w.nurse, f"étape {step} du suivi")
            if e.body.startswith("📞")]


async def settled(w, step: int, count: int) -> list:
    for _ in range(100):
        if len(tasks(w, step)) >= count:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    return tasks(w, step)


async def test_thirty_days_of_a_high_risk_patient(make_bot, make_clinician):
    w = await ward(make_bot, make_clinician, bots=("careteam", "discharge", "followup"))
    d0 = today()
    fire = w.setup.bot.runtime.scheduler.run_due
    await w.dac.send(w.room_id, "!sortie prevoir aujourdhui")
    await w.live(w.nurse)
    await w.command(w.dac, "!sortie risque eleve")
    # A lower score in the checklist leaves the shared level where it is: the highest wins.
    assert "Score LACE : 2/19" in (await w.command(w.nurse, "!sortie lace 2 non 0 0")).body
    await in_room(w.nurse, w.room_id, w.bot_id, lambda e: "Risque de réhospitalisation : élevé"
                  in getattr(e, "body", ""))
    done = await w.command(w.doc, "!sortie valider domicile retour à domicile, suivi renforcé")
    assert "Sortie validée" in done.body
    started = await w.nurse.wait_for(lambda r, e: r == w.room_id and getattr(
        e, "body", "").startswith("Suivi RH30 démarré ("))
    assert "risque élevé" in started.body
    for step in (1, 4, 5, 6, 8, 9):
        assert f"{step}. " in started.body
    assert "7. " not in started.body  # the intermediate-risk step

    # D+2 working days: the structured call, to the coordinators (IDEC/DAC: the DAC here).
    d2 = Calendar().add_working(d0, 2)
    await fire(at(d2))
    call = (await settled(w, 4, 1))[0]
    assert call.source["content"]["m.mentions"]["user_ids"] == [w.dac.user_id]
    # Unreachable: tried again the next working day, twice, then given up.
    reply = await w.command(w.dac, "!rh30 echec 4 patient injoignable")
    assert "nouvel essai le" in reply.body
    retry_day = Calendar().next_working(today())
    await fire(at(retry_day))
    assert "nouvel essai n°1" in (await settled(w, 4, 2))[1].body
    await w.command(w.dac, "!rh30 echec 4 toujours injoignable")
    await fire(at(Calendar().next_working(retry_day)))
    assert "nouvel essai n°2" in (await settled(w, 4, 3))[2].body
    assert "après 3 essais" in (await w.command(w.dac, "!rh30 echec 4 messagerie")).body
    assert "déjà close" in (await w.command(w.dac, "!rh30 fait 4")).body

    # A step done before its day is never posted.
    assert "notée faite" in (await w.command(w.dac, "!rh30 fait 5 RDV MT pris pour J+5")).body

    # The bots down for days: on restart the missed steps come once, marked late.
    await w.setup.bot.stop()
    await w.setup.bot.start()
    fired = await fire(at(d0 + timedelta(days=15), 11, 0))
    assert fired >= 1
    assert tasks(w, 5) == []
    late = (await settled(w, 6, 1))[0]
    assert "en retard" in late.body and f"{d0 + timedelta(days=14):%d/%m/%Y}" in late.body
    assert await fire(at(d0 + timedelta(days=15), 11, 0)) == 0
    await w.setup.bot.stop()
    await w.setup.bot.start()
    await asyncio.sleep(1)
    assert len(tasks(w, 6)) == 1

    # D+30: the window closes by itself; the plan shows every step's state.
    await fire(at(d0 + timedelta(days=30), 10, 0))
    closed = await w.nurse.wait_for(lambda r, e: r == w.room_id and "Fenêtre de 30 jours close"
                                    in getattr(e, "body", ""))
    assert "aucune réhospitalisation" in closed.body
    plan = (await w.command(w.nurse, "!rh30 plan")).body
    assert "4. " in plan and "❌ échec" in plan and "✅ fait" in plan
    assert "pas le droit" in (await w.command(w.po, "!rh30 debut aujourdhui")).body
    assert "déjà en place" in (await w.command(w.dac, "!rh30 debut aujourdhui domicile")).body
    score = await w.command(w.nurse, "!rh30 lace 6 oui 2 1")
    assert "Score LACE : 10/19" in score.body and "risque élevé" in score.body
    assert "hors de l'intervalle" in (await w.command(w.nurse, "!rh30 lace 6 oui 2 900")).body


async def in_room(who, room_id: str, sender: str, match) -> object:
    return await who.wait_for(lambda r, e: r == room_id and e.sender == sender and match(e))


async def test_a_readmission_on_day_12_and_the_indicator(make_bot, make_clinician):
    d0 = today() - timedelta(days=12)
    w = await ward(make_bot, make_clinician, admission=d0 - timedelta(days=3),
                   bots=("careteam", "discharge", "followup"))
    fire = w.setup.bot.runtime.scheduler.run_due
    await w.dac.send(w.room_id, "!sortie prevoir aujourdhui")
    await w.live(w.nurse)
    await w.command(w.dac, "!sortie non 10 IDEL introuvable <b>ce week-end</b>")
    done = await w.command(w.doc, f"!sortie valider {d0:%d/%m/%Y} domicile retour à domicile")
    assert "Sortie validée" in done.body
    started = await w.nurse.wait_for(lambda r, e: r == w.room_id and getattr(
        e, "body", "").startswith("Suivi RH30 démarré ("))
    assert "risque élevé" in started.body and "3. " not in started.body  # no home care
    # Started late: the steps whose day has passed come at once, marked late.
    assert "en retard" in (await settled(w, 5, 1))[0].body

    alert = await w.command(w.nurse, "!rh30 rehospitalisation J+12")
    assert "à J+12 : comptée dans RH30" in alert.body and "RH7" not in alert.body
    assert set(alert.source["content"]["m.mentions"]["user_ids"]) == {w.doc.user_id,
                                                                      w.dac.user_id}
    assert "suspendu" in alert.body and "!rh30 evitable" in alert.body
    # The review: what was "Non" at discharge, the comment escaped.
    assert "10. Services à domicile" in alert.body and "IDEL introuvable" in alert.body
    html = alert.source["content"]["formatted_body"]
    assert "&lt;b&gt;ce week-end&lt;/b&gt;" in html and "<b>ce week-end" not in html
    again = await w.command(w.nurse, "!rh30 rehospitalisation J+12")  # told twice: noted once
    assert "déjà notée" in again.body and "suspendu" not in again.body
    assert "précède la sortie" in (await w.command(w.nurse, "!rh30 rehosp 01/01/2020")).body
    assert "programmee" in (await w.command(w.nurse, "!rh30 rehosp hier hopital")).body

    # Frozen: step 6's day (D+14) comes and goes without a call to a patient in hospital.
    await fire(at(d0 + timedelta(days=14)))
    await asyncio.sleep(1)
    assert tasks(w, 6) == []
    assert "suspendu" in (await w.command(w.dac, "!rh30 plan")).body
    assert "pas le droit" in (await w.command(w.nurse, "!rh30 evitable oui x")).body
    assert "répondez oui ou non" in (await w.command(w.doc, "!rh30 evitable peut-être x")).body
    judged = await w.command(w.doc, "!rh30 evitable oui appel J+2 non abouti, IDEL absente")
    assert "jugée évitable" in judged.body
    # Home again: the follow-up resumes; step 6, still ahead, comes on its day.
    resumed = await w.command(w.dac, "!rh30 reprise")
    assert "Suivi repris" in resumed.body and "6. " in resumed.body
    await fire(at(d0 + timedelta(days=14)))
    assert len(await settled(w, 6, 1)) == 1

    # D+30: the window closes with its outcome.
    await fire(at(d0 + timedelta(days=30), 10, 0))
    closed = await in_room(w.nurse, w.room_id, w.bot_id, lambda e: "Fenêtre de 30 jours close"
                           in getattr(e, "body", ""))
    assert "réhospitalisation à J+12, comptée dans RH30 ; évitable : jugée évitable" in \
        closed.body

    # The indicator, in the coordination room only.
    coord = w.setup.coordination_room
    assert "pas le droit" in (await w.command(w.dac, "!rh30 stats")).body
    event_id = await w.dac.send(coord, "!rh30 stats")
    table = await w.dac.reply_to(coord, event_id, w.bot_id)
    # The real calendar says the window is still open: shown apart, never in a rate.
    assert "Réhospitalisations à 30 jours" in table.body and "provisoire" in table.body
    assert "1 (1)" in table.body and "<table>" in table.source["content"]["formatted_body"]
    event_id = await w.dac.send(coord, "!rh30 stats 2020 Pneumologie")
    assert "Aucune sortie suivie pour le service" in (
        await w.dac.reply_to(coord, event_id, w.bot_id)).body
    event_id = await w.dac.send(coord, "!rh30 export")
    assert "1 séjour(s)" in (await w.dac.reply_to(coord, event_id, w.bot_id)).body
    file_event = await in_room(w.dac, coord, w.bot_id, lambda e: e.source["content"].get(
        "msgtype") == "m.file")
    text = (await w.dac.download(file_event.source["content"])).decode()
    assert "DUPONT" not in text and "1948" not in text
    (line,) = csv.DictReader(io.StringIO(text))
    assert (line["ref"], line["ward"], line["discharged_on"]) == (w.ref, "Cardiologie",
                                                                  d0.isoformat())
    assert (line["readmitted_30"], line["first_delay_days"], line["avoidable"]) == ("1", "12",
                                                                                   "yes")

    # The monthly report, on the first of the month: the table and its chart, then the next.
    first = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    await fire(at(first, 10, 0))
    await in_room(w.dac, coord, w.bot_id, lambda e: "Rapport mensuel RH30" in getattr(
        e, "body", ""))
    image = await in_room(w.dac, coord, w.bot_id, lambda e: e.source["content"].get(
        "msgtype") == "m.image")
    assert (await w.dac.download(image.source["content"])).startswith(b"\x89PNG")
    after = (first + timedelta(days=32)).replace(day=1)
    async with w.setup.bot.runtime.store.transaction(w.bot_id) as tx:
        planned = await tx.session.scalar(select(ScheduledJob.state).where(
            ScheduledJob.key == f"followup:report:{after:%Y-%m}"))
    assert planned == "pending"


async def test_a_plan_from_the_api_re_planned_shown_to_a_newcomer_and_stopped_by_a_death(
        make_bot, make_clinician):
    w = await ward(make_bot, make_clinician, bots=("careteam", "followup"))
    path = f"/api/v1/patients/{w.ref}/discharge"
    d0 = today().isoformat()
    assert (await w.setup.call("POST", path, {"discharged_on": "demain",
                                              "mode": "domicile"}))[0] == 400
    assert (await w.setup.call("POST", path, {"discharged_on": d0}))[0] == 400  # no mode
    status, body = await w.setup.call("POST", path, {
        "discharged_on": (today() + timedelta(days=1)).isoformat(), "mode": "domicile"})
    assert (status, body["error"]["code"]) == (422, "future_discharge")
    status, _ = await w.setup.call("POST", "/api/v1/patients/P-2026-99999/discharge",
                                   {"discharged_on": d0, "mode": "domicile"})
    assert status == 404
    status, plan = await w.setup.call("POST", path, {"discharged_on": d0, "mode": "had",
                                                     "risk": "intermediaire"})
    assert (status, plan["created"], plan["ref"], plan["status"]) == (201, True, w.ref, "active")
    assert [s["id"] for s in plan["steps"]] == [1, 4, 7, 9]
    assert plan["steps"][1]["roles"] == ["IDEC", "DAC"] and plan["steps"][0]["day"] == d0
    assert (plan["mode"], plan["iterative"]) == ("had", False)
    status, again = await w.setup.call("POST", path, {"discharged_on": d0, "mode": "had"})
    # The same plan (step 1, due this morning, may have been posted meanwhile).
    assert (status, again["created"]) == (200, False)
    assert [(s["id"], s["day"]) for s in again["steps"]] == [(s["id"], s["day"])
                                                            for s in plan["steps"]]
    status, body = await w.setup.call("POST", path, {
        "discharged_on": (today() - timedelta(days=1)).isoformat(), "mode": "had"})
    assert (status, body["error"]["code"]) == (409, "followup_exists")
    status, body = await w.setup.call("POST", path, {"discharged_on": d0, "mode": "mco"})
    assert (status, body["error"]["code"]) == (409, "followup_exists")
    started = await w.nurse.wait_for(lambda r, e: r == w.room_id and getattr(
        e, "body", "").startswith("Suivi RH30 démarré ("))
    assert "risque intermédiaire" in started.body

    # Re-planned: only the steps not yet posted change.
    assert "pas le droit" in (await w.command(w.nurse, "!rh30 risque eleve")).body
    assert "court (séjour court)" in (await w.command(w.dac, "!rh30 conditions dialyse")).body
    changed = await w.command(w.dac, "!rh30 conditions court domicile")
    assert "ajoutées 2, 3, retirées —" in changed.body
    assert "séjour court, soins à domicile" in changed.body
    changed = await w.command(w.dac, "!rh30 risque eleve")
    assert "ajoutées 5, 6, 8, retirées 7" in changed.body
    # A lower score typed later never silently lowers the plan: a physician may, with a reason.
    score = await w.command(w.nurse, "!rh30 lace 2 non 0 0")
    assert "Score LACE : 2/19" in score.body
    hint = await in_room(w.nurse, w.room_id, w.bot_id, lambda e: "!rh30 risque faible" in
                         getattr(e, "body", ""))
    assert "n'abaisse jamais le plan" in hint.body
    assert "seul un médecin" in (await w.command(w.dac, "!rh30 risque faible stable")).body

    # A newcomer cannot read the plan posted before they joined: it comes again, to them.
    kine = await make_clinician()
    status, body = await w.setup.call("POST", f"/api/v1/patients/{w.ref}/team",
                                      {"add": [{"user_id": kine.user_id, "role": "KINE"}]})
    assert status == 200, body
    await kine.wait_joined(w.room_id, kine.user_id)
    welcome = await in_room(kine, w.room_id, w.bot_id, lambda e: "voici le suivi RH30" in
                            getattr(e, "body", ""))
    assert welcome.decrypted and kine.user_id in welcome.source["content"]["m.mentions"][
        "user_ids"]
    assert "5. " in welcome.body and "7. " not in welcome.body

    # The patient dies at home: no call again, for good; the window still closes at D+30.
    assert "pas le droit" in (await w.command(w.nurse, "!rh30 deces aujourdhui")).body
    assert "à venir" in (await w.command(w.dac, "!rh30 deces demain")).body
    died = await w.command(w.dac, "!rh30 deces aujourdhui")
    assert "Décès noté" in died.body and "Plus aucun appel" in died.body
    assert w.doc.user_id in died.source["content"]["m.mentions"]["user_ids"]
    assert "déjà noté" in (await w.command(w.dac, "!rh30 deces J+0")).body
    assert "arrêté" in (await w.command(w.nurse, "!rh30 plan")).body
    for refused in ("!rh30 reprise", "!rh30 risque faible"):
        assert "est décédé" in (await w.command(w.dac, refused)).body
    fire = w.setup.bot.runtime.scheduler.run_due
    await fire(at(today() + timedelta(days=30), 10, 0))
    closed = await in_room(w.nurse, w.room_id, w.bot_id, lambda e: "Fenêtre de 30 jours close"
                           in getattr(e, "body", ""))
    assert "aucune réhospitalisation enregistrée. Décès le" in closed.body
    assert tasks(w, 5) == tasks(w, 6) == tasks(w, 8) == []


async def wait_status(w, ref: str, status: str) -> dict:
    for _ in range(150):
        code, body = await w.setup.call("GET", f"/api/v1/patients/{ref}")
        if code == 200 and body.get("status") == status:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{ref} never became {status}")


async def test_a_transfer_leaves_the_denominator_and_two_rooms_of_one_patient_count_once(
        make_bot, make_clinician):
    d0 = today() - timedelta(days=40)  # every 30-day window closed
    w = await ward(make_bot, make_clinician, admission=d0 - timedelta(days=3),
                   bots=("careteam", "discharge", "followup"))
    await w.dac.send(w.room_id, "!sortie prevoir aujourdhui")
    await w.live(w.nurse)
    done = await w.command(w.doc, f"!sortie valider {d0:%d/%m/%Y} domicile retour chez elle")
    assert "mode : domicile" in done.body
    await w.nurse.wait_for(lambda r, e: r == w.room_id and getattr(e, "body", "").startswith(
        "Suivi RH30 démarré ("))
    assert "comptée dans RH30" in (await w.command(w.nurse, "!rh30 rehospitalisation J+10")).body
    # The episode closes; the same patient comes back later in a new room (a new episode).
    await w.command(w.dac, "!patient clore")
    await wait_status(w, w.ref, "closed")
    identity = {"family_name": "DUPONT", "given_names": "Marie", "birth_date": "1948-03-12",
                "sex": "F", "ins": INS}
    status, second = await w.setup.call("POST", "/api/v1/patients", {
        "identity": identity, "ward": "Pneumologie",
        "team": [{"user_id": w.dac.user_id, "role": "DAC"}]})
    assert status == 201 and second["ref"] != w.ref, second
    await wait_status(w, second["ref"], "open")
    status, plan = await w.setup.call("POST", f"/api/v1/patients/{second['ref']}/discharge", {
        "discharged_on": (d0 + timedelta(days=12)).isoformat(), "mode": "domicile"})
    assert status == 201, plan
    # Another patient, transferred to an acute ward: recorded, no follow-up, not counted.
    status, other = await w.setup.call("POST", "/api/v1/patients", {
        "identity": {"family_name": "MARTIN", "given_names": "Paul",
                     "birth_date": "1950-06-01", "sex": "M"}, "ward": "Cardiologie",
        "team": [{"user_id": w.dac.user_id, "role": "DAC"}]})
    assert status == 201, other
    await wait_status(w, other["ref"], "open")
    status, moved = await w.setup.call("POST", f"/api/v1/patients/{other['ref']}/discharge", {
        "discharged_on": d0.isoformat(), "mode": "mco"})
    assert (status, moved["status"], moved["steps"], moved["mode"]) == (201, "not_followed", [],
                                                                        "mco")

    # The indicator: one index stay (the patient's first), readmitted: RH30 1/1; the transfer
    # and the second room are listed as excluded, never in the denominator.
    coord = w.setup.coordination_room
    event_id = await w.dac.send(coord, "!rh30 stats")
    table = await w.dac.reply_to(coord, event_id, w.bot_id)
    assert "1/1 (100,0 %)" in table.body and "RH30 (officiel)" in table.body
    assert "0/2" not in table.body and "1/2" not in table.body and "1/3" not in table.body
    event_id = await w.dac.send(coord, "!rh30 export")
    await w.dac.reply_to(coord, event_id, w.bot_id)
    file_event = await in_room(w.dac, coord, w.bot_id, lambda e: e.source["content"].get(
        "msgtype") == "m.file")
    text = (await w.dac.download(file_event.source["content"])).decode()
    lines = {line["ref"]: line for line in csv.DictReader(io.StringIO(text))}
    assert (lines[w.ref]["excluded"], lines[w.ref]["readmitted_30"]) == ("0", "1")
    assert lines[second["ref"]]["exclusion"] == "repeat"
    assert (lines[other["ref"]]["exclusion"], lines[other["ref"]]["discharge_mode"]) == (
        "mco", "mco")
