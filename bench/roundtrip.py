"""E2EE command round trip and sustained throughput of the Liaison runtime, on one real Synapse.

    python -m bench.roundtrip [--n 200] [--warmup 10] [--commands 1000] [--rooms 50] ...
    make bench

One Synapse (bots.devstack.homeserver.DevHomeserver, SQLite, relaxed rate limits) on 127.0.0.1 in a temp
dir, and three bots, each in its own process:

- floor:   bench/echo_floor.py, the least an E2EE matrix-nio bot can do to answer `!ping x`;
- Liaison: the runtime (bench/run_liaison.py → bots.app.run_bots), `!ping x` → "pong x";
- peer:    matrix-reminder-bot 0.4.0 from PyPI (bench/peer.py, its own venv), `!remindme in 1 day;
           text` → one SQLite row, an APScheduler job and "OK, I will remind you on ...".

Phase 1 (latency): one clinician (bots.devstack.clinician.Clinician: E2EE, cross-signed) in one encrypted
room with each bot. Warm-up, then `--n` commands per bot, interleaved round-robin (one command to
each bot per iteration, the order rotating) so drift hits all three alike. A round trip runs from
just before room_send to the moment the clinician's sync hands over the bot's decrypted answer.

Phase 2 (throughput): `--clinicians` clinicians, each in `--rooms / --clinicians` encrypted rooms
of its own with the Liaison bot (one clinician + the bot per room), every room sending its next
command as soon as the previous one is answered (closed loop, one command in flight per room), for
`--commands` commands in all: commands/s over the wall time, and the bot process's peak RSS. Then
the same load against the floor, as the reference for what this Synapse allows.

`--trace` (which `make bench` passes) adds timing probes inside the floor and Liaison processes
(bench/trace.py, a few microseconds per command) and prints where a round trip's time goes.

Everything stops by itself (an overall `--timeout`); the figures are printed and written to
docs/PERFORMANCE.md (section "Foundation: E2EE command round trip").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
import yaml
from nio import Event, MegolmEvent, RoomCreateResponse, RoomMessageNotice, SyncResponse

from bench import peer
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import DevHomeserver, free_port
from bots.runtime.vault import Vault
from bots.synapseconf import Process

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "PERFORMANCE.md"
SECTION = "## Foundation: E2EE command round trip"
P50_VS_FLOOR, P99_VS_FLOOR = 1.10, 1.30


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- homeserver and processes ---------------------------------------------------------------------


class BenchHomeserver(DevHomeserver):
    """The dev homeserver with relaxed rate limits, plus the two limits the template leaves at
    Synapse's defaults that 10 rooms per clinician would hit: room creation (10, then one a minute)
    and invites sent (10, then 0.3/s)."""

    def render(self) -> list[Process]:
        processes = super().render()
        config = yaml.safe_load(self.config_path.read_text())
        relaxed = {"per_second": 1000, "burst_count": 1000}
        config["rc_room_creation"] = relaxed
        config.setdefault("rc_invites", {})["per_issuer"] = relaxed
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return processes


@dataclass
class BotProcess:
    name: str
    argv: list[str]
    cwd: Path
    log_file: Path
    trace_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        if self.trace_file:
            env["BENCH_TRACE_FILE"] = str(self.trace_file)
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the {self.name} bot process exited; end of its log:\n{tail}")

    def stop(self, timeout: float = 15) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class OtherLoad:
    """CPU used on this machine by processes other than ours (Synapse, the bots, this one) while
    a phase runs, in % of one core: anything well above a few % means the figures are disturbed."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.busy = self._busy()
        self.ours = self._ours()

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)

    def _ours(self) -> float:
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                total += cpu_seconds(pid)
        return total

    def percent(self) -> float:
        wall = time.monotonic() - self.started
        other = (self._busy() - self.busy) - (self._ours() - self.ours)
        return max(0.0, 100 * other / wall) if wall > 0 else 0.0


def vm_hwm_kib(pid: int) -> int:
    """The process's peak resident set size so far (kernel high-water mark)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's RSS every `period` seconds, keeping the maximum."""

    def __init__(self, pid: int, period: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.period = period
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        with contextlib.suppress(psutil.Error):
            while True:
                self.peak = max(self.peak, self.process.memory_info().rss)
                await asyncio.sleep(self.period)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# --- round trips ----------------------------------------------------------------------------------


class Replies:
    """Stamps the moment a clinician's sync hands over a bot's message in a watched room.

    Attached before the Clinician logs in, so it runs before the Clinician's own sync callback.
    nio decrypts in receive_response, before response callbacks run: what arrives here is the
    decrypted event, or a MegolmEvent if it could not be decrypted."""

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[str, asyncio.Future[tuple[float, Event]]]] = {}

    def attach(self, doc: Clinician) -> None:
        doc.client.add_response_callback(self._on_sync, SyncResponse)  # type: ignore[arg-type]

    async def _on_sync(self, resp: SyncResponse) -> None:
        now = time.perf_counter()
        for room_id, info in resp.rooms.join.items():
            entry = self.waiting.get(room_id)
            if entry is None:
                continue
            bot, future = entry
            for ev in info.timeline.events:
                if ev.sender == bot:
                    if not future.done():
                        future.set_result((now, ev))
                    del self.waiting[room_id]
                    break

    def expect(self, room_id: str, bot: str) -> asyncio.Future[tuple[float, Event]]:
        future: asyncio.Future[tuple[float, Event]] = asyncio.get_running_loop().create_future()
        self.waiting[room_id] = (bot, future)
        return future


