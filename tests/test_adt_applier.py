"""The ADT applier (bots/adt/applier.py) on the in-process harness: rows written by the intake's
own step (`bots.adt.inbox.take`), applied through the care-team and follow-up bots' real code,
what the rooms would be told recorded by the harness's sender. The room the care-team bot
creates is marked open by hand here (no homeserver); tests/test_adt_room.py does it for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest_asyncio
from sqlalchemy import select

from bots.adt.applier import Applier
from bots.adt.inbox import take
from bots.adt.models import AdtMessage
from bots.adt.order import Pending
from bots.common.models import PATIENT, CareRoom, TeamMember
from bots.config import WardConfig
from bots.devstack.adt_messages import patient_message
from bots.devstack.patients import ins_for, patient
from bots.followup.models import FollowupEvent, FollowupPlan
from bots.runtime.store import utcnow
from tests.adt_samples import message
from tests.careteam_helpers import INS
from tests.discharge_helpers import today
from tests.harness import SERVER, Harness

IDEC, MH = f"@idec:{SERVER}", f"@mh:{SERVER}"
WARDS = {"CARDIO": WardConfig("Cardiologie", ((IDEC, "idec"), (MH, "MH"))),
         "PNEUMO": WardConfig("Pneumologie", ((IDEC, "IDEC"),)),
         # Told in the coordination room the bot created, by its name (the dev stack's ward).
         "GERIA": WardConfig("Gériatrie", ((IDEC, "IDEC"),), coordination_room="Coordination")}


class Feed:
    def __init__(self, harness: Harness) -> None:
        self.h = harness
        adt = next(b for b in harness.runtime.bots if b.name == "adt")
        self.applier: Applier = adt.services[0].__self__  # type: ignore[attr-defined]

    async def send(self, raw: bytes) -> bool:
        """The intake's step; whether the message was new."""
        async with self.h.runtime.transaction() as tx:
            return (await take(tx, raw)).new

    async def round(self) -> list:
        mark = len(self.h.sender.sent)
        await self.applier.round(self.h.runtime)
        return self.h.sender.sent[mark:]

    async def rows(self) -> list[AdtMessage]:
        async with self.h.runtime.transaction() as tx:
            return list((await tx.session.scalars(
                select(AdtMessage).order_by(AdtMessage.id))).all())

    async def states(self) -> list[tuple[str, str, str | None]]:
        return [(r.control_id, r.state, r.reason) for r in await self.rows()]

    async def patient_rooms(self) -> list[CareRoom]:
        async with self.h.runtime.transaction() as tx:
            return list((await tx.session.scalars(select(CareRoom).where(
                CareRoom.kind == PATIENT).order_by(CareRoom.id))).all())

    async def created(self) -> str:
        """What the provisioner does once the room exists: open, with a Matrix room ID."""
        [room] = [r for r in await self.patient_rooms() if r.status == "creating"]
        room_id = f"!adt{room.id}:{SERVER}"
        async with self.h.runtime.transaction() as tx:
            row = await tx.session.get(CareRoom, room.id)
            assert row is not None
            row.room_id, row.status, row.opened_at = room_id, "open", utcnow()
            for member in (await tx.session.scalars(select(TeamMember).where(
                    TeamMember.care_room_id == room.id))).all():
                member.applied = True
        self.h._matrix_room(room_id, True, {IDEC: "IDEC", MH: "MH"})
        return room_id

    async def plan(self) -> FollowupPlan | None:
        async with self.h.runtime.transaction() as tx:
            return await tx.session.scalar(select(FollowupPlan))


@pytest_asyncio.fixture
async def feed(tmp_path: Path) -> AsyncIterator[Feed]:
    async with Harness.start(tmp_path, bots=("careteam", "followup", "adt"),
                             adt_wards=WARDS) as harness:
        yield Feed(harness)


def ago(days: int) -> date:
    return today() - timedelta(days=days)


