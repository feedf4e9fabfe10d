"""The RH30 follow-up in a real encrypted patient room, with the real scheduler and a controlled
clock: started by the discharge validation, steps posted on their (working) days to whoever is
responsible, an unreachable patient retried twice then given up, a step done early never posted,
a restart with missed steps (posted once, marked late), the window closed at D+30."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from bots.followup.schedule import Calendar
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
    done = await w.command(w.doc, "!sortie valider retour à domicile, suivi renforcé")
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
    assert "déjà en place" in (await w.command(w.dac, "!rh30 debut aujourdhui")).body
    score = await w.command(w.nurse, "!rh30 lace 6 oui 2 1")
    assert "Score LACE : 10/19" in score.body and "risque élevé" in score.body
    assert "hors de l'intervalle" in (await w.command(w.nurse, "!rh30 lace 6 oui 2 900")).body
