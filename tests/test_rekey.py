"""Key rotation: after `rekey`, the new key alone opens every sealed value and finds patients."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, update

from bots.careteam import records as careteam
from bots.careteam.requests import OpenRequest
from bots.common import records as care_rooms
from bots.common.identity import make_identity
from bots.common.models import CareRoom
from bots.config import AccountConfig, Config
from bots.rekey import rekey, sealed_columns
from bots.runtime.account import AccountFolder
from bots.runtime.models import OutboxMessage
from bots.runtime.store import Store, _driver_url, migrate
from bots.runtime.vault import Binding, Vault, VaultError
from tests.careteam_helpers import INS
from tests.conftest import PG_ADMIN
from tests.migrated import sqlite_at_head

IDENTITY = make_identity("DUPONT", "Marie", date(1948, 3, 12), "F", ins=INS)


async def test_rekey_moves_everything_to_the_first_key(tmp_path: Path):
    old, new = Vault.new_key(), Vault.new_key()
    config = Config(homeserver="http://x", data_dir=tmp_path, database=f"sqlite:///{tmp_path}/b.db",
                    data_keys=(old,), language="fr", timezone="Europe/Paris",
                    allowed_servers=("x",), allow_legacy_devices=False, log_level="INFO",
                    accounts=(AccountConfig("@bot:x", "pw", "d", ()),))
    sqlite_at_head(tmp_path / "b.db")
    store = Store(config.database, Vault([old]))
    async with store.transaction("@bot:x") as tx:
        await careteam.register_patient(tx, OpenRequest(IDENTITY, ward="Cardiologie"), prefix="P",
                                       language="fr", requested_by="api")
        tx.post("!r:x", {"msgtype": "m.notice", "body": "identité"})
    await store.close()
    secrets = AccountFolder(tmp_path, "@bot:x", Vault([old])).load()

    report = await rekey(replace(config, data_keys=(new, old)))
    assert report.rows == 2 and report.accounts == 1

    only_new = Vault([new])
    store = Store(config.database, only_new)
    try:
        async with store.transaction("@bot:x") as tx:
            found = await careteam.find_patient(tx, IDENTITY)
            assert found is not None and found.ward == "Cardiologie"
            assert care_rooms.PatientFile.open(tx, found).identity == IDENTITY
        assert [only_new.open(r.content, r.bound("content"))["body"]
                for r in await store.pending_outbox("@bot:x")] == ["identité"]
    finally:
        await store.close()
    assert AccountFolder(tmp_path, "@bot:x", only_new).load() == secrets
    try:
        Vault([old]).open(found.sealed, found.bound("sealed"))
        raise AssertionError("the old key still opens the identity")
    except VaultError:
        pass


def test_every_sealed_column_is_rotated():
    names = {f"{model.__name__}.{column}" for model, column in sealed_columns()}
    assert {"CareRoom.sealed", "OutboxMessage.content", "ChecklistRow.sealed",
            "AuditEntry.detail", "FollowupStep.note", "FollowupEvent.note", "InboundRow.raw",
            "OutboundRow.content"} <= names
    for model, _ in sealed_columns():  # each names its rows by columns it has
        assert model.sealed_by and set(model.sealed_by) <= set(model.__table__.columns.keys()), \
            model.__name__


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: rekey goes through every row, all sealed with this test's keys."""
    if request.param == "sqlite":
        yield sqlite_at_head(tmp_path / "bots.db")  # migrated from scratch once, copied
        return
    name = f"liaison_rekey_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def config_for(tmp_path: Path, database: str, *keys: str) -> Config:
    return Config(homeserver="http://x", data_dir=tmp_path, database=database, data_keys=keys,
                  language="fr", timezone="Europe/Paris", allowed_servers=("x",),
                  allow_legacy_devices=False, log_level="INFO",
                  accounts=(AccountConfig(ACCOUNT, "pw", "d", ()),))


ACCOUNT = "@bot:x"