async def test_an_admission_opens_the_room_with_the_wards_team_once(feed):
    assert await feed.send(message("A01", "M1", admitted=ago(2)))
    await feed.round()
    assert not await feed.send(message("A01", "M1", admitted=ago(2)))  # resent: the same row
    await feed.round()
    [room] = await feed.patient_rooms()
    assert (room.status, room.ward, room.requested_by) == ("creating", "Cardiologie", "adt")
    assert room.ins_index == feed.h.store.vault.index(INS)
    async with feed.h.runtime.transaction() as tx:
        team = {(m.user_id, m.role) for m in (await tx.session.scalars(
            select(TeamMember).where(TeamMember.care_room_id == room.id))).all()}
    assert team == {(IDEC, "IDEC"), (MH, "MH")}
    [row] = await feed.rows()
    assert (row.state, row.care_room_id) == ("applied", room.id) and row.applied_at


async def test_a_ward_names_its_coordination_room_by_the_name_the_bot_created_it_with(feed):
    await feed.send(message("A01", "M1", admitted=ago(2), ward="GERIA"))
    await feed.round()
    [room] = await feed.patient_rooms()
    assert room.origin_room_id is None, "no coordination room yet: told nowhere"
    coordination = await feed.h.coordination({IDEC: "IDEC"})  # named "Coordination"
    await feed.send(patient_message("A01", "M2", patient(1), ward="GERIA", admitted=ago(1)))
    await feed.round()
    [_, second] = await feed.patient_rooms()
    assert second.origin_room_id == coordination


async def test_a_discharge_before_its_admission_waits_then_starts_the_follow_up(feed):
    await feed.send(message("A03", "M2", admitted=ago(5), discharged=ago(0), disposition="8"))
    await feed.round()
    assert await feed.states() == [("M2", "waiting", None)]
    await feed.send(message("A01", "M1", admitted=ago(5)))
    await feed.round()
    # The admission went first; the discharge is due again but waits for the room to exist.
    assert await feed.states() == [("M2", "stored", None), ("M1", "applied", None)]
    room_id = await feed.created()
    sent = await feed.round()
    assert await feed.states() == [("M2", "applied", None), ("M1", "applied", None)]
    plan = await feed.plan()
    assert plan is not None and (plan.discharged_on, plan.mode, plan.started_by) == (
        ago(0), "domicile", "adt")
    assert [s.room_id for s in sent if s.body.startswith("Suivi RH30 démarré (")] == [room_id]


async def test_a_readmission_on_day_12_is_recorded_alerted_and_its_plannedness_asked(feed):
    await feed.send(message("A01", "M1", admitted=ago(15)))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A03", "M2", admitted=ago(15), discharged=ago(12), disposition="8"))
    await feed.send(message("A01", "M3", admitted=ago(0), admission_type=""))
    sent = await feed.round()
    assert [state for _, state, _ in await feed.states()] == ["applied"] * 3
    [alert] = [s for s in sent if "Réhospitalisation" in s.body]
    assert alert.room_id == room_id and "à J+12 : comptée dans RH30" in alert.body
    assert "ne dit pas si elle était programmée" in alert.body and "suspendu" in alert.body
    assert set(alert.content["m.mentions"]["user_ids"]) == {IDEC, MH}
    plan = await feed.plan()
    assert plan is not None and plan.status == "frozen"
    # The team says it was planned: the same return, flagged.
    answer = await feed.h.reply(room_id, IDEC, f"!rh30 rehospitalisation {ago(0):%d/%m/%Y} "
                                               "programmee")
    assert "désormais notée programmée" in answer.body
    async with feed.h.runtime.transaction() as tx:
        [event] = (await tx.session.scalars(select(FollowupEvent))).all()
    assert (event.on, event.planned, event.by) == (ago(0), True, "adt")


async def test_an_admission_after_the_window_is_no_readmission(feed):
    await feed.send(message("A01", "M1", admitted=ago(40)))
    await feed.round()
    await feed.created()
    await feed.send(message("A03", "M2", admitted=ago(40), discharged=ago(35), disposition="8"))
    await feed.send(message("A01", "M3", admitted=ago(0)))  # day 35: no window open
    sent = await feed.round()
    assert [s.body for s in sent if s.body.startswith("⚠️")] == []
    async with feed.h.runtime.transaction() as tx:
        assert (await tx.session.scalars(select(FollowupEvent))).all() == []


