"""Health and Prometheus metrics of the bots process, against the real homeserver; the bridge's
queue gauges from its tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest_asyncio
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bots import monitoring
from bots.app import run_bots
from bots.config import MetricsConfig, parse
from bots.devstack.homeserver import free_port
from bots.registry import BOTS
from bots.runtime.bot import Bot, CommandContext
from bots.runtime.commands import described
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from bridge.metrics import queue_gauges
from bridge.models import InboundRow, OutboundRow
from tests.migrated import sqlite_at_head
from tests.test_scheduler import reminder_bot  # noqa: F401 - a bot with a job


def sample(text: str, name: str, **labels: str) -> float:
    """A sample's value in a /metrics page (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


class Process:
    """`run_bots` as `liaison bots` runs it, with its /health and /metrics listener."""

    def __init__(self, config) -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{config.metrics.listen[1]}"
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run_bots(config, self.stop))
        self.http = aiohttp.ClientSession()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path) as resp:
            return resp.status, await resp.text()

    async def ready_statuses(self, timeout: float = 60) -> list[int]:
        """/health/ready polled from the listener's start until it says 200."""
        statuses: list[int] = []
        deadline = time.monotonic() + timeout
        while not statuses or statuses[-1] != 200:
            assert time.monotonic() < deadline, statuses
            assert not self.task.done(), self.task.result()
            try:
                statuses.append((await self.get("/health/ready"))[0])
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.05)
        return statuses

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.http.close()


@pytest_asyncio.fixture
async def process(make_bot, reminder_bot) -> AsyncIterator[Process]:  # noqa: F811
    handle = await make_bot(start=False, bots=("reminders",),
                            metrics=MetricsConfig(listen=("127.0.0.1", free_port())))
    proc = Process(handle.config)
    yield proc
    await proc.close()


async def test_ready_after_sync_and_a_command_counted_and_timed(process, make_clinician):
    statuses = await process.ready_statuses()
    assert statuses[0] == 503 and statuses[-1] == 200  # not ready before the first sync
    assert (await process.get("/health/live"))[0] == 200
    _, before = await process.get("/metrics")
    bot_id = process.config.accounts[0].user_id
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot_id])
    await doc.wait_joined(room_id, bot_id)
    planned = await doc.send(room_id, "!plan 1")
    await doc.reply_to(room_id, planned, bot_id)
    unknown = await doc.send(room_id, "!nimportequoi DUPONT")
    await doc.reply_to(room_id, unknown, bot_id)
    await doc.wait_for(lambda r, e: r == room_id and e.sender == bot_id and
                       getattr(e, "body", "").startswith("rappel"), start=doc.mark(planned))
    await asyncio.sleep(0.5)  # the job's commit, then its lateness observed
    _, after = await process.get("/metrics")

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("liaison_commands_total", bot="reminders", command="plan", outcome="ok") == 1
    assert delta("liaison_commands_total", bot="builtin", command="?", outcome="refused") == 1
    assert delta("liaison_answer_latency_seconds_count", bot="reminders") == 1
    assert 0 < delta("liaison_answer_latency_seconds_sum", bot="reminders") < 30
    assert delta("liaison_scheduler_lateness_seconds_count", kind="test.remind") == 1
    assert sample(after, "liaison_outbox_pending") == 0
    # Fixed names only: no room, user or event ID, nothing typed by someone.
    for secret in (room_id, bot_id, doc.user_id, planned, "DUPONT", "nimportequoi"):
        assert secret not in after


async def test_not_ready_while_a_message_is_stuck(process, monkeypatch):
    assert (await process.ready_statuses())[-1] == 200
    monkeypatch.setattr(monitoring, "SENDER_STUCK_SECONDS", 0)
    # A message decided by another writer of the same database: no sender in this process
    # takes it, as when the homeserver refuses every attempt.
    store = Store(process.config.database, Vault(list(process.config.data_keys)))
    async with store.transaction(process.config.accounts[0].user_id) as tx:
        tx.post("!nowhere:localhost", {"msgtype": "m.notice", "body": "x"})
    await store.close()
    await asyncio.sleep(0.1)
    status, body = await process.get("/health/ready")
    assert status == 503 and "sender: 1 message(s) waiting" in body
    assert sample((await process.get("/metrics"))[1], "liaison_outbox_pending") == 1


async def test_a_failing_handler_is_counted(make_bot, make_clinician, monkeypatch):
    async def boom(ctx: CommandContext) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(BOTS, "boom", lambda config: Bot(
        "boom", commands=[described("boum", "boom", "test.help.boom", boom)],
        texts=({"test.help.boom": {"fr": "échoue", "en": "fails"}},)))
    labels = {"bot": "boom", "command": "boum", "outcome": "failed"}
    before = REGISTRY.get_sample_value("liaison_commands_total", labels) or 0
    bot = await make_bot(bots=("boom",))
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    await doc.send(room_id, "!boum")
    deadline = time.monotonic() + 30
    while (REGISTRY.get_sample_value("liaison_commands_total", labels) or 0) == before:
        assert time.monotonic() < deadline, "the failure was not counted"
        await asyncio.sleep(0.1)
    assert not REGISTRY.get_sample_value("liaison_commands_total", {**labels, "outcome": "ok"})


async def test_bridge_queue_gauges(tmp_path):
    url = sqlite_at_head(tmp_path / "bridge.db")
    store = Store(url, Vault([Vault.new_key()]))
    now = datetime.now(UTC)
    async with store.transaction("@mss:test") as tx:
        for key, state in enumerate(("queued", "queued", "sent", "failed")):
            tx.session.add(OutboundRow(
                account="@mss:test", kind="mail", key=str(key),
                message_id="<m@x>", content=b"", state=state, attempts=0, next_attempt_at=now,
                created_at=now))
        for uid, state in enumerate(("received", "posted", "triage", "quarantined")):
            tx.session.add(InboundRow(
                account="@mss:test", message_id=f"<{uid}@x>", digest=str(uid), uidvalidity=1,
                uid=uid, state=state, raw=b"", received_at=now))
    await queue_gauges(store, ["@mss:test"])
    await store.close()
    assert REGISTRY.get_sample_value("liaison_mss_outbound_queued") == 2
    assert REGISTRY.get_sample_value("liaison_mss_inbound_unposted") == 1


def test_monitoring_and_admin_settings_in_the_configuration(tmp_path):
    raw = {"homeserver": "https://matrix.chu.example", "data_dir": "d",
           "database": "sqlite:///x.db", "data_keys": [Vault.new_key()],
           "accounts": [{"user_id": "@b:chu.example", "password": "p"}],
           "metrics": {"listen": "127.0.0.1:9101", "bridge_listen": "10.0.0.5:9102"}}
    config = parse(raw, "test", tmp_path)
    assert config.metrics == MetricsConfig(listen=("127.0.0.1", 9101),
                                           bridge_listen=("10.0.0.5", 9102))
    assert config.admin_url == "https://matrix.chu.example" and config.admin_token is None
    (tmp_path / "admin-token").write_text("syt_admin\n")
    config = parse({**raw, "homeserver_admin": "http://synapse-main:8008/",
                    "admin_token_file": "admin-token"}, "test", tmp_path)
    assert config.admin_url == "http://synapse-main:8008" and config.admin_token == "syt_admin"