async def test_a_row_written_while_rekey_runs_is_not_overwritten(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):
    """The bots write an outbox row between rekey's read and its write: rekey reads it again
    and re-seals the new value (compare-and-swap), the bots' write is not lost."""
    old, new = Vault.new_key(), Vault.new_key()
    migrate(db_url)
    store = Store(db_url, Vault([old]))
    async with store.transaction(ACCOUNT) as tx:
        row = tx.post("!r:x", {"body": "avant"})
    at = row.bound("content")
    rotate, written = Vault.rotate, []

    def concurrent_write(vault: Vault, token: bytes, where: Binding) -> bytes:
        rotated = rotate(vault, token, where)
        if where == at and not written:  # the bots, still on the old key, edit the row now
            engine = create_engine(_driver_url(db_url, asynchronous=False))
            with engine.begin() as conn:
                conn.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    content=Vault([old]).seal({"body": "après"}, at)))
            engine.dispose()
            written.append(True)
        return rotated

    monkeypatch.setattr(Vault, "rotate", concurrent_write)
    try:
        await rekey(config_for(tmp_path, db_url, new, old))
    finally:
        await store.close()
    assert written
    store = Store(db_url, Vault([new]))
    try:
        async with store.transaction(ACCOUNT) as tx:
            stored = await tx.session.get(OutboxMessage, row.id)
            assert stored is not None
            assert tx.vault.open(stored.content, stored.bound("content")) == {"body": "après"}
    finally:
        await store.close()


async def test_fernet_rows_from_before_open_and_rekey_binds_them(tmp_path: Path, db_url: str):
    """Rows and the account file sealed before the bound format (Fernet tokens) still open; rekey
    rewrites them bound to their place, with the same key."""
    key = Vault.new_key()
    fernet, vault = Fernet(key.encode()), Vault([key])
    migrate(db_url)
    store = Store(db_url, vault)
    account = ACCOUNT
    try:
        async with store.transaction(account) as tx:
            room, _ = await careteam.register_patient(tx, OpenRequest(IDENTITY), prefix="P",
                                                     language="fr", requested_by="api")
            posted = tx.post("!r:x", {"body": "identité"})
        legacy = {"care_rooms": fernet.encrypt(json.dumps({
            "identity": IDENTITY.to_dict(), "admission_date": None}).encode()),
            "outbox": fernet.encrypt(json.dumps({"body": "identité"}).encode())}
        async with store.transaction(account) as tx:  # as the previous version wrote them
            await tx.session.execute(update(CareRoom).where(CareRoom.id == room.id)
                                     .values(sealed=legacy["care_rooms"]))
            await tx.session.execute(update(OutboxMessage).where(OutboxMessage.id == posted.id)
                                     .values(content=legacy["outbox"]))
        async with store.transaction(account) as tx:
            found = await careteam.find_patient(tx, IDENTITY)
            assert found is not None and bytes(found.sealed) == legacy["care_rooms"]
            assert care_rooms.PatientFile.open(tx, found).identity == IDENTITY
        folder = AccountFolder(tmp_path, account, vault)
        secrets_before = folder.load()
        (folder.path / "account.sealed").write_bytes(
            fernet.encrypt(json.dumps(asdict(secrets_before)).encode()))
        assert folder.load() == secrets_before
    finally:
        await store.close()

    await rekey(config_for(tmp_path, db_url, key))

    store = Store(db_url, vault)
    try:
        async with store.transaction(account) as tx:
            room_row = await tx.session.get(CareRoom, room.id)
            out_row = await tx.session.get(OutboxMessage, posted.id)
            assert room_row is not None and out_row is not None
            for sealed in (room_row.sealed, out_row.content):
                assert bytes(sealed).startswith(b"\x01")
            assert care_rooms.PatientFile.open(tx, room_row).identity == IDENTITY
            assert vault.open(out_row.content, out_row.bound("content")) == {"body": "identité"}
    finally:
        await store.close()
    assert (folder.path / "account.sealed").read_bytes().startswith(b"\x01")
    assert folder.load() == secrets_before