async def test_what_cannot_be_applied_is_listed_once_in_the_coordination_room(feed):
    coordination = await feed.h.coordination({IDEC: "IDEC"})
    await feed.send(message("A01", "M1", admitted=ago(1), ward="URG"))  # no such ward
    await feed.send(message("A11", "M2", admitted=ago(1)))  # no admission applied to cancel
    await feed.send(message("A01", "M3", admitted=ago(1)))  # the same patient: not held back
    await feed.send(message("A03", "M4", admitted=ago(1), discharged=ago(0)))  # no PV1-36
    await feed.send((Path(__file__).parent / "data" / "adt" / "bad_ins_key.hl7").read_bytes())
    sent = await feed.round()
    assert await feed.states() == [
        ("M1", "quarantined", "unknown_ward"), ("M2", "quarantined", "nothing_to_cancel"),
        ("M3", "applied", None), ("M4", "quarantined", "missing_field"),
        ("MSG0104", "quarantined", "ins_key")]
    [listing] = [s for s in sent if s.room_id == coordination]
    for text in ("A01 · MSH-10 M1 · GAM^CHU-EXEMPLE : Service inconnu dans PV1-3",
                 "A11 · MSH-10 M2 · GAM^CHU-EXEMPLE : Rien à annuler", "A03 · MSH-10 M4", "Champ PV1-36 manquant",
                 "? · MSH-10 MSG0104", "la clé de contrôle"):
        assert text in listing.body
    for identity in ("DUPONT", "MARIE", INS, "1948"):
        assert identity not in listing.body
    assert all(r.reported_at for r in await feed.rows() if r.state == "quarantined")
    assert [s for s in await feed.round() if s.room_id == coordination] == []  # told once


async def test_a_row_whose_application_fails_is_set_aside_and_the_next_applied(feed):
    await feed.send(message("A01", "M1", admitted=ago(1)))
    await feed.send(message("A01", "M2", admitted=ago(1), ins="180017512345660",
                            family="MARTIN", given="PAUL", birth="19800115", sex="M"))
    async with feed.h.runtime.transaction() as tx:
        first = await tx.session.get(AdtMessage, 1)
        assert first is not None
        first.raw = first.raw[:-1] + bytes([first.raw[-1] ^ 1])  # no longer opens
    for _ in range(3):
        await feed.round()
    assert await feed.states() == [("M1", "quarantined", "failed"), ("M2", "applied", None)]
    assert (await feed.rows())[0].attempts == 3


async def test_a_transfer_updates_the_ward_and_tells_the_room(feed):
    await feed.send(message("A01", "M1", admitted=ago(1)))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A02", "M2", admitted=ago(1), ward="PNEUMO"))
    sent = await feed.round()
    [room] = await feed.patient_rooms()
    assert room.ward == "Pneumologie"
    assert [(s.room_id, s.body) for s in sent] == [
        (room_id, "🏥 Transfert signalé par l'hôpital : service Pneumologie.")]


async def test_same_traits_under_another_ins_is_set_aside_for_identity_monitoring(feed):
    await feed.h.patient({IDEC: "IDEC"})  # PATIENT Test, born 12/03/1948, her own INS
    await feed.send(message("A01", "M1", admitted=ago(0), ins=ins_for("2480375999999"),
                            family="PATIENT", given="TEST", birth="19480312"))
    await feed.round()
    assert await feed.states() == [("M1", "quarantined", "identity_conflict")]
    assert len(await feed.patient_rooms()) == 1


