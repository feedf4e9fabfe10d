"""Durable scheduled jobs: fired by the real APScheduler timer, once, and caught up after downtime."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bots.registry import BOTS
from bots.runtime import scheduler as scheduler_mod
from bots.runtime.bot import Bot, CommandContext, JobContext
from bots.runtime.commands import Arg, as_int, described
from bots.runtime.models import ScheduledJob
from bots.runtime.notice import format_html, notice

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def reminder_bot(monkeypatch: pytest.MonkeyPatch):
    """`!plan N`: a job N seconds later posts "rappel" in the room, with "en retard" if late."""
    fired: list[tuple[str, bool]] = []

    async def plan(ctx: CommandContext, seconds: int) -> None:
        when = datetime.now(PARIS) + timedelta(seconds=seconds)
        ctx.runtime.scheduler.schedule(ctx.tx, "test.remind", f"remind:{ctx.event_id}", when,
                                       {"room_id": ctx.room_id})
        ctx.reply(format_html("prévu"))

    async def remind(job: JobContext) -> None:
        fired.append((job.key, job.late))
        job.tx.post(job.payload["room_id"],
                    notice(format_html("rappel {late}", late="en retard" if job.late else "")))

    monkeypatch.setitem(BOTS, "reminders", lambda config: Bot(
        "reminders", commands=[described("plan", "plan", "test.plan.help", plan,
                                         Arg("seconds", "test.label.seconds", as_int))],
        texts=({"test.plan.help": {"fr": "test", "en": "test"},
                "test.label.seconds": {"fr": "secondes", "en": "seconds"}},),
        jobs={"test.remind": remind}))
    return fired


async def planned(make_bot, make_clinician, seconds: int):
    """A bot running the reminder test bot, a room with it, and `!plan seconds` answered."""
    bot = await make_bot(bots=("reminders",))
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    event_id = await doc.send(room_id, f"!plan {seconds}")
    await doc.reply_to(room_id, event_id, bot.user_id)
    return bot, doc, room_id, event_id


async def wait_rappel(doc, room_id, bot, start, timeout=30):
    return await doc.wait_for(lambda r, e: r == room_id and e.sender == bot.user_id and
                              getattr(e, "body", "").startswith("rappel"), timeout, start)


async def test_job_fires_on_time_in_the_room(make_bot, make_clinician, reminder_bot):
    bot, doc, room_id, event_id = await planned(make_bot, make_clinician, 2)
    ev = await wait_rappel(doc, room_id, bot, doc.mark(event_id))
    assert ev.body.strip() == "rappel"
    assert reminder_bot == [(f"remind:{event_id}", False)]


async def test_job_due_while_down_fires_once_at_start_marked_late(
        make_bot, make_clinician, reminder_bot, monkeypatch):
    monkeypatch.setattr(scheduler_mod, "LATE_AFTER", timedelta(seconds=1))
    bot, doc, room_id, event_id = await planned(make_bot, make_clinician, 3)
    await bot.stop()
    await asyncio.sleep(5)
    await bot.start()
    ev = await wait_rappel(doc, room_id, bot, doc.mark(event_id))
    assert "en retard" in ev.body
    await bot.stop()
    await bot.start()  # a second restart must not fire it again
    await asyncio.sleep(2)
    assert reminder_bot == [(f"remind:{event_id}", True)]
    async with bot.store.transaction(bot.user_id) as tx:
        row = await tx.session.scalar(select(ScheduledJob).where(
            ScheduledJob.key == f"remind:{event_id}"))
    assert row.state == "fired" and row.late and row.timezone == "Europe/Paris"


async def test_run_due_with_a_controlled_clock(make_bot, make_clinician, reminder_bot):
    bot, doc, room_id, event_id = await planned(make_bot, make_clinician, 86400)  # tomorrow
    scheduler = bot.runtime.scheduler
    now = datetime.now(PARIS)
    assert await scheduler.run_due(now + timedelta(hours=1)) == 0
    assert await scheduler.run_due(now + timedelta(days=1, seconds=30)) == 1
    assert await scheduler.run_due(now + timedelta(days=2)) == 0  # fired once
    assert reminder_bot == [(f"remind:{event_id}", False)]


async def test_job_beyond_the_horizon_is_armed_by_a_refill(
        make_bot, make_clinician, reminder_bot, monkeypatch):
    # Only the next HORIZON is armed as timers; a refill every REFILL_EVERY arms what comes in.
    monkeypatch.setattr(scheduler_mod, "HORIZON", timedelta(seconds=2))
    monkeypatch.setattr(scheduler_mod, "REFILL_EVERY", timedelta(seconds=1))
    bot, doc, room_id, event_id = await planned(make_bot, make_clinician, 10)
    scheduler = bot.runtime.scheduler
    async with bot.store.transaction(bot.user_id) as tx:
        row_id = await tx.session.scalar(select(ScheduledJob.id).where(
            ScheduledJob.key == f"remind:{event_id}"))
    assert scheduler._timer.get_job(f"job-{row_id}") is None  # noqa: SLF001 - not armed yet
    ev = await wait_rappel(doc, room_id, bot, doc.mark(event_id))
    assert ev.body.strip() == "rappel"  # on time, not late
    assert reminder_bot == [(f"remind:{event_id}", False)]


async def test_a_burst_takes_turns_and_every_job_fires(make_bot, pg_database, monkeypatch):
    """Many jobs due at one instant (a morning's RH30 steps): at most `jobs_at_once` run together,
    the others wait their turn (not the database pool's checkout timeout), each fires once, and
    its time is when it really started (fired_at = ctx.now), not when its timer went off."""
    running, most, n = 0, 0, 0
    started: dict[str, datetime] = {}
    finished = asyncio.Event()

    async def slow(job: JobContext) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started[job.key] = job.now
        await asyncio.sleep(0.05)  # holding its transaction, as a job writing its rows does
        running -= 1
        if len(started) == n and not running:
            finished.set()

    monkeypatch.setitem(BOTS, "burst", lambda config: Bot("burst", jobs={"test.slow": slow}))
    bot = await make_bot(bots=("burst",), database=pg_database)
    turns = scheduler_mod.jobs_at_once(bot.store.connections)
    assert turns < bot.store.connections  # the rest of the pool stays for sync, sender, API
    n = 4 * turns
    due = datetime.now(PARIS).replace(microsecond=0) + timedelta(seconds=2)
    async with bot.runtime.transaction() as tx:
        for k in range(n):
            bot.runtime.scheduler.schedule(tx, "test.slow", f"burst:{bot.user_id}:{k}", due)
    await asyncio.wait_for(finished.wait(), 30)
    assert most == turns

    async def fired_rows():  # the last handlers returned; their transactions commit just after
        while True:
            async with bot.store.transaction(bot.user_id) as tx:
                rows = (await tx.session.execute(select(ScheduledJob.key, ScheduledJob.state,
                                                        ScheduledJob.fired_at).where(
                    ScheduledJob.account == bot.user_id,
                    ScheduledJob.kind == "test.slow"))).all()
            if {state for _, state, _ in rows} == {"fired"}:
                return rows
            await asyncio.sleep(0.1)

    rows = await asyncio.wait_for(fired_rows(), 10)
    assert len(rows) == n
    assert all(fired_at == started[key] for key, _, fired_at in rows)
    # Four rounds of 50 ms: the last round started at least 150 ms after the first.
    assert max(started.values()) - min(started.values()) >= timedelta(seconds=0.14)


async def test_a_failing_job_in_a_batch_leaves_only_itself_pending(make_bot, pg_database,
                                                                   monkeypatch):
    """Jobs due together run `BATCH` per transaction. One that fails rolls its batch back, whose
    jobs then run one by one: the others fire and their effects commit once (here a job planned
    under a unique key), the failing one stays pending, tried again later
    (test_a_job_that_failed_is_tried_again_without_a_restart)."""
    async def flaky(job: JobContext) -> None:
        if job.payload["fail"]:
            raise RuntimeError("this job fails")
        job.runtime.scheduler.schedule(job.tx, "test.flaky", f"then:{job.key}",
                                       job.now + timedelta(days=30), {"fail": False})

    monkeypatch.setitem(BOTS, "flaky", lambda config: Bot("flaky", jobs={"test.flaky": flaky}))
    bot = await make_bot(bots=("flaky",), database=pg_database)
    scheduler = bot.runtime.scheduler
    n, failing = scheduler_mod.BATCH + 3, f"flaky:{bot.user_id}:2"
    due = datetime.now(PARIS) + timedelta(days=1)
    async with bot.runtime.transaction() as tx:
        for k in range(n):
            key = f"flaky:{bot.user_id}:{k}"
            scheduler.schedule(tx, "test.flaky", key, due, {"fail": key == failing})
    now = due + timedelta(seconds=30)
    assert await scheduler.run_due(now) == n - 1
    async with bot.store.transaction(bot.user_id) as tx:
        rows = (await tx.session.execute(select(
            ScheduledJob.key, ScheduledJob.state, ScheduledJob.fired_at).where(
            ScheduledJob.account == bot.user_id))).all()
    states = {key: state for key, state, _ in rows}
    assert states.pop(failing) == "pending"
    assert sum(key.startswith("flaky:") for key in states) == n - 1
    assert {state for key, state in states.items() if key.startswith("flaky:")} == {"fired"}
    assert sum(key.startswith("then:") for key in states) == n - 1  # each effect once
    assert {fired_at for key, _, fired_at in rows if key in states and key.startswith("flaky:")} \
        == {now}


async def test_a_job_that_failed_is_tried_again_without_a_restart(make_bot, monkeypatch):
    """A job whose transaction fails for a passing reason (here its first two attempts) is
    armed again, after RETRY_AFTER then twice that, and fires: it no longer waits, pending, for
    the process's next start."""
    attempts: list[datetime] = []

    async def passing(job: JobContext) -> None:
        attempts.append(job.now)
        if len(attempts) < 3:
            raise RuntimeError("the database went away a moment")

    monkeypatch.setattr(scheduler_mod, "RETRY_AFTER", timedelta(seconds=0.3))
    monkeypatch.setitem(BOTS, "passing", lambda config: Bot("passing",
                                                            jobs={"test.passing": passing}))
    bot = await make_bot(bots=("passing",))
    async with bot.runtime.transaction() as tx:
        bot.runtime.scheduler.schedule(tx, "test.passing", f"passing:{bot.user_id}",
                                       datetime.now(PARIS) + timedelta(seconds=0.2), {})

    async def fired() -> str:
        while True:
            async with bot.store.transaction(bot.user_id) as tx:
                state = await tx.session.scalar(select(ScheduledJob.state).where(
                    ScheduledJob.account == bot.user_id, ScheduledJob.kind == "test.passing"))
            if state == "fired":
                return state
            await asyncio.sleep(0.1)

    assert await asyncio.wait_for(fired(), 10) == "fired"
    assert len(attempts) == 3
    # The waits doubled: 0.3 s, then 0.6 s (with the handler's and the timer's own time).
    assert attempts[2] - attempts[1] >= timedelta(seconds=0.55)
