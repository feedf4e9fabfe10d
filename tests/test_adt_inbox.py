"""The intake's recording step (bots/adt/inbox.py) on a real SQLite database: a movement stored
once however often it is resent, a refused message quarantined with its reason, an unreadable
one not kept, and the message sealed (no patient data in the database file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bots.adt.inbox import take
from bots.adt.messages import Movement, Refused
from bots.adt.models import AdtMessage
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from tests.migrated import sqlite_at_head

DATA = Path(__file__).parent / "data" / "adt"


@pytest.fixture
async def store(tmp_path: Path):
    store = Store(sqlite_at_head(tmp_path / "bots.db"), Vault([Vault.new_key()]))
    yield store
    await store.close()


async def _take(store: Store, name: str):
    async with store.transaction("@care:localhost") as tx:
        return await take(tx, (DATA / name).read_bytes())


async def _rows(store: Store) -> list[AdtMessage]:
    async with store.transaction("@care:localhost") as tx:
        return list((await tx.session.scalars(select(AdtMessage).order_by(AdtMessage.id))).all())


async def test_a_movement_is_stored_once_however_often_it_is_resent(store: Store) -> None:
    first = await _take(store, "a01_admission.hl7")
    again = await _take(store, "a01_admission.hl7")
    assert isinstance(first.result, Movement) and first.stored and first.new
    assert again.stored and not again.new
    [row] = await _rows(store)
    assert (row.sender, row.control_id, row.event, row.state) == (
        "GAM^CHU-EXEMPLE", "MSG0001", "A01", "stored")
    assert row.patient == store.vault.index("248037512345658")
    raw = store.vault.open_bytes(row.raw, row.bound("raw"))
    assert raw == (DATA / "a01_admission.hl7").read_bytes()


async def test_a_refused_message_is_quarantined_with_its_reason_and_an_unreadable_one_not_kept(
        store: Store) -> None:
    refused = await _take(store, "bad_ins_key.hl7")
    unreadable = await _take(store, "not_hl7.hl7")
    assert isinstance(refused.result, Refused) and refused.stored and refused.new
    assert isinstance(unreadable.result, Refused) and not unreadable.stored
    [row] = await _rows(store)
    assert (row.state, row.reason, row.field, row.patient, row.event) == (
        "quarantined", "ins_key", "PID-3", None, None)


async def test_no_patient_data_in_the_database_file(store: Store, tmp_path: Path) -> None:
    for name in ("a01_admission.hl7", "bad_ins_key.hl7", "a08_update.hl7", "a40_merge.hl7"):
        await _take(store, name)
    # The IPP is kept as a blind index (what a merge finds the prior patient by), never in clear.
    assert [row.ipp is not None for row in await _rows(store)] == [True, False, True, True]
    await store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("bots.db*"))
    for value in (b"DUPONT", b"DURAND", b"248037512345658", b"19480315", b"123456",
                  b"654321"):
        assert value not in stored
