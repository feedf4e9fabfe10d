"""The Indicators page's tables kept for the day (bots/dashboard/indicator_cache.py) and read
through it (indicator_data.page_tables): open months read again on every page, settled ones
kept until the next day, scopes apart. Pure, then SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy import select, update

from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.dashboard import usage_records
from bots.dashboard.indicator_cache import DayCache, merged, open_span, settled_part
from bots.dashboard.indicator_data import inputs, page_tables, scope, warm
from bots.dashboard.indicators import Table, tables
from bots.followup.figures import figures_reader
from bots.followup.models import FollowupPlan, FollowupStep
from bots.runtime.bot import Seen
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from bridge.records import mail_counter
from tests.migrated import sqlite_at_head

PARIS = ZoneInfo("Europe/Paris")
ACCOUNT = "@bot:h.fr"
TODAY = date(2026, 12, 5)
PERIOD = ("2026-01", "2026-12")
COLUMNS = (("month", "m"), ("ward", "w"), ("n", "n"))


def test_a_month_stays_open_while_a_30_day_window_of_its_discharges_is():
    assert open_span(PERIOD, date(2026, 12, 5), "steps") == ("2026-11", "2026-12")
    assert open_span(PERIOD, date(2026, 12, 30), "letters") == ("2026-11", "2026-12")  # Nov 30
    assert open_span(PERIOD, date(2026, 12, 31), "checklists") == ("2026-12", "2026-12")
    assert open_span(("2026-01", "2026-06"), TODAY, "steps") is None
    assert open_span(("2026-12", "2026-12"), TODAY, "steps") == ("2026-12", "2026-12")


def test_the_usage_counts_are_open_for_the_current_month_only():
    assert open_span(PERIOD, date(2026, 12, 5), "usage") == ("2026-12", "2026-12")
    assert open_span(("2026-01", "2026-11"), date(2026, 12, 1), "professionals") is None


def test_the_settled_rows_are_kept_and_the_open_ones_put_after_them():
    full = [Table("rh30", COLUMNS, [("2026-10", "tous", 1), ("2026-11", "tous", 2)]),
            Table("steps", COLUMNS, [("2026-10", "tous", 3), ("2026-11", "tous", 4)]),
            Table("usage", COLUMNS, [("2026-11", "tous", 5), ("2026-12", "tous", 6)]),
            Table("up_to_date", (("ward", "w"), ("n", "n")), [("tous", 7)])]
    kept = settled_part(full, TODAY)
    assert kept == [full[0], Table("steps", COLUMNS, [("2026-10", "tous", 3)]),
                    Table("usage", COLUMNS, [("2026-11", "tous", 5)])]
    fresh = [Table("rh30", COLUMNS, []), Table("steps", COLUMNS, [("2026-11", "tous", 8)]),
             Table("usage", COLUMNS, [("2026-12", "tous", 9)]),
             Table("up_to_date", (("ward", "w"), ("n", "n")), [("tous", 10)])]
    assert merged(kept, fresh) == [
        full[0], Table("steps", COLUMNS, [("2026-10", "tous", 3), ("2026-11", "tous", 8)]),
        Table("usage", COLUMNS, [("2026-11", "tous", 5), ("2026-12", "tous", 9)]), fresh[3]]


def test_the_cache_holds_one_day_and_a_bounded_number_of_scopes():
    cache = DayCache(size=2)
    for n in range(3):
        cache.put(TODAY, (ACCOUNT, f"scope{n}", PERIOD, "fr"), [])
    assert len(cache) == 2 and cache.get(TODAY, (ACCOUNT, "scope0", PERIOD, "fr")) is None
    assert cache.get(TODAY, (ACCOUNT, "scope2", PERIOD, "fr")) == []
    assert cache.get(date(2026, 12, 6), (ACCOUNT, "scope2", PERIOD, "fr")) is None
    assert len(cache) == 0


@pytest_asyncio.fixture
async def store(tmp_path: Path):
    url = await asyncio.to_thread(sqlite_at_head, tmp_path / "bots.db")
    store = Store(url, Vault([Vault.new_key()]))
    async with store.transaction(ACCOUNT) as tx:
        coordination = CareRoom(account=ACCOUNT, kind=COORDINATION, room_id="!c:h.fr",
                                status="open", sealed=b"", language="fr",
                                created_at=datetime(2026, 1, 1, tzinfo=UTC))
        tx.session.add(coordination)
        await tx.session.flush()
        tx.session.add(member(coordination.id, "@dac:h.fr", "DAC"))
    await room(store, 0, "Cardiologie", date(2026, 9, 10), "@ide:h.fr")
    await room(store, 1, "Gériatrie", date(2026, 9, 12), "@other:h.fr")
    await say(store, 0, "@ide:h.fr", date(2026, 9, 15), date(2026, 11, 20), date(2026, 12, 2))
    await say(store, 1, "@other:h.fr", date(2026, 9, 16), date(2026, 12, 3))
    yield store
    await store.close()


def member(care_room_id: int, user_id: str, role: str) -> TeamMember:
    return TeamMember(care_room_id=care_room_id, user_id=user_id, role=role, desired="present",
                      applied=True, language="fr", updated_at=datetime(2026, 1, 1, tzinfo=UTC))


async def room(store: Store, n: int, ward: str, opened: date, team: str,
               ref: str | None = "P-") -> None:
    at = datetime(opened.year, opened.month, opened.day, 9, tzinfo=UTC)
    async with store.transaction(ACCOUNT) as tx:
        patient = CareRoom(account=ACCOUNT, kind=PATIENT, room_id=f"!p{n}:h.fr",
                           ref=f"{ref}{n}" if ref else None,
                           status="open", ward=ward, language="fr", sealed=b"", created_at=at,
                           opened_at=at)
        tx.session.add(patient)
        await tx.session.flush()
        tx.session.add(member(patient.id, team, "IDE"))


async def plan(store: Store, n: int, discharged: date) -> None:
    """A follow-up plan of room n with one step posted two days after the discharge."""
    async with store.transaction(ACCOUNT) as tx:
        care_room = await tx.session.scalar(select(CareRoom).where(
            CareRoom.room_id == f"!p{n}:h.fr"))
        assert care_room is not None
        followup = FollowupPlan(account=ACCOUNT, care_room_id=care_room.id,
                                room_id=care_room.room_id, schedule="rh30-standard",
                                status="active", discharged_on=discharged, risk="high",
                                conditions="", ward=care_room.ward, language="fr",
                                started_by="@dac:h.fr",
                                created_at=datetime(2026, 12, 5, 8, tzinfo=UTC))
        tx.session.add(followup)
        await tx.session.flush()
        tx.session.add(FollowupStep(plan_id=followup.id, step=0,
                                    day=discharged + timedelta(days=2), state="posted",
                                    note=b""))


async def say(store: Store, n: int, sender: str, *days: date) -> None:
    async with store.transaction(ACCOUNT) as tx:
        await usage_records.record(tx, [Seen(
            f"!p{n}:h.fr", f"$m{n}-{sender}-{day}", sender,
            int(datetime(day.year, day.month, day.day, 10, tzinfo=UTC).timestamp() * 1000),
            False) for day in days], PARIS)


async def page(store: Store, user: str, kept: DayCache, today: date = TODAY,
               names: set[str] | None = None) -> dict[str, Table]:
    async with store.reading(ACCOUNT) as tx:
        return {t.name: t for t in await page_tables(
            tx, user, PERIOD, today, PARIS, figures_reader(PARIS), mail_counter(PARIS), "fr",
            kept, names)}


async def uncached(store: Store, user: str, today: date = TODAY) -> dict[str, Table]:
    async with store.reading(ACCOUNT) as tx:
        data = await inputs(tx, await scope(tx, user), PERIOD, today, PARIS,
                            figures_reader(PARIS), mail_counter(PARIS))
    return {t.name: t for t in tables(data, "fr")}


def usage(found: dict[str, Table], month: str) -> tuple[object, ...]:
    """(rooms opened, messages) of a month, all wards."""
    row = next(r for r in found["usage"].rows if r[:2] == (month, "tous"))
    return row[2], row[3]


def wards(found: dict[str, Table], month: str) -> set[object]:
    return {r[1] for r in found["usage"].rows if r[0] == month} - {"tous"}


async def test_the_open_months_are_read_again_and_the_settled_ones_the_next_day(store: Store):
    kept = DayCache()
    first = await page(store, "@dac:h.fr", kept)
    assert first == await uncached(store, "@dac:h.fr") and len(kept) == 1
    assert usage(first, "2026-09") == (2, 2) and usage(first, "2026-12") == (0, 2)
    # Today: a room opened with a message, another message; and a room moved to another ward,
    # which its past months' rows follow (the ward is the room's now).
    await room(store, 2, "Pneumologie", TODAY, "@ide:h.fr")
    await say(store, 2, "@ide:h.fr", TODAY)
    async with store.transaction(ACCOUNT) as tx:
        await tx.session.execute(update(CareRoom).where(CareRoom.room_id == "!p1:h.fr")
                                 .values(ward="Neurologie"))
    await plan(store, 0, date(2026, 11, 25))  # a November discharge recorded late
    again = await page(store, "@dac:h.fr", kept)
    assert usage(again, "2026-12") == (1, 3)  # at once
    assert again["steps"].rows == [("2026-11", "Cardiologie", 1, "0/1 (0,0 %)"),
                                   ("2026-11", "tous", 1, "0/1 (0,0 %)")]
    assert wards(again, "2026-12") == {"Cardiologie", "Neurologie", "Pneumologie"}
    assert ("Pneumologie", 1, "1/1 (100,0 %)") in again["up_to_date"].rows
    assert wards(again, "2026-09") == {"Cardiologie", "Gériatrie"}  # kept for the day
    fresh = await uncached(store, "@dac:h.fr")
    assert wards(fresh, "2026-09") == {"Cardiologie", "Neurologie"}
    assert again["rh30"].rows == [] and fresh["rh30"].rows != []  # kept whole for the day
    assert {n: t for n, t in again.items() if n not in ("usage", "rh30")} == \
        {n: t for n, t in fresh.items() if n not in ("usage", "rh30")}
    tomorrow = await page(store, "@dac:h.fr", kept, date(2026, 12, 6))
    assert wards(tomorrow, "2026-09") == {"Cardiologie", "Neurologie"}
    assert tomorrow == await uncached(store, "@dac:h.fr", date(2026, 12, 6))


async def test_a_request_for_one_table_gets_that_table_from_the_kept_day(store: Store):
    kept = DayCache()
    await page(store, "@dac:h.fr", kept)
    await say(store, 1, "@other:h.fr", TODAY)
    found = await page(store, "@dac:h.fr", kept, names={"usage"})
    assert list(found) == ["usage"]
    assert found["usage"] == (await uncached(store, "@dac:h.fr"))["usage"]


async def test_scopes_do_not_share_their_tables(store: Store):
    kept = DayCache()
    other = await page(store, "@other:h.fr", kept)
    nurse = await page(store, "@ide:h.fr", kept)
    assert len(kept) == 2
    assert {r[1] for r in nurse["usage"].rows} == {"Cardiologie", "tous"}
    assert {r[1] for r in other["usage"].rows} == {"Gériatrie", "tous"}
    assert nurse == await uncached(store, "@ide:h.fr")
    # Another nurse in the same team, and in a room with no reference yet whose messages count:
    # other rooms, other tables.
    async with store.transaction(ACCOUNT) as tx:
        first = await tx.session.scalar(select(CareRoom.id).where(CareRoom.room_id == "!p0:h.fr"))
        tx.session.add(member(first, "@ide2:h.fr", "IDE"))
    await room(store, 3, "Cardiologie", date(2026, 9, 20), "@ide2:h.fr", ref=None)
    await say(store, 3, "@ide2:h.fr", date(2026, 9, 21))
    second = await page(store, "@ide2:h.fr", kept)
    assert second == await uncached(store, "@ide2:h.fr") and second != nurse
    # The nurse leaves the room's team: its past months go from their page the same day.
    async with store.transaction(ACCOUNT) as tx:
        await tx.session.execute(update(TeamMember).where(TeamMember.user_id == "@ide:h.fr")
                                 .values(desired="absent"))
    gone = await page(store, "@ide:h.fr", kept)
    assert gone["usage"].rows == [] and gone["up_to_date"].rows == []


async def test_the_coordinators_period_is_computed_ahead_once_a_day(store: Store):
    kept = DayCache()
    for computed in (True, False):
        async with store.reading(ACCOUNT) as tx:
            assert await warm(tx, PERIOD, TODAY, PARIS, figures_reader(PARIS),
                              mail_counter(PARIS), "fr", kept) is computed
    assert len(kept) == 1
    await plan(store, 0, date(2026, 11, 25))
    # The coordinator's first page of the day is served from what was computed ahead (the
    # RH30 table is kept whole for the day), a nurse's is her own.
    found = await page(store, "@dac:h.fr", kept)
    assert len(kept) == 1 and found["rh30"].rows == []
    assert (await uncached(store, "@dac:h.fr"))["rh30"].rows != []
    await page(store, "@ide:h.fr", kept)
    assert len(kept) == 2
