"""The benchmarks' stack and measures: Synapse, bot processes, E2EE clinicians, round trips,
CPU and memory, the load of other processes; a benchmark's entry point (`cli`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml
from nio import (
    EncryptionError,
    Event,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    SyncResponse,
)

from bench.lib import DOC, REPO, report
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import DevHomeserver, free_port
from bots.runtime.vault import Vault
from bots.synapseconf import Process


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


BENCH_BOTS = tuple(f"@{name}:localhost" for name in ("liaison", "mssante", "baseline", "floor"))


def relax_room_limits(config_path: Path) -> None:
    """Lift the two limits the template leaves at Synapse's defaults (even with relaxed rate
    limits) that 10 rooms per clinician would hit: room creation (10, then one a minute) and
    invites sent (10, then 0.3/s)."""
    config = yaml.safe_load(config_path.read_text())
    relaxed = {"per_second": 1000, "burst_count": 1000}
    config["rc_room_creation"] = relaxed
    config.setdefault("rc_invites", {})["per_issuer"] = relaxed
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


class BenchHomeserver(DevHomeserver):
    """The dev homeserver with relaxed rate limits (`relax_room_limits` too)."""

    def render(self) -> list[Process]:
        processes = super().render()
        relax_room_limits(self.config_path)
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


class Replies:
    """Stamps the moment a clinician's sync hands over a bot's message in a watched room.

    Attached before the Clinician logs in, so it runs before the Clinician's own sync callback.
    nio decrypts in receive_response, before response callbacks run: what arrives here is the
    decrypted event, or a MegolmEvent if it could not be decrypted."""

    def __init__(self) -> None:
        self.waiting: dict[str, Waiter] = {}

    def attach(self, doc: Clinician) -> None:
        doc.client.add_response_callback(self._on_sync, SyncResponse)  # type: ignore[arg-type]

    async def _on_sync(self, resp: SyncResponse) -> None:
        settle(resp, self.waiting, time.perf_counter())

    def expect(self, room_id: str, bot: str) -> asyncio.Future[tuple[float, Event, str]]:
        """The bot's first message in the room from now: (when, event, "")."""
        future: asyncio.Future[tuple[float, Event, str]] = \
            asyncio.get_running_loop().create_future()
        self.waiting[room_id] = (lambda ev: "" if ev.sender == bot else None, future)
        return future


# A room's waiter: what decides on an event (None: not this one), and the future it settles.
Waiter = tuple[Callable[[Event], str | None], "asyncio.Future[tuple[float, Event, str]]"]


def settle(resp: SyncResponse, waiting: dict[str, Waiter], now: float) -> None:
    """In each room with a waiter, the first event of the sync's timeline it decides on settles
    its future with (now, the event, the decision); the waiter is then gone."""
    for room_id, info in resp.rooms.join.items():
        entry = waiting.get(room_id)
        if entry is None:
            continue
        decide, future = entry
        for ev in info.timeline.events:
            decided = decide(ev)
            if decided is not None:
                if not future.done():
                    future.set_result((now, ev, decided))
                del waiting[room_id]
                break


@dataclass
class Trip:
    """One command: `ms` or `error`; perf_counter stamps: send started, send answered, answer in."""

    ms: float | None = None
    error: str | None = None
    event_id: str | None = None
    t0: float = 0.0
    t_sent: float = 0.0
    t1: float = 0.0


async def send_and_wait(doc: Clinician, trip: Trip, room_id: str, body: str,
                        future: asyncio.Future[tuple[float, Event, str]],
                        timeout: float) -> tuple[Event, str]:
    """Send `body` (stamping `trip`), then wait for `future`, a waiter's: its event and decision.
    Raises TimeoutError, or AssertionError when the homeserver refused the message."""
    trip.event_id = await doc.send(room_id, body)
    trip.t_sent = time.perf_counter()
    trip.t1, ev, decided = await asyncio.wait_for(future, timeout)
    return ev, decided


async def round_trip(doc: Clinician, replies: Replies, room_id: str, bot: str, body: str, *,
                     reply_to: bool, timeout: float) -> Trip:
    """Send one command and wait for the bot's answer. One command in flight per room."""
    future = replies.expect(room_id, bot)
    trip = Trip(t0=time.perf_counter())
    try:
        ev, _ = await send_and_wait(doc, trip, room_id, body, future, timeout)
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


