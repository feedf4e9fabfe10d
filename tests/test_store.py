"""The store on SQLite and on PostgreSQL: migrations, exactly-once claims, sealed payloads."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bots.careteam import records as careteam
from bots.careteam.requests import Member, OpenRequest
from bots.common import records as care_rooms
from bots.common.identity import make_identity
from bots.common.models import CareRoom
from bots.devstack.patients import ins_for
from bots.discharge import records
from bots.discharge.models import AuditEntry, ChecklistRow
from bots.runtime.store import Store, migrate, utcnow
from bots.runtime.vault import Vault, VaultError
from tests.careteam_helpers import INS
from tests.migrated import sqlite_at_head


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_at_head(tmp_path / "bots.db")  # migrated from scratch once, copied
    return request.getfixturevalue("pg_database")


@pytest_asyncio.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(migrate, db_url)
    await asyncio.to_thread(migrate, db_url)  # a second start finds the schema at head
    store = Store(db_url, Vault([Vault.new_key()]))
    yield store
    await store.close()


def event(n: int, account: str) -> dict:
    return {"event_id": f"$ev{n}-{account}", "room_id": "!room:test", "sender": "@doc:test",
            "type": "m.room.message", "content": {"body": f"!ping secret-{n}"}}


async def test_sync_token_and_inbox_are_recorded_together(store: Store):
    account = f"@bot{secrets.token_hex(3)}:test"
    assert await store.sync_token(account) == (None, None)
    added = await store.record_sync(account, "s1", [event(1, account), event(2, account)],
                                    undecryptable={f"$ev2-{account}"})
    assert [r.state for r in added] == ["pending", "undecryptable"]
    # A replayed sync records nothing twice but still moves the token.
    again = await store.record_sync(account, "s2", [event(1, account)], set())
    assert again == []
    token, when = await store.sync_token(account)
    assert token == "s2" and when is not None
    assert [r.event_id for r in await store.inbox(account, "pending")] == [f"$ev1-{account}"]


async def test_an_inbox_row_is_claimed_once(store: Store):
    account = f"@bot{secrets.token_hex(3)}:test"
    (row,) = await store.record_sync(account, "s1", [event(1, account)], set())
    async with store.transaction(account) as tx:
        assert await Store.mark_handled(tx, row.id)
        tx.post("!room:test", {"msgtype": "m.notice", "body": "pong"}, cause_event_id=row.event_id)
    async with store.transaction(account) as tx:
        assert not await Store.mark_handled(tx, row.id)
    (out,) = await store.pending_outbox(account)
    assert out.txn_id.startswith("liaison-") and out.cause_event_id == row.event_id


async def test_a_failed_transaction_leaves_no_trace(store: Store):
    account = f"@bot{secrets.token_hex(3)}:test"
    (row,) = await store.record_sync(account, "s1", [event(1, account)], set())
    with pytest.raises(RuntimeError):
        async with store.transaction(account) as tx:
            await Store.mark_handled(tx, row.id)
            tx.post("!room:test", {"body": "x"})
            raise RuntimeError("handler crashed")
    assert [r.id for r in await store.inbox(account, "pending")] == [row.id]
    assert await store.pending_outbox(account) == []


async def test_payloads_are_sealed_at_rest(store: Store):
    account = f"@bot{secrets.token_hex(3)}:test"
    await store.record_sync(account, "s1", [event(7, account)], set())
    async with store.transaction(account) as tx:
        tx.post("!room:test", {"body": "Jeanne DUPONT née le 01/02/1950"})
        raw = (await tx.session.execute(text(
            "SELECT payload FROM inbox UNION ALL SELECT content FROM outbox"))).scalars().all()
    assert raw and all(b"secret-7" not in bytes(r) and b"DUPONT" not in bytes(r) for r in raw)


async def test_an_event_straight_from_sync_is_claimed_once_and_keeps_no_payload(store: Store):
    account = f"@bot{secrets.token_hex(3)}:test"
    ev = event(3, account)
    async with store.transaction(account) as tx:
        assert await Store.claim_new(tx, ev)
    async with store.transaction(account) as tx:
        assert not await Store.claim_new(tx, ev)  # a replayed sync
    assert await store.record_sync(account, "s1", [ev], set()) == []
    async with store.transaction(account) as tx:
        raw = (await tx.session.execute(text("SELECT state, payload FROM inbox WHERE account = :a"),
                                        {"a": account})).all()
    assert [(state, bytes(payload)) for state, payload in raw] == [("handled", b"")]


async def test_patient_register_on_both_databases(store: Store):
    """The care-team records: file numbers in sequence, found again by INS or traits, a
    conflicting INS refused, a taken number refused by the database itself."""
    account = f"@bot{secrets.token_hex(3)}:test"
    marie = make_identity("DUPONT", "Marie", date(1948, 3, 12), "F", ins=INS)
    paul = make_identity("MARTIN", "Paul", date(1950, 1, 1), "M")
    async with store.transaction(account) as tx:
        first, created = await careteam.register_patient(
            tx, OpenRequest(marie, team=(Member("@ide:test", "IDE"),)), prefix="P",
            language="fr", requested_by="api")
        second, _ = await careteam.register_patient(tx, OpenRequest(paul), prefix="P",
                                                   language="fr", requested_by="api")
    assert created and first.ref.endswith("-00001") and second.ref.endswith("-00002")
    async with store.transaction(account) as tx:
        without_ins = make_identity("Dupont", "marie", date(1948, 3, 12), "F")
        again, created = await careteam.register_patient(tx, OpenRequest(without_ins),
                                                        prefix="P", language="fr",
                                                        requested_by="api")
        assert not created and again.id == first.id
        other_ins = make_identity("DUPONT", "Marie", date(1948, 3, 12), "F",
                                  ins=ins_for("2480375123457"))
        with pytest.raises(care_rooms.IdentityConflict):
            await careteam.find_patient(tx, other_ins)
        assert [m.user_id for m in await care_rooms.team(tx, first)] == ["@ide:test"]
    with pytest.raises(IntegrityError):
        async with store.transaction(account) as tx:
            tx.session.add(CareRoom(account=account, kind="patient", ref=first.ref,
                                    status="creating", sealed=b"", language="fr",
                                    created_at=first.created_at, attempts=0))


async def swap(tx, table: str, column: str, first: int, second: int) -> None:
    """What a database writer could do: exchange two rows' sealed values."""
    values = dict((await tx.session.execute(text(
        f"SELECT id, {column} FROM {table} WHERE id IN (:a, :b)"),
        {"a": first, "b": second})).all())
    for row_id, other in ((first, second), (second, first)):
        await tx.session.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                                 {"v": values[other], "id": row_id})


