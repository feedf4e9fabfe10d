"""The bots' own cost against the floor, cheaply: resident memory at idle, CPU time per command.

    python -m bench.cost [--n 100] [--rooms 10] [--burst 300]

One Synapse (as in bench.roundtrip) and two bots, each in its own process: the floor
(bench/echo_floor.py, a bare matrix-nio E2EE echo) and the Liaison bots process
(bench/run_liaison.py, the built-in commands only, as in bench.roundtrip). A clinician in one
encrypted room with each; both answer `--warmup` `!ping`s.

1. Idle: after `--settle` seconds with nothing to do, each process's VmRSS and VmHWM from /proc.
2. Paced: `--n` commands to each bot, interleaved, one at a time: each process's CPU time over
   the phase divided by its commands.
3. Burst: `--rooms` more rooms per bot, one command in flight per room, `--burst` commands, each
   bot in turn (Liaison first): CPU per command again, with several commands per sync.

CPU time is what the process itself spent, so it is less disturbed by other load on the machine
than latency is. The figures and the Liaison / floor ratios are printed, and written to
docs/PERFORMANCE.md (section "The bots' own cost") unless `--no-doc`. About a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.lib import harness, report, tables
from bots.devstack.clinician import Clinician

SECTION = "## The bots' own cost: idle memory, CPU per command"
RSS_VS_FLOOR, CPU_VS_FLOOR = 1.3, 2.0  # issue 17's targets


def status_kib(pid: int, field_name: str) -> int:
    """A /proc/<pid>/status figure in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Bot:
    key: str
    user_id: str
    process: harness.BotProcess
    room_id: str = ""
    idle_rss_kib: int = 0
    idle_hwm_kib: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # phase → CPU ms per command
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class Results:
    bots: dict[str, Bot]
    other_load: dict[str, float] = field(default_factory=dict)  # phase → % of a core
    versions: dict[str, str] = field(default_factory=dict)


