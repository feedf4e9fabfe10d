"""The bots process: one runtime per configured account, all in one event loop."""

from __future__ import annotations

import asyncio
import logging

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


async def run_bots(config: Config, stop: asyncio.Event, *, bridge: bool = False) -> None:
    """Migrate the database, then run every account of this process until `stop` is set."""
    await migrate_apart(config.database)
    store = Store(config.database, Vault(list(config.data_keys)))
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
