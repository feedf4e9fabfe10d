"""Care-team patient rooms: how fast Liaison opens them through its provisioning API, against the
least any bot must do for the same rooms, on one real Synapse.

    python -m bench.rooms [--rooms 500] [--team 4] [--concurrency 8] [--no-doc]
    make bench

One Synapse (bench.lib.harness.BenchHomeserver: relaxed rate limits, room creation and invites
included) on 127.0.0.1 in a temp dir, a pool of `--pool` team accounts (registered, never logged
in), and two ways of opening `--rooms` patient rooms, each with a team of `--team` from the pool:

- Liaison: the care-team bot with its API in its own process (bench/run_liaison.py). One
  `POST /api/v1/patients` per room (fictitious identity with a valid INS, the team with roles);
  the 201 comes once the room exists, and the outbox then posts the identity card as the room's
  first message. A room counts once that message is sent: a batch ends when every request is
  answered and no row of the bot's outbox (data_dir/bots.db) is pending.
- baseline: one matrix-nio AsyncClient with E2EE in this process, syncing as Liaison does (same
  filter, full state only the first time). Per room: `room_create` with the very request Liaison
  makes (bots.careteam.rooms.create_request), wait until sync brings the room (nio encrypts only
  for rooms it knows), then `room_send` of the same identity card (ignore_unverified_devices).

Both at `--concurrency` rooms in flight (Liaison: requests to the API), after `--warmup` rooms each,
in `--batches` batches per side, alternating (the first side alternating too), so that the drift
of the shared Synapse (its SQLite grows) hits both alike. Totals: rooms/s per side and their
ratio (target: Liaison ≥ 0.8× the baseline), API latency, the bot's CPU per room and peak RSS.

Everything stops by itself (`--timeout`); the figures are printed and written to
docs/PERFORMANCE.md (section "Care-team rooms: opening patient rooms").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomCreateResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.store import SqliteStore

from bench.lib import api, harness, report, tables
from bots.careteam import texts as careteam_texts
from bots.careteam.render import card
from bots.careteam.rooms import create_request, creator_has_all_power, episode_content, room_name
from bots.common.identity import Identity
from bots.common.roles import Roles
from bots.config import CareteamConfig
from bots.runtime import i18n
from bots.runtime.notice import notice
from bots.runtime.runtime import SYNC_FILTER

SECTION = "## Care-team rooms: opening patient rooms"
TARGET = 0.8  # Liaison rooms/s ≥ this × the baseline's
SIDES = ("liaison", "baseline")
LABELS = {"liaison": "Liaison (API)", "baseline": "baseline (raw nio)"}

# The baseline posts the same identity card as the care-team bot, rendered with its catalogue.
for _catalogue in careteam_texts.CATALOGUES:
    i18n.register(_catalogue)


# --- the rooms ------------------------------------------------------------------------------------


# --- the two sides --------------------------------------------------------------------------------


class Baseline:
    """A bare matrix-nio E2EE client: the fewest calls that give the same room and first message."""

    def __init__(self, homeserver: str, user_id: str, password: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.client = AsyncClient(homeserver, user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store=SqliteStore,
                                                           store_sync_tokens=False))
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.hidden_creator = False

    async def start(self) -> None:
        resp = await self.client.login(self.password, device_name="bench baseline")
        if not isinstance(resp, LoginResponse):
            raise RuntimeError(f"baseline login failed: {resp}")
        await self.client.keys_upload()
        self.client.add_response_callback(self._on_sync, SyncResponse)  # type: ignore[arg-type]
        # As Liaison syncs: its filter, full state only on the first sync (nio's sync_forever
        # would ask for it on every sync with full_state=True, which grows with the rooms).
        self._task = asyncio.create_task(self.client.sync_forever(
            timeout=30_000, sync_filter=SYNC_FILTER))
        # As Liaison's provisioner does, once: does the creator's power need listing?
        resp = await self.client.send("GET", "/_matrix/client/v3/capabilities", headers={
            "Authorization": f"Bearer {self.client.access_token}"})
        async with resp:
            default = (await resp.json())["capabilities"]["m.room_versions"]["default"]
        self.hidden_creator = creator_has_all_power(default)

    async def _on_sync(self, resp: SyncResponse) -> None:
        for room_id in resp.rooms.join:
            future = self._waiting.pop(room_id, None)
            if future is not None and not future.done():
                future.set_result(None)

    async def known(self, room_id: str, timeout: float) -> None:
        if room_id in self.client.rooms:  # no await since the check: no sync can slip between
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting[room_id] = future
        await asyncio.wait_for(future, timeout)

    async def open_room(self, ref: str, identity: Identity, invite: dict[str, int]) -> str | None:
        """Create, wait for sync, send the card: None, or why it failed."""
        name = room_name(CareteamConfig.room_name, ref, identity.initials)
        resp = await self.client.room_create(**create_request(
            bot=None if self.hidden_creator else self.client.user_id, name=name, invite=invite,
            allowed_servers=[self.client.user_id.split(":", 1)[1]],
            episode=episode_content(ref, api.WARD, "open")))
        if not isinstance(resp, RoomCreateResponse):
            return f"room_create: {getattr(resp, 'status_code', resp)}"
        try:
            await self.known(resp.room_id, 60)
        except TimeoutError:
            return "room not synced within 60 s"
        content = notice(card("fr", ref=ref, identity=identity, admission=None, ward=api.WARD,
                              status="open"))
        sent = await self.client.room_send(resp.room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        return None if isinstance(sent, RoomSendResponse) else \
            f"room_send: {getattr(sent, 'status_code', sent)}"

    async def close(self) -> None:
        if self._task:
            self.client.stop_sync_forever()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Results:
    batches: list[api.Batch] = field(default_factory=list)
    warmup_failures: Counter[str] = field(default_factory=Counter)
    peak_rss_kib: int = 0
    other_load_percent: float = 0.0
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def of(self, side: str) -> list[api.Batch]:
        return [b for b in self.batches if b.side == side]


class RoomsBench(api.ApiStack):
    """ApiStack gives the homeserver, the bot process with its API, registration and the
    clean-up; this adds the baseline and the batches of both sides."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.baseline: Baseline | None = None
        roles = Roles.load().by_code
        self.power = {r: roles[r].power_level for r in api.ROLES}

    async def raw(self, i: int, batch: api.Batch) -> None:
        assert self.baseline is not None
        ref = f"P-{datetime.now(UTC).year}-{i + 1:05d}"
        identity = api.patient(i)
        invite = {u: self.power[role] for u, role in api.team_of(i, self.pool, self.args.team)}
        async with self.sem:
            t0 = time.perf_counter()
            why = await self.baseline.open_room(ref, identity, invite)
            ms = (time.perf_counter() - t0) * 1000
        if why is None:
            batch.opened += 1
            batch.latencies_ms.append(ms)
        else:
            batch.failures[why] += 1

    async def batch(self, side: str, rooms: range) -> api.Batch:
        assert self.bot is not None and self.outbox is not None and self.hs.pid
        own = self.bot.pid if side == "liaison" else os.getpid()
        batch = api.Batch(side, len(rooms))
        cpu0, synapse0 = harness.cpu_seconds(own), harness.cpu_seconds(self.hs.pid)
        sent0 = self.outbox.counts()["sent"]
        started = time.monotonic()
        one: Callable[[int, api.Batch], Awaitable[None]] = \
            self.via_api if side == "liaison" else self.raw
        await asyncio.gather(*(one(i, batch) for i in rooms))
        if side == "liaison":
            answered = time.monotonic()
            sent = (await self.outbox.drained(timeout=300))["sent"] - sent0
            batch.drain_s = time.monotonic() - answered
            if sent < batch.opened:  # answered 201, but the outbox gave the message up
                batch.failures["identity message not sent"] += batch.opened - sent
                batch.opened = sent
        batch.wall_s = time.monotonic() - started
        batch.cpu_s = harness.cpu_seconds(own) - cpu0
        batch.synapse_cpu_s = harness.cpu_seconds(self.hs.pid) - synapse0
        if side == "liaison":
            self.bot.check()
        return batch

    async def run(self) -> Results:  # type: ignore[override]
        args = self.args
        results = Results(versions=report.versions(None))
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self.bot = await self.start_bot()
        accounts = await asyncio.gather(*(self.register(f"member{k:02d}")
                                          for k in range(args.pool)))
        self.pool = [user_id for user_id, _ in accounts]
        user_id, password = await self.register("baseline")
        self.baseline = Baseline(self.hs.url, user_id, password, self.tmp / "baseline")
        await self.baseline.start()
        await self.api_ready(self.bot)
        harness.log(f"bot and baseline ready; {args.pool} team accounts; warm-up: {args.warmup} rooms "
            "per side")
        n, k = args.rooms, args.batches
        for side in SIDES:
            results.warmup_failures += (await self.batch(side, range(n, n + args.warmup))).failures
        harness.log(f"measuring: {n} rooms per side in {k} batches, alternating, {args.concurrency} "
            "in flight")
        other = harness.OtherLoad(self.our_pids())
        for b in range(k):
            rooms = range(b * n // k, (b + 1) * n // k)
            for side in SIDES if b % 2 == 0 else SIDES[::-1]:
                batch = await self.batch(side, rooms)
                results.batches.append(batch)
                harness.log(f"  batch {b + 1}/{k} {side}: {batch.opened}/{batch.asked} rooms in "
                    f"{batch.wall_s:.1f} s = {batch.per_s:.1f} rooms/s"
                    + (f" (last message {batch.drain_s:.2f} s after the last 201)"
                       if side == "liaison" else ""))
        results.other_load_percent = other.percent()
        results.peak_rss_kib = harness.vm_hwm_kib(self.bot.pid)
        results.elapsed_s = time.monotonic() - results.started
        return results

    async def close(self) -> None:
        if self.baseline is not None:
            with contextlib.suppress(Exception):
                await self.baseline.close()
        await super().close()


# --- report ---------------------------------------------------------------------------------------


def totals(results: Results, side: str) -> dict[str, Any]:
    batches = results.of(side)
    wall = sum(b.wall_s for b in batches)
    opened = sum(b.opened for b in batches)
    latencies = [ms for b in batches for ms in b.latencies_ms]
    return {
        "asked": sum(b.asked for b in batches), "opened": opened, "wall_s": wall,
        "per_s": opened / wall if wall else 0.0,
        "p50": tables.percentile(latencies, 50), "p99": tables.percentile(latencies, 99),
        "cpu_ms": 1000 * sum(b.cpu_s for b in batches) / max(1, opened),
        "synapse_cpu_ms": 1000 * sum(b.synapse_cpu_s for b in batches) / max(1, opened),
        "synapse_percent": 100 * sum(b.synapse_cpu_s for b in batches) / wall if wall else 0.0,
        "own_percent": 100 * sum(b.cpu_s for b in batches) / wall if wall else 0.0,
        "drain_s": sum(b.drain_s for b in batches),
        "failures": sum((b.failures for b in batches), Counter()),
    }


def ratio(results: Results) -> float:
    base = totals(results, "baseline")["per_s"]
    return totals(results, "liaison")["per_s"] / base if base else float("nan")


def rows(results: Results) -> list[list[str]]:
    t = {side: totals(results, side) for side in SIDES}

    def row(label: str, fmt: Callable[[dict[str, Any]], str]) -> list[str]:
        return [label, *(fmt(t[side]) for side in SIDES)]

    out = [
        row("rooms opened (first message sent)", lambda s: f"{s['opened']} / {s['asked']}"),
        row("wall time (sum of the batches)", lambda s: f"{s['wall_s']:.1f} s"),
        row("throughput", lambda s: f"{s['per_s']:.2f} rooms/s"),
        row("per room p50 / p99 (Liaison: POST → 201; baseline: create → sent)",
            lambda s: f"{s['p50']:.0f} / {s['p99']:.0f} ms"),
        ["last identity message sent after the last 201 (sum)",
         f"{t['liaison']['drain_s']:.1f} s", "-"],
        row("CPU per room: the bot / the baseline client",
            lambda s: f"{s['cpu_ms']:.0f} ms"),
        row("CPU, % of one core: that process / Synapse",
            lambda s: f"{s['own_percent']:.0f} / {s['synapse_percent']:.0f}"),
        row("Synapse CPU per room", lambda s: f"{s['synapse_cpu_ms']:.0f} ms"),
        ["bot peak RSS (VmHWM, whole life)", f"{results.peak_rss_kib / 1024:.0f} MiB", "-"],
    ]
    if any(t[side]["failures"] for side in SIDES):
        out.append(row("failures", lambda s: ", ".join(
            f"{k} ×{v}" for k, v in s["failures"].items()) or "0"))
    return out


BATCH_HEADER = ["batch", "Liaison rooms/s", "baseline rooms/s", "ratio", "first"]


def batch_rows(results: Results) -> list[list[str]]:
    liaison, baseline = results.of("liaison"), results.of("baseline")
    return [[str(k + 1), f"{lb.per_s:.2f}", f"{bb.per_s:.2f}",
             f"{lb.per_s / bb.per_s:.2f}×" if bb.per_s else "-",
             "Liaison" if k % 2 == 0 else "baseline"]
            for k, (lb, bb) in enumerate(zip(liaison, baseline, strict=True))]


def title(args: argparse.Namespace) -> str:
    return (f"Opening patient rooms: {args.rooms} per side, a team of {args.team} each (from "
            f"{args.pool} accounts), {args.concurrency} in flight, {args.batches} batches per "
            f"side alternating, after {args.warmup} warm-up rooms each")


def target_line(results: Results) -> tuple[str, str, bool]:
    r = ratio(results)
    return f"Liaison ≥ {TARGET:.1f}× baseline rooms/s", f"{r:.2f}×", r >= TARGET


def print_report(results: Results, args: argparse.Namespace) -> None:
    print()
    print(f"{title(args)} (run: {results.elapsed_s:.0f} s; other processes on the machine used "
          f"{results.other_load_percent:.0f}% of a core meanwhile)")
    print(tables.text_table(["", *(LABELS[s] for s in SIDES)], rows(results)))
    print()
    print(tables.text_table(BATCH_HEADER, batch_rows(results)))
    name, value, ok = target_line(results)
    print(f"\nTarget: {name}: {value}  {tables.verdict(ok)}")
    if results.warmup_failures:
        print(f"  warm-up failures: {dict(results.warmup_failures)}")
    print()


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    name, value, ok = target_line(results)
    t = {side: totals(results, side) for side in SIDES}
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.rooms"
        f"{''.join(' ' + a for a in report.shown_argv())}` (the run took "
        f"{results.elapsed_s / 60:.1f} min). {title(args)}.", "",
        f"- Machine: {report.machine()}. Synapse, the bot and the clients all on it, over 127.0.0.1.",
        f"- Versions: Python {v['python']}, Synapse {v['matrix-synapse']} (SQLite), matrix-nio "
        f"{v['matrix-nio']} (vodozemac {v['vodozemac']}), SQLAlchemy {v['SQLAlchemy']}, "
        f"aiosqlite {v['aiosqlite']}. Liaison code: commit {v.get('code', '?')}.",
        "- Method: one Synapse (dev homeserver, relaxed rate limits, room creation and invites "
        "included); team accounts registered, never logged in (nobody joins: no welcome "
        "messages). Each room: a fictitious patient (valid INS), a private encrypted room with "
        "the episode state event and the team invited with their power levels, then the "
        "identity card as its first message, encrypted.",
        "- *Liaison*: the care-team bot in its own process (bench/run_liaison.py), one "
        "`POST /api/v1/patients` per room (token, schema, identity and INS checks, the team's "
        "accounts looked up, one transaction with the sealed identity; the provisioner creates "
        "the room and answers 201; the outbox sends the card). A batch ends when every request "
        "is answered and no outbox row is pending. Latency: POST → 201.",
        "- *baseline*: one bare matrix-nio E2EE client in the benchmark process, syncing as the "
        "bot does (its filter, full state once): `room_create` with the request Liaison makes "
        "(bots/careteam/rooms.py), wait for sync to bring the room, `room_send` of the same card "
        "(ignore_unverified_devices). No validation, no database, no API: the least any bot "
        "does for the same rooms. Latency: create → sent.",
        f"- Interleaved: {args.batches} batches per side alternating, the side going first "
        "alternating too, so the shared Synapse's drift hits both alike; totals over all "
        f"batches. Processes other than Synapse, the bot and the benchmark used "
        f"{results.other_load_percent:.0f}% of a core meanwhile.",
        "",
        tables.md_table(["", *(LABELS[s] for s in SIDES)], rows(results)), "",
        *tables.targets_md([(name, value, ok)]), "",
        "Per batch (drift of the shared homeserver):", "",
        tables.md_table(BATCH_HEADER, batch_rows(results)), "",
    ]
    if results.warmup_failures:
        lines += [f"Warm-up failures: {dict(results.warmup_failures)}.", ""]
    if not ok:
        lines += [f"The target is not met: Liaison opens {t['liaison']['per_s']:.2f} rooms/s, "
                  f"the baseline {t['baseline']['per_s']:.2f} rooms/s.", ""]
    lines += ["Caveat: the team accounts come from a small pool, so after the first rooms the "
              "provisioner's 5-minute cache of accounts known to exist spares the profile "
              "look-ups. A room whose team is all new to the bot pays 4 look-ups first, queued "
              "behind room creations in a busy Synapse (before that cache, with every account "
              "looked up twice, the ratio was 0.75×).", ""]
    lines += [report.rerun("rooms", "after the round trip"), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("rooms", __doc__)
    parser.add_argument("--rooms", type=int, default=500, help="rooms per side (500)")
    parser.add_argument("--team", type=int, default=4, help="team members per room (4)")
    parser.add_argument("--concurrency", type=int, default=8, help="rooms in flight (8)")
    parser.add_argument("--pool", type=int, default=20,
                        help="team accounts, each room taking --team of them in turn (20)")
    parser.add_argument("--batches", type=int, default=5, help="batches per side (5)")
    parser.add_argument("--warmup", type=int, default=8, help="warm-up rooms per side (8)")
    harness.common_args(parser, timeout=1800)
    parser.set_defaults(trace=False)  # harness.Stack.spawn reads it: no probes in this benchmark
    args = parser.parse_args(argv)
    if not 1 <= args.team <= args.pool or args.concurrency < 1 or args.batches < 1 \
            or args.rooms < args.batches:
        parser.error("need 1 ≤ --team ≤ --pool, --concurrency ≥ 1 and --rooms ≥ --batches ≥ 1")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, RoomsBench, print_report, markdown, SECTION))
