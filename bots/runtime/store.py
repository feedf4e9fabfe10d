"""The bots' database: engine set-up, migrations at start, and the unit of work.

SQLite by default, PostgreSQL through the same URL setting. Every effect of handling one event or
firing one job is written in one transaction (`Store.transaction()`), together with the record that
the event/job was handled, so nothing is done twice and nothing is lost.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Executable,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

from bots.runtime.models import BotDevice, InboxEvent, OutboxMessage, SealOnInsert, SyncState
from bots.runtime.vault import Vault

# SQLite through aiosqlite, one hop to its thread per statement (bots/runtime/sqlite_driver.py).
registry.register("sqlite.liaison", "bots.runtime.sqlite_driver", "OneHopDialect")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x4C69616973_6F6E  # the advisory lock's key while migrating ("Liaison")
# Database connections per process: POOL_SIZE kept open, up to POOL_OVERFLOW more under load (the
# SQLAlchemy defaults, spelled out because the scheduler sizes its bursts from them: jobs_at_once).
# A checkout that finds none free waits up to POOL_TIMEOUT seconds, then fails.
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT = 5, 10, 30.0
# How long the bots process that wrote (or took over) an outbox row holds it without renewing:
# the sender renews every OUTBOX_LEASE / 3, and another process (two on PostgreSQL) takes over
# the rows of one that died once their lease ran out.
OUTBOX_LEASE = timedelta(seconds=30)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _driver_url(url: str, *, asynchronous: bool) -> str:
    """The same database through the async drivers (runtime) or the sync ones (Alembic)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(drivername="sqlite+liaison" if asynchronous else "sqlite"))
    if parsed.get_backend_name() == "postgresql":
        return str(parsed.set(drivername="postgresql+psycopg"))  # psycopg 3 does both
    return url


def migrate(url: str) -> None:
    """Bring the schema to head (Alembic). Run at every start, before anything else: by the bots
    and bridge processes in a child process (`migrate_apart`)."""
    # Imported here, not at the top: Alembic brings Mako, Pygments and every SQLAlchemy dialect
    # (~12 MiB resident, never freed once imported), for what runs once at start.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(_driver_url(url, asynchronous=False))
    try:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            if parsed.get_backend_name() == "postgresql":
                # Two processes starting together (docs/SCALING.md): one migrates, the other
                # waits for it, then finds the schema at head.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()


class MigrationError(RuntimeError):
    pass


# The child process of `migrate_apart`: JSON logs as the bots' (bots.logs), the URL on stdin.
_MIGRATE_CHILD = ("import sys; from bots import logs; from bots.runtime.store import migrate; "
                  "logs.setup(); migrate(sys.stdin.read())")


async def migrate_apart(url: str) -> None:
    """`migrate` in a child process, so that the long-running process never imports Alembic. The
    URL goes on stdin, not the command line: it may hold a password. The child logs to stderr."""
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", _MIGRATE_CHILD,
                                                 stdin=asyncio.subprocess.PIPE)
    await child.communicate(url.encode())
    if child.returncode != 0:
        raise MigrationError(f"the database migration failed (exit {child.returncode}); "
                             "its error is in the log above")


def _dialect_insert(dialect: str) -> Any:
    """INSERT with ON CONFLICT, which SQLite and PostgreSQL both have (SQLAlchemy per dialect)."""
    # Only the dialect in use is imported: PostgreSQL's brings psycopg (~2 MiB resident).
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    return insert


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers go on while a transaction writes; the busy timeout rides out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite leaves them off: ON DELETE CASCADE needs it
    cursor.close()