def test_every_reason_for_setting_a_row_aside_reads_in_both_languages():
    from bots.adt.render import reason
    from bots.adt.texts import APPLIER, TEXTS
    from bots.runtime.i18n import register, t

    register(TEXTS)
    register(APPLIER)
    for lang in ("fr", "en"):
        for why, field in [("unknown_ward", "PV1-3"), ("identity_conflict", "PID-3"),
                           ("followup_exists", "PV1-45"), ("episode_closed", None),
                           ("failed", None), ("missing_field", "PV1-36"),
                           ("room_failed", None), ("nothing_to_cancel", None),
                           ("other_discharge", "PV1-45"), ("returns_recorded", "PV1-45"),
                           ("recorded_by_hand", "PV1-44"), ("judged", "PV1-44")]:
            text = reason(lang, why, field)  # type: ignore[arg-type]
            assert text and "{" not in text and not text.startswith(("Raison", "Reason"))
        for item in ("two_followups", "two_checklists", "followup_left", "checklist_left"):
            assert "{" not in t(lang, f"adt.merge.{item}")
        assert "a_newer_reason" in reason(lang, "a_newer_reason", "ZFM-2")  # type: ignore[arg-type]


async def test_two_appliers_at_once_apply_each_row_once(feed):
    other = Applier(feed.applier.wards, feed.applier.episodes, feed.applier.zone)
    await feed.send(message("A01", "M1", admitted=ago(15)))
    await feed.round()
    await feed.created()
    await feed.send(message("A03", "M2", admitted=ago(15), discharged=ago(12), disposition="8"))
    await feed.send(message("A01", "M3", admitted=ago(0), admission_type="U"))
    mark = len(feed.h.sender.sent)
    await asyncio.gather(feed.applier.round(feed.h.runtime), other.round(feed.h.runtime))
    sent = feed.h.sender.sent[mark:]
    assert [state for _, state, _ in await feed.states()] == ["applied"] * 3
    assert len([s for s in sent if s.body.startswith("Suivi RH30 démarré (")]) == 1
    assert len([s for s in sent if "à J+12" in s.body]) == 1
    async with feed.h.runtime.transaction() as tx:
        assert len((await tx.session.scalars(select(FollowupEvent))).all()) == 1
    # A row another applier has just applied (this one saw it `stored`) is left alone.
    row = (await feed.rows())[2]
    stale = Pending(row.id, row.patient, row.event, "stored")
    assert await feed.applier.apply(feed.h.runtime, stale) == "gone"
    assert (await feed.rows())[2].applied_at == row.applied_at


async def test_a_waiting_discharge_is_tried_again_once_a_person_opened_the_room(feed):
    coordination = await feed.h.coordination({IDEC: "IDEC"})
    await feed.send(message("A01", "M1", admitted=ago(3), ward="URG"))  # set aside
    await feed.send(message("A03", "M2", admitted=ago(3), discharged=ago(0), disposition="8"))
    await feed.round()
    assert await feed.states() == [("M1", "quarantined", "unknown_ward"), ("M2", "waiting", None)]
    await feed.h.command(coordination, IDEC, f"!patient ouvrir DUPONT Marie 15/03/1948 F {INS} "
                                             "service=Urgences")
    await feed.created()
    await feed.round()
    assert (await feed.states())[1] == ("M2", "waiting", None)  # no row of the feed came
    await feed.applier.recheck(feed.h.runtime)
    await feed.round()
    assert (await feed.states())[1] == ("M2", "applied", None)
    assert await feed.plan() is not None


async def test_an_admission_whose_room_could_not_be_created_is_listed(feed):
    coordination = await feed.h.coordination({IDEC: "IDEC"})
    await feed.send(message("A01", "M1", admitted=ago(0)))
    await feed.round()
    [room] = await feed.patient_rooms()
    # What the care-team bot does when the homeserver refuses the team: the request goes.
    provisioner = feed.applier.episodes.open.__self__.provisioner  # type: ignore[attr-defined]
    provisioner.runtime = feed.h.runtime
    await provisioner._give_up(room.id, "compte(s) inconnu(s)")
    await feed.applier.recheck(feed.h.runtime)
    sent = await feed.round()
    assert await feed.states() == [("M1", "quarantined", "room_failed")]
    [listing] = [s for s in sent if s.room_id == coordination]
    assert "A01 · MSH-10 M1" in listing.body and "n'a pas pu être créé" in listing.body
