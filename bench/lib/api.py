"""Patient rooms for the benchmarks: made-up patients and teams, opened through the care-team
bot's provisioning API (`ApiStack`), its outbox read from its database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import secrets
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.lib import REPO, harness
from bots.common.identity import Identity
from bots.devstack.homeserver import free_port
from bots.devstack.patients import patient
from bots.runtime.vault import Vault

WARD = "Médecine polyvalente"


ROLES = ("IDEC", "MH", "IDE", "MT", "AS", "PH", "SEC", "IDEL")  # a team's roles, in this order


def team_of(i: int, pool: list[str], size: int) -> list[tuple[str, str]]:
    """Room i's team: `size` consecutive accounts of the pool (rotating), with their roles."""
    return [(pool[(i * size + k) % len(pool)], ROLES[k % len(ROLES)]) for k in range(size)]


def api_body(identity: Identity, team: list[tuple[str, str]]) -> dict[str, Any]:
    return {"identity": {k: v for k, v in identity.to_dict().items() if v is not None},
            "team": [{"user_id": u, "role": r} for u, r in team], "ward": WARD}


@dataclass
class Batch:
    side: str
    asked: int
    opened: int = 0
    wall_s: float = 0.0
    drain_s: float = 0.0  # Liaison: from the last answer to the last identity message sent
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0  # the side's own process: the bot, or this one for the baseline
    synapse_cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.opened / self.wall_s if self.wall_s else 0.0


class Outbox:
    """The bot's outbox, read from its SQLite database (WAL: reading never blocks the bot)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def counts(self) -> Counter[str]:
        if self._db is None:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                       isolation_level=None)
        return Counter(dict(self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state")))

    async def drained(self, timeout: float) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while (counts := self.counts())["pending"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{counts['pending']} identity messages still unsent after "
                                   f"{timeout:.0f} s")
            await asyncio.sleep(0.05)
        return counts

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


class ApiStack(harness.Stack):
    """The stack with Liaison's care-team bot in its own process and its provisioning API: patient
    rooms opened by `via_api`, the bot's outbox read from its database."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.sem = asyncio.Semaphore(args.concurrency)
        self.token = secrets.token_urlsafe(32)
        self.api = ""
        self.bot: harness.BotProcess | None = None
        self.outbox: Outbox | None = None
        self.http: aiohttp.ClientSession | None = None
        self.pool: list[str] = []

    async def start_bot(self) -> harness.BotProcess:
        user_id, password = await self.register("liaison")
        port = free_port()
        self.api = f"http://127.0.0.1:{port}"
        data_dir = self.tmp / "liaison"
        spec = self.write_spec("liaison", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name, "user_id": user_id,
            "password": password, "data_dir": str(data_dir), "data_key": Vault.new_key(),
            "log_level": "INFO", "bots": ["careteam"], "api_port": port,
            "api_token": self.token})
        self.outbox = Outbox(data_dir / "bots.db")
        return self.spawn("liaison", [sys.executable, "-m", "bench.run_liaison", str(spec)], REPO)

    async def api_ready(self, bot: harness.BotProcess, timeout: float = 180) -> None:
        """Until the API stops answering 503 (first sync not done) or refusing connections: an
        empty body then gets its 400, and opens nothing."""
        assert self.http is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            bot.check()
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with self.http.post(f"{self.api}/api/v1/patients", json={},
                                          headers=self.headers()) as resp:
                    if resp.status == 400:
                        return
                    if resp.status != 503:
                        raise RuntimeError(f"the API answered {resp.status}: {await resp.text()}")
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the provisioning API was not ready within {timeout:.0f} s")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def via_api(self, i: int, batch: Batch) -> None:
        assert self.http is not None
        body = api_body(patient(i), team_of(i, self.pool, self.args.team))
        async with self.sem:
            t0 = time.perf_counter()
            try:
                async with self.http.post(f"{self.api}/api/v1/patients", json=body,
                                          headers=self.headers()) as resp:
                    status, text = resp.status, await resp.text()
            except aiohttp.ClientError as exc:
                batch.failures[type(exc).__name__] += 1
                return
            ms = (time.perf_counter() - t0) * 1000
        if status == 201:
            batch.opened += 1
            batch.latencies_ms.append(ms)
        else:
            code = re.search(r'"code": *"(\w+)"', text)
            batch.failures[f"{status} {code.group(1) if code else text[:80]}"] += 1

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.outbox is not None:
            self.outbox.close()
        await super().close()

