"""The ADT intake against its floor, and the time from an admission to the room's alert.

    python -m bench.adt [--n 10000] [--connections 4] [--alerts 5] [--databases sqlite,postgresql]

1. Intake: `--n` messages of a hospital's feed (bots/devstack/adt_messages.py `feed`: A01, A04,
   A05, A02, A08, A03 of some 3,000 patients, in the order an interface engine sends them)
   replayed over MLLP on TCP into the real intake process (`liaison adt`, its own process, on a
   fresh SQLite file and on a fresh PostgreSQL database, 127.0.0.1:5432, created and dropped
   here), and into the floor (bench/adt_floor.py: the `hl7` library's MLLP server, parse and
   `create_ack`, nothing stored), each in turn after `--warmup` messages. `--connections`
   senders at once, each one message at a time (send, wait for its ACK: MLLP's original mode),
   a patient's messages always on the same connection. Messages acknowledged per second, ACK
   latency (from the write to the ACK read), the server's CPU per message, and the ratios.
2. Time to room alert (`--alerts` runs; 0 skips it): Synapse, the bots process (careteam,
   followup, adt; the ward's team one E2EE clinician) and the intake on one SQLite database.
   A patient admitted and discharged 12 days ago through the feed (the RH30 window open); then
   the A01 of the return, and the time until the readmission alert is in the clinician's
   timeline, decrypted. The applier's part (row stored → row applied) is read from the table.

The figures are printed, and written to docs/PERFORMANCE.md (section below) unless `--no-doc`.
A few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hl7.mllp import open_hl7_connection
from nio import RoomMessageNotice
from sqlalchemy import Engine, create_engine, text

from bench.followup import Database
from bench.lib import REPO, harness, report, tables
from bots.devstack.adt_messages import Sent, feed, patient_message
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import free_port
from bots.devstack.patients import patient
from bots.runtime.store import migrate
from bots.runtime.vault import Vault

SECTION = "## ADT intake: 10,000 HL7 messages, time to room alert"
ALERT_PATIENTS = 20_000  # patient numbers of the alert runs: none of the feed's


@dataclass
class Replay:
    """One server's run over the feed."""
    side: str
    sent: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # the server process's
    stored: int | None = None  # rows in adt_messages afterwards (the intake)

    @property
    def per_s(self) -> float:
        return self.codes["AA"] / self.wall_s if self.wall_s else 0.0


@dataclass
class Alert:
    ack_ms: float
    applied_ms: float  # the row's received_at → applied_at (the applier's poll and work)
    alert_ms: float  # the A01 written → the alert decrypted in the clinician's timeline


@dataclass
class Results:
    replays: list[Replay] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alert_failures: Counter[str] = field(default_factory=Counter)
    other_load: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def ack_code(block: bytes) -> str:
    at = block.find(b"\rMSA|")
    return block[at + 5:at + 7].decode("latin-1") if at >= 0 else "?"


async def send_lane(port: int, raws: list[bytes], replay: Replay) -> None:
    """One sender: each message written, then its ACK read."""
    reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="latin-1")
    try:
        for raw in raws:
            started = time.perf_counter()
            writer.writeblock(raw)
            await writer.drain()
            block = await asyncio.wait_for(reader.readblock(), 30)
            replay.latencies_ms.append((time.perf_counter() - started) * 1000)
            replay.codes[ack_code(block)] += 1
    finally:
        writer.close()


async def replay_feed(port: int, messages: list[Sent], connections: int,
                      replay: Replay | None = None) -> Replay:
    """`messages` over `connections` senders at once, a patient's on one of them."""
    replay = replay or Replay("warm-up")
    lanes: list[list[bytes]] = [[] for _ in range(connections)]
    for sent in messages:
        lanes[sent.patient % connections].append(sent.raw)
    started = time.perf_counter()
    await asyncio.gather(*(send_lane(port, lane, replay) for lane in lanes if lane))
    replay.wall_s = time.perf_counter() - started
    replay.sent = len(messages)
    return replay


async def listening(process: harness.BotProcess, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check()
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} did not listen on {port}")


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM adt_messages WHERE state = 'stored'")).scalar() or 0)
    finally:
        engine.dispose()