@dataclass
class Trip:
    """One command: `ms` or `error`; perf_counter stamps: send started, send answered, answer in."""

    ms: float | None = None
    error: str | None = None
    event_id: str | None = None
    t0: float = 0.0
    t_sent: float = 0.0
    t1: float = 0.0


async def round_trip(doc: Clinician, replies: Replies, room_id: str, bot: str, body: str, *,
                     reply_to: bool, timeout: float) -> Trip:
    """Send one command and wait for the bot's answer. One command in flight per room."""
    future = replies.expect(room_id, bot)
    trip = Trip(t0=time.perf_counter())
    try:
        trip.event_id = await doc.send(room_id, body)
        trip.t_sent = time.perf_counter()
        trip.t1, ev = await asyncio.wait_for(future, timeout)
    except TimeoutError:
        # Let a late answer arrive before the next command, so it is not taken for that one's.
        replies.waiting.pop(room_id, None)
        late = replies.expect(room_id, bot)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(late, timeout)
        replies.waiting.pop(room_id, None)
        trip.error = "timeout"
        return trip
    except AssertionError as exc:  # Clinician.send: the homeserver refused the message
        replies.waiting.pop(room_id, None)
        trip.error = f"send failed: {exc}"
        return trip
    relates = ev.source.get("content", {}).get("m.relates_to", {})
    if isinstance(ev, MegolmEvent):
        trip.error = "answer undecryptable"
    elif not isinstance(ev, RoomMessageNotice):
        trip.error = f"unexpected {type(ev).__name__}"
    elif reply_to and relates.get("m.in_reply_to", {}).get("event_id") != trip.event_id:
        trip.error = "answer to another event"
    else:
        trip.ms = (trip.t1 - trip.t0) * 1000
    return trip


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Target:
    key: str
    label: str
    user_id: str
    process: BotProcess
    command: Callable[[str], str]
    reply_to: bool
    room_id: str = ""
    trips: list[Trip] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)


