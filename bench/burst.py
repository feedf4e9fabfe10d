"""A morning burst: 1,000 follow-up steps due at one instant, how long until their messages are
all sent, against a bare nio client sending the same 1,000 encrypted messages.

    python -m bench.burst [--rooms 250] [--per-room 4] [--clinicians 6]
    python -m bench.burst --rooms 50 --no-doc   # quick
    make bench

One Synapse (bench.lib.harness.BenchHomeserver, the single process) on 127.0.0.1 in a temp dir,
and the PostgreSQL server on 127.0.0.1:5432, where the benchmark creates its own database
(`--database`, dropped at the end). The bots process is bench/followup.py's: bench/run_liaison.py
with `bots: [careteam, discharge, followup]`, the provisioning API, on PostgreSQL.

Setup, not measured: `--clinicians` real E2EE clinicians (bots/devstack/clinician.py: nio, a
cross-signed device, invitations accepted), `--rooms` patient rooms opened through the API
(bench/lib/api.py: a fictitious patient, a team of three of the clinicians, IDEC first); the
clinicians join, the bot welcomes each (so its megolm session is shared with their devices),
then the process is stopped. Seeded in the database, as the follow-up bot would have scheduled
them: per room a plan (rh30-default, risk eleve) and `--per-room` of its steps (4, 5, 6, 8),
each a pending `followup.step` job, all due at one instant `--lead` s after the next spawn.

Measure, in one run:
- Liaison: the bots process started again; from the due instant, per message, until it was sent
  (outbox.sent_at: the homeserver's answer, its event ID) and until it was written
  (outbox.created_at); the burst ends with the last one sent. The process's CPU over the burst.
- Floor (bench/send_floor.py, its own process, once the bots process has stopped): a second
  device of the bot's account, a bare nio client, sends the same messages (the outbox rows'
  contents, opened with the vault) into the same rooms, one room's in order and rooms in
  parallel as the bots' sender does, after one warm-up message per room and with its megolm
  sessions then dropped (so each room's first message shares a new one, as the restarted bots
  process does); from the instant it starts, per message, until the homeserver's answer.

Target (issue 17): the last message sent within 1.2× the floor's time, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version

import psutil
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from bench.followup import STEPS, ZONE, Database, FollowupBench
from bench.lib import REPO, api, harness, report, tables
from bots.common.models import CareRoom
from bots.followup.bot import STEP
from bots.followup.models import FollowupPlan, FollowupStep
from bots.runtime.models import OutboxMessage, ScheduledJob
from bots.runtime.vault import Vault

SECTION = "## Morning burst: 1,000 follow-up steps sent"
RATIO_TARGET = 1.2
TEAM = 3  # IDEC, MH, IDE: api.ROLES[:3]
PER_ROOM = STEPS[:4]  # steps 4, 5, 6, 8 (9 closes the plan)


@dataclass
class Burst:
    written: list[float] = field(default_factory=list)  # s from the due instant (Liaison)
    sent: list[float] = field(default_factory=list)
    failed: int = 0
    cpu_s: float = 0.0  # the sender's process over the burst (Liaison)
    synapse_cpu_s: float = 0.0
    other_load: float = 0.0  # % of a core used by other processes meanwhile

    @property
    def last(self) -> float:
        return max(self.sent, default=float("nan"))


@dataclass
class Results:
    rooms: int
    messages: int
    clinicians: int
    setup_s: float = 0.0
    started_before_due_s: float = 0.0
    liaison: Burst = field(default_factory=Burst)
    floor: Burst = field(default_factory=Burst)
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.liaison.last / self.floor.last if self.floor.sent else float("inf")


def seed(db: Database, vault: Vault, account: str, per_room: int, due: datetime) -> list[str]:
    """Per real patient room a follow-up plan and `per_room` steps due at `due` (`seed_steps`):
    the rooms."""
    assert db.engine is not None
    with db.engine.begin() as conn:
        rooms = conn.execute(select(CareRoom.id, CareRoom.room_id).where(
            CareRoom.account == account, CareRoom.kind == "patient",
            CareRoom.status == "open").order_by(CareRoom.id)).all()
        seed_steps(conn, vault, account, [(row_id, room_id) for row_id, room_id in rooms],
                   per_room, due)
    return [room_id for _, room_id in rooms]


def seed_steps(conn: Connection, vault: Vault, account: str, rooms: Sequence[tuple[int, str]],
               per_room: int, due: datetime) -> None:
    """Per patient room (care room ID, Matrix room ID) a follow-up plan and `per_room` of its
    steps due at `due`, with their pending jobs (payload sealed as JobScheduler.schedule does);
    also the morning burst of tests/test_active_active_e2e.py."""
    today = due.astimezone(ZONE).date()
    plans = conn.execute(insert(FollowupPlan).returning(
        FollowupPlan.id, sort_by_parameter_order=True), [{
            "account": account, "care_room_id": row_id, "room_id": room_id,
            "schedule": "rh30-default", "status": "active", "discharged_on": today,
            "risk": "eleve", "conditions": "", "ward": api.WARD, "language": "fr",
            "started_by": account, "created_at": due} for row_id, room_id in rooms]
    ).scalars().all()
    steps, jobs = [], []
    for plan in plans:
        for step in PER_ROOM[:per_room]:
            key = f"followup:{plan}:{step}:1"
            steps.append({"plan_id": plan, "step": step, "day": today, "state": "planned",
                          "attempts": 0,
                          "note": vault.seal({}, FollowupStep.bind("note", plan, step))})
            jobs.append({
                "account": account, "kind": STEP, "key": key, "due_at": due,
                "timezone": ZONE.key, "state": "pending", "late": False,
                "payload": vault.seal({"plan": plan, "step": step, "attempt": 1},
                                      ScheduledJob.bind("payload", account, STEP, key))})
    conn.execute(insert(FollowupStep), steps)
    conn.execute(insert(ScheduledJob), jobs)


def burst_rows(db: Database, account: str, since: datetime) -> list[OutboxMessage]:
    """The messages written since `since` (the burst's: nothing else is posted then)."""
    assert db.engine is not None
    with Session(db.engine) as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.account == account, OutboxMessage.created_at >= since)).all())