class AdtBench(harness.Stack):
    async def run(self) -> Results:
        args = self.args
        results = Results(versions=report.versions(None))
        stream = feed(args.n, seed=args.seed)
        warm = feed(args.warmup, seed=args.seed + 1, prefix="WARM", first_patient=15_000)
        results.replays.append(await self.measure_server(
            "floor (hl7 parse + create_ack)", None, stream, warm, results))
        for kind in args.databases:
            results.replays.append(await self.measure_intake(kind, stream, warm, results))
        if args.alerts:
            await self.time_alerts(results)
        return results

    async def measure_server(self, side: str, url: str | None, stream: list[Sent],
                             warm: list[Sent], results: Results) -> Replay:
        """Start the floor (url None) or the intake on `url`, warm it, replay the feed."""
        port = free_port()
        if url is None:
            process = self.spawn("floor", [sys.executable, "-m", "bench.adt_floor", str(port)],
                                 REPO)
        else:
            config = self.intake_config(side.split()[-1].strip("()").lower(), url, port,
                                        Vault.new_key(), "@liaison:localhost")
            process = self.spawn(f"intake-{config.stem}", [
                sys.executable, "-m", "bots.cli", "adt", "--config", str(config)], REPO)
        try:
            await listening(process, port)
            await replay_feed(port, warm, self.args.connections)
            harness.log(f"{side}: {len(stream)} messages over {self.args.connections} "
                        "connections")
            other = harness.OtherLoad(self.our_pids())
            before = harness.cpu_seconds(process.pid)
            replay = await replay_feed(port, stream, self.args.connections, Replay(side))
            replay.cpu_s = harness.cpu_seconds(process.pid) - before
            results.other_load[side] = other.percent()
        finally:
            process.stop()
        if url is not None:
            replay.stored = await asyncio.to_thread(count_rows, url) - len(warm)
        return replay

    def intake_config(self, name: str, url: str, port: int, key: str, account: str) -> Path:
        path = self.tmp / f"adt-{name}.yaml"
        path.write_text(yaml.safe_dump({
            "homeserver": "http://127.0.0.1:1", "data_dir": str(self.tmp / f"adt-{name}"),
            "database": url, "data_keys": [key],
            "accounts": [{"user_id": account, "password": "unused", "bots": ["careteam"]}],
            "adt": {"listen": f"127.0.0.1:{port}"}, "log_level": "INFO"}))
        return path

    async def measure_intake(self, kind: str, stream: list[Sent], warm: list[Sent],
                             results: Results) -> Replay:
        side = f"liaison adt ({'SQLite' if kind == 'sqlite' else 'PostgreSQL'})"
        if kind == "sqlite":
            return await self.measure_server(
                side, f"sqlite:///{self.tmp / 'intake.db'}", stream, warm, results)
        db = Database(f"liaison_bench_adt_{secrets.token_hex(3)}")
        await asyncio.to_thread(db.create)
        try:
            results.versions["postgresql"] = await asyncio.to_thread(db.server_version)
            return await self.measure_server(side, db.url, stream, warm, results)
        finally:
            await asyncio.to_thread(db.drop)

    # --- time to room alert ----------------------------------------------------------------

    async def time_alerts(self, results: Results) -> None:
        harness.log(f"starting Synapse on {self.hs.url} (data in {self.tmp})")
        await self.hs.start(timeout=120)
        user_id, password = await self.register("liaison")
        doc = await self.clinician("doc")
        url, key = f"sqlite:///{self.tmp / 'alerts.db'}", Vault.new_key()
        await asyncio.to_thread(migrate, url)  # once, before the two processes share it
        spec = self.write_spec("liaison", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name, "user_id": user_id,
            "password": password, "data_dir": str(self.tmp / "liaison"), "data_key": key,
            "database": url, "log_level": "INFO", "bots": ["careteam", "followup", "adt"],
            "wards": {"CARDIO": {"name": "Cardiologie", "team": [[doc.user_id, "IDEC"]]}}})
        bots = self.spawn("liaison", [sys.executable, "-m", "bench.run_liaison", str(spec)],
                          REPO)
        port = free_port()
        intake = self.spawn("intake-alerts", [
            sys.executable, "-m", "bots.cli", "adt", "--config",
            str(self.intake_config("alerts", url, port, key, user_id))], REPO)
        await listening(intake, port)
        engine = create_engine(url)
        try:
            for k in range(self.args.alerts):
                try:
                    results.alerts.append(await self.one_alert(doc, bots, engine, port, k))
                except (TimeoutError, AssertionError, RuntimeError) as exc:
                    results.alert_failures[type(exc).__name__] += 1
                    harness.log(f"alert run {k}: {type(exc).__name__}: {exc}")
        finally:
            engine.dispose()

    async def one_alert(self, doc: Clinician, bots: harness.BotProcess, engine: Engine,
                        port: int, k: int) -> Alert:
        """Patient k admitted and discharged 12 days ago, then back: the alert's timings."""
        who, day0 = patient(ALERT_PATIENTS + k), date.today() - timedelta(days=12)
        ids = [f"ALERT{k:03d}{step}" for step in "ADR"]
        stay = Replay("alert")
        await replay_feed(port, [
            Sent(0, "A01", patient_message("A01", ids[0], who, admitted=day0 - timedelta(days=3))),
            Sent(0, "A03", patient_message("A03", ids[1], who, admitted=day0 - timedelta(days=3),
                                           discharged=day0, disposition="8"))], 1, stay)
        assert stay.codes == Counter({"AA": 2}), stay.codes
        room = await self.until(lambda: self.room_of(engine, ids[:2]), bots, 180)
        await doc.wait_joined(room, doc.user_id, timeout=60)
        await doc.wait_for(lambda r, e: r == room and isinstance(e, RoomMessageNotice)
                           and doc.user_id in e.source["content"].get("m.mentions", {})
                           .get("user_ids", []), timeout=60)  # the bot saw her join
        await self.until(lambda: self.outbox_empty(engine), bots, 60)
        # The last messages' echoes synced, then a random phase against the applier's polling
        # (once a second): the runs sample it instead of hitting the same point of it.
        await asyncio.sleep(1 + random.Random(k).random())
        mark = len(doc.timeline)
        back = Replay("alert")
        started = time.perf_counter()
        await replay_feed(port, [Sent(0, "A01", patient_message(
            "A01", ids[2], who, admitted=date.today(), admission_type="U"))], 1, back)
        assert back.codes == Counter({"AA": 1}), back.codes
        await doc.wait_for(lambda r, e: r == room and "J+12" in getattr(e, "body", ""),
                           timeout=60, start=mark)
        alert_ms = (time.perf_counter() - started) * 1000
        applied_ms = await self.until(lambda: self.applied_ms(engine, ids[2]), bots, 30)
        harness.log(f"alert run {k}: ACK {back.latencies_ms[0]:.0f} ms, applied "
                    f"{applied_ms:.0f} ms, alert {alert_ms:.0f} ms")
        return Alert(back.latencies_ms[0], applied_ms, alert_ms)

    @staticmethod
    async def until(check: Callable[[], Any], process: harness.BotProcess,
                    timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process.check()
            if found := await asyncio.to_thread(check):
                return found
            await asyncio.sleep(0.1)
        raise TimeoutError(f"not reached within {timeout:.0f} s")

    @staticmethod
    def room_of(engine: Engine, ids: list[str]) -> str | None:
        """The patient's room once the stay's rows are applied (the room's Matrix ID)."""
        with engine.connect() as conn:
            found = conn.execute(text(
                "SELECT m.state, c.room_id FROM adt_messages m LEFT JOIN care_rooms c "
                "ON c.id = m.care_room_id WHERE m.control_id IN (:a, :b)"),
                {"a": ids[0], "b": ids[1]}).all()
        if len(found) == 2 and all(state == "applied" for state, _ in found):
            return next((room for _, room in found if room), None)
        return None

    @staticmethod
    def outbox_empty(engine: Engine) -> bool:
        with engine.connect() as conn:
            return not conn.execute(text(
                "SELECT count(*) FROM outbox WHERE state = 'pending'")).scalar()

    @staticmethod
    def applied_ms(engine: Engine, control_id: str) -> float | None:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT received_at, applied_at FROM adt_messages WHERE control_id = :c"),
                {"c": control_id}).first()
        if row is None or row[1] is None:
            return None
        received, applied = (posix(v) for v in row)
        return (applied - received) * 1000