async def create_encrypted_room(doc: Clinician, invite: str, name: str) -> str:
    resp = await doc.client.room_create(
        name=name, invite=[invite],
        initial_state=[{"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    if not isinstance(resp, RoomCreateResponse):
        raise RuntimeError(f"room creation failed: {resp}")
    return resp.room_id


async def knows_devices(doc: Clinician, user_id: str, timeout: float = 30) -> None:
    """Wait until the clinician's nio has the bot's device (its sync loop queries keys after the
    join); sending earlier would leave the bot without the room key."""
    deadline = time.monotonic() + timeout
    while not list(doc.client.device_store.active_user_devices(user_id)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{doc.user_id} never learned the devices of {user_id}")
        if doc.client.should_query_keys:
            await doc.client.keys_query()
        await asyncio.sleep(0.1)


async def wait_joined(doc: Clinician, room_id: str, bot: Target | BotProcess, user_id: str,
                      timeout: float) -> None:
    process = bot.process if isinstance(bot, Target) else bot
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check()
        try:
            await doc.wait_joined(room_id, user_id, timeout=2)
            return
        except AssertionError:
            continue
    raise RuntimeError(f"{user_id} did not join {room_id} within {timeout:.0f} s")


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Results:
    n: int
    warmup: int
    targets: list[Target]
    warmup_failures: Counter[str]
    peer_error: str | None
    latency_wall_s: float = 0.0
    other_load_percent: float = 0.0
    throughput: dict[str, dict[str, Any]] = field(default_factory=dict)
    peak_rss_kib: dict[str, int] = field(default_factory=dict)
    handler_ms: list[float] = field(default_factory=list)
    breakdown: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    load_trips: list[Trip] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
        self.hs = BenchHomeserver(self.tmp, port=free_port(), relaxed_rate_limits=True,
                                  log_level="WARNING")
        self.processes: list[BotProcess] = []
        self.clients: list[Clinician] = []
        self.replies = Replies()

    def our_pids(self) -> list[int]:
        pids = [os.getpid(), *(p.pid for p in self.processes if p.proc)]
        return [*pids, self.hs.pid] if self.hs.pid else pids

    async def register(self, localpart: str) -> tuple[str, str]:
        password = secrets.token_urlsafe(16)
        return await self.hs.register(localpart, password), password

    async def clinician(self, localpart: str) -> Clinician:
        user_id, password = await self.register(localpart)
        doc = Clinician(self.hs.url, user_id, password, self.tmp / "clients" / localpart,
                        key_file=self.tmp / "clients" / f"{localpart}.xsign")
        self.replies.attach(doc)
        await doc.login()
        self.clients.append(doc)
        return doc

    def spawn(self, name: str, argv: list[str], cwd: Path, *, traced: bool = False) -> BotProcess:
        trace_file = self.tmp / f"{name}.trace.json" if traced and self.args.trace else None
        process = BotProcess(name, argv, cwd, self.tmp / f"{name}.log", trace_file)
        process.start()
        self.processes.append(process)
        return process

    def write_spec(self, name: str, spec: dict[str, str]) -> Path:
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(spec))
        path.chmod(0o600)
        return path

    async def start_bots(self, peer_python: Path | None) -> list[Target]:
        common = {"homeserver": self.hs.url, "server_name": self.hs.server_name}
        targets = []

        user_id, password = await self.register("floor")
        spec = self.write_spec("floor", {**common, "user_id": user_id, "password": password,
                                         "store_dir": str(self.tmp / "floor")})
        process = self.spawn("floor", [sys.executable, "-m", "bench.echo_floor", str(spec)], REPO,
                             traced=True)
        targets.append(Target("floor", "floor (bare nio echo)", user_id, process,
                              lambda tag: f"!ping {tag}", reply_to=True))

        user_id, password = await self.register("liaison")
        spec = self.write_spec("liaison", {
            **common, "user_id": user_id, "password": password,
            "data_dir": str(self.tmp / "liaison"), "data_key": Vault.new_key(),
            "log_level": "INFO"})
        process = self.spawn("liaison", [sys.executable, "-m", "bench.run_liaison", str(spec)],
                             REPO, traced=True)
        targets.append(Target("liaison", "Liaison (!ping)", user_id, process,
                              lambda tag: f"!ping {tag}", reply_to=True))

        if peer_python is not None:
            user_id, password = await self.register("reminder")
            config = peer.write_config(self.tmp / "peer", homeserver=self.hs.url,
                                       user_id=user_id, password=password)
            process = self.spawn("peer", peer.command(config), self.tmp / "peer")
            targets.append(Target("peer", f"peer (matrix-reminder-bot {peer.VERSION})", user_id,
                                  process, lambda tag: f"!remindme in 1 day; bench {tag}",
                                  reply_to=False))
        return targets

    async def latency(self, targets: list[Target], results: Results) -> None:
        args = self.args
        doc = await self.clinician("doc")
        for target in targets:
            target.room_id = await create_encrypted_room(doc, target.user_id, target.key)
        await asyncio.gather(*(wait_joined(doc, t.room_id, t, t.user_id, 180) for t in targets))
        await asyncio.gather(*(knows_devices(doc, t.user_id) for t in targets))
        log(f"rooms ready; warm-up: {args.warmup} commands per bot")
        for i in range(args.warmup):
            for target in targets:
                trip = await round_trip(doc, self.replies, target.room_id, target.user_id,
                                        target.command(f"w{i}"), reply_to=target.reply_to,
                                        timeout=60)
                if trip.error:
                    results.warmup_failures[f"{target.key}: {trip.error}"] += 1
        log(f"measuring: {args.n} commands per bot, interleaved")
        cpu_before = {t.key: cpu_seconds(t.process.pid) for t in targets}
        other = OtherLoad(self.our_pids())
        started = time.monotonic()
        for i in range(args.n):
            shift = i % len(targets)
            for target in targets[shift:] + targets[:shift]:
                trip = await round_trip(doc, self.replies, target.room_id, target.user_id,
                                        target.command(str(i)), reply_to=target.reply_to,
                                        timeout=30)
                target.trips.append(trip)
                if trip.error:
                    target.failures[trip.error] += 1
                else:
                    assert trip.ms is not None
                    target.samples.append(trip.ms)
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{args.n}: " + ", ".join(
                    f"{t.key} p50 {t.p50:.1f} ms" for t in targets))
        results.latency_wall_s = time.monotonic() - started
        results.other_load_percent = other.percent()
        for target in targets:
            target.cpu_s = cpu_seconds(target.process.pid) - cpu_before[target.key]

    async def throughput(self, bot: Target, nurses: list[Clinician],
                         results: Results) -> dict[str, Any]:
        """The closed-loop load against one bot: each nurse alone with it in rooms of its own."""
        args = self.args
        per_clinician = args.rooms // args.clinicians
        log(f"throughput, {bot.key}: {len(nurses)} clinicians x {per_clinician} rooms")

        async def rooms_of(nurse: Clinician) -> list[tuple[Clinician, str]]:
            return [(nurse, await create_encrypted_room(nurse, bot.user_id, f"{bot.key}{j}"))
                    for j in range(per_clinician)]

        rooms = [r for batch in await asyncio.gather(*(rooms_of(n) for n in nurses)) for r in batch]
        await asyncio.gather(*(wait_joined(nurse, room_id, bot, bot.user_id, 300)
                               for nurse, room_id in rooms))
        await asyncio.gather(*(knows_devices(nurse, bot.user_id) for nurse in nurses))
        log(f"{len(rooms)} rooms joined; warm-up: one command per room")
        warm = await asyncio.gather(*(
            round_trip(nurse, self.replies, room_id, bot.user_id, bot.command("warm"),
                       reply_to=bot.reply_to, timeout=60) for nurse, room_id in rooms))
        warm_failures = sum(1 for trip in warm if trip.error)

        quota = [args.commands // len(rooms) + (1 if i < args.commands % len(rooms) else 0)
                 for i in range(len(rooms))]
        trips: list[Trip] = []

        async def room_loop(nurse: Clinician, room_id: str, count: int) -> None:
            for k in range(count):
                trips.append(await round_trip(nurse, self.replies, room_id, bot.user_id,
                                              bot.command(f"t{k}"), reply_to=bot.reply_to,
                                              timeout=60))

        pids = {"synapse": self.hs.pid, bot.key: bot.process.pid, "bench": os.getpid()}
        cpu_before = {k: cpu_seconds(p) for k, p in pids.items() if p}
        rss_before = psutil.Process(bot.process.pid).memory_info().rss
        other = OtherLoad(self.our_pids())
        sampler = RssSampler(bot.process.pid)
        sampler.start()
        log(f"measuring: {args.commands} commands over {len(rooms)} rooms, one in flight per room")
        started = time.monotonic()
        try:
            await asyncio.gather(*(room_loop(nurse, room_id, count)
                                   for (nurse, room_id), count in zip(rooms, quota, strict=True)))
        finally:
            await sampler.stop()
        wall = time.monotonic() - started
        cpu = {k: (cpu_seconds(p) - cpu_before[k]) for k, p in pids.items() if p}
        samples = [t.ms for t in trips if t.ms is not None]
        if bot.key == "liaison":
            results.load_trips = trips
        return {
            "bot": bot.label, "clinicians": len(nurses), "rooms": len(rooms),
            "commands": args.commands, "answered": len(samples),
            "failures": dict(Counter(t.error for t in trips if t.error)),
            "warm_failures": warm_failures, "wall_s": wall,
            "per_s": len(samples) / wall if wall else 0.0,
            "p50": percentile(samples, 50), "p99": percentile(samples, 99),
            "rss_before": rss_before, "rss_sampled_max": sampler.peak,
            "vm_hwm_kib": vm_hwm_kib(bot.process.pid),
            "cpu_percent": {("bot" if k == bot.key else k): 100 * v / wall
                            for k, v in cpu.items()},
            "bot_cpu_ms_per_cmd": 1000 * cpu[bot.key] / max(1, len(samples)),
            "other_load_percent": other.percent(),
        }

    async def run(self) -> Results:
        args = self.args
        peer_python, peer_error = None, None
        if not args.no_peer:
            try:
                peer_python = await asyncio.to_thread(peer.ensure_venv)
            except (OSError, subprocess.SubprocessError) as exc:
                peer_error = f"matrix-reminder-bot could not be installed: {exc}"
                log(peer_error)
        log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        targets = await self.start_bots(peer_python)
        by_key = {t.key: t for t in targets}
        results = Results(args.n, args.warmup, targets, Counter(), peer_error)
        results.versions = versions(peer_python)
        await self.latency(targets, results)
        if args.commands > 0:
            nurses = [await self.clinician(f"nurse{k}") for k in range(args.clinicians)]
            for key in ("liaison", "floor") if args.floor_load else ("liaison",):
                results.throughput[key] = await self.throughput(by_key[key], nurses, results)
        results.handler_ms = handler_times(by_key["liaison"].process.log_file)
        results.peak_rss_kib = {t.key: vm_hwm_kib(t.process.pid) for t in targets}
        for target in targets:
            target.process.stop()  # the traced ones write their trace on the way out
            trace_file = target.process.trace_file
            if trace_file and trace_file.exists():
                trace = json.loads(trace_file.read_text())
                results.breakdown[target.key] = breakdown(target.trips, trace)
                if target.key == "liaison" and results.load_trips:
                    results.breakdown["liaison under load"] = breakdown(results.load_trips, trace)
        return results

    async def close(self) -> None:
        for doc in self.clients:
            with contextlib.suppress(Exception):
                await doc.close()
        for process in self.processes:
            process.stop()
        self.hs.stop()
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def handler_times(log_file: Path) -> list[float]:
    """The runtime's own "command handled" timings (ms, from claiming the inbox row to commit)."""
    values = []
    for line in log_file.read_text(errors="replace").splitlines():
        if '"command handled"' in line:
            with contextlib.suppress(ValueError, KeyError):
                values.append(float(json.loads(line)["ms"]))
    return values


def versions(peer_python: Path | None) -> dict[str, str]:
    found = {name: version(name) for name in
             ("matrix-synapse", "matrix-nio", "vodozemac", "SQLAlchemy", "aiosqlite")}
    found["python"] = platform.python_version()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, timeout=10,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bots"], cwd=REPO,
                               timeout=10, capture_output=True, text=True).stdout.strip()
        found["code"] = head + (" with uncommitted changes under bots/" if dirty else "")
    if peer_python is not None:
        out = subprocess.run(
            [str(peer_python), "-c", "import importlib.metadata as m; "
             "print(m.version('matrix-reminder-bot'), m.version('matrix-nio'))"],
            capture_output=True, text=True, timeout=60)
        if out.returncode == 0:
            bot, nio = out.stdout.split()
            found["peer"] = f"matrix-reminder-bot {bot} (matrix-nio {nio})"
    return found


