"""A service that runs in one bots process at a time: with two processes on PostgreSQL
(docs/SCALING.md), the one holding a PostgreSQL advisory lock runs it, the other waits and takes
over when the holder dies. The lock lives on a connection of its own, outside the store's pool (a
held lock would take a pooled connection for the life of the process): a process that dies (even
`kill -9`) drops that connection, and PostgreSQL releases the lock with it. On SQLite there is one
process, and the service just runs."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bots.runtime.store import Store

log = logging.getLogger(__name__)

# How often a waiting process tries the lock, and the holder checks that its connection (thus
# the lock) is still there: the takeover delay after the holder died.
TRY_EVERY = 2.0


def lock_key(name: str) -> int:
    """The advisory lock's key: a signed 64-bit number from the service's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def run_alone(store: Store, name: str, service: Callable[[], Awaitable[None]]) -> None:
    """Run `service` while this process holds the lock `name`; if the lock's connection is lost,
    stop it and wait for the lock again (another process may hold it meanwhile). What the
    service raises is raised here."""
    if store.engine.dialect.name != "postgresql":
        await service()
        return
    locks = create_async_engine(store.engine.url, poolclass=NullPool)
    try:
        while True:
            try:
                task = await _holding(locks, name, service)
            except (DBAPIError, OSError) as exc:
                log.warning("lost the lock's connection, trying again",
                            extra={"service": name, "error": repr(exc)})
                await asyncio.sleep(TRY_EVERY)
                continue
            return task.result()
    finally:
        await locks.dispose()


async def _holding(locks: AsyncEngine, name: str,
                   service: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    """Wait for the lock, then run `service` until it ends (the task, done) or the connection
    fails (raised, the service stopped)."""
    key = lock_key(name)
    async with locks.connect() as connection:
        while not await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
            await connection.rollback()  # no transaction left open while waiting
            await asyncio.sleep(TRY_EVERY)
        await connection.commit()
        log.info("holding the lock: running", extra={"service": name})
        task = asyncio.create_task(_awaited(service))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=TRY_EVERY)
                if not task.done():
                    await connection.scalar(text("SELECT 1"))
                    await connection.rollback()
        except BaseException:  # the connection lost, or this process stopping
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        return task  # the connection closes with the block (no pool), and the lock with it


async def _awaited(service: Callable[[], Awaitable[None]]) -> None:
    await service()
