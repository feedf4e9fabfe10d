"""The runtime's tables. Bots add their own tables on the same `Base` (same migrations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, Mapper, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from bots.runtime.vault import Binding, Vault

# The autoincrement key of a table: BIGINT, and INTEGER on SQLite (only an INTEGER primary key
# autoincrements there). Every model's `id` uses it.
ID = BigInteger().with_variant(Integer, "sqlite")


def identifier(**options: Any) -> MappedColumn[Any]:
    """A column of at most 255 characters: a Matrix ID (user, room, event), an account, a key."""
    return mapped_column(String(255), **options)


def moment(**options: Any) -> MappedColumn[Any]:
    """A point in time, with its zone."""
    return mapped_column(DateTime(timezone=True), **options)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # What names a row for the values sealed in it (their binding, vault.py): attributes that
    # are set before the value is sealed and never change. Every table with a sealed column
    # (LargeBinary) sets it.
    sealed_by: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def bind(cls, column: str, *row: str | int) -> Binding:
        """The binding of `column` in the row whose `sealed_by` values are `row`."""
        return Binding(cls.__tablename__, column, row)

    def bound(self, column: str) -> Binding:
        return self.bind(column, *(getattr(self, name) for name in self.sealed_by))


@dataclass(frozen=True)
class SealOnInsert:
    """A column value sealed once its row has its generated ID, for tables whose ID is the only
    thing that tells their rows apart (`sealed_by` holds "id"): the row is inserted with an empty
    value, then updated, in the same flush. `Transaction.seal_on_insert` makes one."""

    vault: Vault
    value: Any


_held: WeakKeyDictionary[Base, dict[str, SealOnInsert]] = WeakKeyDictionary()


@event.listens_for(Base, "before_insert", propagate=True)
def _hold_sealed(mapper: Mapper[Any], _connection: Connection, row: Base) -> None:
    held = {key: value for key, value in row.__dict__.items() if isinstance(value, SealOnInsert)}
    if held:
        _held[row] = held
        for key in held:
            setattr(row, key, b"")


@event.listens_for(Base, "after_insert", propagate=True)
def _seal_held(mapper: Mapper[Any], connection: Connection, row: Base) -> None:
    held = _held.pop(row, None)
    if not held:
        return
    sealed = {key: h.vault.seal(h.value, row.bound(key)) for key, h in held.items()}
    key = mapper.primary_key_from_instance(row)
    connection.execute(mapper.local_table.update()
                       .where(*(c == v for c, v in zip(mapper.primary_key, key, strict=True)))
                       .values({mapper.c[k]: v for k, v in sealed.items()}))
    for name, value in sealed.items():
        set_committed_value(row, name, value)


class SyncState(Base):
    """Where each bot account is in its /sync stream. Written after that sync's commands were
    handled, with its pending inbox rows, so a crash never skips an event. `account`: the
    account, or `account/instance` for one of several bots processes (each its own device, with
    its own to-device stream: store.Store._sync_key)."""

    __tablename__ = "sync_state"
    account: Mapped[str] = identifier(primary_key=True)
    next_batch: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = moment()


class InboxEvent(Base):
    """An incoming event a bot handles, recorded once (unique per account).

    `state`: handled (inserted so, with no payload, in the transaction of the handler's effects,
    or updated so from pending); pending (a failed handler, a key that came late); undecryptable
    while its room key is missing. A pending `payload` is sealed by the vault.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("account", "event_id"),)
    sealed_by = ("account", "event_id")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier()
    event_id: Mapped[str] = identifier()
    room_id: Mapped[str] = identifier(index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = moment()
    handled_at: Mapped[datetime | None] = moment()
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """Everything a bot posts. The transaction ID is fixed when the row is written, before the
    first attempt, and reused on every retry; `event_id` is filled from the server's answer.

    `refers_to`: an earlier row this one relates to (an edit of it, say) whose event ID is not
    known when both are decided; the sender fills it in (see sender.py).

    `owner`, `lease_until`: the bots process that sends the row (Store.owner), until when; it
    renews the lease while it lives, and another process takes the row over once it expired.
    `device`: the device whose access token the row is sent with, stamped before the first
    attempt: the homeserver folds a repeated transaction ID of one device, so a process that
    takes the row over sends it with that device's token (BotDevice), never its own."""

    __tablename__ = "outbox"
    sealed_by = ("account", "room_id", "txn_id")  # the room too: a message goes nowhere else
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier(index=True)
    room_id: Mapped[str] = identifier()
    event_type: Mapped[str] = identifier()
    content: Mapped[bytes] = mapped_column(LargeBinary)
    txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    event_id: Mapped[str | None] = identifier(index=True)
    cause_event_id: Mapped[str | None] = identifier()
    refers_to: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = moment()
    sent_at: Mapped[datetime | None] = moment()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = moment()
    device: Mapped[str | None] = identifier()


class BotDevice(Base):
    """The devices of the deployment's bots processes and their access tokens (sealed): a process
    that takes over another's outbox row sends it as the device that may have sent it already
    (OutboxMessage.device). Written by each process at start."""

    __tablename__ = "bot_devices"
    __table_args__ = (UniqueConstraint("account", "device_id"),)
    sealed_by = ("account", "device_id")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier()
    device_id: Mapped[str] = identifier()
    instance: Mapped[str | None] = mapped_column(String(64))
    access_token: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = moment()


class ScheduledJob(Base):
    """Durable scheduled work. The row is the truth (APScheduler only times it): when it is due
    in UTC, the IANA zone it was planned in, whether it fired and whether late."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (UniqueConstraint("account", "key"),)
    sealed_by = ("account", "kind", "key")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier()
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = identifier()
    due_at: Mapped[datetime] = moment(index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)
    fired_at: Mapped[datetime | None] = moment()
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class IdentityPin(Base):
    """A user's cross-signing master key as first seen (trust on first use), for the whole
    deployment (the bots and the bridge share it). `changed_to`: another key the homeserver now
    gives for them, not yet confirmed by a coordinator: their devices are distrusted meanwhile;
    the rooms were told when it was recorded."""

    __tablename__ = "identity_pins"
    user_id: Mapped[str] = identifier(primary_key=True)
    master_key: Mapped[str] = mapped_column(String(64))
    changed_to: Mapped[str | None] = mapped_column(String(64))
    pinned_at: Mapped[datetime] = moment()
    changed_at: Mapped[datetime | None] = moment()


class ClearCommandNotice(Base):
    """A sender was told, in this room, that commands sent in clear are refused (told once)."""

    __tablename__ = "clear_command_notices"
    account: Mapped[str] = identifier(primary_key=True)
    room_id: Mapped[str] = identifier(primary_key=True)
    user_id: Mapped[str] = identifier(primary_key=True)
    told_at: Mapped[datetime] = moment()
