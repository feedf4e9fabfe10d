"""The monthly usage rows (bots/dashboard/models.py `UsageMonth`): written beside the day rows by
the usage observer, always their sum by month, replays included; migration 0014 fills them from
the day rows already counted. SQLite."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bots.careteam import records as careteam
from bots.careteam.requests import Member, OpenRequest
from bots.common.identity import make_identity
from bots.dashboard import usage_records
from bots.dashboard.models import UsageCount, UsageMonth
from bots.runtime.bot import Seen
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from tests.conftest import examples
from tests.migrated import sqlite_at_head

PARIS = ZoneInfo("Europe/Paris")
ACCOUNT = "@bot:h.fr"
ROOMS = ("!p0:h.fr", "!p1:h.fr")
START = int(datetime(2026, 10, 25, tzinfo=UTC).timestamp() * 1000)  # months and a DST change
HOUR = 3_600_000


async def _sums(store: Store) -> tuple[Counter, Counter]:
    """The day rows summed by month, and the monthly rows, as counters of (month, room, sender,
    messages | commands)."""
    days, months = Counter(), Counter()
    async with store.reading(ACCOUNT) as tx:
        for room, day, sender, n, c in (await tx.session.execute(select(
                UsageCount.room_id, UsageCount.day, UsageCount.sender, UsageCount.messages,
                UsageCount.commands))).all():
            days[(f"{day:%Y-%m}", room, sender, "m")] += n
            days[(f"{day:%Y-%m}", room, sender, "c")] += c
        for month, room, sender, n, c in (await tx.session.execute(select(
                UsageMonth.month, UsageMonth.room_id, UsageMonth.sender, UsageMonth.messages,
                UsageMonth.commands))).all():
            months[(month, room, sender, "m")] += n
            months[(month, room, sender, "c")] += c
    return days, months


async def _observe(syncs: list[list[Seen]], replays: list[int]) -> tuple[Counter, Counter, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(await asyncio.to_thread(sqlite_at_head, Path(tmp) / "bots.db"),
                      Vault([Vault.new_key()]))
        try:
            async with store.transaction(ACCOUNT) as tx:
                for n, room_id in enumerate(ROOMS):
                    room, _ = await careteam.register_patient(
                        tx, OpenRequest(make_identity(f"NOM{'AB'[n]}", "X", date(1950, 1, 1),
                                                      "F"), team=(Member("@a:h", "IDE"),)),
                        prefix="P", language="fr", requested_by="api")
                    room.status, room.room_id = "open", room_id
            observer = usage_records.usage_observer(PARIS)
            for i, sync in enumerate(syncs):
                # A restart replays a sync (or its start) before the next one.
                for batch in (sync, sync[:replays[i % len(replays)]]):
                    async with store.transaction(ACCOUNT) as tx:
                        await observer(tx, batch)
            days, months = await _sums(store)
        finally:
            await store.close()
    return days, months, sum(len(s) for s in syncs)


MESSAGES = st.lists(st.tuples(st.sampled_from(ROOMS), st.sampled_from(["@a:h", "@b:h", "@c:h"]),
                              st.integers(0, 24 * 70), st.booleans()), max_size=40)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, st.integers(1, 4), st.lists(st.integers(0, 10), min_size=1))
def test_the_monthly_rows_are_the_sum_of_the_day_rows(messages, syncs, replays):
    ordered = sorted(messages, key=lambda m: m[2])
    seen = [Seen(room, f"$e{n}", sender, START + hours * HOUR, command)
            for n, (room, sender, hours, command) in enumerate(ordered)]
    size = -(-len(seen) // syncs) or 1
    batches = [seen[i:i + size] for i in range(0, len(seen), size)]  # in timeline order
    days, months, sent = asyncio.run(_observe(batches, replays))
    assert days == months
    assert sum(v for k, v in months.items() if k[3] == "m") == sent  # each counted once


def test_messages_over_two_months_land_in_each_month_once():
    paris_midnight = int(datetime(2026, 11, 30, 23, tzinfo=UTC).timestamp() * 1000)  # 1 Dec
    sync = [Seen(ROOMS[0], "$1", "@a:h", paris_midnight - 1, False),
            Seen(ROOMS[0], "$2", "@a:h", paris_midnight, True),
            Seen(ROOMS[1], "$3", "@b:h", paris_midnight + 5, False)]
    days, months, _ = asyncio.run(_observe([sync], [3]))
    assert days == months
    assert +months == Counter({("2026-11", ROOMS[0], "@a:h", "m"): 1,
                               ("2026-12", ROOMS[0], "@a:h", "m"): 1,
                               ("2026-12", ROOMS[0], "@a:h", "c"): 1,
                               ("2026-12", ROOMS[1], "@b:h", "m"): 1})


def test_the_migration_fills_the_months_from_the_day_rows(tmp_path: Path):
    from alembic import command
    from alembic.config import Config

    from bots.runtime.store import MIGRATIONS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bots.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
        conn.execute(sa.text(
            "INSERT INTO usage_counts (account, room_id, day, sender, messages, commands) VALUES "
            "('@bot:h.fr', '!r', '2026-11-03', '@a:h', 2, 1), "
            "('@bot:h.fr', '!r', '2026-11-29', '@a:h', 3, 0), "
            "('@bot:h.fr', '!r', '2026-12-01', '@a:h', 1, 1), "
            "('@bot:h.fr', '!r', '2026-11-29', '@b:h', 4, 4)"))
        command.upgrade(cfg, "0014")
        rows = conn.execute(sa.text("SELECT month, room_id, sender, messages, commands "
                                    "FROM usage_months ORDER BY month, sender")).all()
        command.downgrade(cfg, "0013")
        assert "usage_months" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("2026-11", "!r", "@a:h", 5, 1),
                                        ("2026-11", "!r", "@b:h", 4, 4),
                                        ("2026-12", "!r", "@a:h", 1, 1)]
