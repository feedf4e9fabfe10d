"""The intake process (`liaison adt`): the database brought to head, the Store on the configured
data keys, the MLLP listener, and `/health/*` + `/metrics` when `metrics.adt_listen` is set.
It writes rows only; the bots process applies them (docs/ADT.md)."""

from __future__ import annotations

import asyncio

from bots.adt.listener import Listener
from bots.config import Config, ConfigError
from bots.monitoring import Monitoring
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault


async def run_intake(config: Config, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then close the listener before the database."""
    if config.adt is None:
        raise ConfigError("no adt section: the ADT intake has nothing to listen on")
    await asyncio.to_thread(migrate, config.database)
    store = Store(config.database, Vault(list(config.data_keys)))
    listener = Listener(store, config.adt)
    monitoring: Monitoring | None = None
    try:
        if config.metrics.adt_listen is not None:  # first: not ready until the listener serves
            monitoring = Monitoring([], store, checks=[
                lambda: None if listener.serving else "listener: not serving"])
            await monitoring.start(*config.metrics.adt_listen)
        await listener.start()
        await stop.wait()
    finally:
        if monitoring is not None:
            await monitoring.stop()
        await listener.stop()
        await store.close()
