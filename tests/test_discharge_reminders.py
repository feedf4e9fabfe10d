"""Discharge reminders fired by the real scheduler with a controlled clock, in a real encrypted
room: due items mention their people once, a daily digest, the J0 escalation for a high-risk
patient, the lettre de liaison alert, a moved date re-planning the jobs, and restarts in the
middle that neither lose nor double a reminder."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, date, datetime, time, timedelta

from bots.discharge.template import DEFAULT_TEMPLATE, DEFAULT_TEMPLATES_DIR, load_template
from bots.episode.records import letter_mail_sent
from bots.runtime.store import utcnow
from tests.discharge_helpers import PARIS, today, ward

TEMPLATE = load_template(DEFAULT_TEMPLATES_DIR / f"{DEFAULT_TEMPLATE}.yaml")
ITEM = re.compile(r"l'item (\d+) «")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def jobs(w, state: str) -> list[str]:
    with sqlite3.connect(w.setup.bot.config.database.removeprefix("sqlite:///")) as db:
        return [r[0] for r in db.execute(
            "SELECT key FROM scheduled_jobs WHERE state = ? AND kind LIKE 'discharge.%' "
            "ORDER BY key", (state,)).fetchall()]


def reminded(w, who, mark: str) -> list[int]:
    """Items named by the bot's messages starting with `mark` (⏰ reminder, 🚨 alert)."""
    return sorted(int(m[1]) for e in w.bot_notices(who, mark) if e.body.startswith(mark)
                  and (m := ITEM.search(e.body)))


async def settle(w, who, mark: str, count: int) -> list[int]:
    for _ in range(150):
        items = reminded(w, who, mark)
        if len(items) >= count:
            await asyncio.sleep(0.5)  # anything more (a double) would show now
            return reminded(w, who, mark)
        await asyncio.sleep(0.2)
    return reminded(w, who, mark)


async def fire(w, when: datetime) -> int:
    return await w.setup.bot.runtime.scheduler.run_due(when)


async def test_reminders_fire_once_across_restarts_and_follow_a_moved_date(
        make_bot, make_clinician):
    start = today()
    # Admission long ago: its A items are overdue from the start (no reminder of their own,
    # they go to the digest); every J item is in the future whatever the time of the run.
    w = await ward(make_bot, make_clinician, admission=start - timedelta(days=5))
    # J0 three days ahead: its J-2 items fall tomorrow, never earlier today (an evening run
    # would otherwise find the first of them already past).
    await w.dac.send(w.room_id, f"!sortie prevoir {start + timedelta(days=3):%d/%m/%Y}")
    await w.live(w.nurse)
    first_plan = jobs(w, "pending")
    j_items = [i.id for i in TEMPLATE.items if i.due.anchor == "J"]
    # The letter (item 17) has reminders of its own, under its own keys.
    assert sum(":v1:due:" in k for k in first_plan) == len(j_items) - 1
    letter_jobs = {k for k in first_plan if k.startswith("discharge-letter:")}
    assert len(letter_jobs) == 2
    assert any(":v1:rescore:1" in k for k in first_plan)
    assert any(k.endswith(":v1:escalate") for k in first_plan)

    # The date moves later: the first plan's jobs are cancelled, a second plan replaces them.
    j0 = start + timedelta(days=4)
    assert "déplacée" in (await w.command(w.dac, f"!sortie date {j0:%d/%m/%Y}")).body
    assert {k for k in jobs(w, "cancelled")} == {k for k in first_plan if ":v1:" in k} | \
        letter_jobs
    assert sum(":v2:due:" in k for k in jobs(w, "pending")) == len(j_items) - 1
    await w.command(w.nurse, "!sortie oui 18")

    # Restart, then the clock goes to J-1 18:30: the J-2 and J-1 items are due.
    await w.setup.bot.stop()
    await w.setup.bot.start()
    assert await fire(w, at(j0 - timedelta(days=1), 18, 30)) > 0
    due_by_j1 = sorted(i.id for i in TEMPLATE.items if i.due.anchor == "J" and i.due.days < 0)
    assert await settle(w, w.nurse, "⏰", len(due_by_j1)) == due_by_j1
    # Each mentions its people: item 8 (SEC/IDEC) the secretary; item 7 (MH/IDE) both.
    by_item = {int(ITEM.search(e.body)[1]): e for e in w.bot_notices(w.nurse, "⏰")
               if e.body.startswith("⏰")}
    assert by_item[8].source["content"]["m.mentions"]["user_ids"] == [w.sec.user_id]
    assert set(by_item[7].source["content"]["m.mentions"]["user_ids"]) == \
        {w.doc.user_id, w.nurse.user_id}
    # The re-score of item 1 (J-1), and the digest of what is overdue (A items among them).
    assert await settle(w, w.nurse, "🔁", 1) == [1]
    digest = await w.nurse.wait_for(lambda r, e: r == w.room_id and "Items en retard" in
                                    getattr(e, "body", ""))
    assert "1. " in digest.body and "9. " in digest.body and "18. " not in digest.body

    # The same clock again, and another restart: nothing fires twice.
    assert await fire(w, at(j0 - timedelta(days=1), 18, 30)) == 0
    await w.setup.bot.stop()
    await w.setup.bot.start()
    await asyncio.sleep(1)
    assert reminded(w, w.nurse, "⏰") == due_by_j1

    # A high-risk patient with a "Non" on item 10: nothing before J0, the physician at J0.
    await w.command(w.dac, "!sortie risque eleve")
    reply = await w.command(w.dac, "!sortie non 10 IDEL pas encore trouvée")
    assert reply.body.startswith("❌ 10.")
    assert not w.bot_notices(w.nurse, "Patient à risque élevé")
    await fire(w, at(j0, 8, 5))
    escalation = await w.nurse.wait_for(lambda r, e: r == w.room_id and
                                        "Patient à risque élevé" in getattr(e, "body", ""))
    assert escalation.source["content"]["m.mentions"]["user_ids"] == [w.doc.user_id]
    assert "10. " in escalation.body and "IDEL pas encore trouvée" in escalation.body

    # The lettre de liaison not sent at the end of J0's working hours (19:00 here): an alert
    # then, to its roles and the physician; the J0 items are reminded, item 18 (answered) not.
    await w.command(w.sec, "!sortie oui 9")
    await fire(w, at(j0, 19, 5))
    assert await settle(w, w.nurse, "🚨", 1) == [17]
    alert = next(e for e in w.bot_notices(w.nurse, "🚨") if e.body.startswith("🚨"))
    assert set(alert.source["content"]["m.mentions"]["user_ids"]) == \
        {w.doc.user_id, w.sec.user_id}
    j0_items = sorted(i.id for i in TEMPLATE.items if i.due.anchor == "J" and i.due.days == 0
                      and not i.letter and i.id != 18)
    assert await settle(w, w.nurse, "⏰", len(due_by_j1) + len(j0_items)) == \
        sorted(due_by_j1 + j0_items)

    # Once validated, every pending job of the checklist is cancelled, but the letter's.
    await w.command(w.doc, "!sortie valider ssr sortie en SSR, reste fait par le SSR")
    pending = jobs(w, "pending")
    assert pending and all(k.startswith("discharge-letter:") for k in pending)