class BurstBench(FollowupBench):
    """bench/followup.py's stack (Synapse, PostgreSQL, the bots process, rooms through the API),
    with real clinicians as the teams and a bare nio sender to compare with."""

    async def setup(self, results: Results) -> None:
        args = self.args
        await self.prepare()
        docs = [await self.clinician(f"doc{k}") for k in range(args.clinicians)]
        self.pool = [doc.user_id for doc in docs]
        bot = self.spawn_bots().bot
        await self.api_ready(bot)
        harness.log(f"opening {args.rooms} patient rooms through the API, teams of {TEAM} of "
                    f"{args.clinicians} clinicians")
        batch = api.Batch("liaison", args.rooms)
        await asyncio.gather(*(self.open_one(i, batch) for i in range(args.rooms)))
        if batch.opened < args.rooms:
            raise RuntimeError(f"not every patient room opened: {dict(batch.failures)}")
        expected = {doc.user_id: 0 for doc in docs}
        for i in range(args.rooms):
            for user_id, _ in api.team_of(i, self.pool, TEAM):
                expected[user_id] += 1
        deadline = time.monotonic() + 300 + args.rooms
        while any(len(doc.client.rooms) < expected[doc.user_id] for doc in docs):
            bot.check()
            if time.monotonic() > deadline:
                raise RuntimeError("the clinicians did not join every room")
            await asyncio.sleep(0.5)
        # The bot welcomes each who joins: until those messages are all sent, and stay so.
        for _ in range(3):
            await asyncio.sleep(3)
            await self.outbox_drained(bot, timeout=300 + args.rooms)
        bot.stop()

    async def liaison_burst(self, results: Results) -> datetime:
        args = self.args
        # Seeded before the spawn: the scheduler arms what is pending when it starts.
        due = datetime.fromtimestamp(int(time.time() + args.lead), UTC)
        rooms = await asyncio.to_thread(seed, self.db, Vault([self.vault_key]), self.user_id,
                                        args.per_room, due)
        run = self.spawn_bots()
        start = await self.started(run)
        results.started_before_due_s = due.timestamp() - (run.at + start.started_s)
        if results.started_before_due_s < 1:
            raise RuntimeError("the bots process started after the steps' due time: more --lead")
        harness.log(f"{len(rooms) * args.per_room} steps due at {due:%H:%M:%S} UTC, "
                    f"{results.started_before_due_s:.0f} s after the process started")
        await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
        other = harness.OtherLoad(self.our_pids())
        cpu0, hs0 = harness.cpu_seconds(run.bot.pid), harness.cpu_seconds(self.hs.pid)
        deadline = time.monotonic() + args.fire_timeout
        n = results.messages
        while True:
            run.bot.check()
            rows = await asyncio.to_thread(burst_rows, self.db, self.user_id, due)
            if len(rows) >= n and all(r.state != "pending" for r in rows):
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        burst = results.liaison
        burst.cpu_s = harness.cpu_seconds(run.bot.pid) - cpu0
        burst.synapse_cpu_s = harness.cpu_seconds(self.hs.pid) - hs0
        burst.other_load = other.percent()
        for row in rows:
            burst.written.append((row.created_at - due).total_seconds())
            if row.sent_at is not None and row.state == "sent":
                burst.sent.append((row.sent_at - due).total_seconds())
        burst.failed = n - len(burst.sent)
        harness.log(f"  Liaison: {len(burst.sent)}/{n} sent, the last {burst.last:.2f} s after "
                    "the due time")
        run.bot.stop()
        return due

    async def floor_burst(self, results: Results, due: datetime) -> None:
        vault = Vault([self.vault_key])
        rows = await asyncio.to_thread(burst_rows, self.db, self.user_id, due)
        messages = [[r.room_id, r.event_type, vault.open(r.content, r.bound("content"))]
                    for r in sorted(rows, key=lambda r: r.id)]
        assert self.spec is not None
        (self.tmp / "floor-messages.json").write_text(json.dumps(messages))
        spec_path = self.write_spec("floor", {
            "homeserver": self.hs.url, "user_id": self.user_id,
            "password": json.loads(self.spec.read_text())["password"],
            "store_dir": str(self.tmp / "floor"), "messages": str(self.tmp / "floor-messages.json"),
            "out": str(self.tmp / "floor-out.json")})
        harness.log(f"floor: a bare nio device of the same account sends the same {len(messages)}"
                    " messages")
        floor = self.spawn("floor", [sys.executable, "-m", "bench.send_floor", str(spec_path)],
                           REPO)
        other = harness.OtherLoad(self.our_pids())
        proc = psutil.Process(floor.pid)
        hs0 = harness.cpu_seconds(self.hs.pid)
        cpu = 0.0
        deadline = time.monotonic() + self.args.fire_timeout + 300
        assert floor.proc is not None
        while floor.proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the floor did not finish")
            cpu = harness.cpu_seconds(proc.pid)
            await asyncio.sleep(0.2)
        if floor.proc.returncode:
            floor.check()
        out = json.loads((self.tmp / "floor-out.json").read_text())
        burst = results.floor
        burst.sent, burst.failed = out["sent"], out["failed"]
        burst.cpu_s = cpu  # the whole process: login, first sync and warm-up included
        burst.synapse_cpu_s = harness.cpu_seconds(self.hs.pid) - hs0
        burst.other_load = other.percent()
        harness.log(f"  floor: {len(burst.sent)}/{len(messages)} sent, the last "
                    f"{burst.last:.2f} s after it began")

    async def run(self) -> Results:  # type: ignore[override]
        args = self.args
        results = Results(args.rooms, args.rooms * args.per_room, args.clinicians,
                          versions=report.versions(None))
        began = time.monotonic()
        await self.setup(results)
        results.versions.update({name: version(name) for name in ("psycopg", "APScheduler")},
                                postgresql=await asyncio.to_thread(self.db.server_version))
        results.setup_s = time.monotonic() - began
        due = await self.liaison_burst(results)
        await self.floor_burst(results, due)
        results.elapsed_s = time.monotonic() - results.started
        return results


