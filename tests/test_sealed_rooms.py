"""Sealed data bound to its row, against the real Synapse and database: two patient rooms'
identities exchanged in the database (by SQL, as a database writer could) are refused, never
shown in the other patient's room."""

from __future__ import annotations

import logging

import pytest
from nio import RoomMessageNotice
from sqlalchemy import text

from tests.careteam_helpers import INS, care_setup, welcomed


@pytest.mark.parametrize("database", [
    "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_identities_swapped_in_the_database_are_refused_not_shown(
        request: pytest.FixtureRequest, make_bot, make_clinician,
        caplog: pytest.LogCaptureFixture, database: str):
    bot = {} if database == "sqlite" else {"database": request.getfixturevalue("pg_database")}
    setup = await care_setup(make_bot, make_clinician, bot=bot)
    doc = setup.coordinator
    _, marie = await setup.open_by_command(f"DUPONT Marie 12/03/1948 F {INS}")
    _, paul = await setup.open_by_command("MARTIN Paul 01/01/1950 M")
    for room_id in (marie, paul):
        await welcomed(doc, room_id)
    shown = await doc.reply_to(marie, await doc.send(marie, "!patient identite"),
                               setup.bot.user_id)
    assert "DUPONT" in shown.body

    store = setup.bot.store
    assert store is not None
    async with store.engine.begin() as conn:
        sealed = dict((await conn.execute(text(
            "SELECT room_id, sealed FROM care_rooms WHERE room_id IN (:a, :b)"),
            {"a": marie, "b": paul})).all())
        for room_id, other in ((marie, paul), (paul, marie)):
            await conn.execute(text("UPDATE care_rooms SET sealed = :s WHERE room_id = :r"),
                               {"s": sealed[other], "r": room_id})

    caplog.set_level(logging.INFO)
    asked = await doc.send(marie, "!patient identite")
    # The handler fails (VaultError) and is retried; after the last try the room gets the
    # runtime's apology, never Paul MARTIN's identity.
    answer = await doc.reply_to(marie, asked, setup.bot.user_id, timeout=120)
    assert "MARTIN" not in answer.body and "Paul" not in answer.body
    assert "erreur interne" in answer.body and asked in answer.body
    failures = [r for r in caplog.records if r.getMessage() == "handler failed"
                and getattr(r, "event_id", None) == asked]
    assert failures and all(r.exc_info and r.exc_info[0].__name__ == "VaultError"
                            for r in failures)
    logged = "\n".join(logging.Formatter().format(r) + repr(vars(r)) for r in caplog.records)
    # Full dates only: a bare year turns up by chance in timestamps.
    for trait in ("DUPONT", "MARTIN", "Paul", "12/03/1948", "1948-03-12", "01/01/1950",
                  "1950-01-01", INS):
        assert trait not in logged, f"{trait!r} is in the logs"


async def test_a_kept_event_or_message_that_does_not_open_is_set_aside_and_the_bot_goes_on(
        make_bot, make_clinician):
    """A pending inbox row and an outbox row whose sealed values were altered in the database:
    each is set aside (the room gets the apology for the event), and the next command is
    answered, instead of every sync round stopping on the same row."""
    setup = await care_setup(make_bot, make_clinician)
    doc, bot = setup.coordinator, setup.bot
    _, room_id = await setup.open_by_command("MARTIN Paul 01/01/1950 M")
    await welcomed(doc, room_id)
    store, runtime = bot.store, bot.runtime
    assert store is not None and runtime is not None
    start = len(doc.timeline)  # the apology may come before or after the next command's answer
    async with store.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO inbox (account, event_id, room_id, state, payload, received_at, attempts)"
            " VALUES (:a, '$altered', :r, 'pending', :p, CURRENT_TIMESTAMP, 0)"),
            {"a": bot.user_id, "r": room_id, "p": b"\x01" + bytes(40)})
    runtime._inbox_backlog = True  # as after a failed handler: the next sync takes it up
    asked = await doc.send(room_id, "!equipe liste")
    assert (await doc.reply_to(room_id, asked, bot.user_id, timeout=60)).body
    apology = await doc.wait_for(lambda r, ev: r == room_id and isinstance(
        ev, RoomMessageNotice) and ev.source["content"].get("m.relates_to", {}).get(
        "m.in_reply_to", {}).get("event_id") == "$altered", timeout=60, start=start)
    assert "erreur interne" in apology.body
    async with store.engine.begin() as conn:
        assert (await conn.execute(text(
            "SELECT state FROM inbox WHERE event_id = '$altered'"))).scalar() == "handled"
        await conn.execute(text(
            "INSERT INTO outbox (account, room_id, event_type, content, txn_id, state,"
            " created_at, attempts) VALUES (:a, :r, 'm.room.message', :c, 'altered-txn',"
            " 'pending', CURRENT_TIMESTAMP, 0)"),
            {"a": bot.user_id, "r": room_id, "c": b"\x01" + bytes(40)})
    await runtime.sender.resume()
    asked = await doc.send(room_id, "!equipe liste")
    assert (await doc.reply_to(room_id, asked, bot.user_id, timeout=60)).body
    async with store.engine.begin() as conn:
        state, error = (await conn.execute(text(
            "SELECT state, last_error FROM outbox WHERE txn_id = 'altered-txn'"))).one()
    assert state == "failed" and "does not open" in error
