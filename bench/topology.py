"""Synapse's worker topology against the single process, side by side, under the same load.

    python -m bench.topology [--clinicians 50] [--rooms 2000] [--lanes 100] [--phase 60] ...

Two homeservers on 127.0.0.1, both on this machine's PostgreSQL (a database each, dropped at the
end) so that only the topology differs:

- single:  one Synapse process (the dev template, its database switched to PostgreSQL);
- workers: the production topology (bots/synapseconf.py WORKERS: the main process, two client
           readers, the event and device writers, media, pusher, background, federation sender)
           behind nginx, with this machine's Redis.

On each, the Liaison bots process (bench/run_liaison.py: the runtime and its built-in commands, its
own database on PostgreSQL) and `--clinicians` real E2EE clinicians (bots.devstack.clinician:
cross-signed matrix-nio devices, long-polling sync) across `--rooms` encrypted patient rooms: each
room made by one clinician with a colleague (the next clinician) and the bot in it, so every
message reaches two other devices. A warm-up command in every room shares the room keys first.

The load is closed-loop: `--lanes` lanes per side, each going round its share of the rooms; in a
room, the clinician first writes a plain message (as a care team does), then a command (`!ping`)
and waits for the bot's answer, decrypted. Messages counted are every one written into the rooms
(notes, commands, answers); an answer's time runs from just before the command's send to its
decryption by the clinician's sync. The two sides take turns (`--rounds` rounds of `--phase`
seconds each, the order alternating), the other side idle meanwhile, so drift hits both alike.

During each phase: the CPU of every process (Synapse's, nginx, PostgreSQL's backends, Redis, the
bots, this driver) in % of one core, the whole machine's busy %, and each process's memory at
the end (PSS: shared pages split among the processes sharing them). The clinicians' nio store is
in memory and answers trust from the device (LoadStore): the load generator must not be what
saturates. Target (issue 17): the workers carry at least 1.5x the single process's
sustained commands/s on this machine, with an answer p99 no worse. Figures printed and written to
docs/PERFORMANCE.md (section "Scale: ...") unless `--no-doc`. `make bench` runs it last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg
import yaml
from nio.store import SqliteMemoryStore

from bench.lib import harness, report, tables
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import (
    DevHomeserver,
    WorkerHomeserver,
    drop_database,
    ensure_database,
    free_port,
)
from bots.runtime.cryptostore import CryptoStore
from bots.runtime.vault import Vault
from bots.synapseconf import Process

SECTION = "## Scale: the worker topology against the single process"
TARGET = 1.5  # workers / single, sustained commands/s
PG = "postgresql://postgres@127.0.0.1:5432"


@dataclass
class PostgresSingle(harness.BenchHomeserver):
    """The single process, its database moved to PostgreSQL (the template's single topology is
    SQLite, the laptop's): the comparison is then the topology alone."""

    database_url: str = ""

    def render(self) -> list[Process]:
        ensure_database(self.database_url)
        processes = super().render()
        use_postgres(self.config_path, self.database_url)
        return processes


def use_postgres(config_path: Path, url: str) -> None:
    """The rendered single-process configuration, on PostgreSQL (as the workers template)."""
    parts = urlsplit(url)
    config = yaml.safe_load(config_path.read_text())
    config["database"] = {"name": "psycopg2", "args": {
        "user": parts.username, "dbname": parts.path.strip("/"), "host": parts.hostname,
        "port": parts.port, "cp_min": 5, "cp_max": 10}}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


@dataclass
class BenchWorkers(WorkerHomeserver):
    """The production topology with relaxed limits, each process's connection pool at 5 (from
    10): this machine's PostgreSQL takes 100 connections, and nine processes of 10 plus the
    single side's would take them all."""

    def render(self) -> list[Process]:
        processes = super().render()
        harness.relax_room_limits(self.config_path)
        config = yaml.safe_load(self.config_path.read_text())
        config["database"]["args"] |= {"cp_min": 2, "cp_max": 5}
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return processes


class LoadStore(CryptoStore):
    """The clinicians' nio store: the bots' own (bots/runtime/cryptostore.py: no database query
    per decrypted message, nor per sync), in memory. With nio's SqliteStore those queries made
    the clinicians the busiest process of a phase, which would have capped the load before
    Synapse did. (In memory: nio builds its SqliteMemoryStore only if it is that very class.)"""

    _create_database = SqliteMemoryStore._create_database


@dataclass
class Room:
    room_id: str
    owner: Clinician
    colleague: Clinician


@dataclass
class Phase:
    round: int
    wall_s: float = 0.0
    commands: int = 0  # answered within the phase
    notes: int = 0
    trips: list[harness.Trip] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu_percent: dict[str, float] = field(default_factory=dict)  # of one core, by process
    pss_mib: dict[str, float] = field(default_factory=dict)
    machine_busy_percent: float = 0.0  # of all the machine's cores

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.wall_s if self.wall_s else 0.0

    @property
    def messages_per_s(self) -> float:
        # a note, a command and its answer per answered command
        return (self.notes + 2 * self.commands) / self.wall_s if self.wall_s else 0.0


@dataclass
class Side:
    key: str
    hs: DevHomeserver
    synapse_db: str
    bot_db: str
    bot_id: str = ""
    bot: harness.BotProcess | None = None
    clinicians: list[Clinician] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    replies: harness.Replies = field(default_factory=harness.Replies)
    phases: list[Phase] = field(default_factory=list)
    setup_s: dict[str, float] = field(default_factory=dict)
    warm_failures: Counter[str] = field(default_factory=Counter)

    @property
    def trips(self) -> list[float]:
        return [t.ms for p in self.phases for t in p.trips if t.ms is not None]

    @property
    def commands_per_s(self) -> float:
        wall = sum(p.wall_s for p in self.phases)
        return sum(p.commands for p in self.phases) / wall if wall else 0.0

    @property
    def messages_per_s(self) -> float:
        wall = sum(p.wall_s for p in self.phases)
        return sum(p.messages_per_s * p.wall_s for p in self.phases) / wall if wall else 0.0


@dataclass
class Results:
    sides: list[Side]
    clinicians: int
    rooms: int
    lanes: int
    phase_s: float
    versions: dict[str, str] = field(default_factory=dict)
    bot_handler_ms: dict[str, list[float]] = field(default_factory=dict)


class ProcessCpu:
    """CPU seconds of named process groups over a phase (PostgreSQL's backends come and go:
    counted while alive) and their memory at the end."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = {name: self._members(pids) for name, pids in groups.items()}
        self.before = {name: self._cpu(procs) for name, procs in self.groups.items()}
        self.started = time.monotonic()

    @staticmethod
    def _members(pids: list[int]) -> list[psutil.Process]:
        members = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                members.append(psutil.Process(pid))
        return members

    @staticmethod
    def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
        seconds = {}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                seconds[proc.pid] = times.user + times.system
        return seconds

    def percent(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        out = {}
        for name, procs in self.groups.items():
            now = self._cpu(procs)
            used = sum(now[pid] - self.before[name].get(pid, 0.0) for pid in now)
            out[name] = 100 * used / wall
        return out

    def pss_mib(self) -> dict[str, float]:
        """Proportional set size: memory shared between processes (PostgreSQL's buffers, the
        Python libraries of forked processes) split among them, so a group's figures add up."""
        out = {}
        for name, procs in self.groups.items():
            total = 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_full_info().pss
            out[name] = total / 2**20
        return out


def postgres_pids(database: str = "") -> list[int]:
    """PostgreSQL's backends serving `database` (their title names it), or with "" its own
    processes (WAL writer, checkpointer...) that serve none."""
    pids = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] != "postgres":
            continue
        title = " ".join(proc.info["cmdline"] or ())
        if (f" {database} " in title) if database else \
                not any(f" {db} " in title for db in ("postgres", "liaison", "test")):
            pids.append(proc.pid)
    return pids