# --- where the time goes (--trace) ---------------------------------------------------------------

# Stages of one round trip, on one clock (CLOCK_MONOTONIC) across the clinician and the bot.
STAGES = [
    ("clinician room_send returns (encrypt, POST, event persisted)", "sent"),
    ("command → bot: sync answer read and parsed (nio JSON + schema)", "to_bot"),
    ("  of which nio parse + validation of the sync response", "parse"),
    ("bot: nio receive_response (decrypt, crypto store)", "receive"),
    ("bot: after nio, up to its room_send", "decide"),
    ("bot: room_send (encrypt, POST, event persisted)", "send"),
    ("answer → clinician (from the bot's room_send returning)", "to_clinician"),
]
# (name, depth): the runtime's stages between nio and room_send, nested as they run.
LIAISON_PARTS = [
    ("runtime._after_sync", 1), ("runtime._crypto_housekeeping", 2), ("store.record_sync", 2),
    ("runtime._handle_invites", 2), ("runtime._retry_undecryptable", 2),
    ("store.inbox(undecryptable)", 3), ("runtime._process_inbox", 2), ("store.inbox(pending)", 3),
    ("runtime._handle", 3), ("trust.ensure", 4), ("handoff → sender._send", 1),
    ("store.pending_outbox", 2), ("sender._send → room_send", 1)]