# --- report ---------------------------------------------------------------------------------------


HEADER = ["1,000 messages due at one instant → sent", "n", "p50 s", "p99 s", "last s",
          "sender CPU s", "Synapse CPU s"]


def rows(results: Results) -> list[list[str]]:
    def row(label: str, burst: Burst, values: list[float], cpu: bool) -> list[str]:
        if not values:
            return [label, "0", "-", "-", "-", "-", "-"]
        return [label, str(len(values)), f"{tables.percentile(values, 50):.2f}",
                f"{tables.percentile(values, 99):.2f}", f"{max(values):.2f}",
                f"{burst.cpu_s:.1f}" if cpu else "", f"{burst.synapse_cpu_s:.1f}" if cpu else ""]

    liaison, floor = results.liaison, results.floor
    return [
        row("**Liaison: sent** (outbox.sent_at − due)", liaison, liaison.sent, True),
        row("&nbsp;&nbsp;written (outbox.created_at − due)", liaison, liaison.written, False),
        row("floor: bare nio, same messages, rooms, concurrency", floor, floor.sent, True),
        ["ratio Liaison / floor", "",
         _ratio(liaison.sent, floor.sent, 50), _ratio(liaison.sent, floor.sent, 99),
         f"{results.ratio:.2f}×", "", ""],
    ]


def _ratio(a: list[float], b: list[float], q: int) -> str:
    return f"{tables.percentile(a, q) / tables.percentile(b, q):.2f}×" if a and b else "-"


def targets(results: Results) -> list[tuple[str, str, bool]]:
    complete = not results.liaison.failed and not results.floor.failed
    return [(f"all {results.messages:,} sent within {RATIO_TARGET}× the floor's time (same run)",
             f"{results.ratio:.2f}× ({results.liaison.last:.1f} s / {results.floor.last:.1f} s)"
             + ("" if complete else f"; unsent: Liaison {results.liaison.failed}, floor "
                                    f"{results.floor.failed}"),
             results.ratio <= RATIO_TARGET and complete)]


