"""The discharge checklist in a real encrypted patient room: commands, permissions, the live
message edited in place and pinned, ✅ reactions, validation with override, the summary file,
the audit trail, bad input."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from nio import RoomGetStateEventResponse

from tests.discharge_helpers import today, ward


def db(w) -> sqlite3.Connection:
    return sqlite3.connect(w.setup.bot.config.database.removeprefix("sqlite:///"))


async def pinned(w, member) -> list[str]:
    resp = await member.client.room_get_state_event(w.room_id, "m.room.pinned_events")
    return resp.content.get("pinned", []) if isinstance(resp, RoomGetStateEventResponse) else []


async def wait_pinned(w, member, event_id: str) -> list[str]:
    for _ in range(100):
        pins = await pinned(w, member)
        if pins and pins[0] == event_id:
            return pins
        await asyncio.sleep(0.2)
    raise AssertionError(f"{event_id} was not pinned")


async def test_commands_edit_the_pinned_live_checklist_with_permissions(
        make_bot, make_clinician):
    w = await ward(make_bot, make_clinician)
    day = today() + timedelta(days=3)

    # A nurse may answer items but not plan the discharge.
    reply = await w.command(w.nurse, f"!sortie prevoir {day:%d/%m/%Y}")
    assert "pas le droit" in reply.body
    reply = await w.command(w.nurse, "!sortie oui 18")
    assert "Pas de check-list" in reply.body

    mark = len(w.nurse.timeline)
    await w.dac.send(w.room_id, f"!sortie prevoir {day:%d/%m/%Y}")
    live = await w.live(w.nurse, start=mark)
    assert live.decrypted and f"sortie prévue le {day:%d/%m/%Y}" in live.body
    assert "0/20 items renseignés" in live.body and "⬜ 18." in live.body
    await wait_pinned(w, w.nurse, live.event_id)

    # An answer edits the live message in place (m.replace), with who answered.
    mark = len(w.nurse.timeline)
    reply = await w.command(w.nurse, "!sortie oui 18")
    assert reply.body.startswith("✅ 18.")
    new = await w.edit_of(w.nurse, live.event_id, "✅ 18.", start=mark)
    assert w.nurse.user_id in new["body"] and "1/20" in new["body"]

    # What a user writes is escaped in the HTML the bot sends.
    mark = len(w.nurse.timeline)
    await w.command(w.nurse, "!sortie non 13 patient <b>fatigué</b>")
    new = await w.edit_of(w.nurse, live.event_id, "❌ 13.", start=mark)
    assert "&lt;b&gt;fatigué&lt;/b&gt;" in new["formatted_body"]
    assert "<b>fatigué</b>" not in new["formatted_body"]

    # Refusals: someone else's item, NA where forbidden, an unknown item, a bad date, a role
    # without checklist rights.
    assert "revient aux rôles" in (await w.command(w.po, "!sortie oui 11")).body
    assert "ne peut pas être « NA »" in (await w.command(w.doc, "!sortie na 1")).body
    letter = await w.command(w.sec, "!sortie na 17")  # the lettre de liaison: never NA
    assert "ne peut pas être NA" in letter.body and "décret 2016-995" in letter.body
    assert "Item 42 inconnu" in (await w.command(w.doc, "!sortie oui 42")).body
    assert "incomprise" in (await w.command(w.dac, "!sortie date 32/13")).body
    assert "est passée" in (await w.command(w.dac, "!sortie date 01/01/2020")).body
    assert "déjà démarrée" in (await w.command(w.dac, f"!sortie prevoir {day:%d/%m}")).body
    assert "pas le droit" in (await w.command(w.po, "!sortie valider")).body

    # Assigning an item mentions the assignee; her ✅ on that message answers it, as her.
    reply = await w.command(w.dac, f"!sortie assigner 8 {w.sec.user_id}")
    assert w.sec.user_id in reply.source["content"]["m.mentions"]["user_ids"]
    mark = len(w.nurse.timeline)
    await w.sec.react(w.room_id, reply.event_id)
    new = await w.edit_of(w.nurse, live.event_id, "✅ 8.", start=mark)
    assert w.sec.user_id in new["body"].split("✅ 8.")[1].split("\n")[0]
    # A ✅ on the whole checklist does not say which item: explained, nothing answered.
    reaction = await w.dac.react(w.room_id, live.event_id)
    explained = await w.dac.wait_for(
        lambda r, e: r == w.room_id and e.sender == w.bot_id and "ne dit pas quel item"
        in getattr(e, "body", ""), start=w.dac.mark(reaction))
    assert explained.source["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == \
        live.event_id

    # Moving the date: the J items follow.
    later = day + timedelta(days=2)
    mark = len(w.nurse.timeline)
    assert "déplacée" in (await w.command(w.dac, f"!sortie date {later:%d/%m/%Y}")).body
    await w.edit_of(w.nurse, live.event_id, f"sortie prévue le {later:%d/%m/%Y}", start=mark)

    # Validation: blocked by the blocking items; a coordinator cannot override; the physician
    # can, with a reason, which is recorded; then the checklist no longer changes.
    assert "Mode de sortie manquant" in (await w.command(w.dac, "!sortie valider")).body
    blocked = await w.command(w.dac, "!sortie valider ssr")
    assert "items bloquants" in blocked.body and "1, 2, 3, 4, 7, 12, 16, 17, 19" in blocked.body
    assert "items bloquants" in (await w.command(w.dac, "!sortie valider ssr pas le temps")).body
    assert "donnez la raison" in (await w.command(w.doc, "!sortie valider ssr")).body
    mark = len(w.nurse.timeline)
    done = await w.command(w.doc, "!sortie valider ssr transfert urgent en SSR")
    assert "mode : SSR/SMR" in done.body and "lettre de liaison n'est pas encore" in done.body
    assert "Sortie validée" in done.body and f"{today():%d/%m/%Y}" in done.body
    new = await w.edit_of(w.nurse, live.event_id, "Sortie validée", start=mark)
    assert "transfert urgent en SSR" in new["body"]
    assert "déjà validée" in (await w.command(w.nurse, "!sortie oui 19")).body
    # The letter's item still answers after the validation: its obligation outlives it.
    assert (await w.command(w.sec, "!sortie oui 17")).body.startswith("✅ 17.")

    # The summary: an HTML message and a Markdown file, encrypted, that decrypts to the same.
    summary = await w.command(w.doc, "!sortie resume")
    assert "Synthèse de sortie" in summary.body and "DUPONT" in summary.body
    file_event = await w.doc.wait_for(
        lambda r, e: r == w.room_id and e.source.get("content", {}).get("msgtype") == "m.file")
    text = (await w.doc.download(file_event.source["content"])).decode()
    assert "| 8 | " in text and w.sec.user_id in text and "transfert urgent en SSR" in text
    assert "patient &lt;b>fatigué" in text  # a comment cannot inject HTML into the file either
    # The journal: every change, who and when.
    journal = text.split("## Journal")[1]
    assert f"{w.sec.user_id} — item 8 : Oui" in journal
    assert "item 13 : Non « patient &lt;b>fatigué&lt;/b> »" in journal
    assert f"{w.doc.user_id} — passé outre aux items 1, 2, 3, 4, 7, 12, 16, 17, 19 : transfert " \
        "urgent" in journal

    # The database: the hand-over to RH30, the audit trail, and no comment in clear.
    with db(w) as conn:
        handover = conn.execute("SELECT discharged_on, risk, mode, iterative, ward, compliant "
                                "FROM discharge_handovers").fetchall()
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM discharge_audit ORDER BY id").fetchall()]
    # No risk level was given; items unanswered: not compliant.
    assert handover == [(today().isoformat(), None, "ssr", 0, "Cardiologie", 0)]
    assert actions[:1] == ["plan"] and actions.count("answer") == 4
    assert {"assign", "move", "validate", "override", "summary"} <= set(actions)
    raw = open(w.setup.bot.config.database.removeprefix("sqlite:///"), "rb").read()
    assert b"transfert urgent" not in raw and "fatigué".encode() not in raw


async def test_a_newcomer_gets_the_checklist_again_and_it_is_pinned(make_bot, make_clinician):
    w = await ward(make_bot, make_clinician)
    day = today() + timedelta(days=2)
    mark = len(w.nurse.timeline)
    await w.dac.send(w.room_id, f"!sortie prevoir {day:%d/%m/%Y}")
    first = await w.live(w.nurse, start=mark)
    await wait_pinned(w, w.nurse, first.event_id)
    await w.command(w.nurse, "!sortie oui 18 valise prête")

    kine = await make_clinician()
    status, body = await w.setup.call("POST", f"/api/v1/patients/{w.ref}/team",
                                      {"add": [{"user_id": kine.user_id, "role": "KINE"}]})
    assert status == 200, body
    await kine.wait_joined(w.room_id, kine.user_id)
    again = await w.live(kine)
    assert again.decrypted and "valise prête" in again.body
    assert kine.user_id in again.source["content"]["m.mentions"]["user_ids"]
    pins = await wait_pinned(w, w.nurse, again.event_id)
    assert first.event_id not in pins
    # The old message now points to the new one; changes edit the new one.
    await w.edit_of(w.nurse, first.event_id, "plus bas")
    mark = len(kine.timeline)
    await w.command(w.nurse, "!sortie oui 19")
    await w.edit_of(kine, again.event_id, "✅ 19.", start=mark)


async def test_my_tasks_across_patient_rooms(make_bot, make_clinician):
    w = await ward(make_bot, make_clinician)
    await w.command(w.dac, f"!sortie assigner 8 {w.sec.user_id}")  # no checklist yet
    await w.dac.send(w.room_id, f"!sortie prevoir {today() + timedelta(days=1):%d/%m/%Y}")
    await w.live(w.sec)
    await w.command(w.dac, f"!sortie assigner 9 {w.sec.user_id}")
    assigned = await w.command(w.dac, f"!sortie assigner 3 {w.sec.user_id}")

    def listed(tasks) -> set[int]:
        return {int(line.split(".")[0].lstrip("• ")) for line in tasks.body.splitlines()
                if line.startswith("• ")}

    # SEC's items (4, 8, 14, 17) and the ones assigned to her (3, 9), nothing else.
    tasks = await w.command(w.sec, "!sortie mes-taches")
    assert listed(tasks) == {3, 4, 8, 9, 14, 17}, tasks.body
    # Element sends reactions in clear (matrix-js-sdk does not encrypt them): counted too.
    resp = await w.sec.client.room_send(w.room_id, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": assigned.event_id, "key": "✅"}})
    assert resp.event_id
    answered = await w.sec.wait_for(lambda r, e: r == w.room_id and e.sender == w.bot_id and
                                    getattr(e, "body", "").startswith("✅ 3."))
    assert answered.source["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == \
        assigned.event_id
    assert listed(await w.command(w.sec, "!sortie mes-taches")) == {4, 8, 9, 14, 17}
    assert w.ref in tasks.body
    assert "Aucun item ouvert" in (await w.command(w.po, "!discharge my-tasks")).body or \
        "No open item" in (await w.command(w.po, "!discharge my-tasks")).body
