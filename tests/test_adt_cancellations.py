"""The hospital's cancellations (A13 cancel discharge, A11 cancel admission) applied on the
in-process harness (tests/test_adt_applier.py's feed): what the discharge or the admission did
is undone, the room told, and the same cancellation twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from bots.runtime.models import ScheduledJob
from tests import test_adt_applier
from tests.adt_samples import message
from tests.test_adt_applier import IDEC, Feed, ago

feed = test_adt_applier.feed  # the fixture: the harness with the adt bot and its wards


async def jobs(feed: Feed, plan_id: int) -> dict[str, str]:
    async with feed.h.runtime.transaction() as tx:
        return {j.key: j.state for j in (await tx.session.scalars(select(ScheduledJob).where(
            ScheduledJob.key.startswith(f"followup:{plan_id}:")))).all()}


async def discharged(feed: Feed, days: int = 1) -> str:
    """A patient admitted then discharged `days` ago through the feed: the room's ID."""
    await feed.send(message("A01", "M1", admitted=ago(days + 3)))
    await feed.round()
    room_id = await feed.created()
    await feed.send(message("A03", "M2", admitted=ago(days + 3), discharged=ago(days),
                            disposition="8"))
    await feed.round()
    return room_id


async def test_a_cancelled_discharge_withdraws_the_follow_up_and_a_new_one_restarts_it(feed):
    room_id = await discharged(feed)
    coordination = await feed.h.coordination({IDEC: "IDEC"})
    assert "Aucune sortie suivie" not in (await feed.h.reply(coordination, IDEC,
                                                             "!rh30 stats")).body
    plan = await feed.plan()
    assert plan is not None and plan.status == "active"
    armed = await jobs(feed, plan.id)
    assert armed and set(armed.values()) == {"pending"}

    await feed.send(message("A13", "M3", admitted=ago(4)))
    sent = await feed.round()
    assert (await feed.states())[-1] == ("M3", "applied", None)
    plan = await feed.plan()
    assert plan is not None and plan.status == "cancelled"
    assert set((await jobs(feed, plan.id)).values()) == {"cancelled"}  # no reminder comes
    [told] = [s for s in sent if s.room_id == room_id]
    assert f"L'hôpital a annulé la sortie du {ago(1):%d/%m/%Y}" in told.body
    assert "ne compte plus dans l'indicateur RH30" in told.body

    # The same cancellation again (resent, or another message): nothing changes.
    assert not await feed.send(message("A13", "M3", admitted=ago(4)))
    await feed.send(message("A13", "M4", admitted=ago(4)))
    assert await feed.round() == []
    assert (await feed.states())[-1] == ("M4", "applied", None)
    # Out of the indicator, and no plan in the room for the commands.
    stats = await feed.h.reply(coordination, IDEC, "!rh30 stats")
    assert "Aucune sortie suivie" in stats.body
    answer = await feed.h.reply(room_id, IDEC, "!rh30 plan")
    assert "Pas de suivi RH30 dans ce salon" in answer.body

    # Discharged again (another day): the same row starts afresh, with new steps and jobs.
    await feed.send(message("A03", "M5", admitted=ago(4), discharged=ago(0), disposition="8"))
    sent = await feed.round()
    assert (await feed.states())[-1] == ("M5", "applied", None)
    again = await feed.plan()
    assert again is not None and (again.id, again.status, again.discharged_on) == (
        plan.id, "active", ago(0))
    after = await jobs(feed, plan.id)
    assert sorted(v for k, v in after.items() if k not in armed) == ["pending"] * len(armed)
    assert [s.room_id for s in sent if s.body.startswith("Suivi RH30 démarré (")] == [room_id]


async def test_a_cancelled_discharge_after_a_readmission_is_left_to_a_person(feed):
    await discharged(feed, days=5)
    await feed.send(message("A01", "M3", admitted=ago(1), admission_type="U"))
    await feed.round()
    await feed.send(message("A13", "M4", admitted=ago(8)))
    await feed.send(message("A13", "M5", admitted=ago(8), discharged=ago(6)))
    await feed.round()
    assert (await feed.states())[-2:] == [("M4", "quarantined", "returns_recorded"),
                                          ("M5", "quarantined", "other_discharge")]
    plan = await feed.plan()
    assert plan is not None and plan.status == "frozen"


async def test_a_cancelled_discharge_without_a_follow_up_is_listed(feed):
    await feed.send(message("A01", "M1", admitted=ago(3)))
    await feed.round()
    await feed.created()
    await feed.send(message("A13", "M2", admitted=ago(3)))
    await feed.round()
    assert (await feed.states())[-1] == ("M2", "quarantined", "nothing_to_cancel")
