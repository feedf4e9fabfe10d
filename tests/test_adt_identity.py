"""The hospital's identity messages applied on the in-process harness (tests/test_adt_applier.py's
feed): A08 (patient information updated) seals the new traits and posts the card again; A40
(merge) points the prior patient's identifiers and room to the survivor's."""

from __future__ import annotations

import logging

from bots.common.identity import Identity
from bots.common.records import PatientFile
from bots.devstack.patients import ins_for
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


PRIOR = dict(ins=ins_for("2480375999999"), family="DUPOND", ipp="654321")  # the duplicate record


async def test_a_merge_points_the_prior_room_to_the_survivors_and_lists_what_is_left(feed):
    coordination = await feed.h.coordination({IDEC: "IDEC"})
    await feed.send(message("A01", "M1", admitted=ago(20), **PRIOR))
    await feed.round()
    prior_room = await feed.created()
    await feed.send(message("A01", "M2", admitted=ago(15)))
    await feed.round()
    survivor_room = await feed.created()
    await feed.send(message("A03", "M3", admitted=ago(20), discharged=ago(12), disposition="8",
                            **PRIOR))
    await feed.send(message("A03", "M4", admitted=ago(15), discharged=ago(10), disposition="8"))
    await feed.round()
    await feed.send(message("A40", "M5", prior_ipp="654321"))
    sent = await feed.round()
    assert (await feed.states())[-1] == ("M5", "applied", None)
    told = {s.room_id: s for s in sent}
    assert set(told) == {prior_room, survivor_room, coordination}
    refs = {r.room_id: r.ref for r in await feed.patient_rooms()}
    away, into = told[prior_room], told[survivor_room]
    assert f"fusionné ce dossier dans celui du même patient suivi dans {refs[survivor_room]}" \
        in away.body and survivor_room in away.content["formatted_body"]
    assert f"suivi dans {refs[prior_room]}" in into.body
    for text in (away.body, into.body):
        assert "deux suivis RH30 en cours" in text and "DUPON" not in text
    # Listed for the coordinators too (file numbers and links only).
    [listed] = [s for s in sent if s.room_id == coordination]
    assert f"{refs[prior_room]} dans {refs[survivor_room]}" in listed.body
    assert "deux suivis RH30 en cours" in listed.body and "DUPON" not in listed.body
    # The prior patient's INS now lands on the survivor: a return counts in the survivor's plan.
    await feed.send(message("A01", "M6", admitted=ago(0), admission_type="U", **PRIOR))
    sent = await feed.round()
    assert [s.room_id for s in sent if "Réhospitalisation" in s.body] == [survivor_room]
    assert len(await feed.patient_rooms()) == 2
    # The same merge again (here named by the prior INS): nothing changes.
    await feed.send(message("A40", "M7", prior_ins=PRIOR["ins"]))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M7", "applied", None)


async def test_a_merge_whose_survivor_has_no_room_gives_the_prior_room_to_the_survivor(feed):
    await feed.send(message("A01", "M1", admitted=ago(2), **PRIOR))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A40", "M2", prior_ipp="654321"))
    sent = await feed.round()
    assert [s.room_id for s in sent] == [room_id, room_id]
    assert "ce salon est désormais celui du dossier retenu" in sent[0].body
    assert "DUPONT" in sent[1].body and INS[:5] in sent[1].body.replace(" ", "")
    now = await identity(feed)
    assert (now.family_name, now.ins) == ("DUPONT", INS)
    [room] = await feed.patient_rooms()
    assert room.ins_index == feed.h.store.vault.index(INS)
    # The survivor's own messages now find that room.
    await feed.send(message("A02", "M3", admitted=ago(2), ward="PNEUMO"))
    await feed.round()
    [room] = await feed.patient_rooms()
    assert room.ward == "Pneumologie"


async def test_a_merge_of_a_patient_the_feed_never_named_changes_nothing(feed):
    await feed.send(message("A01", "M1", admitted=ago(2)))
    await feed.round()
    await feed.created()
    await feed.send(message("A40", "M2", prior_ipp="999999"))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M2", "applied", None)