def breakdown(trips: list[Trip], trace: dict[str, Any]) -> dict[str, list[float]]:
    """Per stage, the milliseconds of each measured command (matched by event ID)."""
    spans = [(name, start, end, key) for name, start, end, key in trace["spans"]]
    received: dict[str, tuple[float, float]] = {}
    parses = sorted((start, end) for name, start, end, key in spans
                    if name == "nio.parse_response" and key == "SyncResponse")
    for name, start, end, key in sorted(spans, key=lambda s: s[1]):
        if name == "nio.receive_response" and key:
            for event_id in key:
                received.setdefault(event_id, (start, end))
    sends = {key: (start, end) for name, start, end, key in spans if name == "nio.room_send" and key}
    sender_starts = {key: start for name, start, _end, key in spans if name == "sender._send"}
    handoffs = sorted(t for name, t in trace.get("instants", []) if name == "sender.handoff")
    out: dict[str, list[float]] = {}

    def add(stage: str, seconds: float) -> None:
        out.setdefault(stage, []).append(seconds * 1000)

    names = {name for name, _depth in LIAISON_PARTS}
    for trip in trips:
        if trip.ms is None or trip.event_id not in received or trip.event_id not in sends:
            continue
        rr_start, rr_end = received[trip.event_id]
        send_start, send_end = sends[trip.event_id]
        # The floor sends from inside nio's event callback: its room_send nests in receive_response.
        handed_over = min(rr_end, send_start)
        add("sent", trip.t_sent - trip.t0)
        add("to_bot", rr_start - trip.t0)
        parse = [p for p in parses if p[1] <= rr_start + 1e-6]
        if parse:
            add("parse", parse[-1][1] - parse[-1][0])
        add("receive", handed_over - rr_start)
        add("decide", send_start - handed_over)
        add("send", send_end - send_start)
        add("to_clinician", trip.t1 - send_end)
        if trip.event_id in sender_starts:
            sender_start = sender_starts[trip.event_id]
            for name, start, end, key in spans:
                label = f"{name}({key})" if name == "store.inbox" else name
                if handed_over <= start <= send_start and label in names:
                    add(label, end - start)
            handed = [t for t in handoffs if t <= sender_start]
            if handed:
                add("handoff → sender._send", sender_start - handed[-1])
            add("sender._send → room_send", send_start - sender_start)
    return out


def breakdown_keys(results: Results) -> list[str]:
    return [k for k in ("floor", "liaison", "liaison under load") if k in results.breakdown]


def breakdown_rows(results: Results) -> list[list[str]]:
    keys = breakdown_keys(results)

    def cell(key: str, stage: str) -> str:
        values = results.breakdown[key].get(stage)
        return f"{statistics.median(values):.1f}" if values else "-"

    rows = [[label, *(cell(k, stage) for k in keys)] for label, stage in STAGES]
    if "liaison" in results.breakdown:
        # Per command, the runtime's stages between nio and room_send (summed when one runs twice).
        for part, depth in LIAISON_PARTS:
            cells = ["" if k == "floor" else cell(k, part) for k in keys]
            if any(c not in ("", "-") for c in cells):  # stages this runtime no longer has: left out
                rows.append(["  " * depth + part, *cells])
    return rows


