"""Durable scheduled work for the bots (reminders, follow-up steps).

The `scheduled_jobs` rows are the truth: what is due, when (UTC, with the IANA zone it was planned
in), fired or not. APScheduler is only the timer, armed from the rows. A job is claimed by a
conditional update in the same transaction as its handler's effects, so it fires once; what came
due while the process was down fires at start, once, marked late. Jobs due together run in
batches (`BATCH` per transaction, a few batches at once: `jobs_at_once`); the others wait their
turn, and a job's time (`fired_at`, `late`, `ctx.now`) is when it really starts, not when its
timer went off. What they post is sent as each batch commits, while the next ones run.

Only the rows due within the next `HORIZON` are armed as timers: at start, then by a refill every
`REFILL_EVERY` that arms the next ones, so the timer holds the next hour's jobs, not every pending
one (a year of follow-up steps is hundreds of thousands of rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Row, func, select, update

from bots.runtime.bot import JobContext, JobHandler
from bots.runtime.metrics import SCHEDULER_LATENESS
from bots.runtime.models import ScheduledJob
from bots.runtime.store import Transaction, as_utc, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

# A job that fires more than this after its time is reported as late (the bot was down or busy).
LATE_AFTER = timedelta(minutes=1)
# Rows due within HORIZON are armed; the refill runs well within it, so a row is armed long
# before it is due even when a refill is late or fails once. One APScheduler job per pending row
# cost a start ~1 s and ~30 MB per 10,000 rows (11 s and 315 MB for 100,000 RH30 steps), and
# each one woke the event loop through its self-pipe, which filled up: a SIGTERM was lost
# (bench/followup.py).
HORIZON = timedelta(hours=1)
REFILL_EVERY = timedelta(minutes=15)
# Jobs due together run up to BATCH per transaction: one connection checkout and one commit for
# the batch instead of one per job. 500 steps due at once were all written within 1.5 s so, 2.8 s
# one per transaction (bench/followup.py); a job's message commits with its batch, a median
# ~0.1 s after it was written.
BATCH = 20
# Two bots processes (PostgreSQL) time the same rows: a row the other one holds (claimed, its
# transaction not yet committed) is skipped, not waited for, and looked at again this much later,
# in case that process died before committing (its transaction then rolled back: still pending).
RECHECK_AFTER = timedelta(seconds=30)
# A job whose transaction failed (the database gone a moment, a pool exhausted, a handler's bug)
# is tried again this much later, the wait doubling up to RETRY_MAX: it stayed pending until the
# process restarted, a day's RH30 reminders with it; neither process of two looked at it again.
RETRY_AFTER = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


def jobs_at_once(connections: int) -> int:
    """How many batches of jobs may run at once, with `connections` in the database pool.
    APScheduler starts every job due at one instant together (a morning's RH30 steps are all due
    at post_at) and each transaction holds a connection: a burst larger than the pool queued for
    one, and a job that waited past the checkout timeout failed (rolled back, pending until the
    next start). Here the jobs wait their turn instead, for as long as it takes. They get half
    the pool, so the sync loop, the sender, the provisioner and the API still find a connection;
    a few transactions at once keep the cores busy: 15 at a time (with a pool of 30) wrote a
    1,000-step burst no sooner than 7 (bench/followup.py, one job per transaction)."""
    return max(1, connections // 2)


class JobScheduler:
    def __init__(self, runtime: Runtime, handlers: Mapping[str, JobHandler]) -> None:
        self.runtime = runtime
        self.handlers = dict(handlers)
        # misfire_grace_time=None: APScheduler's default grace of 1 s would silently skip a job
        # that wakes up late (busy loop, suspended laptop); ours always runs, however late.
        # coalesce: one timer per row, so a backlog never runs a row twice.
        self._timer = AsyncIOScheduler(timezone=UTC, job_defaults={
            "misfire_grace_time": None, "coalesce": True, "max_instances": 1})
        # Pending rows due before this are armed; later ones wait for a refill. None: not started.
        self._armed_until: datetime | None = None
        self._turns = asyncio.Semaphore(jobs_at_once(runtime.store.connections))
        self._waiting: list[int] = []  # rows whose timer went off, waiting for a turn
        self._failures: dict[int, int] = {}  # row ID -> failed attempts in a row

    @property
    def account(self) -> str:
        return self.runtime.user_id

    async def start(self) -> None:
        self._timer.start()
        await self.run_due(utcnow())  # catch-up: what came due while the process was down
        armed = await self._refill()
        self._timer.add_job(self._refill, "interval", seconds=REFILL_EVERY.total_seconds(),
                            id="refill")
        async with self.runtime.store.transaction(self.account) as tx:
            pending = await tx.session.scalar(select(func.count()).where(
                ScheduledJob.account == self.account, ScheduledJob.state == "pending"))
        log.info("scheduler started", extra={"pending_jobs": pending, "armed": armed})

    async def _refill(self) -> int:
        """Arm the pending rows due before the end of the next window (at start: all of them up
        to there, those that came due meanwhile included). The bound moves before the rows are
        read: a row committed meanwhile is then armed by its own transaction (`schedule`) or
        read here, never neither (both is harmless: one timer per row ID)."""
        since, self._armed_until = self._armed_until, utcnow() + HORIZON
        query = select(ScheduledJob.id, ScheduledJob.due_at).where(
            ScheduledJob.account == self.account, ScheduledJob.state == "pending",
            ScheduledJob.due_at < self._armed_until)
        if since is not None:
            query = query.where(ScheduledJob.due_at >= since)
        try:
            async with self.runtime.store.transaction(self.account) as tx:
                rows = (await tx.session.execute(query)).all()
        except Exception:
            # Read this window again at the next refill, still well before it is due.
            self._armed_until = since
            log.exception("scheduler refill failed")
            return 0
        for row_id, due_at in rows:
            self._arm(row_id, as_utc(due_at))
        return len(rows)

    def shutdown(self) -> None:
        if self._timer.running:
            self._timer.shutdown(wait=False)

    def schedule(self, tx: Transaction, kind: str, key: str, when: datetime,
                 payload: dict[str, Any] | None = None) -> None:
        """Plan `kind` at the wall-clock time `when` (aware, in its IANA zone). The timer is armed
        once the transaction commits if the job is due within the armed window, else by the
        refill that reaches it. `key` is unique for ever: planning it twice fails."""
        if kind not in self.handlers:
            raise ValueError(f"no handler for job kind {kind!r}")
        if not isinstance(when.tzinfo, ZoneInfo):
            raise ValueError("a job time must carry its IANA zone (zoneinfo.ZoneInfo)")
        row = ScheduledJob(account=self.account, kind=kind, key=key,
                           due_at=when.astimezone(UTC), timezone=when.tzinfo.key,
                           payload=tx.vault.seal(payload or {}, ScheduledJob.bind(
                               "payload", self.account, kind, key)), state="pending", late=False)
        tx.session.add(row)

        def arm() -> None:
            due_at = as_utc(row.due_at)
            if self._armed_until is not None and due_at < self._armed_until:
                self._arm(row.id, due_at)

        tx.after_commit.append(arm)

    async def cancel(self, tx: Transaction, key: str) -> bool:
        result = await tx.session.execute(update(ScheduledJob).where(
            ScheduledJob.account == self.account, ScheduledJob.key == key,
            ScheduledJob.state == "pending").values(state="cancelled"))
        return result.rowcount == 1

    async def cancel_prefixed(self, tx: Transaction, prefix: str) -> int:
        """Cancel every pending job whose key starts with `prefix` (a plan that changed)."""
        result = await tx.session.execute(update(ScheduledJob).where(
            ScheduledJob.account == self.account,
            ScheduledJob.key.startswith(prefix, autoescape=True),
            ScheduledJob.state == "pending").values(state="cancelled"))
        return result.rowcount

    def _arm(self, row_id: int, due_at: datetime) -> None:
        if self._timer.running:
            self._timer.add_job(self.fire, "date", run_date=due_at, args=[row_id],
                                id=f"job-{row_id}", replace_existing=True)

    async def run_due(self, now: datetime) -> int:
        """Fire every pending job due at `now` or before. Tests call it with their own clock."""
        async with self.runtime.store.transaction(self.account) as tx:
            ids = (await tx.session.scalars(select(ScheduledJob.id).where(
                ScheduledJob.account == self.account, ScheduledJob.state == "pending",
                # In UTC, as due_at is stored: SQLite drops the offset of an aware time.
                ScheduledJob.due_at <= now.astimezone(UTC)).order_by(ScheduledJob.due_at))).all()
        fired = 0
        for k in range(0, len(ids), BATCH):
            async with self._turns:
                fired += await self._run(ids[k:k + BATCH], now)
        return fired

    async def fire(self, row_id: int) -> None:
        """The timer's call: the job joins those waiting, and whoever gets the next turn
        (`jobs_at_once`) runs up to `BATCH` of them, its own or others'."""
        self._waiting.append(row_id)
        async with self._turns:
            batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
            if batch:
                await self._run(batch, None)

    async def _run(self, ids: list[int], now: datetime | None) -> int:
        """Run these jobs in one transaction. If one fails, all are rolled back and run again
        one by one, each in its own transaction, so only the failing one stays pending, tried
        again later (RETRY_AFTER); the others may thus run twice, as after a crash, but commit
        once."""
        if len(ids) > 1:
            try:
                fired = await self._transaction(ids, now)
            except Exception:
                log.warning("a scheduled job in a batch failed, running them one by one",
                            extra={"job_ids": ids}, exc_info=True)
            else:
                for row_id in ids:
                    self._failures.pop(row_id, None)
                return fired
        fired = 0
        for row_id in ids:
            try:
                fired += await self._transaction([row_id], now)
            except Exception:
                attempts = self._failures[row_id] = self._failures.get(row_id, 0) + 1
                retry = min(RETRY_AFTER * 2 ** (attempts - 1), RETRY_MAX)
                log.exception("scheduled job failed", extra={
                    "job_id": row_id, "attempts": attempts, "retry_in_s": retry.total_seconds()})
                self._arm(row_id, utcnow() + retry)
            else:
                self._failures.pop(row_id, None)
        return fired

    async def _transaction(self, ids: list[int], now: datetime | None) -> int:
        """Claim the pending rows among `ids` and run their handlers, in one transaction: the
        claims commit with the effects or not at all. Each job's time is `now` when the caller
        keeps a clock (run_due), else when its handler starts: a job that waited for its turn,
        or for the jobs before it in its batch, is that much later and says so (fired_at,
        late). The claim reads the rows back (RETURNING); those not returned fired already,
        were cancelled or are gone."""
        async with self.runtime.transaction() as tx:
            rows, held = await claim_jobs(tx, ids)
            stamps: list[dict[str, Any]] = []
            lateness: list[tuple[str, float]] = []
            for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
                at = now or utcnow()
                due_at = as_utc(row.due_at)
                late = due_at < at - LATE_AFTER
                await self.handlers[row.kind](JobContext(
                    runtime=self.runtime, tx=tx, kind=row.kind, key=row.key,
                    due_at=due_at.astimezone(ZoneInfo(row.timezone)), late=late,
                    payload=tx.vault.open(row.payload, ScheduledJob.bind(
                        "payload", self.account, row.kind, row.key)), now=at))
                # In UTC, as due_at is stored: SQLite drops the offset of an aware time.
                stamps.append({"id": row.id, "fired_at": at.astimezone(UTC), "late": late})
                lateness.append((row.kind, (at - due_at).total_seconds()))
            if stamps:  # one statement for the batch (executemany by primary key)
                await tx.session.execute(update(ScheduledJob), stamps)
        for kind, seconds in lateness:  # committed: a batch rerun one by one counts once
            SCHEDULER_LATENESS.labels(kind).observe(max(0.0, seconds))
        recheck = utcnow() + RECHECK_AFTER
        for row_id in held:
            self._arm(row_id, recheck)
        return len(rows)


