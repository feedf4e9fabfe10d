"""One service in one bots process at a time (bots/runtime/alone.py), on the real PostgreSQL:
the other process waits, and takes over within seconds when the holder is killed (-9)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time

import pytest

from bots.runtime.alone import TRY_EVERY, run_alone
from bots.runtime.store import Store
from bots.runtime.vault import Vault

pytestmark = pytest.mark.postgres

# A bots process of its own that holds the lock and says so.
HOLDER = """
import asyncio, sys
from bots.runtime.alone import run_alone
from bots.runtime.store import Store
from bots.runtime.vault import Vault

async def main():
    store = Store(sys.argv[1], Vault([Vault.new_key()]))
    async def watch():
        print("running", flush=True)
        await asyncio.Event().wait()
    await run_alone(store, sys.argv[2], watch)

asyncio.run(main())
"""


async def test_the_other_process_takes_over_when_the_holder_is_killed(pg_database):
    name = f"imap-watcher:{secrets.token_hex(4)}"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, pg_database, name, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert holder.stdout is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"running\n"
    store = Store(pg_database, Vault([Vault.new_key()]))
    running = asyncio.Event()

    async def watch() -> None:
        running.set()
        await asyncio.Event().wait()

    ours = asyncio.create_task(run_alone(store, name, watch))
    try:
        await asyncio.sleep(3 * TRY_EVERY)
        assert not running.is_set()  # the holder lives: we wait
        killed = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        await asyncio.wait_for(running.wait(), 3 * TRY_EVERY)
        took = time.monotonic() - killed
        print(f"taken over {took:.1f} s after kill -9")
        assert took <= 2 * TRY_EVERY + 1
    finally:
        ours.cancel()
        await asyncio.gather(ours, return_exceptions=True)
        await store.close()


async def test_a_service_that_fails_fails_its_process(pg_database):
    store = Store(pg_database, Vault([Vault.new_key()]))

    async def broken() -> None:
        raise RuntimeError("watcher crashed")

    try:
        with pytest.raises(RuntimeError, match="watcher crashed"):
            await asyncio.wait_for(run_alone(store, "broken", broken), 10)
        # ... and gave the lock back (another process's session: a lock is re-entrant in its own).
        other = Store(pg_database, store.vault)
        ran = asyncio.Event()

        async def fine() -> None:
            ran.set()

        await asyncio.wait_for(run_alone(other, "broken", fine), 10)
        assert ran.is_set()
        await other.close()
    finally:
        await store.close()


async def test_a_process_stopping_its_service_gives_the_lock_back(pg_database):
    one, two = (Store(pg_database, Vault([Vault.new_key()])) for _ in range(2))
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    try:
        first = asyncio.create_task(run_alone(one, "stopping", forever))
        await asyncio.wait_for(started.wait(), 10)
        assert one.engine.pool.checkedout() == 0  # the lock's connection is not the pool's
        first.cancel()  # the runtime stopping its services; its pool stays open
        await asyncio.gather(first, return_exceptions=True)
        started.clear()
        second = asyncio.create_task(run_alone(two, "stopping", forever))
        await asyncio.wait_for(started.wait(), 3 * TRY_EVERY)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
    finally:
        await one.close()
        await two.close()
