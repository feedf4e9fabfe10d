"""RH30 follow-up: the bots process with 100,000 scheduled steps (20,000 patients) on PostgreSQL,
how long it takes to start and how much memory, and how late 1,000 steps due at once fire.

    python -m bench.followup [--patients 20000] [--steps 5] [--same-minute 1000] [--starts 3]
    python -m bench.followup --patients 2000 --same-minute 100 --starts 2 --no-doc   # quick
    make bench

One Synapse (bench.lib.harness.BenchHomeserver) on 127.0.0.1 in a temp dir, and the PostgreSQL 15
server on 127.0.0.1:5432, where the benchmark creates its own database (`--database`, dropped at
the end; the schema is made by the project's Alembic migrations). The bots process is the one
bench/run_liaison.py runs, with `bots: [careteam, discharge, followup]`, the provisioning API,
and the database on PostgreSQL instead of SQLite; it is started as a process of its own, several
times, on the same account and data dir (the first start logs in and cross-signs: not measured).

Setup, timed but not the measure:
1. `--same-minute` patient rooms opened through the API (api.ApiStack.via_api: a fictitious
   patient with a valid INS, a team of three accounts never logged in, IDEC first), so that the
   steps which fire post into real encrypted rooms; then until the bot's outbox is empty (the
   identity cards sent) and the process is stopped. 1,000 real rooms take about 3.5 minutes
   (docs/PERFORMANCE.md, "Care-team rooms"); the other patients' rooms are rows only, since none
   of their steps comes due during the run.
2. Baseline starts (below), with 0 pending steps.
3. Seeding, with SQLAlchemy core in bulk, not through the bot's commands: `--patients` minus the
   real rooms more `care_rooms` rows (patient, open, identity sealed as {}: no patient data),
   one `followup_plans` row per patient (rh30-default, risk eleve, discharged today), `--steps`
   `followup_steps` per plan (steps 4, 5, 6, 8, 9 of rh30-default: the call at D+2 up to the
   D+30 close) and as many pending `scheduled_jobs` (`followup.step`, key
   `followup:{plan}:{step}:1`, payload sealed by the runtime's Vault as JobScheduler.schedule
   does, zone Europe/Paris). Due times: uniform over the next 30 days from one hour on (none
   comes due during the run); in each real room's plan, its first step is one of the
   `--same-minute` steps, all due at one instant (below). Then ANALYZE, as the autovacuum would.

Measure:
- start: spawn of the process → its log line "scheduler started" (the runtime logs it once the
  first sync is done, the sender resumed and the scheduler armed: from then on it runs), read
  from the line's own time stamp; also spawn → "bot ready" (login restored and first sync), so
  that the scheduler's share shows. Peak memory: the process's VmHWM (/proc) once it has started,
  and again at the end of its life. Baseline: the same process, same account, same real rooms,
  with 0 pending steps (before seeding). `--starts` starts of each, the process stopped (SIGTERM)
  after each; the median is compared.
- lateness: before each start with the steps, the `--same-minute` steps are moved (one UPDATE)
  to the whole second `--lead` seconds after the spawn, all at that one instant, as in real use
  (every step of a day is due at `post_at`, 09:00). The process is stopped after the other
  starts, before they come due; after the last one it runs until all have fired and their
  messages are sent (or `--fire-timeout`). Lateness of each step, the measure of the target:
  until its message was written with its batch, the last `outbox.created_at` among the jobs run
  in the same transaction (same scheduled_jobs.xmin) − `scheduled_jobs.due_at`, read back from
  the database (created_at is stamped in the job's transaction, which commits no sooner). Also
  until its own message was written (its created_at), until it fired (`fired_at`: when its
  handler started, after its turn) and until its message was sent (outbox.sent_at, the
  homeserver's answer to the send). Baseline: a bare APScheduler AsyncIOScheduler (UTC,
  misfire_grace_time=None: otherwise a job more than 1 s late is skipped, not counted) in this
  process, firing as many no-op coroutine date jobs due at one instant, lateness = time the job
  runs − its run date.

Targets (the issue): start ≤ 10 s, peak memory ≤ 300 MB, lateness p99 ≤ 5 s. Everything stops by
itself (`--timeout`); the figures are printed and written to docs/PERFORMANCE.md (section "RH30
follow-up: 100,000 scheduled steps").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, create_engine, insert, select, text, update
from sqlalchemy.engine import Engine

from bench.lib import REPO, api, harness, report, tables
from bots.common.models import CareRoom
from bots.devstack.homeserver import free_port
from bots.followup.bot import STEP
from bots.followup.models import FollowupPlan, FollowupStep
from bots.runtime.models import OutboxMessage, ScheduledJob
from bots.runtime.scheduler import BATCH, jobs_at_once
from bots.runtime.store import POOL_OVERFLOW, POOL_SIZE, migrate
from bots.runtime.vault import Vault

SECTION = "## RH30 follow-up: 100,000 scheduled steps"
START_TARGET_S = 10.0
RSS_TARGET_MB = 300.0  # 10^6 bytes
LATE_TARGET_S = 5.0
ZONE = ZoneInfo("Europe/Paris")
STEPS = (4, 5, 6, 8, 9)  # rh30-default's steps for a high-risk patient after the discharge day
TEAM = 3  # IDEC (the one step 4 mentions), MH, IDE: ROLES[:3]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 5000  # rows per INSERT statement batch when seeding

# bench/run_liaison.py builds the bots' Config with a SQLite database in the data dir; this is
# the same process with the spec's PostgreSQL URL instead (nothing else imported: the measured
# process holds what a production one does).
BOTS_PROCESS = """\
import asyncio, dataclasses, sys
from bench import run_liaison
plain = run_liaison.config_from
run_liaison.config_from = lambda spec: dataclasses.replace(plain(spec), database=spec["database"])
sys.exit(asyncio.run(run_liaison.main(sys.argv[1])))
"""


@dataclass
class Start:
    """One start of the bots process."""

    ready_s: float  # spawn → "bot ready"
    started_s: float  # spawn → "scheduler started"
    hwm_kib: int  # VmHWM once started
    pending: int  # pending jobs the scheduler reported
    armed: int | None  # timers it armed at start, when it says


@dataclass
class Lateness:
    written: list[float] = field(default_factory=list)  # seconds, outbox.created_at − due_at
    # The last created_at among the jobs fired in the same transaction (a batch), − due_at: the
    # message is committed no sooner. The target is judged on this one.
    committed: list[float] = field(default_factory=list)
    fired: list[float] = field(default_factory=list)  # fired_at − due_at
    sent: list[float] = field(default_factory=list)  # outbox.sent_at − due_at
    late_flags: int = 0
    unsent: int = 0
    failures: int = 0  # "scheduled job failed" in the process's log
    ready_before_due_s: float = 0.0  # from "scheduler started" to the steps' due time
    wait_s: float = 0.0  # from the due time until all fired and sent (or gave up)


@dataclass
class Results:
    patients: int
    steps: int
    same_minute: int
    rooms_opened: int = 0
    open_s: float = 0.0
    open_failures: dict[str, int] = field(default_factory=dict)
    seed_s: float = 0.0
    seeded: dict[str, int] = field(default_factory=dict)
    baseline: list[Start] = field(default_factory=list)
    loaded: list[Start] = field(default_factory=list)
    life_hwm_kib: int = 0  # VmHWM at the end of the last process (firing included)
    liaison: Lateness = field(default_factory=Lateness)
    bare: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)


def median_start(starts: list[Start]) -> float:
    return statistics.median(s.started_s for s in starts) if starts else float("nan")


def peak_kib(starts: list[Start]) -> int:
    return max((s.hwm_kib for s in starts), default=0)


# --- the database ---------------------------------------------------------------------------------


class Database:
    """The benchmark's own database on the PostgreSQL server: created empty, dropped at the end."""

    def __init__(self, name: str) -> None:
        self.name = name
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        self.url = f"{base}/{name}"
        self.engine: Engine | None = None

    def create(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        migrate(self.url)
        self.engine = create_engine(self.url)

    def drop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def server_version(self) -> str:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar()).split()[0]

    def pending_outbox(self) -> int:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM outbox WHERE state = 'pending'")).scalar() or 0)