# --- report ---------------------------------------------------------------------------------------


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    ram = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {ram:.1f} GiB RAM, {platform.system()} {platform.release()}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def summary(results: Results) -> dict[str, Any]:
    by = {t.key: t for t in results.targets}
    floor, liaison, peer_t = by["floor"], by["liaison"], by.get("peer")
    out: dict[str, Any] = {
        "p50_ratio": liaison.p50 / floor.p50, "p99_ratio": liaison.p99 / floor.p99,
    }
    out["targets"] = [
        (f"Liaison p50 ≤ {P50_VS_FLOOR:.2f}× floor", f"{out['p50_ratio']:.2f}×",
         out["p50_ratio"] <= P50_VS_FLOOR),
        (f"Liaison p99 ≤ {P99_VS_FLOOR:.2f}× floor", f"{out['p99_ratio']:.2f}×",
         out["p99_ratio"] <= P99_VS_FLOOR),
    ]
    if peer_t is not None and peer_t.samples:
        out["peer_p50_ratio"] = peer_t.p50 / floor.p50
        out["peer_p99_ratio"] = peer_t.p99 / floor.p99
        out["liaison_vs_peer"] = liaison.p50 / peer_t.p50
        out["targets"].insert(1, ("Liaison p50 ≤ peer p50",
                                  f"{liaison.p50:.1f} vs {peer_t.p50:.1f} ms",
                                  liaison.p50 <= peer_t.p50))
    return out


def latency_rows(results: Results) -> list[list[str]]:
    floor = next(t for t in results.targets if t.key == "floor")
    rows = []
    for t in results.targets:
        fails = sum(t.failures.values())
        rows.append([
            t.label, str(len(t.samples)), f"{t.p50:.1f}", f"{t.p99:.1f}",
            f"{statistics.fmean(t.samples):.1f}" if t.samples else "-",
            f"{max(t.samples):.1f}" if t.samples else "-",
            f"{t.p50 / floor.p50:.2f}×", f"{t.p99 / floor.p99:.2f}×",
            f"{1000 * t.cpu_s / max(1, len(t.samples)):.1f}", str(fails)])
    return rows