async def test_sealed_values_swapped_between_rows_do_not_open(store: Store):
    """On the real database: two patients' identities exchanged between their rows, and two
    audit details of one checklist exchanged (bound by the ID the insert gave them), are refused
    rather than shown as the other row's."""
    account = f"@bot{secrets.token_hex(3)}:test"
    async with store.transaction(account) as tx:
        marie, _ = await careteam.register_patient(
            tx, OpenRequest(make_identity("DUPONT", "Marie", date(1948, 3, 12), "F", ins=INS)),
            prefix="P", language="fr", requested_by="api")
        paul, _ = await careteam.register_patient(
            tx, OpenRequest(make_identity("MARTIN", "Paul", date(1950, 1, 1), "M")),
            prefix="P", language="fr", requested_by="api")
        checklist = ChecklistRow(account=account, care_room_id=marie.id, room_id="!m:test",
                                 template="t", status="active", sealed=b"", version=1,
                                 language="fr", created_at=utcnow(), updated_at=utcnow())
        tx.session.add(checklist)
        await tx.session.flush()
        records.audit(tx, checklist, "@doc:test", "plan", day="2026-03-01")
        records.audit(tx, checklist, "@doc:test", "answer", item=1, comment="à domicile")
        # Sealed as the insert gives the row its ID: readable in the same transaction.
        assert [e.detail for e in await records.audit_trail(tx, checklist)] \
            == [{"day": "2026-03-01"}, {"comment": "à domicile"}]
        first, second = (await tx.session.scalars(select(AuditEntry.id).where(
            AuditEntry.checklist_id == checklist.id).order_by(AuditEntry.id))).all()
    async with store.transaction(account) as tx:
        await swap(tx, "care_rooms", "sealed", marie.id, paul.id)
        await swap(tx, "discharge_audit", "detail", first, second)
    async with store.transaction(account) as tx:
        for row_id in (marie.id, paul.id):
            row = await tx.session.get(CareRoom, row_id)
            with pytest.raises(VaultError):
                care_rooms.PatientFile.open(tx, row)
        with pytest.raises(VaultError):
            await records.audit_trail(tx, checklist)
