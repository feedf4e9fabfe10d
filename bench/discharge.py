"""Discharge checklists: answering an item, from the command to the edited live message, against
the plain command round trip in the same rooms, on one real Synapse.

    python -m bench.discharge [--rooms 1000] [--n 400] [--concurrency 4] [--warmup 20] [--no-doc]
    make bench

One Synapse (bench.lib.harness.BenchHomeserver: relaxed rate limits, room creation and invites
included) on 127.0.0.1 in a temp dir; the Liaison account running the care-team and discharge bots
with the provisioning API, in its own process (bench/run_liaison.py); `--clinicians` E2EE
clinicians (bots.devstack.clinician.Clinician: cross-signed, joining what they are invited to), and two more
team accounts (registered, never logged in).

Setup, timed but not the measure:
1. `--rooms` patient rooms opened through the API (`POST /api/v1/patients`, `--open-concurrency`
   in flight), each with a fictitious patient (valid INS) and a team of three: a clinician as IDEC
   (plans the discharge, may answer any item), the two other accounts as MH and IDE. Room i goes
   to clinician i mod `--clinicians`.
2. The clinicians join; a room is ready once the care-team bot's briefing to its clinician has
   arrived and decrypts (the bot has seen her join: from then on every bot message decrypts for
   her). Synapse hands over at most 100 to-device messages a sync: with hundreds of rooms joined
   at once the room keys trail the briefings by several syncs, so briefings that came before
   their key are decrypted again once it is in.
3. In every room `!sortie prevoir <today + --days, DD/MM/YYYY>` (Europe/Paris), `--open-concurrency`
   rooms at a time; a checklist is active once the clinician's sync brings the bot's live message
   (its event ID is kept: the edits replace it). Then until the bot has pinned every live
   message (two requests a room, one room after the other) and its outbox is empty.

Measure: iterations over the rooms round-robin (room i mod rooms; item 1 + (i div rooms) mod 20,
so no item is answered twice in a room), each iteration two commands in the same room, one after
the other, their order alternating from one iteration to the next so that drift hits both alike:
- answer: `!sortie oui N` → the clinician's sync hands over the bot's edit of that room's live
  message (m.replace of its event) whose new body shows "✅ N."; the bot's reply notice, sent
  after the edit, is then waited for, untimed, so that the room's next command does not queue
  behind it (it did: in a 20-room trial a ping right after an answer took ~40 ms more);
- ping: `!ping x` → the bot's "pong x", the plain command round trip of bench/roundtrip.py, here
  in a room of the same bot among the same 1,000 rooms, under the same load.
Each time runs from just before the clinician's `room_send` to the moment its sync hands over the
decrypted answer, as in bench/roundtrip.py. The load is a closed loop: `--concurrency` iterations
in flight (in different rooms; one command in flight per room), the next one starting as soon as
one ends, so the rate is what the stack sustains at that concurrency (answers/s and commands/s are
reported). `--warmup` iterations first, not counted. Target: p50(answer → edit) ≤ 1.5 × p50(ping
→ pong). Also: the bot's CPU per command, its peak RSS, and the setup times.

Everything stops by itself (`--timeout`); the figures are printed and written to
docs/PERFORMANCE.md (section "Discharge checklist: answer to edited live message").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import psutil
from nio import Event, MegolmEvent, RoomMessageNotice, SyncResponse

from bench.lib import api, harness, report, tables
from bots.devstack.clinician import Clinician

SECTION = "## Discharge checklist: answer to edited live message"
TARGET = 1.5  # p50(answer → edit) ≤ this × p50(ping → pong)
WARD_ZONE = ZoneInfo("Europe/Paris")  # the bot's dates (bench/run_liaison.py: timezone)
ITEMS = 20  # items of the default template (has-sortie-2015)
TEAM = 3  # the clinician (IDEC), then MH and IDE: ROLES[:3]
KINDS = ("answer", "ping")
LABELS = {"answer": "`!sortie oui N` → edited live message",
          "ping": "`!ping x` → pong (plain round trip)"}

# A verdict on one event of the room: None, not the awaited one; "" the answer; else a failure.
Match = Callable[[Event], str | None]


# --- waiting for the bot's answer, by its content -------------------------------------------------


class Awaited(harness.Replies):
    """As Replies (stamped when a clinician's sync hands the event over, before the Clinician's
    own callback), but the awaited event is the first that `match` decides on: the bot answers
    `!sortie oui` with two messages (the edit of the live message, then a reply), and a room's
    next command must not take that reply for its own answer."""

    def __init__(self) -> None:
        super().__init__()
        self.matching: dict[str, harness.Waiter] = {}

    async def _on_sync(self, resp: SyncResponse) -> None:
        await super()._on_sync(resp)
        harness.settle(resp, self.matching, time.perf_counter())

    def expect_match(self, room_id: str,
                     match: Match) -> asyncio.Future[tuple[float, Event, str]]:
        future: asyncio.Future[tuple[float, Event, str]] = \
            asyncio.get_running_loop().create_future()
        self.matching[room_id] = (match, future)
        return future


async def command(doc: Clinician, awaited: Awaited, room_id: str, body: str, match: Match, *,
                  timeout: float) -> tuple[harness.Trip, Event | None]:
    """Send one command, wait for the event `match` decides on. One command in flight per room."""
    future = awaited.expect_match(room_id, match)
    trip = harness.Trip(t0=time.perf_counter())
    try:
        ev, decided = await harness.send_and_wait(doc, trip, room_id, body, future, timeout)
    except TimeoutError:
        awaited.matching.pop(room_id, None)
        trip.error = "timeout"
        return trip, None
    except AssertionError as exc:  # Clinician.send: the homeserver refused the message
        awaited.matching.pop(room_id, None)
        trip.error = f"send failed: {str(exc)[:80]}"
        return trip, None
    if decided:
        trip.error = decided
    else:
        trip.ms = (trip.t1 - trip.t0) * 1000
    return trip, ev


def _content(ev: Event) -> dict[str, Any]:
    return ev.source.get("content", {})


def _bot_notice(ev: Event, bot: str) -> str | None:
    """Not the bot's, or not a notice: None (go on); undecryptable: the failure; else ""."""
    if ev.sender != bot:
        return None
    if isinstance(ev, MegolmEvent):
        return "bot message undecryptable"
    return "" if isinstance(ev, RoomMessageNotice) else None