def _sqlite_reset(dbapi_conn: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's reset of a connection given back: a rollback only if SQLite has a transaction
    open. SQLAlchemy's own (`pool_reset_on_return`) rolls back after every commit too, one more
    hop to aiosqlite's thread per transaction for nothing."""
    if state.asyncio_safe and not state.terminate_only and \
            dbapi_conn.driver_connection.in_transaction:
        dbapi_conn.rollback()


# The statements run for every command, built once per dialect with bound parameters: building
# one (its values coerced, its cache key computed) costs more CPU than SQLite takes to run it.
# On the tables, not the ORM classes: ORM-enabled INSERT and UPDATE add their own bookkeeping.


@functools.cache
def _claim_statement(dialect: str) -> Executable:
    inbox = InboxEvent.__table__
    return (_dialect_insert(dialect)(inbox)
            .on_conflict_do_nothing(index_elements=["account", "event_id"])
            .returning(inbox.c.id))  # rowcount is not reliable here on every driver


@functools.cache
def _outbox_done_statement() -> Executable:
    outbox = OutboxMessage.__table__
    return update(outbox).where(outbox.c.id == bindparam("row_id"),
                                outbox.c.owner == bindparam("holder"),
                                outbox.c.state == "pending")


@dataclass
class Transaction:
    """One unit of work. Bots add their own rows through `session`; `post()` queues a message
    that the sender delivers once the transaction has committed."""

    session: AsyncSession
    vault: Vault
    account: str
    owner: str  # the bots process (Store.owner) that sends what is posted here
    posted: list[OutboxMessage] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def post(
        self, room_id: str, content: dict[str, Any], *, event_type: str = "m.room.message",
        cause_event_id: str | None = None, refers_to: int | None = None,
    ) -> OutboxMessage:
        """Queue a message. With `refers_to` (the ID of an earlier outbox row, of this room),
        the content's `m.relates_to.event_id` is that row's event ID, filled in when sending."""
        if event_type == "m.room.message":
            # Intentional mentions (MSC3952): without the key, clients guess from the body.
            content = {"m.mentions": {}, **content}
        txn_id = f"liaison-{uuid.uuid4().hex}"
        row = OutboxMessage(
            account=self.account, room_id=room_id, event_type=event_type, txn_id=txn_id,
            content=self.vault.seal(content, OutboxMessage.bind("content", self.account, room_id,
                                                                txn_id)),
            state="pending", cause_event_id=cause_event_id, created_at=utcnow(), attempts=0,
            refers_to=refers_to, owner=self.owner,
        )
        self.session.add(row)
        self.posted.append(row)
        return row

    def seal_on_insert(self, value: Any) -> SealOnInsert:
        """A column value sealed once the row has its ID (for tables bound by ID)."""
        return SealOnInsert(self.vault, value)


def dialect_insert(tx: Transaction) -> Any:
    """INSERT … ON CONFLICT for the transaction's database."""
    return _dialect_insert(tx.session.bind.dialect.name)


class Store:
    def __init__(self, url: str, vault: Vault, *, instance: str | None = None) -> None:
        """`instance`: this bots process among several sharing the database (PostgreSQL), None
        when it is alone. It names the outbox rows this process holds (`owner`, stable across
        its restarts: see take_outbox) and its own sync position (each is its own device)."""
        self.url = url
        self.vault = vault
        self.instance = instance
        self.owner = instance or "main"
        sqlite = make_url(url).get_backend_name() == "sqlite"
        # A file database does not drop connections: no ping before each checkout there.
        self.engine: AsyncEngine = create_async_engine(
            _driver_url(url, asynchronous=True), pool_pre_ping=not sqlite, pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT,
            pool_reset_on_return=None if sqlite else "rollback")
        self.connections = POOL_SIZE + POOL_OVERFLOW  # at most, held at once
        if sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine.pool, "reset", _sqlite_reset)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_turn: AbstractAsyncContextManager[Any] = \
            asyncio.Lock() if sqlite else nullcontext()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction. SQLite has one writer at a time: taking turns here is cheaper
        than SQLite's busy-wait sleeps (up to 100 ms each) when two connections collide."""
        async with self._write_turn, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _writing_core(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction for Core statements alone: no ORM session to set up and flush."""
        async with self._write_turn, self.engine.begin() as connection:
            yield connection

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, account: str) -> AsyncIterator[Transaction]:
        async with self._writing() as session:
            tx = Transaction(session, self.vault, account, self.owner)
            yield tx
            # The lease runs from the commit, not from the post: a long transaction must not
            # hand its rows a lease already half run out.
            lease_until = utcnow() + OUTBOX_LEASE
            for row in tx.posted:
                row.lease_until = lease_until
        for callback in tx.after_commit:
            callback()

    @asynccontextmanager
    async def reading(self, account: str) -> AsyncIterator[Transaction]:
        """A read-only unit of work (rolled back at the end), outside the writers' turn: pages
        that only read (the dashboard) never hold up the bots' writes on SQLite."""
        async with self._sessions() as session:
            yield Transaction(session, self.vault, account, self.owner)

    # --- sync position -------------------------------------------------------------------

    def _sync_key(self, account: str) -> str:
        """Whose sync position: the account's, or this instance's device's of it."""
        return f"{account}/{self.instance}" if self.instance else account

    async def sync_token(self, account: str) -> tuple[str | None, datetime | None]:
        """The stored sync position and when it was recorded."""
        async with self._sessions() as session:
            row = await session.get(SyncState, self._sync_key(account))
            return (row.next_batch, as_utc(row.updated_at)) if row else (None, None)

    async def record_sync(self, account: str, next_batch: str, events: list[dict[str, Any]],
                          undecryptable: set[str]) -> list[InboxEvent]:
        """Record a sync's events for handling and move the token past them, atomically.
        Events already recorded (replayed sync, backfill overlap) are skipped. Two statements:
        an insert that ignores known events, and an upsert of the token."""
        now = utcnow()
        insert = _dialect_insert(self.engine.dialect.name)
        async with self._writing() as session:
            added: list[InboxEvent] = []
            unique = list({e["event_id"]: e for e in events}.values())
            if unique:
                rows = [{
                    "account": account, "event_id": ev["event_id"], "room_id": ev["room_id"],
                    "state": "undecryptable" if ev["event_id"] in undecryptable else "pending",
                    "payload": self.vault.seal(ev, InboxEvent.bind("payload", account,
                                                                   ev["event_id"])),
                    "received_at": now, "attempts": 0,
                } for ev in unique]
                added = list((await session.scalars(
                    insert(InboxEvent).values(rows)
                    .on_conflict_do_nothing(index_elements=["account", "event_id"])
                    .returning(InboxEvent))).all())
                added.sort(key=lambda r: r.id)
            token = insert(SyncState).values(account=self._sync_key(account),
                                             next_batch=next_batch, updated_at=now)
            await session.execute(token.on_conflict_do_update(
                index_elements=["account"],
                set_={"next_batch": next_batch, "updated_at": now}))
        return added

    # --- inbox ---------------------------------------------------------------------------

    async def inbox(self, account: str, state: str) -> list[InboxEvent]:
        async with self._sessions() as session:
            return list((await session.scalars(
                select(InboxEvent).where(InboxEvent.account == account, InboxEvent.state == state)
                .order_by(InboxEvent.id))).all())

    async def set_inbox_payload(self, row: InboxEvent, event: dict[str, Any], state: str) -> None:
        async with self._writing() as session:
            await session.execute(update(InboxEvent).where(InboxEvent.id == row.id).values(
                payload=self.vault.seal(event, row.bound("payload")), state=state))

    async def bump_attempts(self, row_id: int) -> int:
        async with self._writing() as session:
            row = await session.get(InboxEvent, row_id)
            assert row is not None
            row.attempts += 1
            return row.attempts

    # A handled row keeps no payload: the event is not needed any more, and patient data
    # should not stay at rest longer than it must, even sealed.

    @staticmethod
    async def mark_handled(tx: Transaction, row_id: int) -> bool:
        """Claim a recorded inbox row inside the handler's transaction. False if another pass
        already handled it (the conditional update is what makes handling exactly-once)."""
        result = await tx.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == row_id, InboxEvent.state.in_(("pending", "undecryptable")))
            .values(state="handled", handled_at=utcnow(), payload=b""))
        return result.rowcount == 1

    @staticmethod
    async def claim_new(tx: Transaction, event: dict[str, Any]) -> bool:
        """Claim an event straight from sync by recording it as handled, inside the handler's
        transaction. False if the inbox already knows it (replayed sync, or recorded pending)."""
        now = utcnow()
        result = await tx.session.execute(_claim_statement(tx.session.bind.dialect.name), {
            "account": tx.account, "event_id": event["event_id"], "room_id": event["room_id"],
            "state": "handled", "payload": b"", "received_at": now, "handled_at": now,
            "attempts": 0})
        return result.scalar() is not None

    # --- outbox --------------------------------------------------------------------------

    async def pending_outbox(self, account: str) -> list[OutboxMessage]:
        async with self._sessions() as session:
            return list((await session.scalars(
                select(OutboxMessage).where(OutboxMessage.account == account,
                                            OutboxMessage.state == "pending")
                .order_by(OutboxMessage.id))).all())

    async def take_outbox(self, account: str) -> list[OutboxMessage]:
        """The pending rows this process may send, its lease on them renewed: its own (written
        by it, or by its earlier run) and those no live process holds (lease run out). The
        conditions sit in the UPDATE itself, so two processes never both take a row: the second
        re-reads it once the first committed and finds the lease live. On PostgreSQL the rows
        the other process is taking right now are skipped (SKIP LOCKED), not waited for."""
        now = utcnow()
        free = (OutboxMessage.account == account, OutboxMessage.state == "pending",
                or_(OutboxMessage.owner == self.owner, OutboxMessage.lease_until.is_(None),
                    OutboxMessage.lease_until < now))
        if self.engine.dialect.name == "postgresql":
            free = (*free, OutboxMessage.id.in_(
                select(OutboxMessage.id).where(*free).with_for_update(skip_locked=True)))
        async with self._writing() as session:
            rows = list((await session.scalars(
                update(OutboxMessage).where(*free)
                .values(owner=self.owner, lease_until=now + OUTBOX_LEASE)
                .returning(OutboxMessage)
                .execution_options(synchronize_session=False))).all())
        return sorted(rows, key=lambda r: r.id)

    async def outbox_backlog(self, accounts: list[str]) -> tuple[int, datetime | None]:
        """How many messages wait to be sent, and since when the oldest (health, metrics)."""
        async with self._sessions() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.account.in_(accounts), OutboxMessage.state == "pending"))).one()
        return count, as_utc(oldest) if oldest else None

    async def outbox_event_id(self, row_id: int) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(OutboxMessage.event_id).where(OutboxMessage.id == row_id))

    async def outbox_turn(self, row_id: int, device: str, *, replace: bool = False) -> str | None:
        """Before each attempt at sending a row: the device to send it as, its lease renewed,
        or None when the row is no longer this process's to send (another took it over, having
        found the lease run out, or it is done). The device is the one stamped on the row by its
        first attempt (whichever process made it), else `device`, stamped now, committed before
        the attempt; `replace`: `device` in any case (the stamped one's token is gone). On SQLite
        one process runs (docs/SCALING.md): no other takes a row over, nothing to check or stamp
        (a write per message saved)."""
        if self.engine.dialect.name == "sqlite":
            return device
        outbox = OutboxMessage.__table__
        async with self._writing_core() as connection:
            return (await connection.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.owner == self.owner,
                       outbox.c.state == "pending")
                .values(device=device if replace else func.coalesce(outbox.c.device, device),
                        lease_until=utcnow() + OUTBOX_LEASE)
                .returning(outbox.c.device))).scalar()

    async def outbox_done(self, row_id: int, *, event_id: str | None, error: str | None,
                          attempts: int) -> bool:
        """False when the row was not this process's any more (taken over meanwhile): the one
        that holds it now sends it again, as the same device with the same transaction ID, and
        the homeserver answers with the same event."""
        async with self._writing_core() as connection:
            return (await connection.execute(_outbox_done_statement(), {
                "row_id": row_id, "holder": self.owner, "state": "sent" if event_id else "failed",
                "event_id": event_id, "last_error": error, "sent_at": utcnow(),
                "attempts": attempts})).rowcount == 1

    async def outbox_attempt(self, row_id: int, attempts: int, error: str) -> None:
        async with self._writing() as session:
            await session.execute(update(OutboxMessage).where(
                OutboxMessage.id == row_id, OutboxMessage.owner == self.owner).values(
                attempts=attempts, last_error=error))

    # --- the deployment's devices --------------------------------------------------------

    async def record_device(self, account: str, device_id: str, access_token: str) -> None:
        """This process's device and its access token (sealed), for whoever takes over its
        outbox rows (outbox_turn)."""
        insert = _dialect_insert(self.engine.dialect.name)
        values = {"instance": self.instance, "updated_at": utcnow(),
                  "access_token": self.vault.seal(access_token,
                                                  BotDevice.bind("access_token", account,
                                                                 device_id))}
        async with self._writing() as session:
            await session.execute(insert(BotDevice).values(
                account=account, device_id=device_id, **values).on_conflict_do_update(
                index_elements=["account", "device_id"], set_=values))

    async def device_token(self, account: str, device_id: str) -> str | None:
        async with self._sessions() as session:
            row = await session.scalar(select(BotDevice).where(BotDevice.account == account,
                                                               BotDevice.device_id == device_id))
        return self.vault.open(row.access_token, row.bound("access_token")) if row else None

