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
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench import peer
from bench.lib import harness, report, tables
from bots.devstack.clinician import Clinician

SECTION = "## Foundation: E2EE command round trip"
P50_VS_FLOOR, P99_VS_FLOOR = 1.10, 1.30


# --- homeserver and processes ---------------------------------------------------------------------


# --- round trips ----------------------------------------------------------------------------------


@dataclass
class Target:
    key: str
    label: str
    user_id: str
    process: harness.BotProcess
    command: Callable[[str], str]
    reply_to: bool
    room_id: str = ""
    trips: list[harness.Trip] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0

    @property
    def p50(self) -> float:
        return tables.percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return tables.percentile(self.samples, 99)


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
    load_trips: list[harness.Trip] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


class Bench(harness.Stack):
    """The round trip benchmark on the stack (Stack)."""

    async def start_bots(self, peer_python: Path | None) -> list[Target]:
        user_id, process = await self.start_floor()
        targets = [Target("floor", "floor (bare nio echo)", user_id, process,
                          lambda tag: f"!ping {tag}", reply_to=True)]
        user_id, process = await self.start_liaison()
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
            target.room_id = await harness.create_encrypted_room(doc, target.user_id, target.key)
        await asyncio.gather(*(harness.wait_joined(doc, t.room_id, t.process, t.user_id, 180) for t in targets))
        await asyncio.gather(*(harness.knows_devices(doc, t.user_id) for t in targets))
        harness.log(f"rooms ready; warm-up: {args.warmup} commands per bot")
        for i in range(args.warmup):
            for target in targets:
                trip = await harness.round_trip(doc, self.replies, target.room_id, target.user_id,
                                        target.command(f"w{i}"), reply_to=target.reply_to,
                                        timeout=60)
                if trip.error:
                    results.warmup_failures[f"{target.key}: {trip.error}"] += 1
        harness.log(f"measuring: {args.n} commands per bot, interleaved")
        cpu_before = {t.key: harness.cpu_seconds(t.process.pid) for t in targets}
        other = harness.OtherLoad(self.our_pids())
        started = time.monotonic()
        for i in range(args.n):
            shift = i % len(targets)
            for target in targets[shift:] + targets[:shift]:
                trip = await harness.round_trip(doc, self.replies, target.room_id, target.user_id,
                                        target.command(str(i)), reply_to=target.reply_to,
                                        timeout=30)
                target.trips.append(trip)
                if trip.error:
                    target.failures[trip.error] += 1
                else:
                    assert trip.ms is not None
                    target.samples.append(trip.ms)
            if (i + 1) % 50 == 0:
                harness.log(f"  {i + 1}/{args.n}: " + ", ".join(
                    f"{t.key} p50 {t.p50:.1f} ms" for t in targets))
        results.latency_wall_s = time.monotonic() - started
        results.other_load_percent = other.percent()
        for target in targets:
            target.cpu_s = harness.cpu_seconds(target.process.pid) - cpu_before[target.key]

    async def throughput(self, bot: Target, nurses: list[Clinician],
                         results: Results) -> dict[str, Any]:
        """The closed-loop load against one bot: each nurse alone with it in rooms of its own."""
        args = self.args
        per_clinician = args.rooms // args.clinicians
        harness.log(f"throughput, {bot.key}: {len(nurses)} clinicians x {per_clinician} rooms")

        async def rooms_of(nurse: Clinician) -> list[tuple[Clinician, str]]:
            return [(nurse, await harness.create_encrypted_room(nurse, bot.user_id, f"{bot.key}{j}"))
                    for j in range(per_clinician)]

        rooms = [r for batch in await asyncio.gather(*(rooms_of(n) for n in nurses)) for r in batch]
        await asyncio.gather(*(harness.wait_joined(nurse, room_id, bot.process, bot.user_id, 300)
                               for nurse, room_id in rooms))
        await asyncio.gather(*(harness.knows_devices(nurse, bot.user_id) for nurse in nurses))
        harness.log(f"{len(rooms)} rooms joined; warm-up: one command per room")
        warm = await asyncio.gather(*(
            harness.round_trip(nurse, self.replies, room_id, bot.user_id, bot.command("warm"),
                       reply_to=bot.reply_to, timeout=60) for nurse, room_id in rooms))
        warm_failures = sum(1 for trip in warm if trip.error)

        quota = [args.commands // len(rooms) + (1 if i < args.commands % len(rooms) else 0)
                 for i in range(len(rooms))]
        trips: list[harness.Trip] = []

        async def room_loop(nurse: Clinician, room_id: str, count: int) -> None:
            for k in range(count):
                trips.append(await harness.round_trip(nurse, self.replies, room_id, bot.user_id,
                                              bot.command(f"t{k}"), reply_to=bot.reply_to,
                                              timeout=60))

        pids = {"synapse": self.hs.pid, bot.key: bot.process.pid, "bench": os.getpid()}
        cpu_before = {k: harness.cpu_seconds(p) for k, p in pids.items() if p}
        rss_before = psutil.Process(bot.process.pid).memory_info().rss
        other = harness.OtherLoad(self.our_pids())
        sampler = harness.RssSampler(bot.process.pid)
        sampler.start()
        harness.log(f"measuring: {args.commands} commands over {len(rooms)} rooms, one in flight per room")
        started = time.monotonic()
        try:
            await asyncio.gather(*(room_loop(nurse, room_id, count)
                                   for (nurse, room_id), count in zip(rooms, quota, strict=True)))
        finally:
            await sampler.stop()
        wall = time.monotonic() - started
        cpu = {k: (harness.cpu_seconds(p) - cpu_before[k]) for k, p in pids.items() if p}
        samples = [t.ms for t in trips if t.ms is not None]
        if bot.key == "liaison":
            results.load_trips = trips
        return {
            "bot": bot.label, "clinicians": len(nurses), "rooms": len(rooms),
            "commands": args.commands, "answered": len(samples),
            "failures": dict(Counter(t.error for t in trips if t.error)),
            "warm_failures": warm_failures, "wall_s": wall,
            "per_s": len(samples) / wall if wall else 0.0,
            "p50": tables.percentile(samples, 50), "p99": tables.percentile(samples, 99),
            "rss_before": rss_before, "rss_sampled_max": sampler.peak,
            "vm_hwm_kib": harness.vm_hwm_kib(bot.process.pid),
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
                harness.log(peer_error)
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        targets = await self.start_bots(peer_python)
        by_key = {t.key: t for t in targets}
        results = Results(args.n, args.warmup, targets, Counter(), peer_error)
        results.versions = report.versions(peer_python)
        await self.latency(targets, results)
        if args.commands > 0:
            nurses = [await self.clinician(f"nurse{k}") for k in range(args.clinicians)]
            for key in ("liaison", "floor") if args.floor_load else ("liaison",):
                results.throughput[key] = await self.throughput(by_key[key], nurses, results)
        results.handler_ms = harness.handler_times(by_key["liaison"].process.log_file)
        results.peak_rss_kib = {t.key: harness.vm_hwm_kib(t.process.pid) for t in targets}
        for target in targets:
            target.process.stop()  # the traced ones write their trace on the way out
            trace_file = target.process.trace_file
            if trace_file and trace_file.exists():
                trace = json.loads(trace_file.read_text())
                results.breakdown[target.key] = breakdown(target.trips, trace)
                if target.key == "liaison" and results.load_trips:
                    results.breakdown["liaison under load"] = breakdown(results.load_trips, trace)
        return results



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


def breakdown(trips: list[harness.Trip], trace: dict[str, Any]) -> dict[str, list[float]]:
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
    print(tables.text_table(LATENCY_HEADER, latency_rows(results)))
    for target in results.targets:
        if target.failures:
            print(f"  {target.key} failures: {dict(target.failures)}")
    if results.warmup_failures:
        print(f"  warm-up failures: {dict(results.warmup_failures)}")
    if results.peer_error:
        print(f"  peer: {results.peer_error}")
    print("Targets:")
    for name, value, ok in s["targets"]:
        print(f"  {name:32} {value:>24}  {tables.verdict(ok)}")
    if "peer_p50_ratio" in s:
        print(f"  peer vs floor: p50 {s['peer_p50_ratio']:.2f}×, p99 {s['peer_p99_ratio']:.2f}×; "
              f"Liaison p50 / peer p50 = {s['liaison_vs_peer']:.2f}")
    if results.handler_ms:
        print(f"  Liaison handler (claim row → commit, its own log, both phases): p50 "
              f"{tables.percentile(results.handler_ms, 50):.1f} ms, p99 "
              f"{tables.percentile(results.handler_ms, 99):.1f} ms")
    if results.breakdown:
        print()
        print("Where a round trip's time goes (--trace; p50 ms per stage; 'under load' = throughput phase):")
        print(tables.text_table(["stage", *breakdown_keys(results)],
                         breakdown_rows(results)))
    if results.throughput:
        print()
        print(throughput_title(results))
        print(tables.text_table(["", *throughput_columns(results)], throughput_rows(results)))
        print("  peak RSS of each bot process over the whole run (VmHWM): " + ", ".join(
            f"{k} {v / 1024:.0f} MiB" for k, v in results.peak_rss_kib.items()))
    print()


def markdown(results: Results, args: argparse.Namespace) -> str:
    s = summary(results)
    v = results.versions
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.roundtrip"
        f"{''.join(' ' + a for a in report.shown_argv())}` (n={args.n}, "
        f"warm-up {args.warmup}, throughput {args.commands} commands in {args.rooms} rooms by "
        f"{args.clinicians} clinicians).", "",
        f"- Machine: {report.machine()}. Synapse, the bots and the clients all on it, over 127.0.0.1.",
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
        tables.md_table(LATENCY_HEADER, latency_rows(results)), "",
        "CPU ms/cmd is the bot process's CPU time during the measured phase divided by its commands. "
        f"Processes other than Synapse, the bots and the benchmark used "
        f"{results.other_load_percent:.0f}% of a core meanwhile.",
        "",
        *tables.targets_md(s["targets"]),
    ]
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
                     f"p50 {tables.percentile(results.handler_ms, 50):.1f} ms, p99 "
                     f"{tables.percentile(results.handler_ms, 99):.1f} ms.")
    if results.breakdown:
        lines += ["", "Where the time goes (`--trace`: probes in the floor and Liaison processes, one "
                  "clock for all; p50 ms per stage over the measured commands):", "",
                  tables.md_table(["stage", *breakdown_keys(results)],
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
                  tables.md_table(["", *throughput_columns(results)], throughput_rows(results)), "",
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("roundtrip", __doc__)
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
    harness.common_args(parser, timeout=1200)
    args = parser.parse_args(argv)
    if args.n < 2 or args.clinicians < 1 or args.rooms < args.clinicians:
        parser.error("need --n ≥ 2 and --rooms ≥ --clinicians ≥ 1")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, Bench,
                         lambda results, _: print_report(results), markdown, SECTION))