def title(results: Results) -> str:
    return (f"{results.messages:,} follow-up steps due at one instant in {results.rooms:,} "
            f"encrypted patient rooms ({results.messages // results.rooms} each), "
            f"{results.clinicians} E2EE clinicians in teams of {TEAM}")


def notes(results: Results) -> str:
    liaison, floor = results.liaison, results.floor
    return (f"The bots process had started {results.started_before_due_s:.0f} s before the due "
            f"time. Other processes used {liaison.other_load:.0f} % of a core during Liaison's "
            f"burst and {floor.other_load:.0f} % during the floor's (the machine is shared with "
            "other work: the ratio, measured in the same run, is what counts). The floor's CPU "
            "is its whole process (login, first sync, warm-up included).")


def print_report(results: Results, args: argparse.Namespace) -> None:
    def plain(rs: list[list[str]]) -> list[list[str]]:
        return [[c.replace("&nbsp;", " ").replace("**", "") for c in r] for r in rs]

    print()
    print(f"{title(results)} (run: {results.elapsed_s / 60:.1f} min, setup "
          f"{results.setup_s:.0f} s)")
    print(tables.text_table(HEADER, plain(rows(results))))
    print(f"  {notes(results)}")
    print("Targets:")
    for name, value, ok in targets(results):
        print(f"  {name:48} {value:>28}  {tables.verdict(ok)}")
    print()


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.burst"
        f"{''.join(' ' + a for a in report.shown_argv())}` (the run took "
        f"{results.elapsed_s / 60:.1f} min, {results.setup_s:.0f} s of it setup). "
        f"{title(results)}.", "",
        f"- Machine: {report.machine()}, shared with other work. Synapse (one process, SQLite), "
        "PostgreSQL, the bots, the floor and the benchmark all on it, over 127.0.0.1.",
        f"- Versions: Python {v['python']}, PostgreSQL {v.get('postgresql', '?')}, Synapse "
        f"{v['matrix-synapse']}, matrix-nio {v['matrix-nio']}, SQLAlchemy {v['SQLAlchemy']}, "
        f"psycopg {v['psycopg']}. Liaison code: commit {v.get('code', '?')}.",
        "- Liaison: the bots process (bench/run_liaison.py, `bots: [careteam, discharge, "
        "followup]`, PostgreSQL) with a follow-up plan per room and its steps 4, 5, 6, 8 pending, "
        "all due at one instant; from that instant until each message's `outbox.sent_at` (the "
        "homeserver's answer). Floor: bench/send_floor.py, a second device of the bot's account "
        "(bare nio, SQLite crypto store, no trust decisions, no database), sends the same "
        "messages (the outbox's contents) into the same rooms, a room's in order and rooms in "
        "parallel as the sender does, after one warm-up message per room (Olm sessions set up, "
        "as the bot's welcome messages did), its megolm sessions then dropped: each room's "
        "first message shares a new one, as the restarted bots process does.", "",
        tables.md_table(HEADER, rows(results)), "",
        notes(results), "",
        *tables.targets_md(targets(results)), "",
        report.rerun("burst", "after the other benchmarks"), "",
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("burst", __doc__)
    parser.add_argument("--rooms", type=int, default=250, help="patient rooms (250)")
    parser.add_argument("--per-room", type=int, default=len(PER_ROOM),
                        choices=range(1, len(PER_ROOM) + 1),
                        help=f"steps due per room ({len(PER_ROOM)})")
    parser.add_argument("--clinicians", type=int, default=6,
                        help="E2EE clinicians, in teams of three across the rooms (6)")
    parser.add_argument("--lead", type=float, default=40,
                        help="the steps are due this many s after the spawn (40)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="setup: rooms opened through the API in flight (8)")
    parser.add_argument("--start-timeout", type=float, default=300,
                        help="a start not done within this many seconds fails (300)")
    parser.add_argument("--fire-timeout", type=float, default=300,
                        help="stop waiting for the messages this many s after the due time (300)")
    parser.add_argument("--database", default="liaison_bench_burst",
                        help="the database created, then dropped (liaison_bench_burst)")
    harness.common_args(parser, timeout=3600)
    parser.set_defaults(trace=False, team=TEAM)
    args = parser.parse_args(argv)
    if args.clinicians < TEAM or args.rooms < 1:
        parser.error(f"need --clinicians ≥ {TEAM} and --rooms ≥ 1")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, BurstBench, print_report, markdown, SECTION, quiet=True))
