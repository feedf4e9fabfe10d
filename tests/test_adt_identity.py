"""The hospital's identity messages applied on the in-process harness (tests/test_adt_applier.py's
feed): A08 (patient information updated) seals the new traits and posts the card again; A40
(merge) points the prior patient's identifiers and room to the survivor's."""

from __future__ import annotations

import logging

from bots.common.identity import Identity
from bots.common.records import PatientFile
from tests import test_adt_applier
from tests.adt_samples import message
from tests.careteam_helpers import INS
from tests.test_adt_applier import IDEC, MH, Feed, ago

feed = test_adt_applier.feed  # the fixture: the harness with the adt bot and its wards


async def identity(feed: Feed) -> Identity:
    [room] = await feed.patient_rooms()
    async with feed.h.runtime.transaction() as tx:
        return PatientFile.open(tx, room).identity


async def test_an_identity_update_is_sealed_and_the_card_posted_again_once(feed, caplog):
    caplog.set_level(logging.DEBUG)
    await feed.send(message("A01", "M1", admitted=ago(1)))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A08", "M2", admitted=ago(1), family="DURAND",
                            given="MARIE-LOUISE"))
    sent = await feed.round()
    assert (await feed.states())[-1] == ("M2", "applied", None)
    now = await identity(feed)
    assert (now.family_name, now.given_names, now.ins) == ("DURAND", "MARIE-LOUISE", INS)
    [room] = await feed.patient_rooms()
    assert room.traits_index == feed.h.store.vault.index(now.traits_key())
    assert room.ins_index == feed.h.store.vault.index(INS)
    [card] = [s for s in sent if s.room_id == room_id]
    assert "L'hôpital a mis à jour l'identité" in card.body and "DURAND" in card.body
    assert set(card.content["m.mentions"]["user_ids"]) == {IDEC, MH}
    logged = " ".join(str(r.__dict__) for r in caplog.records)  # messages and extras
    assert "ADT row handled" in logged and "DURAND" not in logged and "LOUISE" not in logged
    # The same update again (resent, or another message saying the same): nothing changes.
    await feed.send(message("A08", "M3", admitted=ago(1), family="DURAND",
                            given="MARIE-LOUISE"))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M3", "applied", None)
    # The next admission finds the room by its INS and the new traits.
    await feed.send(message("A01", "M4", admitted=ago(0), family="DURAND",
                            given="MARIE-LOUISE"))
    await feed.round()
    assert len(await feed.patient_rooms()) == 1


async def test_an_identity_update_for_a_patient_without_a_room_changes_nothing(feed):
    await feed.send(message("A08", "M1", admitted=ago(1), family="DURAND"))
    assert await feed.round() == []
    assert await feed.states() == [("M1", "applied", None)]
    assert await feed.patient_rooms() == []