LATENCY_HEADER = ["bot", "n", "p50 ms", "p99 ms", "mean ms", "max ms", "p50/floor", "p99/floor",
                  "CPU ms/cmd", "failures"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def throughput_columns(results: Results) -> list[str]:
    return [tp["bot"] for tp in results.throughput.values()]


def throughput_title(results: Results) -> str:
    tp = next(iter(results.throughput.values()))
    return (f"Sustained throughput: {tp['clinicians']} clinicians, each alone with the bot in "
            f"{tp['rooms'] // tp['clinicians']} encrypted rooms ({tp['rooms']} rooms), all at once, "
            f"one command in flight per room, {tp['commands']} commands")


def throughput_rows(results: Results) -> list[list[str]]:
    runs = list(results.throughput.values())

    def row(label: str, fmt: Callable[[dict[str, Any]], str]) -> list[str]:
        return [label, *(fmt(tp) for tp in runs)]

    rows = [
        row("commands answered", lambda tp: f"{tp['answered']} / {tp['commands']}"),
        row("wall time", lambda tp: f"{tp['wall_s']:.1f} s"),
        row("throughput", lambda tp: f"{tp['per_s']:.1f} commands/s"),
        row("round trip under load p50 / p99", lambda tp: f"{tp['p50']:.0f} / {tp['p99']:.0f} ms"),
        row("bot peak RSS (VmHWM, whole life)", lambda tp: f"{tp['vm_hwm_kib'] / 1024:.0f} MiB"),
        row("bot RSS before / sampled max during",
            lambda tp: f"{tp['rss_before'] / 2**20:.0f} / {tp['rss_sampled_max'] / 2**20:.0f} MiB"),
        row("CPU, % of one core: Synapse / bot / clients", lambda tp: " / ".join(
            f"{tp['cpu_percent'].get(k, 0):.0f}" for k in ("synapse", "bot", "bench"))),
        row("bot CPU per command", lambda tp: f"{tp['bot_cpu_ms_per_cmd']:.1f} ms"),
        row("CPU of other processes on the machine", lambda tp: f"{tp['other_load_percent']:.0f}%"),
    ]
    if any(tp["failures"] or tp["warm_failures"] for tp in runs):
        rows.append(row("failures (warm-up)",
                        lambda tp: f"{sum(tp['failures'].values())} ({tp['warm_failures']})"))
    return rows


def print_report(results: Results) -> None:
    s = summary(results)
    print()
    print(f"E2EE command round trip: n={results.n} per bot, interleaved, after "
          f"{results.warmup} warm-up each ({results.latency_wall_s:.0f} s; other processes on "
          f"the machine used {results.other_load_percent:.0f}% of a core meanwhile)")
    print(text_table(LATENCY_HEADER, latency_rows(results)))
    for target in results.targets:
        if target.failures:
            print(f"  {target.key} failures: {dict(target.failures)}")
    if results.warmup_failures:
        print(f"  warm-up failures: {dict(results.warmup_failures)}")
    if results.peer_error:
        print(f"  peer: {results.peer_error}")
    print("Targets:")
    for name, value, ok in s["targets"]:
        print(f"  {name:32} {value:>24}  {verdict(ok)}")
    if "peer_p50_ratio" in s:
        print(f"  peer vs floor: p50 {s['peer_p50_ratio']:.2f}×, p99 {s['peer_p99_ratio']:.2f}×; "
              f"Liaison p50 / peer p50 = {s['liaison_vs_peer']:.2f}")
    if results.handler_ms:
        print(f"  Liaison handler (claim row → commit, its own log, both phases): p50 "
              f"{percentile(results.handler_ms, 50):.1f} ms, p99 "
              f"{percentile(results.handler_ms, 99):.1f} ms")
    if results.breakdown:
        print()
        print("Where a round trip's time goes (--trace; p50 ms per stage; 'under load' = throughput phase):")
        print(text_table(["stage", *breakdown_keys(results)],
                         breakdown_rows(results)))
    if results.throughput:
        print()
        print(throughput_title(results))
        print(text_table(["", *throughput_columns(results)], throughput_rows(results)))
        print("  peak RSS of each bot process over the whole run (VmHWM): " + ", ".join(
            f"{k} {v / 1024:.0f} MiB" for k, v in results.peak_rss_kib.items()))
    print()


def shown_argv() -> list[str]:
    """The command line, without where the figures were written."""
    shown, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--doc="):
            skip = False
            continue
        skip = arg == "--doc"
        if not skip:
            shown.append(arg)
    return shown


def markdown(results: Results, args: argparse.Namespace) -> str:
    s = summary(results)
    v = results.versions
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.roundtrip"
        f"{''.join(' ' + a for a in shown_argv())}` (n={args.n}, "
        f"warm-up {args.warmup}, throughput {args.commands} commands in {args.rooms} rooms by "
        f"{args.clinicians} clinicians).", "",
        f"- Machine: {machine()}. Synapse, the bots and the clients all on it, over 127.0.0.1.",
        f"- Versions: Python {v['python']}, Synapse {v['matrix-synapse']} (SQLite), matrix-nio "
        f"{v['matrix-nio']} (vodozemac {v['vodozemac']}), SQLAlchemy {v['SQLAlchemy']}, "
        f"aiosqlite {v['aiosqlite']}; peer: {v.get('peer', 'not run')}. Liaison code: commit "
        f"{v.get('code', '?')}.",
        "- Method: one Synapse (dev homeserver, relaxed rate limits); each bot in its own process; "
        "one cross-signed E2EE clinician (bots/devstack/clinician.py) in one encrypted room per bot. "
        "A round trip runs from just before the clinician's `room_send` to the moment its sync "
        "hands over the bot's decrypted answer. Commands interleaved round-robin (one to each bot "
        f"per iteration, order rotating), {results.n} per bot after {results.warmup} warm-up each.",
        "- Bots: *floor* = bench/echo_floor.py, bare matrix-nio E2EE echo (`!ping x` → m.notice "
        "replying to it, sent at once from the event callback, no trust checks, no database); "
        "*Liaison* = "
        "the runtime, built-in `!ping x` (inbox row, handler transaction, outbox row, sender, "
        "cross-signing trust); *peer* = matrix-reminder-bot from PyPI, `!remindme in 1 day; text` "
        "(one SQLite row + an APScheduler job, then \"OK, I will remind you on …\").",
        "",
        md_table(LATENCY_HEADER, latency_rows(results)), "",
        "CPU ms/cmd is the bot process's CPU time during the measured phase divided by its commands. "
        f"Processes other than Synapse, the bots and the benchmark used "
        f"{results.other_load_percent:.0f}% of a core meanwhile.",
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in s["targets"]]
    lines.append("")
    if "peer_p50_ratio" in s:
        lines.append(f"- Peer vs floor: p50 {s['peer_p50_ratio']:.2f}×, p99 "
                     f"{s['peer_p99_ratio']:.2f}×. Liaison p50 / peer p50 = "
                     f"{s['liaison_vs_peer']:.2f}.")
    elif results.peer_error:
        lines.append(f"- Peer not measured: {results.peer_error}")
    fails = {t.key: dict(t.failures) for t in results.targets if t.failures}
    if fails or results.warmup_failures:
        lines.append(f"- Failures: {fails or 'none'}; warm-up failures: "
                     f"{dict(results.warmup_failures) or 'none'}.")
    if results.handler_ms:
        lines.append(f"- Liaison's own handler timing (claim the inbox row → commit, from its log, "
                     "latency and throughput phases together): "
                     f"p50 {percentile(results.handler_ms, 50):.1f} ms, p99 "
                     f"{percentile(results.handler_ms, 99):.1f} ms.")
    if results.breakdown:
        lines += ["", "Where the time goes (`--trace`: probes in the floor and Liaison processes, one "
                  "clock for all; p50 ms per stage over the measured commands):", "",
                  md_table(["stage", *breakdown_keys(results)],
                           [[r[0].replace("  ", "&nbsp;&nbsp;"), *r[1:]]
                            for r in breakdown_rows(results)])]
        floor = next(t for t in results.targets if t.key == "floor")
        own = results.breakdown.get("liaison", {}).get("decide")
        if own:
            lines += ["", f"Liaison's own stage (after nio, up to its room_send) is "
                      f"{statistics.median(own):.1f} ms p50, {statistics.median(own) / floor.p50:.0%} "
                      "of the floor's round trip. It is the stable figure: the homeserver stages "
                      "move by about ±10 ms from one run to the next (each bot has its own room), "
                      "and the p50 ratio moves with them."]
    if results.throughput:
        lines += ["", "### Sustained throughput", "", throughput_title(results) + ", after one "
                  "warm-up command per room. Each bot gets the same load in turn (its own rooms), "
                  "Liaison first.", "",
                  md_table(["", *throughput_columns(results)], throughput_rows(results)), "",
                  "Peak RSS of each bot process over the whole run (VmHWM): " + ", ".join(
                      f"{k} {v / 1024:.0f} MiB" for k, v in results.peak_rss_kib.items()) + ".", ""]
    if {"liaison", "floor"} <= results.throughput.keys():
        ratio = results.throughput["liaison"]["per_s"] / results.throughput["floor"]["per_s"]
        lines.append(f"Liaison throughput / floor throughput = {ratio:.2f}. The floor shows what "
                     "this homeserver allows: with Synapse near 100% of one core (its Python "
                     "process's ceiling), the homeserver sets the pace for both.")
    lines += ["", "Rerun: `make bench` (creates bench/.venv-peer for "
              "matrix-reminder-bot on first use, then runs `python -m bench.roundtrip --trace`; "
              "about 6 minutes on 2 cores). `python -m bench.roundtrip --help` lists the knobs.", ""]
    return "\n".join(lines)