class Cost(harness.Stack):
    async def run(self) -> Results:
        args = self.args
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        floor = Bot("floor", *await self.start_floor())
        liaison = Bot("liaison", *await self.start_liaison())
        results = Results({"floor": floor, "liaison": liaison})
        results.versions = report.versions(None)
        bots = [floor, liaison]

        doc = await self.clinician("doc")
        for bot in bots:
            bot.room_id = await harness.create_encrypted_room(doc, bot.user_id, bot.key)
        await asyncio.gather(*(harness.wait_joined(doc, b.room_id, b.process, b.user_id, 180)
                               for b in bots))
        await asyncio.gather(*(harness.knows_devices(doc, b.user_id) for b in bots))
        harness.log(f"warm-up: {args.warmup} commands per bot")
        for i in range(args.warmup):
            for bot in bots:
                await self.ping(doc, bot, f"w{i}")

        harness.log(f"idle for {args.settle:.0f} s")
        other = harness.OtherLoad(self.our_pids())
        await asyncio.sleep(args.settle)
        results.other_load["idle"] = other.percent()
        for bot in bots:
            bot.idle_rss_kib = status_kib(bot.process.pid, "VmRSS")
            bot.idle_hwm_kib = status_kib(bot.process.pid, "VmHWM")

        harness.log(f"paced: {args.n} commands per bot, interleaved")
        other = harness.OtherLoad(self.our_pids())
        before = {b.key: harness.cpu_seconds(b.process.pid) for b in bots}
        for i in range(args.n):
            for bot in bots[i % 2:] + bots[:i % 2]:
                await self.ping(doc, bot, str(i))
        results.other_load["paced"] = other.percent()
        for bot in bots:
            used = harness.cpu_seconds(bot.process.pid) - before[bot.key]
            bot.cpu_ms["paced"] = 1000 * used / args.n

        if args.burst > 0:
            nurse = await self.clinician("nurse")
            other = harness.OtherLoad(self.our_pids())
            for bot in (liaison, floor):
                bot.cpu_ms["burst"] = await self.burst(nurse, bot)
            results.other_load["burst"] = other.percent()
        return results

    async def ping(self, doc: Clinician, bot: Bot, tag: str) -> None:
        trip = await harness.round_trip(doc, self.replies, bot.room_id, bot.user_id,
                                        f"!ping {tag}", reply_to=True, timeout=60)
        if trip.error:
            bot.failures[trip.error] += 1

    async def burst(self, nurse: Clinician, bot: Bot) -> float:
        """CPU ms per command of `bot` for --burst commands over --rooms rooms, one in flight per
        room (several commands per sync)."""
        args = self.args
        rooms = [await harness.create_encrypted_room(nurse, bot.user_id, f"{bot.key}{j}")
                 for j in range(args.rooms)]
        await asyncio.gather(*(harness.wait_joined(nurse, r, bot.process, bot.user_id, 180)
                               for r in rooms))
        await harness.knows_devices(nurse, bot.user_id)
        await asyncio.gather(*(harness.round_trip(nurse, self.replies, r, bot.user_id, "!ping w",
                                                  reply_to=True, timeout=60) for r in rooms))
        harness.log(f"burst, {bot.key}: {args.burst} commands over {len(rooms)} rooms")

        async def loop(room_id: str, count: int) -> None:
            for k in range(count):
                trip = await harness.round_trip(nurse, self.replies, room_id, bot.user_id,
                                                f"!ping b{k}", reply_to=True, timeout=60)
                if trip.error:
                    bot.failures[trip.error] += 1

        quota = [args.burst // len(rooms) + (i < args.burst % len(rooms)) for i in range(len(rooms))]
        before = harness.cpu_seconds(bot.process.pid)
        await asyncio.gather(*(loop(r, q) for r, q in zip(rooms, quota, strict=True)))
        return 1000 * (harness.cpu_seconds(bot.process.pid) - before) / args.burst


# --- report ---------------------------------------------------------------------------------------

HEADER = ["", "floor (bare nio echo)", "Liaison", "Liaison / floor"]


def rows(results: Results) -> list[list[str]]:
    floor, liaison = results.bots["floor"], results.bots["liaison"]

    def mib(kib: int) -> str:
        return f"{kib / 1024:.1f} MiB"

    out = [
        ["RSS at idle (VmRSS)", mib(floor.idle_rss_kib), mib(liaison.idle_rss_kib),
         f"{liaison.idle_rss_kib / floor.idle_rss_kib:.2f}×"],
        ["peak RSS so far (VmHWM)", mib(floor.idle_hwm_kib), mib(liaison.idle_hwm_kib),
         f"{liaison.idle_hwm_kib / floor.idle_hwm_kib:.2f}×"],
    ]
    for phase, label in (("paced", "CPU per command, paced (one at a time)"),
                         ("burst", "CPU per command, burst (one in flight per room)")):
        if phase in floor.cpu_ms:
            out.append([label, f"{floor.cpu_ms[phase]:.1f} ms", f"{liaison.cpu_ms[phase]:.1f} ms",
                        f"{liaison.cpu_ms[phase] / floor.cpu_ms[phase]:.2f}×"])
    return out


def targets(results: Results) -> list[tuple[str, str, bool]]:
    floor, liaison = results.bots["floor"], results.bots["liaison"]
    rss = liaison.idle_rss_kib / floor.idle_rss_kib
    out = [(f"RSS at idle ≤ {RSS_VS_FLOOR}× floor", f"{rss:.2f}×", rss <= RSS_VS_FLOOR)]
    for phase in ("paced", "burst"):
        if phase in floor.cpu_ms:
            ratio = liaison.cpu_ms[phase] / floor.cpu_ms[phase]
            out.append((f"CPU per command ({phase}) ≤ {CPU_VS_FLOOR:.0f}× floor", f"{ratio:.2f}×",
                        ratio <= CPU_VS_FLOOR))
    return out


def load_line(results: Results) -> str:
    return "Other processes on the machine (neither Synapse, the bots nor the benchmark), % of a " \
        "core: " + ", ".join(f"{phase} {pct:.0f}%" for phase, pct in results.other_load.items())


def failures_line(results: Results) -> str | None:
    fails = {k: dict(b.failures) for k, b in results.bots.items() if b.failures}
    return f"Failures: {fails}" if fails else None


def show(results: Results, _: argparse.Namespace) -> None:
    print()
    print("The bots' own cost (Liaison: the built-in commands only)")
    print(tables.text_table(HEADER, rows(results)))
    for name, value, ok in targets(results):
        print(f"  {name:36} {value:>8}  {tables.verdict(ok)}")
    print(load_line(results))
    if line := failures_line(results):
        print(line)


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.cost"
        f"{''.join(' ' + a for a in report.shown_argv())}` (warm-up {args.warmup}, idle "
        f"{args.settle:.0f} s, paced {args.n} commands per bot, burst {args.burst} commands over "
        f"{args.rooms} rooms per bot).", "",
        f"- Machine: {report.machine()}. Liaison code: commit {v.get('code', '?')}; Python "
        f"{v['python']}, matrix-nio {v['matrix-nio']}, SQLAlchemy {v['SQLAlchemy']}.",
        "- Floor: bench/echo_floor.py (bare matrix-nio E2EE echo of `!ping x`). Liaison: "
        "bench/run_liaison.py, the built-in commands only: `!ping x` (inbox row, "
        "handler transaction, outbox row, sender, cross-signing trust).",
        "- RSS at idle: VmRSS of each process after the warm-up and the idle time. CPU per "
        "command: the process's CPU time (user + system) over the phase divided by its commands.",
        "",
        tables.md_table(HEADER, rows(results)), "",
        *tables.targets_md(targets(results)), "",
        load_line(results) + ".",
    ]
    if line := failures_line(results):
        lines.append(line + ".")
    lines += ["", "Rerun: `python -m bench.cost` (about a minute); `--help` lists the knobs.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("cost", __doc__)
    parser.add_argument("--warmup", type=int, default=10, help="warm-up commands per bot (10)")
    parser.add_argument("--settle", type=float, default=10, help="idle seconds before RSS (10)")
    parser.add_argument("--n", type=int, default=100, help="paced commands per bot (100)")
    parser.add_argument("--rooms", type=int, default=10, help="burst: rooms per bot (10)")
    parser.add_argument("--burst", type=int, default=300,
                        help="burst: commands per bot (300; 0 skips the phase)")
    harness.common_args(parser, timeout=900)
    parser.set_defaults(trace=False)  # no probes (bench/trace.py): they would add to the CPU
    args = parser.parse_args(argv)
    if args.n < 1 or args.rooms < 1:
        parser.error("need --n ≥ 1 and --rooms ≥ 1")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, Cost, show, markdown, SECTION))
