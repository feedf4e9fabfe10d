"""The SQLite dialect that runs each statement in one hop to aiosqlite's thread
(bots/runtime/sqlite_driver.py): what SQLAlchemy reads from its cursor is right, an error leaves
the connection usable, and a statement costs one hop, not four."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bots.runtime import store  # noqa: F401  (registers the sqlite+liaison dialect)
from bots.runtime.sqlite_driver import OneHopDialect


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+liaison:///{tmp_path / 'one.db'}")
    assert isinstance(engine.dialect, OneHopDialect)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counted: Counter[str] = Counter()
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted[fn.__name__] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return counted


async def test_rows_rowcount_and_lastrowid_as_sqlite_gives_them(engine: AsyncEngine):
    async with engine.begin() as conn:
        first = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert first.lastrowid == 1 and first.rowcount == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        returned = await conn.execute(text("INSERT INTO t (v) VALUES ('d') RETURNING id, v"))
        assert returned.all() == [(4, "d")]
        updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert updated.rowcount == 3
        rows = await conn.execute(text("SELECT id, v FROM t ORDER BY id"))
        assert list(rows.keys()) == ["id", "v"]
        assert rows.all() == [(1, "a"), (2, "b!"), (3, "c!"), (4, "d!")]
        assert (await conn.execute(text("SELECT v FROM t WHERE id = 99"))).first() is None


async def test_an_error_is_the_drivers_and_the_connection_goes_on(engine: AsyncEngine):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('z')"))
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    async with engine.connect() as conn:  # rolled back, and the pooled connection still serves
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["a"]


async def test_a_statement_is_one_hop(engine: AsyncEngine, hops: Counter[str]):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == "a"
    assert hops["run_statement"] == 2 and hops["commit"] == 1
    assert not {"cursor", "execute", "fetchall", "close"} & hops.keys()  # SQLAlchemy's own hops