def _chunks(rows: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    return [rows[k:k + CHUNK] for k in range(0, len(rows), CHUNK)]


def _insert_ids(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert (executemany, batched by SQLAlchemy), the new IDs in the rows' order."""
    ids: list[int] = []
    for part in _chunks(rows):
        ids += conn.execute(insert(table).returning(table.id, sort_by_parameter_order=True),
                            part).scalars().all()
    return ids


def seed(db: Database, vault: Vault, account: str, server: str, patients: int, steps: int,
         same_minute: int, park: datetime, now: datetime) -> dict[str, int]:
    """The patients' rows (see the module docstring); the real rooms' plans first, their first
    step due at `park` until the start that measures lateness moves it."""
    assert db.engine is not None
    rng = random.Random(30)
    today = now.astimezone(ZONE).date()
    earliest, span = now + timedelta(hours=1), timedelta(days=30) - timedelta(hours=1)
    with db.engine.begin() as conn:
        real = conn.execute(select(CareRoom.id, CareRoom.room_id).where(
            CareRoom.account == account, CareRoom.kind == "patient",
            CareRoom.status == "open").order_by(CareRoom.id)).all()
        rooms = [(row_id, room_id or "") for row_id, room_id in real[:same_minute]]
        fake = [{
            "account": account, "kind": "patient", "room_id": f"!bench{k:06d}:{server}",
            "ref": f"B-{k:06d}", "status": "open", "ward": api.WARD, "name": f"B-{k:06d} · X.X.",
            "sealed": vault.seal({}, CareRoom.bind("sealed", account, f"B-{k:06d}")),
            "language": "fr", "created_at": now, "opened_at": now,
            "attempts": 0} for k in range(patients - len(rooms))]
        rooms += zip(_insert_ids(conn, CareRoom, fake),
                     [r["room_id"] for r in fake], strict=True)
        plan_ids = _insert_ids(conn, FollowupPlan, [{
            "account": account, "care_room_id": row_id, "room_id": room_id,
            "schedule": "rh30-default", "status": "active", "discharged_on": today,
            "risk": "eleve", "conditions": "", "ward": api.WARD, "language": "fr",
            "started_by": account, "created_at": now} for row_id, room_id in rooms])
        step_rows, job_rows = [], []
        for k, plan in enumerate(plan_ids):
            due = sorted(earliest + span * rng.random() for _ in range(steps))
            if k < same_minute:
                due[0] = park
            for step, at in zip(STEPS, due, strict=False):
                step_rows.append({
                    "plan_id": plan, "step": step, "day": at.astimezone(ZONE).date(),
                    "state": "planned", "attempts": 0,
                    "note": vault.seal({}, FollowupStep.bind("note", plan, step))})
                key = f"followup:{plan}:{step}:1"
                job_rows.append({
                    "account": account, "kind": STEP, "key": key,
                    "due_at": at, "timezone": ZONE.key, "state": "pending", "late": False,
                    "payload": vault.seal({"plan": plan, "step": step, "attempt": 1},
                                          ScheduledJob.bind("payload", account, STEP, key))})
        for table, rows in ((FollowupStep, step_rows), (ScheduledJob, job_rows)):
            for part in _chunks(rows):
                conn.execute(insert(table), part)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return {"care_rooms": len(fake), "followup_plans": len(plan_ids),
            "followup_steps": len(step_rows), "scheduled_jobs": len(job_rows)}


def move_same_minute(db: Database, account: str, same_minute: int, due: datetime) -> list[str]:
    """The real rooms' first steps due at `due` (jobs and step days): their keys."""
    assert db.engine is not None
    with db.engine.begin() as conn:
        plans = conn.execute(select(FollowupPlan.id).join(
            CareRoom, CareRoom.id == FollowupPlan.care_room_id).where(
            FollowupPlan.account == account, CareRoom.room_id.not_like("!bench%")).order_by(
            FollowupPlan.id).limit(same_minute)).scalars().all()
        keys = [f"followup:{plan}:{STEPS[0]}:1" for plan in plans]
        conn.execute(update(ScheduledJob).where(
            ScheduledJob.account == account, ScheduledJob.key.in_(keys)).values(due_at=due))
        conn.execute(update(FollowupStep).where(
            FollowupStep.plan_id.in_(plans), FollowupStep.step == STEPS[0]).values(
            day=due.astimezone(ZONE).date()))
    return keys


def read_lateness(db: Database, keys: list[str]) -> tuple[Lateness, int, int]:
    """Per step: fired_at, and its message written and sent, each minus due_at. Also how many
    fired and how many of their messages were sent."""
    assert db.engine is not None
    with db.engine.connect() as conn:
        # xmin: the transaction that last wrote the row, for a fired job the one that ran it
        # (and its batch), as nothing updates a fired job.
        jobs = conn.execute(select(
            ScheduledJob.key, ScheduledJob.due_at, ScheduledJob.fired_at, ScheduledJob.late,
            FollowupPlan.room_id, text("scheduled_jobs.xmin::text")).join(FollowupPlan, text(
                "followup_plans.id = split_part(scheduled_jobs.key, ':', 2)::bigint")).where(
            ScheduledJob.key.in_(keys))).all()
        rooms = [room for *_, room, _ in jobs]
        messages = {room: (created, sent) for room, created, sent in conn.execute(select(
            OutboxMessage.room_id, OutboxMessage.created_at, OutboxMessage.sent_at).where(
            OutboxMessage.room_id.in_(rooms), OutboxMessage.event_type == "m.room.message",
            OutboxMessage.created_at >= min((due for _, due, *_ in jobs),
                                            default=datetime.now(UTC)))).all()}
    batch_written: dict[str, datetime] = {}
    for *_, room, xmin in jobs:
        created = messages.get(room, (None, None))[0]
        if created is not None:
            batch_written[xmin] = max(created, batch_written.get(xmin, created))
    out = Lateness()
    fired = sent = 0
    for _, due, fired_at, late, room, xmin in jobs:
        if fired_at is None:
            continue
        fired += 1
        out.fired.append((fired_at - due).total_seconds())
        out.late_flags += bool(late)
        created, sent_at = messages.get(room, (None, None))
        if created is not None:
            out.written.append((created - due).total_seconds())
            out.committed.append((batch_written[xmin] - due).total_seconds())
        if sent_at is not None:
            sent += 1
            out.sent.append((sent_at - due).total_seconds())
    return out, fired, sent


# --- the bots process -----------------------------------------------------------------------------


class LogTail:
    """The bots process's log (JSON lines; every start appends to the same file), from an
    offset: each start reads only its own lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        out = []
        for line in data.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    out.append(entry)
        return out

    def find(self, msg: str) -> dict[str, Any] | None:
        return next((e for e in self.lines() if e.get("msg") == msg), None)


def log_time(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["ts"]).timestamp()


@dataclass
class Spawned:
    bot: harness.BotProcess
    tail: LogTail
    at: float  # time.time() just before the spawn
    due: float = 0.0  # when its same-minute steps are due (starts with the steps)


class FollowupBench(api.ApiStack):
    """api.ApiStack gives the homeserver, registration, opening rooms through the API and the
    clean-up; here the bots process runs on PostgreSQL and is started again and again."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.db = Database(args.database)
        self.vault_key = Vault.new_key()
        self.spec: Path | None = None
        self.user_id = ""
        self.keys: list[str] = []  # the same-minute steps' job keys

    async def prepare(self) -> None:
        """Synapse, the database, the accounts, and the spec every start uses."""
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp}); database {self.db.name}")
        await self.hs.start(timeout=120)
        await asyncio.to_thread(self.db.create)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        self.user_id, password = await self.register("liaison")
        self.pool = [u for u, _ in await asyncio.gather(
            *(self.register(f"team{k}") for k in range(TEAM)))]
        assert api.ROLES[0] == "IDEC"
        port = free_port()
        self.api = f"http://127.0.0.1:{port}"
        self.spec = self.write_spec("liaison", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name,
            "user_id": self.user_id, "password": password,
            "data_dir": str(self.tmp / "liaison"), "data_key": self.vault_key,
            "database": self.db.url, "log_level": "INFO",
            "bots": ["careteam", "discharge", "followup"], "api_port": port,
            "api_token": self.token})

    def spawn_bots(self) -> Spawned:
        assert self.spec is not None
        tail = LogTail(self.tmp / "liaison.log")
        at = time.time()
        self.bot = self.spawn("liaison", [sys.executable, "-c", BOTS_PROCESS, str(self.spec)],
                              REPO)
        return Spawned(self.bot, tail, at)

    async def started(self, run: Spawned) -> Start:
        deadline = time.monotonic() + self.args.start_timeout
        while (entry := run.tail.find("scheduler started")) is None:
            run.bot.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no \"scheduler started\" within {self.args.start_timeout} s")
            await asyncio.sleep(0.05)
        hwm = harness.vm_hwm_kib(run.bot.pid)
        ready = run.tail.find("bot ready")
        return Start(ready_s=log_time(ready) - run.at if ready else float("nan"),
                     started_s=log_time(entry) - run.at, hwm_kib=hwm,
                     pending=int(entry.get("pending_jobs", -1)),
                     armed=int(entry["armed"]) if "armed" in entry else None)

    async def outbox_drained(self, bot: harness.BotProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (pending := await asyncio.to_thread(self.db.pending_outbox)):
            bot.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{pending} messages still unsent after {timeout:.0f} s")
            await asyncio.sleep(0.5)

    async def open_rooms(self, results: Results) -> None:
        """First start (login, cross-signing: not measured), the real rooms, then stop."""
        bot = self.spawn_bots().bot
        await self.api_ready(bot)
        harness.log(f"opening {self.args.same_minute} patient rooms through the API, "
            f"{self.args.concurrency} in flight")
        batch = api.Batch("liaison", self.args.same_minute)
        began = time.monotonic()
        await asyncio.gather(*(self.open_one(i, batch) for i in range(self.args.same_minute)))
        await self.outbox_drained(bot, timeout=300 + self.args.same_minute)
        results.open_s = time.monotonic() - began
        results.rooms_opened, results.open_failures = batch.opened, dict(batch.failures)
        harness.log(f"  {batch.opened} rooms open, identity cards sent, in {results.open_s:.1f} s"
            + (f"; failures {dict(batch.failures)}" if batch.failures else ""))
        if batch.opened < self.args.same_minute:
            raise RuntimeError("not every patient room opened")
        bot.stop()

    async def open_one(self, i: int, batch: api.Batch) -> None:
        """api.ApiStack.via_api, again while the API answers 503 (on PostgreSQL concurrent
        openings may take the same file number; after 5 collisions the API says to retry)."""
        for _ in range(10):
            one = api.Batch("liaison", 1)
            await self.via_api(i, one)
            batch.failures.update({f"{k} (retried)": v for k, v in one.failures.items()})
            if one.opened or not all(k.startswith("503") for k in one.failures):
                batch.opened += one.opened
                return

    async def one_start(self, label: str, *, keep: bool = False) -> tuple[Start, Spawned]:
        """Start, measure, and stop unless `keep`. Before a start with the steps, the
        same-minute steps are moved to `--lead` s after the spawn (Spawned.due)."""
        due = 0.0
        if label == "steps":
            due = float(int(time.time() + self.args.lead))
            self.keys = await asyncio.to_thread(
                move_same_minute, self.db, self.user_id, self.args.same_minute,
                datetime.fromtimestamp(due, UTC))
        run = self.spawn_bots()
        run.due = due
        start = await self.started(run)
        harness.log(f"  {label}: started in {start.started_s:.2f} s (ready {start.ready_s:.2f} s), "
            f"VmHWM {start.hwm_kib / 1024:.0f} MiB, {start.pending} pending"
            + (f", {start.armed} armed" if start.armed is not None else ""))
        if not keep:
            run.bot.stop()
        return start, run

    async def fire_same_minute(self, run: Spawned, start: Start, results: Results) -> None:
        """Until every same-minute step has fired and its message is sent, or --fire-timeout."""
        n = len(self.keys)
        ahead = run.due - (run.at + start.started_s)
        harness.log(f"  {n} steps due at {datetime.fromtimestamp(run.due, UTC):%H:%M:%S} UTC, "
            f"{ahead:.0f} s after the process started")
        deadline = run.due + self.args.fire_timeout
        while time.time() < deadline:
            run.bot.check()
            if time.time() > run.due:
                _, fired, sent = await asyncio.to_thread(read_lateness, self.db, self.keys)
                if fired == n and sent == n:
                    break
            await asyncio.sleep(1)
        waited = time.time() - run.due
        late, fired, sent = await asyncio.to_thread(read_lateness, self.db, self.keys)
        late.ready_before_due_s, late.wait_s, late.unsent = ahead, waited, n - sent
        late.failures = sum(1 for e in run.tail.lines() if e.get("msg") == "scheduled job failed")
        results.liaison = late
        harness.log(f"  fired {fired}/{n}, sent {sent}/{n}, {waited:.1f} s after the due time")

    async def run(self) -> Results:  # type: ignore[override]
        args = self.args
        results = Results(args.patients, args.patients * args.steps, args.same_minute,
                          versions=report.versions(None))
        await self.prepare()
        results.versions.update({name: version(name) for name in ("psycopg", "APScheduler")},
                                postgresql=await asyncio.to_thread(self.db.server_version))
        await self.open_rooms(results)

        harness.log(f"baseline: {args.starts} starts with 0 pending steps")
        for _ in range(args.starts):
            results.baseline.append((await self.one_start("baseline"))[0])

        harness.log(f"seeding {args.patients} patients, {args.patients * args.steps} steps and jobs")
        began = time.monotonic()
        results.seeded = await asyncio.to_thread(
            seed, self.db, Vault([self.vault_key]), self.user_id, self.hs.server_name,
            args.patients, args.steps, args.same_minute,
            datetime.now(UTC) + timedelta(hours=6), datetime.now(UTC))
        results.seed_s = time.monotonic() - began
        harness.log(f"  seeded in {results.seed_s:.1f} s: {results.seeded}")

        harness.log(f"{args.starts} starts with them; {args.same_minute} steps due {args.lead:.0f} s "
            "after each spawn, fired after the last")
        for k in range(args.starts):
            start, run = await self.one_start("steps", keep=k == args.starts - 1)
            results.loaded.append(start)
        await self.fire_same_minute(run, start, results)
        results.life_hwm_kib = harness.vm_hwm_kib(run.bot.pid)
        run.bot.stop()

        harness.log(f"baseline: a bare APScheduler firing {args.same_minute} no-op jobs due at once")
        results.bare = await bare_apscheduler(args.same_minute, lead=5.0)
        results.elapsed_s = time.monotonic() - results.started
        return results

    async def close(self) -> None:
        await super().close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.db.drop)
            harness.log(f"database {self.db.name} dropped")