async def claim_jobs(tx: Transaction, ids: list[int]) -> tuple[list[Row[Any]], list[int]]:
    """Claim the pending rows among `ids` (state fired, in `tx`): the rows claimed, and the IDs
    still pending that another process holds. The conditional update alone is exactly-once (a
    second claimer waits for the first's row locks, then finds the rows fired, or pending again
    if it rolled back). On PostgreSQL the rows are locked with SKIP LOCKED first: a second bots
    process takes the rows the first has not locked instead of queueing behind it, and learns
    which ones it skipped."""
    pending = (ScheduledJob.id.in_(ids), ScheduledJob.state == "pending")
    postgres = tx.session.bind.dialect.name == "postgresql"
    claimable = ScheduledJob.id.in_(select(ScheduledJob.id).where(*pending)
                                    .with_for_update(skip_locked=True)) if postgres \
        else ScheduledJob.id.in_(ids)
    rows = list((await tx.session.execute(
        update(ScheduledJob)
        .where(claimable, ScheduledJob.state == "pending")
        .values(state="fired")
        .returning(ScheduledJob.id, ScheduledJob.kind, ScheduledJob.key,
                   ScheduledJob.due_at, ScheduledJob.timezone, ScheduledJob.payload)
        .execution_options(synchronize_session=False))).all())
    skipped = set(ids) - {row.id for row in rows}
    held: list[int] = []
    if postgres and skipped:  # still pending, so locked by another: its claim not committed yet
        held = list((await tx.session.scalars(select(ScheduledJob.id).where(
            ScheduledJob.id.in_(skipped), ScheduledJob.state == "pending"))).all())
    return rows, held
