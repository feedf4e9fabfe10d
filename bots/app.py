"""The bots process: one runtime per configured account, all in one event loop."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bots.config import Config, ConfigError
from bots.monitoring import Monitoring
from bots.registry import BOTS, BRIDGE_BOTS, COMPANION_WORDS, COMPOSED, REQUIRES, build
from bots.runtime.runtime import Runtime
from bots.runtime.store import Store, migrate_apart
from bots.runtime.vault import Vault

log = logging.getLogger(__name__)


def build_runtimes(config: Config, store: Store, *, bridge: bool = False) -> list[Runtime]:
    """The runtimes of `liaison bots` (bridge False) or of `liaison bridge` (the accounts that
    run the MSSanté bridge, each its own)."""
    runtimes = []
    # What each runtime knows of the bots around it, from their settings (it reads none itself).
    own = {a.user_id for a in config.accounts}
    if config.mssante is not None:
        own.add(config.mssante.careteam_account)
    for account in config.accounts:
        bridged = BRIDGE_BOTS & set(account.bots)
        if bridged and len(bridged) != len(account.bots):
            raise ConfigError(f"{account.user_id}: {', '.join(sorted(bridged))} runs on an "
                              "account of its own (its own process: `liaison bridge`)")
        if bool(bridged) != bridge:
            continue
        unknown = [name for name in account.bots if name not in {*BOTS, *COMPOSED}]
        if unknown:
            raise ConfigError(f"{account.user_id}: unknown bot(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted({*BOTS, *COMPOSED})) or 'none'}")
        for name in account.bots:
            missing = [r for r in REQUIRES.get(name, ()) if r not in account.bots]
            if missing:
                raise ConfigError(f"{account.user_id}: bot {name} needs {', '.join(missing)} on "
                                  "the same account")
        # With companions in the rooms (the bridge), their commands are not "unknown" here.
        foreign = frozenset(COMPANION_WORDS) if config.careteam.companions and not bridge \
            else frozenset()
        runtimes.append(Runtime(config, account, store,
                                build(config, account.bots), foreign=foreign,
                                companions=frozenset(config.careteam.companions),
                                declared_rooms=frozenset(config.careteam.coordination_rooms),
                                own_accounts=frozenset(own)))
    return runtimes


@contextmanager
def alone_on_sqlite(url: str, kind: str) -> Iterator[None]:
    """On SQLite, one bots process (and one bridge process) at a time: a second one started on
    the same database file refuses to start (two need PostgreSQL, docs/SCALING.md). The lock is
    the kernel's, on a file beside the database: it goes with the process, however it ends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        yield
        return
    database = Path(parsed.database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with (database.parent / f"{database.name}.{kind}.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another {kind} process runs on {database}: on SQLite one does "
                              "(two need PostgreSQL, see docs/SCALING.md)") from None
        yield


async def run_bots(config: Config, stop: asyncio.Event, *, bridge: bool = False) -> None:
    """Migrate the database, then run every account of this process until `stop` is set."""
    with alone_on_sqlite(config.database, "bridge" if bridge else "bots"):
        await _run_bots(config, stop, bridge=bridge)


async def _run_bots(config: Config, stop: asyncio.Event, *, bridge: bool) -> None:
    await migrate_apart(config.database)
    store = Store(config.database, Vault(list(config.data_keys)), instance=config.instance)
    monitoring: Monitoring | None = None
    try:
        runtimes = build_runtimes(config, store, bridge=bridge)
        if not runtimes:
            raise ConfigError("no account runs the MSSanté bridge (bots: [mssante])" if bridge
                              else "no account runs a bot")
        listen = config.metrics.bridge_listen if bridge else config.metrics.listen
        if listen is not None:
            monitoring = Monitoring(runtimes, store)
            await monitoring.start(*listen)
        await asyncio.gather(*(r.run(stop) for r in runtimes))
    finally:
        if monitoring is not None:
            await monitoring.stop()
        await store.close()