async def bare_apscheduler(n: int, lead: float) -> list[float]:
    """`n` no-op coroutine date jobs due at one instant `lead` s ahead: seconds late each."""
    late: list[float] = []
    done = asyncio.Event()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)

    async def noop() -> None:
        late.append((datetime.now(UTC) - due).total_seconds())
        if len(late) == n:
            done.set()

    timer = AsyncIOScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None})
    timer.start()
    try:
        for k in range(n):
            timer.add_job(noop, "date", run_date=due, id=f"job-{k}")
        await asyncio.wait_for(done.wait(), lead + 120)
    finally:
        timer.shutdown(wait=False)
    return late


# --- report ---------------------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "-"


START_HEADER = ["start of the bots process", "baseline: 0 pending steps", "with the steps",
                "ratio"]


def start_rows(results: Results) -> list[list[str]]:
    base, loaded = results.baseline, results.loaded

    def seconds(label: str, pick: Any) -> list[str]:
        b, s = [pick(x) for x in base], [pick(x) for x in loaded]
        return [label, _spread(b), _spread(s),
                _ratio(statistics.median(s), statistics.median(b)) if b and s else "-"]

    armed = [s.armed for s in loaded if s.armed is not None]
    return [
        seconds("spawn → \"scheduler started\", median (min–max)", lambda x: x.started_s),
        seconds("&nbsp;&nbsp;of which spawn → \"bot ready\" (login, first sync)",
                lambda x: x.ready_s),
        seconds("&nbsp;&nbsp;of which \"bot ready\" → \"scheduler started\"",
                lambda x: x.started_s - x.ready_s),
        ["peak RSS once started (VmHWM, max over the starts)",
         f"{peak_kib(base) / 1024:.0f} MiB", f"{peak_kib(loaded) / 1024:.0f} MiB",
         _ratio(peak_kib(loaded), peak_kib(base))],
        ["peak RSS over the last process's life (firing included)", "-",
         f"{results.life_hwm_kib / 1024:.0f} MiB", "-"],
        ["pending jobs at start", str(max((x.pending for x in base), default=0)),
         str(max((x.pending for x in loaded), default=0)), ""],
        ["timers armed at start", "-", str(max(armed)) if armed else "one per pending job", ""],
    ]