async def test_a_cancelled_admission_after_a_merge_finds_the_merged_patients_admission(feed):
    """Review: an A11 naming the survivor, for the admission the feed had under the prior
    patient's INS before the merge, found nothing (`nothing_to_cancel`)."""
    await feed.send(message("A01", "M1", admitted=ago(0), **PRIOR))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A40", "M2", prior_ipp="654321"))
    await feed.round()
    await feed.send(message("A11", "M3", admitted=ago(0)))  # the survivor's INS
    sent = await feed.round()
    assert await feed.states() == [("M1", "cancelled", None), ("M2", "applied", None),
                                   ("M3", "applied", None)]
    [told] = [s for s in sent if s.room_id == room_id]
    assert f"L'hôpital a annulé l'admission du {ago(0):%d/%m/%Y}" in told.body
    # Named by the prior INS, the merged patient's admission is found the same way.
    await feed.send(message("A01", "M4", admitted=ago(0)))
    await feed.round()
    await feed.send(message("A11", "M5", admitted=ago(0), **PRIOR))
    await feed.round()
    assert (await feed.states())[-2:] == [("M4", "cancelled", None), ("M5", "applied", None)]


async def qualified(feed: Feed) -> bool:
    [room] = await feed.patient_rooms()
    async with feed.h.runtime.transaction() as tx:
        return PatientFile.open(tx, room).qualified


async def test_a_qualified_identity_is_never_replaced_by_a_less_trusted_one(feed):
    """Review: the feed's identity updates and merges ignored PID-32; a qualified identity
    (VALI) could be overwritten by traits the hospital had not checked (BRIEF §4)."""
    await feed.send(message("A01", "M1", admitted=ago(1)))
    await feed.round()
    await feed.created()
    assert await qualified(feed)
    await feed.send(message("A08", "M2", admitted=ago(1), family="DURAND", qualified=False))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M2", "quarantined", "less_trusted")
    assert (await identity(feed)).family_name == "DUPONT"
    await feed.send(message("A08", "M3", admitted=ago(1), family="DURAND"))  # qualified
    await feed.round()
    assert (await feed.states())[-1] == ("M3", "applied", None)
    assert (await identity(feed)).family_name == "DURAND" and await qualified(feed)


async def test_a_merge_into_a_less_trusted_identity_is_left_to_a_person(feed):
    await feed.send(message("A01", "M1", admitted=ago(2), **PRIOR))
    await feed.round()
    await feed.created()
    await feed.send(message("A40", "M2", prior_ipp="654321", qualified=False))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M2", "quarantined", "less_trusted")
    now = await identity(feed)
    assert (now.family_name, now.ins) == ("DUPOND", PRIOR["ins"])
    # Nothing merged: the prior patient's messages are still theirs.
    await feed.send(message("A02", "M3", admitted=ago(2), ward="PNEUMO", **PRIOR))
    await feed.round()
    [room] = await feed.patient_rooms()
    assert room.ward == "Pneumologie" and room.ins_index == feed.h.store.vault.index(
        PRIOR["ins"])


async def test_an_update_of_a_merged_away_record_leaves_the_survivors_identity(feed):
    await feed.send(message("A01", "M1", admitted=ago(2), **PRIOR))
    await feed.round()
    await feed.created()
    await feed.send(message("A40", "M2", prior_ipp="654321"))
    await feed.round()
    await feed.send(message("A08", "M3", admitted=ago(2), family="DURAND"))  # the survivor
    await feed.round()
    assert (await identity(feed)).family_name == "DURAND"
    # The old record updated afterwards: it would have put back the identity of the merge.
    await feed.send(message("A08", "M4", admitted=ago(2), family="DUPOND-X", **{
        k: v for k, v in PRIOR.items() if k != "family"}))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M4", "applied", None)
    now = await identity(feed)
    assert (now.family_name, now.ins) == ("DURAND", INS)
