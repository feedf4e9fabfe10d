"""Shared fixtures: one real Synapse per test session, bots run in-process, clinician clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from hypothesis import settings

from bots.app import build_runtimes
from bots.careteam import texts as careteam_texts
from bots.common import texts as common_texts
from bots.config import AccountConfig, Config
from bots.dashboard import texts as dashboard_texts
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import DevHomeserver, WorkerHomeserver, drop_database, free_port
from bots.discharge import texts as discharge_texts
from bots.episode import texts as episode_texts
from bots.followup import texts as followup_texts
from bots.registry import BRIDGE_BOTS
from bots.runtime import i18n
from bots.runtime.runtime import Runtime
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault
from bridge import texts as bridge_texts
from tests.mail_helpers import mail_servers, psc  # noqa: F401 - Dovecot, Postfix, the PSC stand-in

_counter = itertools.count()

# The bots' texts, as the runtimes that run them register them (Bot.texts): pure tests render
# texts with no runtime.
for _catalogue in (*careteam_texts.CATALOGUES, discharge_texts.TEXTS, episode_texts.TEXTS,
                   followup_texts.TEXTS, bridge_texts.TEXTS, common_texts.TEXTS,
                   dashboard_texts.TEXTS):
    i18n.register(_catalogue)

PG_ADMIN = os.environ.get("LIAISON_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

@contextlib.contextmanager
def _throwaway_database() -> Iterator[str]:
    """A database of its own on the machine's PostgreSQL, dropped at the end."""
    name = f"liaison_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One database for the session: migrated to the head by whichever test comes first."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def pg_empty_database() -> Iterator[str]:
    """A database with no schema yet, for this test alone (a migration's own test)."""
    with _throwaway_database() as url:
        yield url


# `make test-fast` (LIAISON_TEST_FAST=1): the property tests try a tenth of their examples;
# `make test` tries them all.
FAST = os.environ.get("LIAISON_TEST_FAST") == "1"
settings.register_profile("fast", max_examples=10)
if FAST:
    settings.load_profile("fast")


def examples(n: int) -> int:
    """How many examples a property test asking for `n` tries in this run."""
    return max(10, n // 10) if FAST else n


# A test is `e2e` (left out by `make test-fast`) when it needs a real Synapse, Dovecot/Postfix
# or PostgreSQL: through one of these fixtures (directly or through another fixture), a
# PostgreSQL parameter, the `postgres` marker, or its module's own `pytestmark`.
E2E_FIXTURES = frozenset({"homeserver", "make_bot", "make_clinician", "mail_servers", "psc",
                          "pg_database", "pg_empty_database"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())) \
                or item.get_closest_marker("postgres") is not None \
                or (callspec is not None and "postgresql" in callspec.params.values()):
            item.add_marker(pytest.mark.e2e)


BOT_PREFIX = "bot"  # make_bot's accounts: the ones the policy module lets name patient rooms
BOTS = (f"@{BOT_PREFIX}*:localhost",)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{secrets.token_hex(2)}"



# "workers": the session's homeserver is the production topology (main process, workers,
# PostgreSQL, Redis, nginx in front); "single" (default): one Synapse on SQLite.
TOPOLOGY = os.environ.get("LIAISON_TEST_TOPOLOGY", "single")


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[int]:
    """A Redis of the session's own: Synapse's replication channels are named after the server
    name, so two sessions' workers on one Redis would hear each other."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest_asyncio.fixture(scope="session")
async def homeserver(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevHomeserver]:
    folder = tmp_path_factory.mktemp("synapse")
    if TOPOLOGY != "workers":
        hs = DevHomeserver(folder, port=free_port(), relaxed_rate_limits=True, bots=BOTS)
        await hs.start()
        yield hs
        hs.stop()
        return
    # One database per session (UTF8, C collation), dropped at the end.
    database = f"{PG_ADMIN.rsplit('/', 1)[0]}/liaison_synapse_{secrets.token_hex(4)}"
    with private_redis(folder) as redis_port:
        hs = WorkerHomeserver(folder, port=free_port(), relaxed_rate_limits=True, bots=BOTS,
                              database_url=database, redis_port=redis_port)
        try:
            await hs.start(timeout=180)
            yield hs
        finally:
            hs.stop()
            drop_database(database)


class BotHandle:
    """A bots process in the test's event loop: start, stop (no logout) and start again."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store | None = None
        self.runtime: Runtime | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        return self.config.accounts[0].user_id

    async def start(self) -> Runtime:
        await asyncio.to_thread(migrate, self.config.database)
        self.store = Store(self.config.database, Vault(list(self.config.data_keys)),
                           instance=self.config.instance)
        bridge = bool(BRIDGE_BOTS & set(self.config.accounts[0].bots))
        self.runtime = build_runtimes(self.config, self.store, bridge=bridge)[0]
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.runtime.run(self._stop))
        ready = asyncio.create_task(self.runtime.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()  # raises what killed the bot
        assert ready in done, "bot did not become ready"
        return self.runtime

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            await asyncio.wait_for(self._task, 30)
        if self.store:
            await self.store.close()
        self._task = None


BotFactory = Callable[..., Awaitable[BotHandle]]


@pytest_asyncio.fixture
async def make_bot(homeserver: DevHomeserver, tmp_path: Path) -> AsyncIterator[BotFactory]:
    handles: list[BotHandle] = []

    async def factory(*, database: str | None = None, start: bool = True,
                      bots: tuple[str, ...] = (), **overrides: object) -> BotHandle:
        localpart = unique(BOT_PREFIX)
        password = secrets.token_urlsafe(12)
        user_id = await homeserver.register(localpart, password)
        data_dir = tmp_path / localpart
        config = Config(
            homeserver=homeserver.url, data_dir=data_dir,
            database=database or f"sqlite:///{data_dir}/bots.db",
            data_keys=(Vault.new_key(),), language="fr", timezone="Europe/Paris",
            allowed_servers=(homeserver.server_name,), allow_legacy_devices=False,
            log_level="INFO",
            accounts=(AccountConfig(user_id, password, "Liaison test", bots),))
        config = replace(config, **overrides)  # type: ignore[arg-type]
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = BotHandle(config)
        handles.append(handle)
        if start:
            await handle.start()
        return handle

    yield factory
    for handle in handles:
        if handle._task:
            await handle.stop()


ClinicianFactory = Callable[..., Awaitable[Clinician]]


@pytest_asyncio.fixture
async def make_clinician(homeserver: DevHomeserver,
                         tmp_path: Path) -> AsyncIterator[ClinicianFactory]:
    clients: list[Clinician] = []

    async def factory(localpart: str | None = None, password: str | None = None, *,
                      cross_sign: bool = True, register: bool = True) -> Clinician:
        localpart = localpart or unique("doc")
        password = password or secrets.token_urlsafe(12)
        if register:
            await homeserver.register(localpart, password)
        client = Clinician(homeserver.url, f"@{localpart}:{homeserver.server_name}", password,
                           tmp_path / f"{localpart}-{len(clients)}",
                           key_file=tmp_path / f"{localpart}.xsign")
        await client.login(cross_sign=cross_sign)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