LATE_HEADER = ["due at one instant → …", "n", "p50 ms", "p99 ms", "max ms"]


def _ms(values: list[float], q: int) -> str:
    return f"{1000 * tables.percentile(values, q):.0f}" if values else "-"


def late_rows(results: Results) -> list[list[str]]:
    late, bare = results.liaison, results.bare

    def row(label: str, values: list[float]) -> list[str]:
        return [label, str(len(values)), _ms(values, 50), _ms(values, 99),
                f"{1000 * max(values):.0f}" if values else "-"]

    return [
        row("**Liaison: its message written, with its batch** (the last outbox.created_at of "
            "the job's transaction)", late.committed),
        row("&nbsp;&nbsp;its own message written (outbox.created_at)", late.written),
        row("&nbsp;&nbsp;fired (scheduled_jobs.fired_at: its handler started)", late.fired),
        row("Liaison: its message sent (outbox.sent_at, the homeserver's answer)", late.sent),
        row("baseline: bare APScheduler, no-op job runs", bare),
        ["ratio written with its batch / baseline", "",
         _ratio(tables.percentile(late.committed, 50), tables.percentile(bare, 50))
         if late.committed and bare else "-",
         _ratio(tables.percentile(late.committed, 99), tables.percentile(bare, 99))
         if late.committed and bare else "-", ""],
    ]


