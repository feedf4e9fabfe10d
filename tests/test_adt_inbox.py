"""The intake's recording step (bots/adt/inbox.py) on a real SQLite database: a movement stored
once however often it is resent, a refused message quarantined with its reason, an unreadable
one not kept, and the message sealed (no patient data in the database file)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.adt import fhir
from bots.adt.inbox import record, take
from bots.adt.messages import Movement, Refused
from bots.adt.models import AdtMessage
from bots.devstack.adt_messages import INS
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from tests.adt_samples import NIR, bundle
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


async def _record_bundle(store: Store, body: dict) -> tuple[bool, str | None]:
    found = fhir.read(body, datetime.now(UTC))
    assert isinstance(found, Movement)
    async with store.transaction("@care:localhost") as tx:
        taken = await record(tx, found, fhir.stored(body))
    return taken.new, taken.result.control_id


async def test_a_bundle_key_that_names_the_patient_is_kept_as_a_keyed_hash(
        tmp_path: Path) -> None:
    """Review: a Bundle's key is the sender's identifier or Encounter id, which a hospital may
    make of the INS or the IPP; it was stored (and answered) in clear."""
    admission = bundle()
    admission["identifier"] = {"system": NIR, "value": INS}
    admission["entry"][1]["resource"]["id"] = "IPP123456"
    discharge = bundle(identifier=False, status="finished", end="2026-11-23",
                       disposition="home")
    discharge["entry"][1]["resource"]["id"] = "IPP123456"
    url, key = sqlite_at_head(tmp_path / "bots.db"), Vault.new_key()
    store = Store(url, Vault([key]))
    new, receipt = await _record_bundle(store, admission)
    assert new and receipt is not None and INS not in receipt and "IPP" not in receipt
    assert await _record_bundle(store, admission) == (False, receipt)
    assert (await _record_bundle(store, discharge))[0]
    rows = await _rows(store)
    assert [r.control_id for r in rows][0] == receipt
    assert all(INS not in r.control_id and "IPP" not in r.control_id for r in rows)
    # The data keys rotated: the same Bundle resent is still the same row.
    await store.close()
    rotated = Store(url, Vault([Vault.new_key(), key]))
    assert (await _record_bundle(rotated, admission))[0] is False
    assert len(await _rows(rotated)) == 2
    await rotated.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("bots.db*"))
    assert INS.encode() not in stored and b"IPP123456" not in stored