def live_message(bot: str) -> Match:
    """The new live checklist (a notice relating to nothing), or the bot's refusal."""
    def match(ev: Event) -> str | None:
        decided = _bot_notice(ev, bot)
        if decided != "":
            return decided
        relates = _content(ev).get("m.relates_to", {})
        if not relates and "Check-list de sortie" in ev.body:
            return ""
        if relates.get("rel_type") == "m.replace":
            return None
        return f"bot replied: {ev.body[:60]}"
    return match


def live_edit(bot: str, live_id: str, item: int) -> Match:
    """The edit of the live message showing item N answered; a refusal fails at once (the reply
    to an earlier answer in the room, "✅ M. …", is not one)."""
    mark = f"✅ {item}."

    def match(ev: Event) -> str | None:
        decided = _bot_notice(ev, bot)
        if decided != "":
            return decided
        content = _content(ev)
        relates = content.get("m.relates_to", {})
        if relates.get("rel_type") == "m.replace":
            ok = relates.get("event_id") == live_id and \
                mark in content.get("m.new_content", {}).get("body", "")
            return "" if ok else None
        if relates.get("m.in_reply_to") and not ev.body.startswith("✅"):
            return f"bot replied: {ev.body[:60]}"
        return None
    return match


def pong(bot: str, tag: str) -> Match:
    def match(ev: Event) -> str | None:
        decided = _bot_notice(ev, bot)
        if decided != "":
            return decided
        return "" if ev.body.strip() == f"pong {tag}" else None
    return match


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Room:
    index: int  # the room's place in the round-robin (the order it was opened in)
    room_id: str
    doc: Clinician
    live_id: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Results:
    asked: int
    clinicians: int
    day: str = ""
    opened: int = 0
    open_s: float = 0.0
    open_ms: list[float] = field(default_factory=list)
    open_failures: Counter[str] = field(default_factory=Counter)
    join_s: float = 0.0
    planned: int = 0
    plan_s: float = 0.0
    plan_ms: list[float] = field(default_factory=list)
    plan_failures: Counter[str] = field(default_factory=Counter)
    settle_s: float = 0.0
    # per kind: (iteration, ms) of each measured command, and why the others failed
    samples: dict[str, list[tuple[int, float]]] = field(
        default_factory=lambda: {k: [] for k in KINDS})
    failures: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    warmup_failures: Counter[str] = field(default_factory=Counter)
    measured: int = 0  # iterations
    measure_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    other_load_percent: float = 0.0
    rss_before_kib: int = 0
    vm_hwm_kib: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0  # bot messages the clinicians could not decrypt (identity cards)
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def ms(self, kind: str) -> list[float]:
        return [ms for _, ms in self.samples[kind]]


