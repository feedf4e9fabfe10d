"""Two bots processes for one account on PostgreSQL, against the real Synapse with a real E2EE
clinician (docs/SCALING.md): two devices cross-signed by the one identity, each command of a
stream answered exactly once, and still when one process stops in the middle of it, or is
killed (-9, two `liaison bots` OS processes), or dies between sending a reply and marking it;
the invite, which both processes see, joined once; a morning's RH30 steps, due at one instant in
many rooms, each posted once though the process sending them is killed (-9) midway."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml
from nio import RoomMemberEvent, RoomMessageNotice
from sqlalchemy import create_engine, insert, select

from bench.burst import PER_ROOM, seed_steps
from bots.common.models import CareRoom, TeamMember
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import DevHomeserver
from bots.devstack.patients import patient
from bots.followup.bot import STEP
from bots.runtime.crosssigning import cross_signed_devices, master_key_of, query_keys
from bots.runtime.models import OutboxMessage
from bots.runtime.store import OUTBOX_LEASE, migrate
from bots.runtime.vault import Vault
from tests.conftest import BOT_PREFIX, BotFactory, BotHandle, ClinicianFactory, unique

COMMANDS = 12


async def test_two_processes_one_identity_each_command_answered_once(
        make_bot: BotFactory, make_clinician: ClinicianFactory, pg_database: str) -> None:
    a = await make_bot(database=pg_database, instance="a")
    b = BotHandle(replace(a.config, instance="b"))
    await b.start()
    try:
        assert a.runtime and b.runtime
        devices = {a.runtime.client.device_id, b.runtime.client.device_id}
        assert len(devices) == 2 and None not in devices
        doc = await make_clinician()
        query = await query_keys(doc.client, [a.user_id])
        # What Element checks: both devices signed by the account's one master key.
        assert cross_signed_devices(query, a.user_id) == dict.fromkeys(devices, True)
        assert master_key_of(query, a.user_id) == a.runtime.cross_signing.master_key \
            == b.runtime.cross_signing.master_key

        room_id = await doc.create_room(invite=[a.user_id])
        await doc.wait_joined(room_id, a.user_id)
        sent = []
        for n in range(COMMANDS):
            sent.append(await doc.send(room_id, f"!ping {n}"))
            if n == COMMANDS // 2:
                await a.stop()  # one process goes away mid-stream; b carries on alone
            await asyncio.sleep(0.2)
        for n, event_id in enumerate(sent):
            reply = await doc.reply_to(room_id, event_id, a.user_id, timeout=60)
            assert reply.body == f"pong {n}"
        await asyncio.sleep(3)  # a late double would have arrived by now
        counts = [len(doc.replies_to(room_id, e, a.user_id)) for e in sent]
        assert counts == [1] * COMMANDS
        # Both processes saw the invite and may both have joined: the homeserver folds a join
        # the same as the membership already there, so the room shows one.
        joins = [ev for r, ev in doc.timeline if r == room_id and isinstance(
            ev, RoomMemberEvent) and ev.state_key == a.user_id and ev.membership == "join"]
        assert len(joins) == 1
    finally:
        await b.stop()


def expire_leases(database: str) -> None:
    """The lease of every pending outbox row runs out now: its holder is dead, and the test
    does not wait the 30 s for that."""
    with psycopg.connect(database.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("UPDATE outbox SET lease_until = now() - interval '1 second' "
                     "WHERE state = 'pending'")


async def outbox(bot: BotHandle) -> list[OutboxMessage]:
    assert bot.store
    async with bot.store.reading(bot.user_id) as tx:
        return list((await tx.session.scalars(select(OutboxMessage).where(
            OutboxMessage.account == bot.user_id))).all())


async def test_a_reply_sent_by_a_process_killed_before_marking_it_goes_out_once(
        make_bot: BotFactory, make_clinician: ClinicianFactory, pg_database: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    a = await make_bot(database=pg_database, instance="a")
    assert a.store
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[a.user_id])
    await doc.wait_joined(room_id, a.user_id)
    on_the_homeserver = asyncio.Event()

    async def killed(*_args: object, **_kwargs: object) -> bool:
        on_the_homeserver.set()  # sent, and the process dies before marking the row sent
        await asyncio.Event().wait()
        return False

    monkeypatch.setattr(a.store, "outbox_done", killed)
    command = await doc.send(room_id, "!ping")
    await asyncio.wait_for(on_the_homeserver.wait(), 60)
    first = await doc.reply_to(room_id, command, a.user_id, timeout=30)
    await a.stop()
    expire_leases(pg_database)
    # The survivor takes the row over and sends it again: as a's device, the same transaction.
    b = BotHandle(replace(a.config, instance="b"))
    await b.start()
    try:
        for _ in range(300):
            (row,) = await outbox(b)
            if row.state == "sent":
                break
            await asyncio.sleep(0.1)
        assert (row.state, row.owner, row.event_id) == ("sent", "b", first.event_id)
        await asyncio.sleep(3)  # a double would have reached the clinician by now
        assert [e.event_id for e in doc.replies_to(room_id, command, a.user_id)] \
            == [first.event_id]
    finally:
        await b.stop()


async def test_a_row_whose_first_device_is_gone_goes_as_this_one(
        make_bot: BotFactory, make_clinician: ClinicianFactory, pg_database: str) -> None:
    a = await make_bot(database=pg_database, instance="a")
    assert a.runtime and a.store
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[a.user_id])
    await doc.wait_joined(room_id, a.user_id)
    # A row first sent as the device of a process since gone, its device logged out.
    await a.store.record_device(a.user_id, "GONE", "syt_logged_out")
    async with a.store.transaction(a.user_id) as tx:
        row = tx.post(room_id, {"msgtype": "m.notice", "body": "bonjour"})
        row.device = "GONE"
    a.runtime.sender.enqueue([row])
    message = await doc.wait_for(lambda r, e: r == room_id and e.sender == a.user_id
                                 and getattr(e, "body", "") == "bonjour")
    for _ in range(100):
        (stored,) = [r for r in await outbox(a) if r.id == row.id]
        if stored.state == "sent":
            break
        await asyncio.sleep(0.1)
    assert (stored.state, stored.device, stored.event_id) == \
        ("sent", a.runtime.client.device_id, message.event_id)


class BotsProcess:
    """`liaison bots --config` as an OS process of its own, one instance, its log in a file."""

    def __init__(self, config: Path, instance: str, status: Path) -> None:
        self.config, self.instance, self.status = config, instance, status
        self.log = config.parent / f"{instance}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots.cli", "bots", "--config", str(self.config),
                stdout=log, stderr=log, env={**os.environ, "LIAISON_INSTANCE": self.instance,
                                             "PYTHONPATH": str(Path(__file__).parent.parent)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # ready: its status written after the first sync
            if self.status.exists() and json.loads(self.status.read_text())["pid"] == \
                    self.proc.pid:
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.2)
        raise AssertionError(f"bots {self.instance} did not start: "
                             f"{self.log.read_text()[-3000:]}")

    def pause(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> None:
        assert self.proc
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.kill()
                await self.wait()


async def two_processes(homeserver: DevHomeserver, database: str, folder: Path,
                        bots: Sequence[str] = (), *,
                        start: bool = True) -> tuple[str, BotsProcess, BotsProcess]:
    """One bot account running `bots` served by two `liaison bots` processes (instances a and
    b), started unless `start` is False (the caller seeds the database first)."""
    localpart, password = unique(BOT_PREFIX), secrets.token_urlsafe(12)
    user_id = await homeserver.register(localpart, password)
    config = folder / "liaison.yaml"
    config.write_text(yaml.safe_dump({
        "homeserver": homeserver.url, "data_dir": str(folder / "data"), "database": database,
        "data_keys": [Vault.new_key()], "language": "fr", "log_level": "INFO",
        "allowed_servers": [homeserver.server_name],
        "accounts": [{"user_id": user_id, "password": password, "bots": list(bots)}]}))
    a, b = (BotsProcess(config, name, folder / "data" / localpart / "instances" / name /
                        "status.json") for name in ("a", "b"))
    if start:
        # One after the other: the first makes the account's cross-signing identity, the
        # second's device is signed by it.
        await a.start()
        await b.start()
    return user_id, a, b


STREAM, BURST = 40, 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def when_sending(database: str, account: str, kills: Mapping[str, Callable[[], None]],
                       *, sent: int = 0, since: datetime = EPOCH) -> tuple[str, float]:
    """The moment one of `kills`' processes (by instance) is sending an outbox row (its device
    stamped before the PUT, not marked sent yet), once at least `sent` of the account's rows
    written since `since` are sent, its `kills` called: which process, and when (time.time())."""
    async with await psycopg.AsyncConnection.connect(database.replace("+psycopg", ""),
                                                     autocommit=True) as conn:
        for _ in range(4000):
            row = await (await conn.execute(
                "SELECT owner FROM outbox WHERE account = %(account)s AND owner = ANY(%(owners)s) "
                "AND state = 'pending' AND device IS NOT NULL AND (SELECT count(*) FROM outbox "
                "WHERE account = %(account)s AND state = 'sent' AND created_at >= %(since)s) "
                ">= %(sent)s LIMIT 1", {"account": account, "owners": list(kills), "sent": sent,
                                        "since": since})).fetchone()
            if row:
                kills[row[0]]()
                return row[0], time.time()
            await asyncio.sleep(0.005)
    raise AssertionError(f"{', '.join(kills)} sent no outbox row in 20 s")


async def test_a_process_killed_mid_stream_each_command_answered_once(
        homeserver: DevHomeserver, make_clinician: ClinicianFactory, pg_database: str,
        tmp_path: Path) -> None:
    """Two `liaison bots` processes; a stream of commands, a SIGKILLed in the middle of it while
    it sends answers: each command answered once, a's unsent answers by b (as a's device), and
    the commands after the kill answered by b at once."""
    user_id, a, b = await two_processes(homeserver, pg_database, tmp_path)
    try:
        doc = await make_clinician()
        room_id = await doc.create_room(invite=[user_id])
        await doc.wait_joined(room_id, user_id)
        sent: list[tuple[str, float]] = []

        async def stream(numbers: range, pause: float) -> None:
            for n in numbers:
                sent.append((await doc.send(room_id, f"!ping {n}"), time.time()))
                await asyncio.sleep(pause)

        await stream(range(STREAM // 2), 0.25)  # both processes at it
        # A burst that a alone handles (b paused a moment), and a killed the moment it sends an
        # answer: its PUT under way or done, the row not marked sent.
        b.pause()
        kill = asyncio.create_task(when_sending(pg_database, user_id, {"a": a.kill}))
        await stream(range(STREAM // 2, STREAM // 2 + BURST), 0)
        _, killed_at = await kill
        await a.wait()
        b.resume()
        await stream(range(STREAM // 2 + BURST, STREAM), 0.25)  # the survivor alone
        answered = []
        for n, (event_id, _) in enumerate(sent):
            # a's rows not sent yet go out once b finds their lease run out: 30 s + 10 s at most
            reply = await doc.reply_to(room_id, event_id, user_id, timeout=90)
            assert reply.body == f"pong {n}"
            answered.append(reply.server_timestamp / 1000)
        # A double of a taken-over row would come within the lease and a renewal of the kill.
        await asyncio.sleep(max(0.0, killed_at + OUTBOX_LEASE.total_seconds() + 15 - time.time()))
        counts = [len(doc.replies_to(room_id, event_id, user_id)) for event_id, _ in sent]
        assert counts == [1] * STREAM
        # The survivor's answers keep coming: each command after the kill answered promptly.
        after = [at - sent_at for (_, sent_at), at in zip(sent, answered, strict=True)
                 if sent_at > killed_at]
        with psycopg.connect(pg_database.replace("+psycopg", "")) as conn:
            held = conn.execute(
                "SELECT owner, device = (SELECT device_id FROM bot_devices WHERE account = %s "
                "AND instance = 'a'), count(*), max(sent_at) FROM outbox WHERE account = %s "
                "GROUP BY 1, 2 ORDER BY 1, 2", (user_id, user_id)).fetchall()
        # The kill did cut a's sending short: b sent a's answer again, as a's device.
        (taken_over, last) = next(((n, at) for owner, as_a, n, at in held
                                   if owner == "b" and as_a), (0, None))
        assert taken_over >= 1 and last is not None, held
        print(f"\nkill -9 mid-stream: {taken_over} answer(s) of a sent by b as a's device, the "
              f"last {last.timestamp() - killed_at:.1f} s after the kill; answers after the "
              f"kill: max {max(after):.1f} s")
        assert max(after) < 20
    finally:
        await b.stop()
        await a.stop()


# A morning's RH30 steps (bench/burst.py's bots and steps), due at one instant in these rooms.
FOLLOWUP = ("careteam", "discharge", "followup")
MORNING_ROOMS = 10  # as many as Synapse lets one user create at once (rc_room_creation)
TASK = re.compile(r"étape (\d+) du suivi")
# The steps fall due this long after they are seeded: both processes started and in the rooms
# (2-13 s on a quiet machine, up to 68 s seen on one loaded by other benchmarks).
LEAD = 45


def patient_rooms(database: str, vault: Vault, account: str, room_ids: list[str],
                  nurse: str, due: datetime) -> None:
    """These Matrix rooms as the account's open patient rooms, `nurse` their team (the bot
    shares its keys with the team only), each with a follow-up plan and its steps due at `due`
    (bench/burst.py's seed_steps)."""
    engine = create_engine(database)
    try:
        with engine.begin() as conn:
            ids = conn.execute(insert(CareRoom).returning(
                CareRoom.id, sort_by_parameter_order=True), [{
                    "account": account, "kind": "patient", "room_id": room_id, "ref": f"T-{k}",
                    "status": "open", "language": "fr", "created_at": due, "attempts": 0,
                    "sealed": vault.seal({"identity": patient(k).to_dict()},
                                         CareRoom.bind("sealed", account, f"T-{k}"))}
                    for k, room_id in enumerate(room_ids)]).scalars().all()
            conn.execute(insert(TeamMember), [{
                "care_room_id": row_id, "user_id": nurse, "role": "IDEC", "desired": "present",
                "applied": True, "language": "fr", "updated_at": due} for row_id in ids])
            seed_steps(conn, vault, account, list(zip(ids, room_ids, strict=True)),
                       len(PER_ROOM), due)
    finally:
        engine.dispose()


def step_reminders(doc: Clinician, account: str) -> dict[tuple[str, int], list[str]]:
    """The bot's step reminders the clinician decrypted, by room and step: their event IDs."""
    found: dict[tuple[str, int], list[str]] = {}
    for room_id, ev in doc.timeline:
        if ev.sender == account and isinstance(ev, RoomMessageNotice) and \
                ev.body.startswith("📞") and (step := TASK.search(ev.body)):
            found.setdefault((room_id, int(step[1])), []).append(ev.event_id)
    return found


async def test_a_process_killed_mid_burst_each_step_posted_once(
        homeserver: DevHomeserver, make_clinician: ClinicianFactory, pg_database: str,
        tmp_path: Path) -> None:
    """Two `liaison bots` processes time the same morning: RH30 steps due at one instant in many
    patient rooms, both firing and sending them, and one SIGKILLed while it sends, once some
    reminders are out. Each step's reminder reaches its room once, within the lease, and the
    database has each step's job fired, the step posted and its message sent, once."""
    user_id, a, b = await two_processes(homeserver, pg_database, tmp_path, FOLLOWUP,
                                        start=False)
    doc = await make_clinician()
    # Invited before either process runs: each joins them at its first sync.
    rooms = list(await asyncio.gather(*(doc.create_room(invite=[user_id])
                                        for _ in range(MORNING_ROOMS))))
    await asyncio.to_thread(migrate, pg_database)
    due = datetime.fromtimestamp(int(time.time()) + LEAD, UTC)
    keys = yaml.safe_load(a.config.read_text())["data_keys"]
    await asyncio.to_thread(patient_rooms, pg_database, Vault(keys), user_id, rooms,
                            doc.user_id, due)
    expected = {(room_id, step): 1 for room_id in rooms for step in PER_ROOM}
    began = time.time()
    try:
        await a.start()
        await b.start()
        for room_id in rooms:
            await doc.wait_joined(room_id, user_id)
        ready = time.time()
        assert ready < due.timestamp() - 1, f"ready {ready - began:.0f} s after the seeding: " \
            "the steps came due before, a longer LEAD"
        await asyncio.sleep(due.timestamp() - time.time())
        killed, killed_at = await when_sending(pg_database, user_id, {"a": a.kill, "b": b.kill},
                                               sent=len(expected) // 4, since=due)
        await (a if killed == "a" else b).wait()
        # The dead one's messages go out once their lease runs out and the survivor's next
        # renewal takes them (30 + 10 s); a job it had claimed, not committed, is looked at
        # again 30 s after the survivor found it held.
        deadline = killed_at + OUTBOX_LEASE.total_seconds() * 4 / 3 + 10
        for _ in range(int(deadline - time.time()) * 4):
            if len(step_reminders(doc, user_id)) >= len(expected):
                break
            await asyncio.sleep(0.25)
        arrived = time.time()
        # A double of a taken-over message would come within the lease and a renewal.
        await asyncio.sleep(max(0.0, killed_at + OUTBOX_LEASE.total_seconds() + 15 - time.time()))
        reminders = step_reminders(doc, user_id)
        assert {key: len(ids) for key, ids in reminders.items()} == expected
        with psycopg.connect(pg_database.replace("+psycopg", "")) as conn:
            jobs = conn.execute("SELECT state, count(*) FROM scheduled_jobs WHERE account = %s "
                                "AND kind = %s GROUP BY 1", (user_id, STEP)).fetchall()
            steps = conn.execute(
                "SELECT s.state, s.attempts, count(*) FROM followup_steps s JOIN followup_plans "
                "p ON p.id = s.plan_id WHERE p.account = %s GROUP BY 1, 2", (user_id,)).fetchall()
            sent = conn.execute(
                "SELECT o.state, o.event_id, o.owner, o.device = d.device_id FROM outbox o "
                "JOIN bot_devices d ON d.account = o.account AND d.instance = %s "
                "WHERE o.account = %s AND o.created_at >= %s",
                (killed, user_id, due)).fetchall()
        assert jobs == [("fired", len(expected))]
        assert steps == [("posted", 1, len(expected))]
        # One message per step, sent, and the one the clinician got.
        assert sorted(state for state, *_ in sent) == ["sent"] * len(expected)
        assert sorted(event_id for _, event_id, *_ in sent) == \
            sorted(event_id for ids in reminders.values() for event_id in ids)
        # The kill did cut the dead one's sending short: the survivor sent its messages again,
        # as its device.
        taken_over = sum(1 for _, _, owner, as_dead in sent if owner != killed and as_dead)
        assert taken_over >= 1, sent
        print(f"\nkill -9 mid-burst ({len(expected)} steps in {MORNING_ROOMS} rooms): {killed} "
              f"killed {killed_at - due.timestamp():.1f} s after the due time, {taken_over} of "
              f"its messages sent by the survivor as its device; every reminder in "
              f"{arrived - killed_at:.1f} s after the kill; ready {ready - began:.0f} s after "
              "the start")
        assert arrived < deadline
    finally:
        await b.stop()
        await a.stop()