def targets(results: Results) -> list[tuple[str, str, bool]]:
    start = median_start(results.loaded)
    peak_mb = peak_kib(results.loaded) * 1024 / 1e6
    late = results.liaison
    p99 = tables.percentile(late.committed, 99) if late.committed else float("inf")
    complete = len(late.committed) == results.same_minute
    return [
        (f"start ≤ {START_TARGET_S:.0f} s (median)", f"{start:.2f} s", start <= START_TARGET_S),
        (f"peak memory ≤ {RSS_TARGET_MB:.0f} MB (VmHWM once started)",
         f"{peak_mb:.0f} MB ({peak_kib(results.loaded) / 1024:.0f} MiB)",
         peak_mb <= RSS_TARGET_MB),
        (f"lateness p99 ≤ {LATE_TARGET_S:.0f} s (message written with its batch: the last "
         "outbox.created_at of the job's transaction − due_at)",
         f"{p99:.3f} s" + ("" if complete else f" ({len(late.committed)} of "
                                                f"{results.same_minute} written)"),
         p99 <= LATE_TARGET_S and complete),
    ]


def title(results: Results, args: argparse.Namespace) -> str:
    return (f"{results.patients:,} patients with {results.steps:,} pending follow-up steps on "
            f"PostgreSQL, {results.same_minute:,} of them due at one instant; {args.starts} "
            "starts of the bots process with them and as many with 0 pending steps")