class DischargeBench(api.ApiStack):
    """api.ApiStack gives the homeserver, the bot process with its API, registration and clean-up;
    the bot account here also runs the discharge bot."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.sem = asyncio.Semaphore(args.open_concurrency)  # setup: rooms in flight
        self.awaited = Awaited()
        self.replies = self.awaited  # harness.Stack.clinician attaches it before the clinician logs in
        self.bot_id = ""
        self.docs: list[Clinician] = []
        self.rooms: list[Room] = []
        self.never: set[str] = set()  # bot messages sent before the clinician joined

    def write_spec(self, name: str, spec: dict[str, Any]) -> Path:
        if name == "liaison":
            spec = {**spec, "bots": ["careteam", "discharge"]}
            self.bot_id = spec["user_id"]
        return super().write_spec(name, spec)

    # --- setup -------------------------------------------------------------------------------

    async def open_rooms(self, results: Results) -> None:
        """api.ApiStack.via_api for each room (its team: team_of with --team 3), then each room's
        ID and clinician (its IDEC) read from the bot's database, in the order they were opened."""
        batch = api.Batch("liaison", self.args.rooms)
        started = time.monotonic()
        await asyncio.gather(*(self.via_api(i, batch) for i in range(self.args.rooms)))
        results.open_s = time.monotonic() - started
        results.open_ms, results.open_failures = batch.latencies_ms, batch.failures
        assert self.outbox is not None
        by_user = {doc.user_id: doc for doc in self.docs}
        with contextlib.closing(sqlite3.connect(f"file:{self.outbox.path}?mode=ro",
                                                uri=True)) as db:
            rows = db.execute(
                "SELECT r.room_id, t.user_id FROM care_rooms r JOIN care_team t "
                "ON t.care_room_id = r.id WHERE t.role = 'IDEC' AND r.status = 'open' "
                "AND r.room_id IS NOT NULL ORDER BY r.id").fetchall()
        self.rooms = [Room(k, room_id, by_user[user]) for k, (room_id, user) in enumerate(rows)]
        results.opened = len(self.rooms)

    async def welcomed(self, doc: Clinician, rooms: set[str], timeout: float) -> None:
        """Until the bot's briefing to `doc` (a notice mentioning her) is in each of `rooms`.

        A briefing may come before its room key: Synapse hands over at most 100 to-device
        messages a sync, so with hundreds of rooms joined at once the keys trail the messages by
        several syncs, and nio leaves such a message undecrypted. Those are tried again."""
        assert self.bot is not None
        pending, seen = set(rooms), 0
        undecrypted: list[tuple[str, Event]] = []
        deadline = time.monotonic() + timeout
        said = tried = time.monotonic()
        while True:
            fresh, seen = doc.timeline[seen:], len(doc.timeline)
            if time.monotonic() - tried > 1:
                fresh, undecrypted, tried = [*undecrypted, *fresh], [], time.monotonic()
            for room_id, ev in fresh:
                if room_id not in pending or ev.sender != self.bot_id:
                    continue
                if isinstance(ev, MegolmEvent):
                    readable = harness.late_decrypt(doc, room_id, ev, self.never)
                    if readable is None:
                        if ev.event_id not in self.never:
                            undecrypted.append((room_id, ev))
                        continue
                    ev = readable
                if isinstance(ev, RoomMessageNotice) and doc.user_id in \
                        _content(ev).get("m.mentions", {}).get("user_ids", []):
                    pending.discard(room_id)
            if not pending:
                return
            self.bot.check()
            syncing = doc._task  # noqa: SLF001 - its sync loop: dead, nothing more will come
            if syncing is not None and syncing.done():
                why = "cancelled" if syncing.cancelled() else repr(syncing.exception())
                raise RuntimeError(f"{doc.user_id}: the sync loop stopped: {why}")
            if time.monotonic() > deadline or time.monotonic() - said > 15:
                said = time.monotonic()
                joined = sum(1 for r in pending if r in doc.client.rooms and doc.user_id in
                             doc.client.rooms[r].users and
                             not doc.client.rooms[r].users[doc.user_id].invited)
                state = (f"{doc.user_id}: briefed in {len(rooms) - len(pending)} of {len(rooms)} "
                         f"rooms; of the others, {joined} joined; {len(undecrypted)} bot "
                         "messages not decrypted yet")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"after {timeout:.0f} s, {state}")
                harness.log(f"  {state}")
            await asyncio.sleep(0.2)

    async def plan(self, room: Room, day: str, results: Results) -> None:
        async with self.sem:
            trip, ev = await command(room.doc, self.awaited, room.room_id,
                                     f"!sortie prevoir {day}", live_message(self.bot_id),
                                     timeout=120)
        if trip.error or ev is None:
            results.plan_failures[trip.error or "?"] += 1
            return
        assert trip.ms is not None
        results.plan_ms.append(trip.ms)
        room.live_id = ev.event_id

    async def setup(self, results: Results) -> None:
        args = self.args
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        self.bot = await self.start_bot()
        others = [user_id for user_id, _ in await asyncio.gather(
            self.register("medecin"), self.register("infirmiere"))]
        self.docs = [await self.clinician(f"idec{k}") for k in range(args.clinicians)]
        # team_of(i, pool, 3) takes pool[3 (i mod clinicians) + 0, 1, 2] with roles IDEC, MH, IDE
        self.pool = [u for doc in self.docs for u in (doc.user_id, *others)]
        assert api.ROLES[:TEAM] == ("IDEC", "MH", "IDE")
        await self.api_ready(self.bot)

        harness.log(f"opening {args.rooms} patient rooms through the API, {args.open_concurrency} in "
            "flight")
        await self.open_rooms(results)
        harness.log(f"  {results.opened}/{args.rooms} rooms in {results.open_s:.1f} s"
            + (f"; failures {dict(results.open_failures)}" if results.open_failures else ""))
        if not self.rooms:
            raise RuntimeError("no patient room opened")

        started = time.monotonic()
        await asyncio.gather(*(
            self.welcomed(doc, {r.room_id for r in self.rooms if r.doc is doc},
                          timeout=300 + args.rooms) for doc in self.docs))
        await asyncio.gather(*(harness.knows_devices(doc, self.bot_id) for doc in self.docs))
        results.join_s = time.monotonic() - started
        harness.log(f"  the clinicians joined and were briefed: {results.join_s:.1f} s after the last 201")

        results.day = f"{datetime.now(WARD_ZONE).date() + timedelta(days=args.days):%d/%m/%Y}"
        harness.log(f"planning {len(self.rooms)} discharges for {results.day}")
        started = time.monotonic()
        await asyncio.gather(*(self.plan(r, results.day, results) for r in self.rooms))
        results.plan_s = time.monotonic() - started
        self.rooms = [r for r in self.rooms if r.live_id]
        results.planned = len(self.rooms)
        harness.log(f"  {results.planned} checklists live in {results.plan_s:.1f} s"
            + (f"; failures {dict(results.plan_failures)}" if results.plan_failures else ""))
        if not self.rooms:
            raise RuntimeError("no checklist started")
        started = time.monotonic()
        await self.settled(timeout=300 + args.rooms)
        results.settle_s = time.monotonic() - started
        harness.log(f"  every live message pinned, the outbox empty: {results.settle_s:.1f} s later")

    async def settled(self, timeout: float) -> None:
        """Until the bot has pinned every live message (two requests a room, one room after the
        other) and sent everything: the measure starts on a quiet bot."""
        assert self.outbox is not None and self.bot is not None
        db = sqlite3.connect(f"file:{self.outbox.path}?mode=ro", uri=True, isolation_level=None)
        deadline = time.monotonic() + timeout
        try:
            while True:
                unpinned = db.execute(
                    "SELECT count(*) FROM discharge_checklists c JOIN outbox o "
                    "ON o.id = c.live_outbox_id WHERE c.pinned_event_id IS NULL "
                    "OR c.pinned_event_id != o.event_id").fetchone()[0]
                pending = self.outbox.counts()["pending"]
                if not unpinned and not pending:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"after {timeout:.0f} s, {unpinned} live messages still "
                                       f"unpinned, {pending} messages unsent")
                self.bot.check()
                await asyncio.sleep(0.2)
        finally:
            db.close()

    # --- the measure -------------------------------------------------------------------------

    async def iteration(self, i: int, results: Results, counted: bool) -> None:
        room = self.rooms[i % len(self.rooms)]
        item = 1 + (i // len(self.rooms)) % ITEMS
        steps = {
            "answer": (f"!sortie oui {item}", live_edit(self.bot_id, room.live_id, item)),
            "ping": (f"!ping d{i}", pong(self.bot_id, f"d{i}")),
        }
        async with room.lock:
            for kind in KINDS if i % 2 == 0 else KINDS[::-1]:
                body, match = steps[kind]
                trip, _ = await command(room.doc, self.awaited, room.room_id, body, match,
                                        timeout=self.args.command_timeout)
                if not trip.error and kind == "answer" and \
                        not await self.replied(room, trip, item):
                    trip.error = "reply after the edit not seen"
                if trip.error and counted:
                    results.failures[kind][trip.error] += 1
                elif trip.error:
                    results.warmup_failures[f"{kind}: {trip.error}"] += 1
                elif counted:
                    assert trip.ms is not None
                    results.samples[kind].append((i, trip.ms))

    async def replied(self, room: Room, trip: harness.Trip, item: int) -> bool:
        """Untimed: until the bot's reply to the answer ("✅ N. …", sent after the edit) is in,
        so that the room's next command does not queue behind it."""
        assert trip.event_id is not None
        mark = f"✅ {item}."
        try:
            await room.doc.wait_for(
                lambda r, e: r == room.room_id and e.sender == self.bot_id and
                isinstance(e, RoomMessageNotice) and e.body.startswith(mark),
                timeout=self.args.command_timeout, start=room.doc.mark(trip.event_id))
        except AssertionError:
            return False
        return True

    async def loop(self, iterations: range, results: Results, counted: bool) -> None:
        """Closed loop: `--concurrency` workers, each taking the next iteration when done."""
        assert self.bot is not None
        todo = iter(iterations)
        done = 0
        step = max(50, len(iterations) // 8)

        async def worker() -> None:
            nonlocal done
            for i in todo:
                await self.iteration(i, results, counted)
                done += 1
                if counted and done % step == 0:
                    harness.log(f"  {done}/{len(iterations)}: " + ", ".join(
                        f"{k} p50 {tables.percentile(results.ms(k), 50):.1f} ms" for k in KINDS))
                self.bot.check()

        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))

    async def measure(self, results: Results) -> None:
        args = self.args
        assert self.bot is not None and self.hs.pid
        harness.log(f"warm-up: {args.warmup} iterations")
        await self.loop(range(args.warmup), results, counted=False)
        harness.log(f"measuring: {args.n} iterations (one answer + one ping each, in the same room), "
            f"{args.concurrency} in flight, over {len(self.rooms)} rooms")
        pids = {"synapse": self.hs.pid, "bot": self.bot.pid, "bench": os.getpid()}
        cpu0 = {k: harness.cpu_seconds(p) for k, p in pids.items()}
        results.rss_before_kib = psutil.Process(self.bot.pid).memory_info().rss // 1024
        other = harness.OtherLoad(self.our_pids())
        started = time.monotonic()
        await self.loop(range(args.warmup, args.warmup + args.n), results, counted=True)
        results.measure_s = time.monotonic() - started
        results.cpu_s = {k: harness.cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        results.other_load_percent = other.percent()
        results.measured = args.n

    async def run(self) -> Results:  # type: ignore[override]
        results = Results(self.args.rooms, self.args.clinicians, versions=report.versions(None))
        await self.setup(results)
        await self.measure(results)
        assert self.bot is not None and self.outbox is not None
        results.vm_hwm_kib = harness.vm_hwm_kib(self.bot.pid)
        results.outbox = dict(self.outbox.counts())
        results.unreadable = sum(1 for doc in self.docs for room_id, ev in doc.timeline
                                 if isinstance(ev, MegolmEvent) and ev.sender == self.bot_id
                                 and harness.late_decrypt(doc, room_id, ev, self.never) is None)
        results.elapsed_s = time.monotonic() - results.started
        return results


# --- report ---------------------------------------------------------------------------------------


def ratio(results: Results, q: int = 50) -> float:
    ping = tables.percentile(results.ms("ping"), q)
    return tables.percentile(results.ms("answer"), q) / ping if ping else float("nan")


def target_line(results: Results) -> tuple[str, str, bool]:
    r = ratio(results)
    return f"p50 answer → edit ≤ {TARGET:.1f}× p50 ping → pong", f"{r:.2f}×", r <= TARGET


LATENCY_HEADER = ["command → awaited answer", "n", "p50 ms", "p99 ms", "mean ms", "max ms",
                  "failures"]


def latency_rows(results: Results) -> list[list[str]]:
    out = []
    for kind in KINDS:
        ms = results.ms(kind)
        out.append([LABELS[kind], str(len(ms)), f"{tables.percentile(ms, 50):.1f}",
                    f"{tables.percentile(ms, 99):.1f}", f"{statistics.fmean(ms):.1f}" if ms else "-",
                    f"{max(ms):.1f}" if ms else "-", str(sum(results.failures[kind].values()))])
    answers, pings = results.ms("answer"), results.ms("ping")
    mean = f"{statistics.fmean(answers) / statistics.fmean(pings):.2f}×" \
        if answers and pings else "-"
    out.append(["ratio answer / ping", "", f"{ratio(results):.2f}×", f"{ratio(results, 99):.2f}×",
                mean, "", ""])
    return out


def load_rows(results: Results) -> list[list[str]]:
    wall = results.measure_s or float("nan")
    answers, pings = len(results.ms("answer")), len(results.ms("ping"))
    commands = 2 * results.measured
    cpu = results.cpu_s
    return [
        ["measured phase", f"{results.measured} iterations in {results.measure_s:.1f} s"],
        ["answers / s (answered; pings as many more)", f"{answers / wall:.2f}"],
        ["commands / s (both kinds)", f"{(answers + pings) / wall:.2f}"],
        ["bot CPU per command (both kinds)",
         f"{1000 * cpu.get('bot', 0) / max(1, commands):.1f} ms"],
        ["CPU, % of one core: Synapse / bot / clinicians", " / ".join(
            f"{100 * cpu.get(k, 0) / wall:.0f}" for k in ("synapse", "bot", "bench"))],
        ["bot RSS before the measure / peak (VmHWM, whole life)",
         f"{results.rss_before_kib / 1024:.0f} / {results.vm_hwm_kib / 1024:.0f} MiB"],
        ["CPU of other processes on the machine", f"{results.other_load_percent:.0f}%"],
    ]


def setup_rows(results: Results) -> list[list[str]]:
    def rate(count: int, seconds: float) -> str:
        return f"{count / seconds:.2f}/s" if seconds else "-"

    def lat(ms: list[float]) -> str:
        return f"{tables.percentile(ms, 50):.0f} / {tables.percentile(ms, 99):.0f} ms" if ms else "-"

    def failed(c: Counter[str]) -> str:
        return ", ".join(f"{k} ×{v}" for k, v in c.items()) or "0"

    return [
        ["opening patient rooms (POST /api/v1/patients → 201)",
         f"{results.opened} / {results.asked}", f"{results.open_s:.1f} s",
         rate(results.opened, results.open_s), lat(results.open_ms), failed(results.open_failures)],
        ["clinicians joined and briefed (after the last 201)", f"{results.opened}",
         f"{results.join_s:.1f} s", "-", "-", "0"],
        ["planning checklists (`!sortie prevoir` → live message)",
         f"{results.planned} / {results.opened}", f"{results.plan_s:.1f} s",
         rate(results.planned, results.plan_s), lat(results.plan_ms),
         failed(results.plan_failures)],
        ["live messages pinned, outbox empty (after the last one)", f"{results.planned}",
         f"{results.settle_s:.1f} s", "-", "-", "0"],
    ]


SETUP_HEADER = ["setup step", "done", "wall", "rate", "p50 / p99", "failures"]
SLICE_HEADER = ["measured iterations", "answer p50 ms", "ping p50 ms", "ratio"]


def slice_rows(results: Results, args: argparse.Namespace) -> list[list[str]]:
    """The measure by quarter (drift), then by which command of the pair went first."""
    def row(label: str, keep: Callable[[int], bool]) -> list[str]:
        a = [ms for i, ms in results.samples["answer"] if keep(i)]
        p = [ms for i, ms in results.samples["ping"] if keep(i)]
        return [label, f"{tables.percentile(a, 50):.1f}", f"{tables.percentile(p, 50):.1f}",
                f"{tables.percentile(a, 50) / tables.percentile(p, 50):.2f}×" if a and p else "-"]

    out = []
    for q in range(4):
        low, high = args.warmup + q * args.n // 4, args.warmup + (q + 1) * args.n // 4
        out.append(row(f"quarter {q + 1} ({low}–{high - 1})",
                       lambda i, low=low, high=high: low <= i < high))
    out.append(row("answer first (even)", lambda i: i % 2 == 0))
    out.append(row("ping first (odd)", lambda i: i % 2 == 1))
    return out


def synapse_percent(results: Results) -> float:
    return 100 * results.cpu_s.get("synapse", 0) / results.measure_s if results.measure_s \
        else 0.0


def first_line(results: Results, args: argparse.Namespace) -> str:
    """Whichever command goes first in a pair, against the one that follows it in that room."""
    idle = "since its checklist was planned" if results.planned >= args.warmup + args.n \
        else "since its previous iteration"
    first = [ms for kind in KINDS for i, ms in results.samples[kind]
             if (i % 2 == 0) == (kind == "answer")]
    second = [ms for kind in KINDS for i, ms in results.samples[kind]
              if (i % 2 == 0) != (kind == "answer")]
    return (f"First command of a pair (its room idle {idle}), whichever it is: p50 "
            f"{tables.percentile(first, 50):.1f} ms; second (right after the first, in the same room): "
            f"p50 {tables.percentile(second, 50):.1f} ms. The order alternates, so this weighs on both "
            "kinds alike.")


def title(results: Results, args: argparse.Namespace) -> str:
    return (f"{results.planned} patient rooms each with an active discharge checklist "
            f"({results.clinicians} clinician{'s' if results.clinicians > 1 else ''}); "
            f"{args.n} iterations of one `!sortie oui N` and one `!ping x` in the same room "
            f"(order alternating), rooms round-robin, closed loop with {args.concurrency} "
            f"iterations in flight, after {args.warmup} warm-up iterations")


def failure_notes(results: Results) -> list[str]:
    notes = [f"{k} failures: {dict(c)}" for k, c in results.failures.items() if c]
    if results.warmup_failures:
        notes.append(f"warm-up failures: {dict(results.warmup_failures)}")
    return notes


def print_report(results: Results, args: argparse.Namespace) -> None:
    print()
    print(f"{title(results, args)} (run: {results.elapsed_s / 60:.1f} min)")
    print(tables.text_table(LATENCY_HEADER, latency_rows(results)))
    name, value, ok = target_line(results)
    print(f"Target: {name}: {value}  {tables.verdict(ok)}")
    for note in failure_notes(results):
        print(f"  {note}")
    print()
    print(tables.text_table(["load (measured phase)", ""], load_rows(results)))
    print()
    print(tables.text_table(SLICE_HEADER, slice_rows(results, args)))
    print(first_line(results, args))
    print()
    print(tables.text_table(SETUP_HEADER, setup_rows(results)))
    print(f"  discharge planned for {results.day}; bot outbox at the end: {results.outbox}; "
          f"bot messages still undecryptable for the clinicians: {results.unreadable} (sent "
          "before they joined)")
    print()


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    name, value, ok = target_line(results)
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.discharge"
        f"{''.join(' ' + a for a in report.shown_argv())}` (the run took "
        f"{results.elapsed_s / 60:.1f} min). {title(results, args)}.", "",
        f"- Machine: {report.machine()}. Synapse, the bot and the clients all on it, over 127.0.0.1.",
        f"- Versions: Python {v['python']}, Synapse {v['matrix-synapse']} (SQLite), matrix-nio "
        f"{v['matrix-nio']} (vodozemac {v['vodozemac']}), SQLAlchemy {v['SQLAlchemy']}, "
        f"aiosqlite {v['aiosqlite']}. Liaison code: commit {v.get('code', '?')}.",
        "- Setup: one Synapse (dev homeserver, relaxed rate limits); one Liaison account running "
        "the care-team and discharge bots, in its own process, with the provisioning API. Each "
        "room opened with `POST /api/v1/patients` (fictitious patient, valid INS; team: a "
        "cross-signed E2EE clinician (bots/devstack/clinician.py) as IDEC, two accounts never logged in "
        "as MH and IDE); the clinician joins and gets the bot's briefing; then `!sortie prevoir "
        f"<J+{args.days}>` starts the checklist (20 items, template has-sortie-2015) and the bot "
        "posts its live message.",
        "- Measure: rooms taken round-robin; in each iteration, in one room, `!sortie oui N` "
        "(N = 1 + the pass over the rooms: no item answered twice) timed until the clinician's "
        "sync hands over the bot's edit (m.replace) of that room's live message showing "
        "\"✅ N.\", and `!ping x` timed until the bot's \"pong x\": the plain command round trip "
        "of the foundation benchmark, in the same rooms under the same load. Both from just "
        "before the clinician's `room_send` to the decrypted event in its sync; their order "
        "alternates from one iteration to the next. After the edit, the bot's reply to the "
        "answer (\"✅ N. …\", sent after it) is awaited untimed, so that the room's next "
        "command does not queue behind it. Closed loop: "
        f"{args.concurrency} iterations in flight in different rooms, one command in flight "
        "per room, the next iteration as soon as one ends. The measure starts once every live "
        "message is pinned and the bot's outbox is empty.",
        "",
        tables.md_table(LATENCY_HEADER, latency_rows(results)), "",
        *tables.targets_md([(name, value, ok)]), "",
        tables.md_table(["load (measured phase)", ""], load_rows(results)), "",
        "Bot CPU per command is its CPU time during the measured phase over the commands of both "
        "kinds. The measure by quarter (drift of the shared homeserver), then by which "
        "command of the pair went first:", "",
        tables.md_table(SLICE_HEADER, slice_rows(results, args)), "",
        first_line(results, args), "",
        f"Absolute times are under load: Synapse used {synapse_percent(results):.0f}% of a core "
        "during the measure (it is one Python process: the pace setter here); the "
        "one-at-a-time round trip in a single room is in the foundation section above.", "",
        "Setup (not measured against a target):", "",
        tables.md_table(SETUP_HEADER, setup_rows(results)), "",
        "The clinician (bots/devstack/clinician.py) joins the rooms she is invited to one after the other, "
        "inside her sync callback, so her joins come in batches; and Synapse hands over at most "
        "100 to-device messages a sync, so with hundreds of rooms joined at once the room keys "
        "trail the briefings by several syncs (the benchmark decrypts those again once the keys "
        f"are in). Bot messages still undecryptable for the clinicians at the end: "
        f"{results.unreadable} (sent before they joined).", "",
    ]
    notes = failure_notes(results)
    if notes:
        lines += ["Failures: " + "; ".join(notes) + ".", ""]
    lines += [report.rerun("discharge", "after the foundation and rooms benchmarks"), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("discharge", __doc__)
    parser.add_argument("--rooms", type=int, default=1000,
                        help="patient rooms, each with an active checklist (1000)")
    parser.add_argument("--n", type=int, default=400,
                        help="measured iterations, each one answer and one ping (400)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up iterations (20)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="measure: iterations in flight, closed loop (4)")
    parser.add_argument("--clinicians", type=int, default=1,
                        help="E2EE clinicians, room i going to clinician i mod this (1)")
    parser.add_argument("--open-concurrency", type=int, default=8,
                        help="setup: rooms opened, and checklists planned, in flight (8)")
    parser.add_argument("--days", type=int, default=3,
                        help="the discharge is planned this many days ahead (3)")
    parser.add_argument("--command-timeout", type=float, default=60,
                        help="a command not answered within this many seconds fails (60)")
    harness.common_args(parser, timeout=3600)
    # harness.Stack.spawn reads trace: no probes in this benchmark. api.ApiStack.via_api reads team: the
    # clinician (IDEC), then MH and IDE.
    parser.set_defaults(trace=False, team=TEAM)
    args = parser.parse_args(argv)
    if args.rooms < args.clinicians or args.clinicians < 1 or args.n < 4 or args.warmup < 0 \
            or args.concurrency < 1 or args.open_concurrency < 1 or args.days < 1:
        parser.error("need --rooms ≥ --clinicians ≥ 1, --n ≥ 4, --warmup ≥ 0, concurrencies "
                     "≥ 1 and --days ≥ 1")
    if args.n + args.warmup > ITEMS * args.rooms:
        parser.error(f"--n + --warmup must not exceed {ITEMS} × --rooms (each item once a room)")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, DischargeBench, print_report, markdown, SECTION, quiet=True))