async def create_encrypted_room(doc: Clinician, invite: str | list[str], name: str) -> str:
    resp = await doc.client.room_create(
        name=name, invite=[invite] if isinstance(invite, str) else invite,
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


async def wait_joined(doc: Clinician, room_id: str, process: BotProcess, user_id: str,
                      timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check()
        try:
            await doc.wait_joined(room_id, user_id, timeout=2)
            return
        except AssertionError:
            continue
    raise RuntimeError(f"{user_id} did not join {room_id} within {timeout:.0f} s")


def handler_times(log_file: Path) -> list[float]:
    """The runtime's own timings of the commands it handled ("event handled" with a command: ms
    from claiming the inbox row to commit)."""
    values = []
    for line in log_file.read_text(errors="replace").splitlines():
        if '"event handled"' in line:
            with contextlib.suppress(ValueError, KeyError):
                record = json.loads(line)
                if record.get("command"):
                    values.append(float(record["ms"]))
    return values


def late_decrypt(doc: Clinician, room_id: str, ev: MegolmEvent,
                 never: set[str]) -> Event | None:
    """`ev` decrypted now that its key may have come, or None. An event sent before the clinician
    joined (the identity card: the key she got starts after it) never will: added to `never`."""
    assert doc.client.olm is not None
    try:
        return doc.client.olm.decrypt_megolm_event(ev, room_id)
    except EncryptionError as exc:
        if "unknown message index" in str(exc):
            never.add(ev.event_id)
        return None


def quiet_undecryptable() -> None:
    """nio logs every bot message it cannot decrypt on arrival: the identity card (sent before
    the clinician joins: unreadable to her by design) and briefings whose key trails them, about
    a thousand lines. The benchmark retries the latter and counts the rest (Results.unreadable)."""
    logging.getLogger("nio.crypto.log").addFilter(
        lambda record: not record.getMessage().startswith(
            ("Error decrypting megolm event", "Received a undecryptable Megolm event")))


class Stack:
    """One benchmark's stack: a Synapse (relaxed rate limits) in a temp dir, its accounts, the
    bot processes it spawns, E2EE clinicians; `run()` is the benchmark, `close()` stops it all."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
        # The bots' accounts and the bare-nio baselines that do their work: the policy module
        # lets only them make patient rooms.
        self.hs = BenchHomeserver(self.tmp, port=free_port(), relaxed_rate_limits=True,
                                  log_level="WARNING", bots=BENCH_BOTS)
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

    def write_spec(self, name: str, spec: dict[str, Any]) -> Path:
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(spec))
        path.chmod(0o600)
        return path

    async def start_floor(self) -> tuple[str, BotProcess]:
        """The floor (bench/echo_floor.py) on an account of its own: its user ID and process."""
        user_id, password = await self.register("floor")
        spec = self.write_spec("floor", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name, "user_id": user_id,
            "password": password, "store_dir": str(self.tmp / "floor")})
        return user_id, self.spawn("floor", [sys.executable, "-m", "bench.echo_floor", str(spec)],
                                   REPO, traced=True)

    async def start_liaison(self) -> tuple[str, BotProcess]:
        """The Liaison bots process (bench/run_liaison.py, the built-in commands only) on an
        account of its own: its user ID and process."""
        user_id, password = await self.register("liaison")
        spec = self.write_spec("liaison", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name, "user_id": user_id,
            "password": password, "data_dir": str(self.tmp / "liaison"),
            "data_key": Vault.new_key(), "log_level": "INFO"})
        return user_id, self.spawn("liaison", [sys.executable, "-m", "bench.run_liaison",
                                               str(spec)], REPO, traced=True)

    def stop_homeservers(self) -> None:
        self.hs.stop()

    async def close(self) -> None:
        for doc in self.clients:
            with contextlib.suppress(Exception):
                await doc.close()
        for process in self.processes:
            process.stop()
        self.stop_homeservers()
        if self.args.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)



def common_args(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    """The options every benchmark has: its overall time limit, where its figures go, the temp
    dir kept or not."""
    parser.add_argument("--timeout", type=float, default=timeout,
                        help=f"give up after this many seconds ({timeout:.0f})")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    parser.add_argument("--doc", type=Path, default=DOC, help="where to write the figures")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, stores)")


async def measure(make: Callable[[argparse.Namespace], Any], args: argparse.Namespace,
                  show: Callable[[Any, argparse.Namespace], None],
                  figures: Callable[[Any, argparse.Namespace], str], section: str) -> int:
    """Run the benchmark `make(args)` (its `run()` within --timeout, then its `close()`), `show`
    its results and write its `figures` (Markdown) under `section` of --doc unless --no-doc."""
    bench = make(args)
    try:
        results = await asyncio.wait_for(bench.run(), args.timeout)
    finally:
        await bench.close()
    show(results, args)
    if not args.no_doc:
        report.write_doc(args.doc, figures(results, args), section)
        log(f"figures written to {args.doc}")
    return 0


def cli(parse: Callable[[], argparse.Namespace], make: Callable[[argparse.Namespace], Any],
        show: Callable[[Any, argparse.Namespace], None],
        figures: Callable[[Any, argparse.Namespace], str], section: str, *,
        quiet: bool = False) -> int:
    """A benchmark's entry point: from the repository root, `measure` within its overall time
    limit. `quiet`: nio's undecryptable-message lines left out (`quiet_undecryptable`)."""
    if quiet:
        quiet_undecryptable()
    args = parse()
    os.chdir(REPO)
    try:
        return asyncio.run(measure(make, args, show, figures, section))
    except TimeoutError:
        print(f"bench: gave up after {args.timeout:.0f} s", file=sys.stderr)
        return 1