def notes(results: Results) -> list[str]:
    late = results.liaison
    out = [f"The same-instant steps were due {late.ready_before_due_s:.0f} s after the process "
           f"started; all fired and sent {late.wait_s:.1f} s after it (the benchmark polls the "
           f"database every second). Fired marked late (> 1 min): {late.late_flags}; messages "
           f"unsent at the end: {late.unsent}; \"scheduled job failed\" in the log: "
           f"{late.failures}."]
    if late.written and late.sent:
        out.append(f"Jobs run in batches of up to {BATCH} per transaction, "
                   f"{jobs_at_once(POOL_SIZE + POOL_OVERFLOW)} batches at a time "
                   "(bots/runtime/scheduler.py: half the database pool, so a burst never waits "
                   "out the pool's checkout timeout); the sender encrypts and sends what each "
                   "batch wrote as it commits, while the next ones run (bench/burst.py); the cores are shared with Synapse and "
                   "PostgreSQL. The last message was written "
                   f"{max(late.committed):.1f} s and sent {max(late.sent):.1f} s after the due "
                   "time.")
    return out


# The same burst before jobs took turns, and before they ran in batches ahead of the sends.
EARLIER_BURST = ("Before jobs took turns, APScheduler started the 1,000 jobs at once, each "
                 "queued for a database connection: fired_at (then stamped when the timer "
                 "called the job, before its transaction) showed p99 345 ms, but the messages "
                 "were written at p50 7.6 s / p99 13.2 s and sent at p50 14.0 s / p99 24.5 s "
                 "(2026-11-23, same machine and setup); a larger burst would have waited out the "
                 "pool's 30 s checkout timeout and failed. Then, with one job per "
                 "transaction, 7 at once, and the sender sending what they wrote meanwhile, the "
                 "messages were written at p50 9.4 s / p99 17.0 s and sent at p50 20.7 s / p99 "
                 "32.7 s (2026-11-23 08:49, same machine and setup; a py-spy profile of a "
                 "500-step burst showed ~40% of the process's CPU in the sender, ~50% in the "
                 "jobs, mostly SQLAlchemy's per-statement work, flush and commit).")