def posix(value: object) -> float:
    """A moment read back from the table (a datetime, or SQLite's text; UTC) in seconds."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# --- report ---------------------------------------------------------------------------------------

HEADER = ["server", "messages", "AA", "wall s", "messages/s", "ACK p50 ms", "ACK p99 ms",
          "CPU µs/msg", "÷ floor (msg/s)"]


def replay_rows(results: Results) -> list[list[str]]:
    floor = results.replays[0]
    out = []
    for r in results.replays:
        stored = "" if r.stored is None else f" ({r.stored} stored)"
        out.append([r.side, str(r.sent), f"{r.codes['AA']}{stored}", f"{r.wall_s:.1f}",
                    f"{r.per_s:.0f}", f"{tables.percentile(r.latencies_ms, 50):.2f}",
                    f"{tables.percentile(r.latencies_ms, 99):.2f}",
                    f"{1e6 * r.cpu_s / max(1, r.sent):.0f}",
                    f"{r.per_s / floor.per_s:.2f}×" if floor.per_s else "—"])
    return out


ALERT_HEADER = ["", "p50 ms", "min ms", "max ms"]


def alert_rows(results: Results) -> list[list[str]]:
    def row(label: str, values: list[float]) -> list[str]:
        return [label, f"{tables.percentile(values, 50):.0f}", f"{min(values):.0f}",
                f"{max(values):.0f}"]
    a = results.alerts
    return [row("A01 written → AA read", [x.ack_ms for x in a]),
            row("row stored → row applied (applier)", [x.applied_ms for x in a]),
            row("A01 written → alert decrypted by the clinician", [x.alert_ms for x in a])]


def show(results: Results, args: argparse.Namespace) -> None:
    print()
    print(f"ADT intake: {args.n} messages, {args.connections} connections")
    print(tables.text_table(HEADER, replay_rows(results)))
    print("Other load, % of a core: " + ", ".join(
        f"{k} {v:.0f}%" for k, v in results.other_load.items()))
    if results.alerts:
        print(f"\nTime to room alert ({len(results.alerts)} runs)")
        print(tables.text_table(ALERT_HEADER, alert_rows(results)))
    if results.alert_failures:
        print(f"Alert runs failed: {dict(results.alert_failures)}")


def markdown(results: Results, args: argparse.Namespace) -> str:
    v = results.versions
    lines = [
        SECTION, "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} with `python -m bench.adt"
        f"{''.join(' ' + a for a in report.shown_argv())}` ({args.n} messages after "
        f"{args.warmup} of warm-up, {args.connections} connections, {args.alerts} alert runs).",
        "",
        f"- Machine: {report.machine()}. Liaison code: commit {v.get('code', '?')}; Python "
        f"{v['python']}, SQLAlchemy {v['SQLAlchemy']}, PostgreSQL "
        f"{v.get('postgresql', '—')}, Synapse {v['matrix-synapse']}.",
        "- Feed: bots/devstack/adt_messages.py `feed` (A01, A04, A05, A02, A08, A03 of "
        "about 3,400 patients, PAM FR). Each connection sends one message, waits for its ACK, "
        "sends the next; a patient's messages on one connection. Latency: from the write to "
        "the ACK read, in the sender. CPU: the server process's, over the measured phase.",
        "- Floor: bench/adt_floor.py, the `hl7` library's MLLP server: each message parsed and "
        "answered with `create_ack`, nothing stored. Liaison: `liaison adt` (bots/adt/listener.py):"
        " read, INS checked, sealed, one committed row per message, then the ACK, one JSON "
        "log line per message.",
        "- The sender (this benchmark's process) shares the machine's two cores with the "
        "server it measures: the floor's figure is partly the sender's own limit.",
        "",
        tables.md_table(HEADER, replay_rows(results)), "",
        "Other processes' load, % of a core: " + ", ".join(
            f"{k} {v:.0f}%" for k, v in results.other_load.items()) + ".", "",
    ]
    if results.alerts:
        lines += [
            f"Time to room alert, {len(results.alerts)} runs: Synapse, the bots process "
            "(careteam, followup, adt) and the intake on one SQLite database; a patient admitted "
            "and discharged 12 days ago through the feed, then the return's A01 (urgent): until "
            "the alert (« … à J+12 : comptée dans RH30 … ») is decrypted in the ward IDEC's nio "
            "client.", "",
            tables.md_table(ALERT_HEADER, alert_rows(results)), "",
            "The A01 is sent at a random point of the applier's polling (bots/adt/applier.py "
            "`POLL_EVERY`, once a second): up to a second of the figure is that wait; "
            "PostgreSQL LISTEN/NOTIFY would remove it (docs/ADT.md). The rest is the "
            "readmission's transaction and one E2EE message through Synapse.", ""]
    if results.alert_failures:
        lines += [f"Alert runs failed: {dict(results.alert_failures)}.", ""]
    lines += [report.rerun("adt", "a few minutes"), ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("adt", __doc__)
    parser.add_argument("--n", type=int, default=10_000, help="messages replayed (10000)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up messages (200)")
    parser.add_argument("--connections", type=int, default=4, help="senders at once (4)")
    parser.add_argument("--seed", type=int, default=1, help="the feed's seed (1)")
    parser.add_argument("--databases", type=lambda s: s.split(","), default=["sqlite",
                        "postgresql"], help="sqlite,postgresql (both)")
    parser.add_argument("--alerts", type=int, default=5,
                        help="time-to-alert runs (5; 0: no Synapse)")
    harness.common_args(parser, timeout=1800)
    args = parser.parse_args(argv)
    if args.n < 1 or args.connections < 1 or not set(args.databases) <= {"sqlite", "postgresql"}:
        parser.error("need --n ≥ 1, --connections ≥ 1, --databases among sqlite,postgresql")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, AdtBench, show, markdown, SECTION, quiet=True))
