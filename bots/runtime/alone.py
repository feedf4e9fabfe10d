"""Work done in one bots process at a time, with two processes on PostgreSQL (docs/SCALING.md),
by PostgreSQL advisory locks: a service (`run_alone`: the one holding the lock runs it, the other
waits and takes over when the holder dies), a piece of work (`Claims`: the other process leaves
it while it is held), a transaction (`one_at_a_time`: the other's waits for it to end). The
long-held locks live on a connection of their own, outside the store's pool (a held lock would
take a pooled connection for the life of the process): a process that dies (even `kill -9`)
drops that connection, and PostgreSQL releases its locks with it. On SQLite there is one
process, and everything just runs."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bots.runtime.store import Store, Transaction

log = logging.getLogger(__name__)

# How often a waiting process tries the lock, and the holder checks that its connection (thus
# the lock) is still there: the takeover delay after the holder died.
TRY_EVERY = 2.0
# How often a claim waited for (`Claims.waiting`) is tried again: the other process holds it for
# a call to another server, a fraction of a second.
WAIT_STEP = 0.2


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


class Claims:
    """Pieces of work this process holds while it does them: a session-level advisory lock each,
    all on one connection of the process's own. The other process finds a held piece taken and
    leaves it (to look again later); once the holder is done, or dead, it is free. Within the
    process a claim is re-entrant (one session): its own tasks keep apart by themselves."""

    def __init__(self, store: Store) -> None:
        self._locks = create_async_engine(
            store.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT") \
            if store.engine.dialect.name == "postgresql" else None
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()  # one statement at a time on the connection

    @asynccontextmanager
    async def holding(self, name: str) -> AsyncIterator[bool]:
        """Whether this process holds `name` for the block (False: another one does)."""
        held = await self._take(name)
        try:
            yield held
        finally:
            if held:
                await self._give_back(name)

    @asynccontextmanager
    async def waiting(self, name: str) -> AsyncIterator[None]:
        """Holds `name` for the block, once the other process has given it back (looked at
        every `WAIT_STEP`: a waiting statement would hold up every claim on the connection)."""
        while not await self._take(name):  # noqa: ASYNC110 (the other process sets no Event)
            await asyncio.sleep(WAIT_STEP)
        try:
            yield
        finally:
            await self._give_back(name)

    async def _take(self, name: str) -> bool:
        if self._locks is None:
            return True
        return bool(await self._statement("SELECT pg_try_advisory_lock(:k)", lock_key(name)))

    async def _give_back(self, name: str) -> None:
        if self._locks is None:
            return
        try:
            await self._statement("SELECT pg_advisory_unlock(:k)", lock_key(name))
        except (DBAPIError, OSError) as exc:  # the connection went, and the lock with it
            log.warning("lost the claims' connection", extra={"error": repr(exc)})

    async def _statement(self, sql: str, key: int) -> Any:
        assert self._locks is not None
        async with self._turn:
            try:
                if self._connection is None:
                    self._connection = await self._locks.connect()
                return await self._connection.scalar(text(sql), {"k": key})
            except (DBAPIError, OSError):
                # Every lock of the connection is gone with it: the next claim reconnects.
                await self._drop()
                raise

    async def _drop(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                await connection.close()
            except (DBAPIError, OSError):
                pass

    async def close(self) -> None:
        async with self._turn:
            await self._drop()
        if self._locks is not None:
            await self._locks.dispose()


async def one_at_a_time(tx: Transaction, name: str) -> None:
    """The rest of `tx` in one process at a time: another process's transaction that asks for
    `name` waits until this one ends (a transaction-level advisory lock on PostgreSQL), then
    reads what it committed. SQLite has one process: nothing to wait for."""
    if tx.session.bind.dialect.name == "postgresql":
        await tx.session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": lock_key(name)})