# The same start with the earlier scheduler, which armed one APScheduler job per pending row.
BEFORE = ("Before the scheduler armed only the next hour (bots/runtime/scheduler.py: HORIZON, "
          "with a refill every 15 minutes), it armed one APScheduler job per pending row: the "
          "same start with 100,000 steps took 13.2 s (11.2 s of it arming) with a peak RSS of "
          "435 MiB, against 2.9 s and 120 MiB with none (2026-11-23, 200 real rooms, one start "
          "each); with 10,000 rows, a SIGTERM sent while they were being armed was lost (the event "
          "loop's wake-up pipe was full).")


SETUP_HEADER = ["setup step", "done", "wall"]


def setup_rows(results: Results) -> list[list[str]]:
    seeded = ", ".join(f"{v:,} {k}" for k, v in results.seeded.items())
    failed = f" (failures {results.open_failures})" if results.open_failures else ""
    return [
        ["real patient rooms opened through the API, identity cards sent",
         f"{results.rooms_opened:,}{failed}", f"{results.open_s:.1f} s"],
        ["bulk seeding (SQLAlchemy core, vault seals), then ANALYZE", seeded,
         f"{results.seed_s:.1f} s"],
    ]


def print_report(results: Results, args: argparse.Namespace) -> None:
    def plain(rows: list[list[str]]) -> list[list[str]]:
        return [[c.replace("&nbsp;", " ").replace("**", "") for c in r] for r in rows]

    print()
    print(f"{title(results, args)} (run: {results.elapsed_s / 60:.1f} min)")
    print(tables.text_table(START_HEADER, plain(start_rows(results))))
    print()
    print(tables.text_table(LATE_HEADER, plain(late_rows(results))))
    for line in notes(results):
        print(f"  {line}")
    print("Targets:")
    for name, value, ok in targets(results):
        print(f"  {name:48} {value:>28}  {tables.verdict(ok)}")
    print()
    print(tables.text_table(SETUP_HEADER, setup_rows(results)))
    print()


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.followup"
        f"{''.join(' ' + a for a in report.shown_argv())}` (the run took "
        f"{results.elapsed_s / 60:.1f} min). {title(results, args)}.", "",
        f"- Machine: {report.machine()}. Synapse, PostgreSQL, the bots and the benchmark all on it, "
        "over 127.0.0.1.",
        f"- Versions: Python {v['python']}, PostgreSQL {v.get('postgresql', '?')}, Synapse "
        f"{v['matrix-synapse']} (SQLite), matrix-nio {v['matrix-nio']}, SQLAlchemy "
        f"{v['SQLAlchemy']}, psycopg {v['psycopg']}, APScheduler {v['APScheduler']}. Liaison "
        f"code: commit {v.get('code', '?')}.",
        "- Setup: the bots process of the other benchmarks (bench/run_liaison.py) with "
        "`bots: [careteam, discharge, followup]` and the provisioning API, on a PostgreSQL "
        "database of its own (Alembic migrations), in its own process. "
        f"{results.same_minute:,} real encrypted patient rooms opened through the API (a team "
        "of three, IDEC first); the other patients are rows only (care_rooms open, identity "
        "sealed as {}: no patient data). Seeded in bulk: a plan per patient (rh30-default, "
        f"risk eleve), {args.steps} steps each (4, 5, 6, 8, 9) and their pending "
        "`followup.step` jobs (payload sealed by the vault, zone Europe/Paris), due uniformly "
        "over the next 30 days from one hour on, except the first step of each real room's "
        "plan: those are all due at one instant.",
        "- Start: spawn → the process's log line \"scheduler started\" (first sync done, sender "
        "resumed, scheduler armed), from the line's time stamp; peak memory: VmHWM from /proc "
        f"at that moment. {args.starts} starts each way, the process stopped (SIGTERM) after "
        "each; the baseline is the same process, same account and rooms, with 0 pending "
        "steps (before seeding).",
        f"- Lateness: before each start the {results.same_minute:,} same-instant steps are "
        f"moved to the whole second {args.lead:.0f} s after the spawn; after the last start "
        "the process runs until all have fired and their messages are sent. Lateness = "
        "until the step's message is written with its batch: the last `outbox.created_at` "
        "among the jobs run in the same transaction (same scheduled_jobs.xmin) − "
        "`scheduled_jobs.due_at`, from the database (stamped in the job's transaction, which "
        "commits no sooner); also until its own message was written (its created_at), until it "
        "fired (`fired_at`, when its handler started, after its turn) and until its message "
        "was sent (outbox sent_at). Baseline: a bare "
        "APScheduler AsyncIOScheduler (misfire_grace_time=None) firing as many no-op "
        "coroutine date jobs due at one instant, in the benchmark's process.",
        "",
        tables.md_table(START_HEADER, start_rows(results)), "",
        tables.md_table(LATE_HEADER, late_rows(results)), "",
        " ".join(notes(results)), "",
        EARLIER_BURST, "",
        BEFORE, "",
        *tables.targets_md(targets(results)), "",
        "Setup (not measured against a target):", "",
        tables.md_table(SETUP_HEADER, setup_rows(results)), "",
        report.rerun("followup", "after the other benchmarks"), "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("followup", __doc__)
    parser.add_argument("--patients", type=int, default=20000,
                        help="patients, each with a follow-up plan (20000)")
    parser.add_argument("--steps", type=int, default=len(STEPS), choices=range(1, len(STEPS) + 1),
                        help=f"pending steps per plan ({len(STEPS)})")
    parser.add_argument("--same-minute", type=int, default=1000,
                        help="steps due at one instant, each in a real patient room (1000)")
    parser.add_argument("--starts", type=int, default=3,
                        help="starts measured, with the steps and with none (3)")
    parser.add_argument("--lead", type=float, default=90,
                        help="the same-minute steps are due this many s after a spawn (90)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="setup: rooms opened through the API in flight (8)")
    parser.add_argument("--start-timeout", type=float, default=300,
                        help="a start not done within this many seconds fails (300)")
    parser.add_argument("--fire-timeout", type=float, default=300,
                        help="stop waiting for the steps this many s after their due time (300)")
    parser.add_argument("--database", default="liaison_bench_followup",
                        help="the database created, then dropped (liaison_bench_followup)")
    harness.common_args(parser, timeout=3600)
    # harness.Stack.spawn reads trace; api.ApiStack.via_api reads team (IDEC, MH, IDE).
    parser.set_defaults(trace=False, team=TEAM)
    args = parser.parse_args(argv)
    if not 1 <= args.same_minute <= args.patients or args.starts < 1 or args.lead < 10:
        parser.error("need 1 ≤ --same-minute ≤ --patients, --starts ≥ 1 and --lead ≥ 10")
    if args.same_minute > 21000:
        parser.error("--same-minute: at most 21000 distinct fictitious patients")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, FollowupBench, print_report, markdown, SECTION))
