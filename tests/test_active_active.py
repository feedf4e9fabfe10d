"""Two bots processes on one PostgreSQL database (docs/SCALING.md): each unit of work (an event,
a scheduled job, an outbox row) is done by exactly one of them, and the other carries on with
what a dead one held. A "process" here is a Store of its own (its own pool of connections); a
process that dies mid-transaction is one whose transaction rolls back."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from bots.runtime.models import BotDevice, OutboxMessage, ScheduledJob
from bots.runtime.scheduler import claim_jobs
from bots.runtime.store import OUTBOX_LEASE, Store, Transaction, migrate, utcnow
from bots.runtime.vault import Vault

pytestmark = pytest.mark.postgres


class Died(Exception):
    """The process was killed in the middle of its transaction."""


@pytest_asyncio.fixture
async def processes(pg_database: str) -> AsyncIterator[tuple[Store, Store]]:
    await asyncio.to_thread(migrate, pg_database)
    vault = Vault([Vault.new_key()])
    a, b = Store(pg_database, vault, instance="a"), Store(pg_database, vault, instance="b")
    yield a, b
    await a.close()
    await b.close()


def account() -> str:
    return f"@bot{secrets.token_hex(3)}:test"


async def holding(store: Store, who: str, work: Callable[[Transaction], Awaitable[Any]],
                  release: asyncio.Event, *, dies: bool = False) -> Any:
    """Do `work` in a transaction of `store`, and commit (or die) only once `release` is set."""
    try:
        async with store.transaction(who) as tx:
            result = await work(tx)
            await release.wait()
            if dies:
                raise Died
            return result
    except Died:
        return None


async def race(first: Store, second: Store, who: str,
               work: Callable[[Transaction], Awaitable[Any]], *, dies: bool) -> tuple[Any, Any]:
    """`first` does `work` and holds its transaction open while `second` does the same; then
    `first` commits or dies. Both results."""
    release = asyncio.Event()
    held = asyncio.create_task(holding(first, who, work, release, dies=dies))
    await asyncio.sleep(0.2)  # first has done its work, not committed

    async def second_work() -> Any:
        async with second.transaction(who) as tx:
            return await work(tx)
    other = asyncio.create_task(second_work())
    await asyncio.sleep(0.3)
    release.set()
    return await held, await other


def event(who: str) -> dict[str, Any]:
    return {"event_id": f"${secrets.token_hex(8)}", "room_id": "!room:test", "sender": "@doc:test",
            "type": "m.room.message", "content": {"body": "!ping"}}


@pytest.mark.parametrize("dies", [False, True], ids=["commits", "dies"])
async def test_an_event_from_sync_is_handled_by_one_process(processes, dies):
    a, b = processes
    who, ev = account(), event("x")
    first, second = await race(a, b, who, lambda tx: Store.claim_new(tx, ev), dies=dies)
    # The second waits for the first: a commit wins it the event, a death hands it over.
    assert (first, second) == ((None, True) if dies else (True, False))


@pytest.mark.parametrize("dies", [False, True], ids=["commits", "dies"])
async def test_a_recorded_event_is_handled_by_one_process(processes, dies):
    a, b = processes
    who = account()
    (row,) = await a.record_sync(who, "s1", [event(who)], set())
    first, second = await race(a, b, who, lambda tx: Store.mark_handled(tx, row.id), dies=dies)
    assert (first, second) == ((None, True) if dies else (True, False))


async def plan_jobs(store: Store, who: str, n: int) -> list[int]:
    async with store.transaction(who) as tx:
        rows = [ScheduledJob(account=who, kind="k", key=f"job-{i}", due_at=utcnow(),
                             timezone="Europe/Paris", payload=b"", state="pending", late=False)
                for i in range(n)]
        tx.session.add_all(rows)
        await tx.session.flush()
        return [r.id for r in rows]


async def test_a_job_another_process_holds_is_skipped_not_waited_for(processes):
    a, b = processes
    who = account()
    ids = await plan_jobs(a, who, 3)
    release = asyncio.Event()

    async def claim(tx: Transaction) -> list[int]:
        return [r.id for r in (await claim_jobs(tx, ids))[0]]

    held = asyncio.create_task(holding(a, who, claim, release, dies=True))
    await asyncio.sleep(0.2)
    async with b.transaction(who) as tx:  # would wait for a's row locks without SKIP LOCKED
        rows, skipped = await asyncio.wait_for(claim_jobs(tx, ids), timeout=2)
    assert (rows, sorted(skipped)) == ([], sorted(ids))
    release.set()
    assert await held is None  # a died: its claim rolled back, the jobs are pending again
    async with b.transaction(who) as tx:  # b's recheck (RECHECK_AFTER) takes them over
        rows, skipped = await claim_jobs(tx, ids)
    assert (sorted(r.id for r in rows), skipped) == (sorted(ids), [])
    async with a.transaction(who) as tx:
        assert await claim_jobs(tx, ids) == ([], [])  # fired: nothing held, nothing to recheck


async def test_a_burst_of_jobs_timed_by_both_processes_fires_each_once(processes):
    a, b = processes
    who = account()
    ids = await plan_jobs(a, who, 200)
    fired: list[int] = []

    async def fire(store: Store, batch: list[int]) -> None:
        async with store.transaction(who) as tx:
            rows, _ = await claim_jobs(tx, batch)
            await asyncio.sleep(0.01)  # the handlers' work, while the claims are held
            fired.extend(r.id for r in rows)

    # Both timers go off for every job, in batches of 20, a few batches at once in each.
    batches = [ids[k:k + 20] for k in range(0, len(ids), 20)]
    await asyncio.gather(*(fire(store, batch) for batch in batches for store in (a, b)))
    assert sorted(fired) == sorted(ids)


async def post(store: Store, who: str, n: int) -> list[int]:
    async with store.transaction(who) as tx:
        rows = [tx.post("!room:test", {"msgtype": "m.notice", "body": f"m{i}"}) for i in range(n)]
    return [r.id for r in rows]


async def expire(store: Store, ids: list[int]) -> None:
    """The lease ran out: its holder stopped renewing it (it died) a lease ago."""
    async with store.transaction("") as tx:
        await tx.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                 .values(lease_until=utcnow() - timedelta(seconds=1)))


async def test_the_outbox_rows_of_a_dead_process_are_taken_over_once(processes):
    a, b = processes
    who = account()
    ids = await post(a, who, 5)
    assert [r.id for r in await a.take_outbox(who)] == ids  # its own, lease renewed
    assert await b.take_outbox(who) == []  # a lives: its rows are not b's to send
    await expire(a, ids)  # a died
    assert [r.id for r in await b.take_outbox(who)] == ids
    assert await a.take_outbox(who) == []  # a back: the rows are b's now, while b lives


async def test_two_processes_taking_over_at_once_share_the_rows_without_overlap(processes):
    a, b = processes
    who = account()
    c = Store(a.url, a.vault, instance="c")  # the process that died
    ids = await post(c, who, 100)
    await c.close()
    await expire(a, ids)
    taken = await asyncio.gather(a.take_outbox(who), b.take_outbox(who))
    by_id = [r.id for rows in taken for r in rows]
    assert sorted(by_id) == ids  # each row once: none left behind, none sent by both


async def test_a_row_taken_over_goes_as_the_device_of_its_first_attempt(processes):
    a, b = processes
    who = account()
    (row_id,) = await post(a, who, 1)
    assert await a.outbox_turn(row_id, "DEVA") == "DEVA"  # a's attempt, stamped before it
    await expire(a, [row_id])  # a stalled or died: its send may or may not have reached
    assert [r.id for r in await b.take_outbox(who)] == [row_id]
    # a wakes: the row is b's now, a neither sends it again nor marks it.
    assert await a.outbox_turn(row_id, "DEVA") is None
    assert not await a.outbox_done(row_id, event_id="$a", error=None, attempts=1)
    # b sends as a's device, with the row's transaction ID: the homeserver folds it.
    assert await b.outbox_turn(row_id, "DEVB") == "DEVA"
    assert await b.outbox_done(row_id, event_id="$a", error=None, attempts=2)
    assert await b.outbox_turn(row_id, "DEVB") is None  # done: nothing left to send


async def test_a_row_never_attempted_goes_as_the_device_that_sends_it(processes):
    a, b = processes
    who = account()
    (row_id,) = await post(a, who, 1)
    await expire(a, [row_id])
    await b.take_outbox(who)
    assert await b.outbox_turn(row_id, "DEVB") == "DEVB"
    # The recorded device's token gone: the sender replaces it with its own.
    assert await b.outbox_turn(row_id, "DEVC", replace=True) == "DEVC"


async def test_each_attempt_renews_the_lease(processes):
    a, b = processes
    who = account()
    (row_id,) = await post(a, who, 1)
    await expire(a, [row_id])
    assert await a.outbox_turn(row_id, "DEVA") == "DEVA"
    assert await b.take_outbox(who) == []  # a is sending it: its lease is live again


async def test_the_lease_runs_from_the_commit_not_from_the_post(processes):
    a, _ = processes
    who = account()
    async with a.transaction(who) as tx:
        row = tx.post("!room:test", {"msgtype": "m.notice", "body": "m"})
        await asyncio.sleep(1)  # the rest of a long transaction
        committing = utcnow()
    async with a.reading(who) as tx:
        lease_until = await tx.session.scalar(
            select(OutboxMessage.lease_until).where(OutboxMessage.id == row.id))
    assert lease_until >= committing + OUTBOX_LEASE


async def test_a_device_token_is_kept_sealed_and_opens_for_the_other_process(processes):
    a, b = processes
    who = account()
    await a.record_device(who, "DEVA", "syt_old")
    await a.record_device(who, "DEVA", "syt_secret")  # logged in again: the newer token
    assert await b.device_token(who, "DEVA") == "syt_secret"
    assert await b.device_token(who, "DEVX") is None
    async with a.reading(who) as tx:
        stored = await tx.session.scalar(
            select(BotDevice.access_token).where(BotDevice.account == who))
    assert b"syt_secret" not in stored


async def test_two_processes_starting_together_migrate_once(pg_empty_database: str):
    # Without the lock the second fails creating the tables the first is creating.
    await asyncio.gather(asyncio.to_thread(migrate, pg_empty_database),
                         asyncio.to_thread(migrate, pg_empty_database))