async def test_a_validated_discharge_with_an_override_still_gets_the_letter_alert(
        make_bot, make_clinician):
    w = await ward(make_bot, make_clinician)
    await w.dac.send(w.room_id, f"!sortie prevoir {today() + timedelta(days=1):%d/%m/%Y}")
    await w.live(w.nurse)
    refused = await w.command(w.sec, "!sortie na 17")
    assert "ne peut pas être NA" in refused.body and "décret 2016-995" in refused.body
    # Left a day early, validated by the physician over every blocking item (letter included).
    done = await w.command(w.doc, "!sortie valider domicile départ anticipé, lettre à faire")
    assert "Sortie validée" in done.body and "ses rappels continuent" in done.body
    pending = jobs(w, "pending")
    assert pending and all(k.startswith("discharge-letter:") for k in pending)
    assert all(f":{today().isoformat()}:" in k for k in pending)  # the day actually left
    # The end of today's working hours: the alert comes, validated or not.
    await fire(w, at(today(), 19, 5))
    assert await settle(w, w.nurse, "🚨", 1) == [17]
    alert = next(e for e in w.bot_notices(w.nurse, "🚨") if e.body.startswith("🚨"))
    assert {w.doc.user_id, w.sec.user_id} <= set(alert.source["content"]["m.mentions"][
        "user_ids"])
    # Sent at last, by MSSanté from this room with the letter attached: the bridge records the
    # mail (as bridge/sending.py does), the discharge bot ticks the item and the reminders stop.
    async with w.setup.bot.runtime.store.transaction(w.bot_id) as tx:
        letter_mail_sent(tx, w.room_id, 1, utcnow())
    ticked = await w.nurse.wait_for(lambda r, e: r == w.room_id and e.sender == w.bot_id and
                                    "coché par la passerelle MSSanté" in getattr(e, "body", ""))
    assert ticked.body.startswith("✅ 17.")
    assert jobs(w, "pending") == []
    assert "déjà validée" in (await w.command(w.nurse, "!sortie oui 19")).body