def redis_pids() -> list[int]:
    return [p.pid for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "redis-server" and ":6379" in " ".join(p.info["cmdline"] or ())]


class Bench(harness.Stack):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        tag = secrets.token_hex(3)
        single_db = f"{PG}/liaison_bench_single_{tag}"
        workers_db = f"{PG}/liaison_bench_workers_{tag}"
        self.sides = [
            Side("single", PostgresSingle(
                self.tmp / "single", port=free_port(), relaxed_rate_limits=True,
                log_level="WARNING", bots=harness.BENCH_BOTS, database_url=single_db),
                single_db,
                f"postgresql+psycopg://postgres@127.0.0.1:5432/liaison_bench_bots_single_{tag}"),
            Side("workers", BenchWorkers(
                self.tmp / "workers", port=free_port(), relaxed_rate_limits=True,
                log_level="WARNING", bots=harness.BENCH_BOTS, database_url=workers_db),
                workers_db,
                f"postgresql+psycopg://postgres@127.0.0.1:5432/liaison_bench_bots_workers_{tag}"),
        ]
        self.databases = [db for s in self.sides for db in (s.synapse_db, s.bot_db)]

    # --- set-up ---------------------------------------------------------------------------------

    async def start_side(self, side: Side) -> None:
        args = self.args
        started = time.monotonic()
        harness.log(f"{side.key}: starting Synapse on {side.hs.url}")
        await side.hs.start(timeout=180)
        password = secrets.token_urlsafe(16)
        side.bot_id = await side.hs.register("liaison", password)
        ensure_database(side.bot_db)
        spec = self.write_spec(f"liaison-{side.key}", {
            "homeserver": side.hs.url, "server_name": side.hs.server_name,
            "user_id": side.bot_id, "password": password, "database": side.bot_db,
            "data_dir": str(self.tmp / f"liaison-{side.key}"), "data_key": Vault.new_key(),
            "log_level": "INFO"})
        side.bot = self.spawn(f"liaison-{side.key}",
                              [sys.executable, "-m", "bench.run_liaison", str(spec)],
                              Path.cwd())
        side.clinicians = await gather_limited(
            [self.clinician_on(side, f"doc{k}") for k in range(args.clinicians)], 10)
        side.setup_s["start and log in"] = time.monotonic() - started
        harness.log(f"{side.key}: {len(side.clinicians)} clinicians in; making {args.rooms} rooms")

        started = time.monotonic()
        n = len(side.clinicians)
        plan = [(side.clinicians[j % n], side.clinicians[(j + 1) % n]) for j in range(args.rooms)]

        async def make(owner: Clinician, colleague: Clinician, j: int) -> Room:
            room_id = await harness.create_encrypted_room(
                owner, [colleague.user_id, side.bot_id], f"patient {j}")
            return Room(room_id, owner, colleague)

        # A few at a time: Synapse makes rooms one CPU's worth at a time anyway, and a hundred
        # queued requests outlive nio's 60 s timeout, which it then retries (a second room).
        side.rooms = await gather_limited(
            [make(owner, colleague, j) for j, (owner, colleague) in enumerate(plan)],
            args.setup_concurrency)
        assert side.bot is not None
        bot = side.bot
        await gather_limited([
            harness.wait_joined(room.owner, room.room_id, bot, user, 600)
            for room in side.rooms for user in (side.bot_id, room.colleague.user_id)], 4 * n)
        await asyncio.gather(*(harness.knows_devices(doc, other)
                               for doc in side.clinicians
                               for other in (side.bot_id, *self.colleagues_of(side, doc))))
        # Olm sessions with every device first, one claim per clinician: a clinician sharing
        # room keys in several rooms at once would claim concurrently and skip devices.
        await asyncio.gather(*(
            claim_sessions(doc, [side.bot_id, *self.colleagues_of(side, doc)])
            for doc in side.clinicians))
        side.setup_s["rooms made and joined"] = time.monotonic() - started
        harness.log(f"{side.key}: {len(side.rooms)} rooms joined in "
                    f"{side.setup_s['rooms made and joined']:.0f} s; warm-up: a command each")
        started = time.monotonic()
        warm = await gather_limited([
            harness.round_trip(room.owner, side.replies, room.room_id, side.bot_id,
                               "!ping warm", reply_to=True, timeout=30)
            for room in side.rooms], args.lanes)
        side.warm_failures.update(t.error for t in warm if t.error)
        side.setup_s["warm-up"] = time.monotonic() - started
        harness.log(f"{side.key}: warm-up done in {side.setup_s['warm-up']:.0f} s, "
                    f"{sum(side.warm_failures.values())} failures")

    @staticmethod
    def colleagues_of(side: Side, doc: Clinician) -> set[str]:
        return {r.colleague.user_id for r in side.rooms if r.owner is doc}

    async def clinician_on(self, side: Side, localpart: str) -> Clinician:
        password = secrets.token_urlsafe(16)
        user_id = await side.hs.register(localpart, password)
        folder = self.tmp / side.key / "clients"
        doc = Clinician(side.hs.url, user_id, password, folder / localpart,
                        key_file=folder / f"{localpart}.xsign", store=LoadStore)
        side.replies.attach(doc)
        await doc.login()
        self.clients.append(doc)
        return doc

    # --- load -----------------------------------------------------------------------------------

    def groups(self, side: Side) -> dict[str, list[int]]:
        assert side.bot is not None
        groups = {f"synapse {name}": [pid] for name, pid in side.hs.pids().items()}
        if "synapse nginx" in groups:  # its workers do the proxying
            nginx = psutil.Process(groups.pop("synapse nginx")[0])
            groups["nginx"] = [nginx.pid, *(c.pid for c in nginx.children())]
        synapse_db = urlsplit(side.synapse_db).path.strip("/")
        bots_db = urlsplit(side.bot_db).path.strip("/")
        return groups | {"postgresql (Synapse's)": postgres_pids(synapse_db),
                         "postgresql (the bots')": postgres_pids(bots_db),
                         "postgresql (its own processes)": postgres_pids(), "redis": redis_pids(),
                         "bots": [side.bot.pid], "clinicians (this driver)": [os.getpid()]}

    async def phase(self, side: Side, round_no: int) -> Phase:
        args = self.args
        phase = Phase(round_no)
        rooms = side.rooms[:]
        random.Random(round_no).shuffle(rooms)
        lanes = [rooms[i::args.lanes] for i in range(args.lanes)]
        assert side.bot is not None
        side.bot.check()
        cpu = ProcessCpu(self.groups(side))
        busy = harness.OtherLoad([])  # no pid excluded: the whole machine
        started = time.perf_counter()
        end = started + args.phase

        async def lane(i: int, own: list[Room]) -> None:
            k = 0
            while time.perf_counter() < end:
                room = own[k % len(own)]
                k += 1
                try:
                    await room.owner.send(room.room_id, f"note {round_no}.{i}.{k}")
                except AssertionError as exc:
                    phase.failures[f"note refused: {exc}"[:80]] += 1
                    continue
                if time.perf_counter() < end:
                    phase.notes += 1
                trip = await harness.round_trip(
                    room.owner, side.replies, room.room_id, side.bot_id,
                    f"!ping {round_no}.{i}.{k}", reply_to=True, timeout=30)
                phase.trips.append(trip)
                if trip.error:
                    phase.failures[trip.error] += 1
                elif trip.t1 <= end:
                    phase.commands += 1

        running = asyncio.gather(*(lane(i, own) for i, own in enumerate(lanes) if own))
        await asyncio.sleep(args.phase)  # the figures of the phase itself, not of its tail
        phase.wall_s = args.phase
        phase.cpu_percent = cpu.percent()
        phase.machine_busy_percent = busy.percent() / psutil.cpu_count()
        phase.pss_mib = cpu.pss_mib()
        await running
        harness.log(f"{side.key} round {round_no}: {phase.commands_per_s:.1f} commands/s, "
                    f"{phase.messages_per_s:.1f} messages/s, p50 {p(phase, 50):.0f} ms, "
                    f"p99 {p(phase, 99):.0f} ms, failures {dict(phase.failures)}, "
                    f"machine {phase.machine_busy_percent:.0f} %")
        return phase

    async def run(self) -> Results:
        args = self.args
        results = Results(self.sides, args.clinicians, args.rooms, args.lanes, args.phase)
        results.versions = report.versions(None)
        synapse_dbs = [side.synapse_db for side in self.sides]
        analyzing = asyncio.create_task(analyze_every(synapse_dbs, 30))
        try:
            # Both set up at once (each Synapse on a core of its own, most of the time): the
            # measured phases that follow take turns.
            await asyncio.gather(*(self.start_side(side) for side in self.sides))
        finally:
            analyzing.cancel()
        for round_no in range(args.rounds):
            order = self.sides if round_no % 2 == 0 else self.sides[::-1]
            for side in order:
                for url in (side.synapse_db, side.bot_db.replace("+psycopg", "")):
                    await analyze(url)
                await asyncio.sleep(args.settle)
                side.phases.append(await self.phase(side, round_no))
        for side in self.sides:
            assert side.bot is not None
            results.bot_handler_ms[side.key] = harness.handler_times(side.bot.log_file)
        return results

    def stop_homeservers(self) -> None:
        """Both sides' (after their bots and clients: harness.Stack.close), then their
        databases."""
        for side in self.sides:
            side.hs.stop()
        for url in self.databases:
            with contextlib.suppress(Exception):
                drop_database(url.replace("+psycopg", ""))