def write_doc(path: Path, section: str, heading: str = SECTION) -> None:
    """Replace the section under `heading` (or append it), leaving the others as they are."""
    text = path.read_text() if path.exists() else (
        "# Performance\n\nFigures measured on this project's own benchmarks (bench/).\n\n")
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def common_args(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    """The options every benchmark has: its overall time limit, where its figures go, the temp
    dir kept or not."""
    parser.add_argument("--timeout", type=float, default=timeout,
                        help=f"give up after this many seconds ({timeout:.0f})")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    parser.add_argument("--doc", type=Path, default=DOC, help="where to write the figures")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, stores)")


async def measure(make: Callable[[argparse.Namespace], Any], args: argparse.Namespace,
                  report: Callable[[Any, argparse.Namespace], None],
                  figures: Callable[[Any, argparse.Namespace], str], section: str) -> int:
    """Run the benchmark `make(args)` (its `run()` within --timeout, then its `close()`), print
    its `report` and write its `figures` (Markdown) under `section` of --doc unless --no-doc."""
    bench = make(args)
    try:
        results = await asyncio.wait_for(bench.run(), args.timeout)
    finally:
        await bench.close()
    report(results, args)
    if not args.no_doc:
        write_doc(args.doc, figures(results, args), section)
        log(f"figures written to {args.doc}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.roundtrip",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="measured commands per bot (200)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up commands per bot (10)")
    parser.add_argument("--commands", type=int, default=1000,
                        help="throughput phase: commands in all (1000; 0 skips the phase)")
    parser.add_argument("--rooms", type=int, default=50, help="throughput phase: rooms (50)")
    parser.add_argument("--clinicians", type=int, default=5,
                        help="throughput phase: clinicians, each alone in rooms/clinicians rooms (5)")
    parser.add_argument("--no-floor-load", dest="floor_load", action="store_false",
                        help="throughput phase: skip the same load against the floor (reference)")
    parser.add_argument("--no-peer", action="store_true", help="skip matrix-reminder-bot")
    parser.add_argument("--trace", action="store_true",
                        help="time each stage inside the floor and Liaison bots (bench/trace.py) "
                             "and print where a round trip's time goes")
    common_args(parser, timeout=1200)
    args = parser.parse_args(argv)
    if args.n < 2 or args.clinicians < 1 or args.rooms < args.clinicians:
        parser.error("need --n ≥ 2 and --rooms ≥ --clinicians ≥ 1")
    return args


def cli(parse: Callable[[], argparse.Namespace], make: Callable[[argparse.Namespace], Any],
        report: Callable[[Any, argparse.Namespace], None],
        figures: Callable[[Any, argparse.Namespace], str], section: str) -> int:
    """A benchmark's entry point: from the repository root, `measure` within its overall time
    limit."""
    args = parse()
    os.chdir(REPO)
    try:
        return asyncio.run(measure(make, args, report, figures, section))
    except TimeoutError:
        print(f"bench: gave up after {args.timeout:.0f} s", file=sys.stderr)
        return 1


def main() -> int:
    return cli(parse_args, Bench, lambda results, _: print_report(results), markdown, SECTION)


if __name__ == "__main__":
    sys.exit(main())