async def analyze(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("ANALYZE")


async def analyze_every(urls: list[str], period: float) -> None:
    """What autovacuum would do (it is off on this machine's PostgreSQL): without fresh
    statistics the planner runs Synapse's recursive auth-chain and state queries as if the tables
    were empty, and a room took seconds to create by the thousandth (queries of 0.5-1 s)."""
    while True:
        await asyncio.sleep(period)
        for url in urls:
            await analyze(url)


async def claim_sessions(doc: Clinician, users: list[str], timeout: float = 120) -> None:
    """An Olm session with every device of `users`. A device hands out the one-time keys it
    uploaded (nio has no fallback key) and tops them up after its next sync: fifty clinicians
    claiming from the bot at once exhaust them, so the unlucky ones claim again a little later."""
    olm = doc.client.olm
    assert olm is not None
    deadline = time.monotonic() + timeout
    while missing := olm.get_missing_sessions(users):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{doc.user_id} has no Olm session with {dict(missing)}")
        await doc.client.keys_claim(dict(missing))
        if olm.get_missing_sessions(users):
            await asyncio.sleep(random.uniform(0.5, 2))


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    """`asyncio.gather` with at most `limit` running at once, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def p(phase: Phase, q: int) -> float:
    return tables.percentile([t.ms for t in phase.trips if t.ms is not None], q)


# --- report ---------------------------------------------------------------------------------------


def side_rows(results: Results) -> list[list[str]]:
    single, workers = results.sides

    def row(label: str, value: Any, fmt: str) -> list[str]:
        return [label, *(format(value(s), fmt) for s in (single, workers))]

    return [
        row("commands/s (sustained, answered)", lambda s: s.commands_per_s, ".1f"),
        row("messages/s (notes + commands + answers)", lambda s: s.messages_per_s, ".1f"),
        row("answer p50 (ms)", lambda s: tables.percentile(s.trips, 50), ".0f"),
        row("answer p99 (ms)", lambda s: tables.percentile(s.trips, 99), ".0f"),
        row("failures", lambda s: sum(sum(ph.failures.values()) for ph in s.phases), "d"),
        row("bot handler p50 (ms, claim to commit)",
            lambda s: tables.percentile(results.bot_handler_ms.get(s.key, []), 50), ".1f"),
        row("machine busy (% of all cores)", lambda s: mean(
            [ph.machine_busy_percent for ph in s.phases]), ".0f"),
    ]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def process_rows(side: Side) -> list[list[str]]:
    names = sorted({n for ph in side.phases for n in ph.cpu_percent},
                   key=lambda n: -mean([ph.cpu_percent.get(n, 0.0) for ph in side.phases]))
    return [[name, f"{mean([ph.cpu_percent.get(name, 0.0) for ph in side.phases]):.0f}",
             f"{max(ph.pss_mib.get(name, 0.0) for ph in side.phases):.0f}"] for name in names]


def round_rows(results: Results) -> list[list[str]]:
    rows = []
    for side in results.sides:
        for ph in side.phases:
            rows.append([f"{side.key} round {ph.round + 1}", f"{ph.commands_per_s:.1f}",
                         f"{ph.messages_per_s:.1f}", f"{p(ph, 50):.0f}", f"{p(ph, 99):.0f}",
                         str(sum(ph.failures.values())), f"{ph.machine_busy_percent:.0f}"])
    return rows


ROUND_HEADER = ["phase", "commands/s", "messages/s", "p50 ms", "p99 ms", "failures",
                "machine %"]


def ratios(results: Results) -> tuple[float, float]:
    single, workers = results.sides
    load = workers.commands_per_s / single.commands_per_s if single.commands_per_s else 0.0
    p99 = tables.percentile(workers.trips, 99) / tables.percentile(single.trips, 99)
    return load, p99


def show(results: Results, args: argparse.Namespace) -> None:
    print(tables.text_table(["", "single", "workers"], side_rows(results)))
    print()
    print(tables.text_table(ROUND_HEADER, round_rows(results)))
    for side in results.sides:
        print(f"\n{side.key}: setup " + ", ".join(f"{k} {v:.0f} s" for k, v in side.setup_s.items())
              + f"; warm-up failures {dict(side.warm_failures)}")
        print(tables.text_table(["process", "CPU % of a core", "PSS MiB"], process_rows(side)))
    load, p99 = ratios(results)
    print(f"\nworkers / single: {load:.2f}x commands/s (target >= {TARGET}x: "
          f"{tables.verdict(load >= TARGET)}), p99 {p99:.2f}x (target <= 1: "
          f"{tables.verdict(p99 <= 1)})")


def markdown(results: Results, args: argparse.Namespace) -> str:
    load, p99 = ratios(results)
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        SECTION, "",
        f"Measured {when} with `python -m bench.topology {' '.join(report.shown_argv())}`. "
        f"{results.clinicians} E2EE clinicians per side across {results.rooms} encrypted patient "
        f"rooms (a clinician, a colleague and the Liaison bot in each), {results.lanes} lanes in "
        f"closed loop (a note, then `!ping` and its answer), {len(results.sides[0].phases)} "
        f"phases of {results.phase_s:.0f} s per side, alternating. Both Synapses on this "
        "machine's PostgreSQL; the workers with its Redis.", "",
        f"Machine: {report.machine()}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in results.versions.items()) + ".", "",
        tables.md_table(["", "single process", "workers"], side_rows(results)), "",
        *tables.targets_md([
            (f"workers ≥ {TARGET}× single (commands/s)", f"{load:.2f}×", load >= TARGET),
            ("answer p99 no worse (workers / single)", f"{p99:.2f}×", p99 <= 1)]), "",
        tables.md_table(ROUND_HEADER, round_rows(results)), "",
    ]
    for side in results.sides:
        lines += [f"Where the CPU goes, {side.key} (mean of its phases; memory: PSS at the end "
                  "of a phase):", "",
                  tables.md_table(["process", "CPU % of one core", "PSS MiB"],
                                  process_rows(side)), "",
                  f"Set-up ({side.key}): " + ", ".join(
                      f"{k} {v:.0f} s" for k, v in side.setup_s.items()) + ".", ""]
    lines.append(report.rerun("topology", "its last step, about an hour: the set-up makes 4,000 rooms"))
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("topology", __doc__ or "")
    parser.add_argument("--clinicians", type=int, default=50, help="per side (50)")
    parser.add_argument("--rooms", type=int, default=2000, help="per side (2000)")
    parser.add_argument("--lanes", type=int, default=100,
                        help="commands in flight per side, closed loop (100)")
    parser.add_argument("--phase", type=float, default=60, help="seconds per phase (60)")
    parser.add_argument("--rounds", type=int, default=2, help="phases per side (2)")
    parser.add_argument("--setup-concurrency", type=int, default=12,
                        help="rooms made at once per side during the set-up (12)")
    parser.add_argument("--settle", type=float, default=5,
                        help="seconds of rest before each phase (5)")
    harness.common_args(parser, timeout=5400)  # the 05:16 run took 53 min
    parser.set_defaults(trace=False)  # harness.Stack.spawn reads it: no probes in this benchmark
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(harness.cli(parse_args, Bench, show, markdown, SECTION, quiet=True))
