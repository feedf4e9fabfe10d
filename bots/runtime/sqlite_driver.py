"""SQLAlchemy's aiosqlite dialect with each statement in one hop to aiosqlite's thread.

SQLAlchemy's adapter hands aiosqlite's thread four calls for a SELECT (cursor, execute, fetchall,
close) and three for an INSERT or UPDATE: each a queue put, a thread wake-up and a callback back
on the event loop, ~60 µs of CPU (`python -m bench.store` counts them per command). Here the
statement runs, its rows are read and its cursor closed in one call on that thread; what the
cursor then answers (description, rowcount, lastrowid, rows) was kept from it. Everything else is
SQLAlchemy's own dialect. The URL scheme `sqlite+liaison` selects it (bots/runtime/store.py).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

# What a statement leaves for the cursor to answer: description, rowcount, lastrowid, rows.
Outcome = tuple[Any, int, int | None, list[Any] | None]


def run_statement(connection: sqlite3.Connection, operation: str, parameters: Any,
                  many: bool) -> Outcome:
    """On aiosqlite's thread: the whole statement, cursor opened and closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """Holds no aiosqlite cursor (`_cursor` stays None, so `close` has nothing to await)."""
    __slots__ = ("_outcome",)

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._outcome: Outcome = (None, -1, None, None)
        super().__init__(adapt_connection)

    def _make_new_cursor(self, connection: Any) -> Any:
        return None

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _async_soft_close(self) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> Any:
        return self._outcome[2]

    def _hop(self, operation: Any, parameters: Any, many: bool) -> None:
        aio = self._connection
        try:
            # aiosqlite's own queue to its thread, as SQLAlchemy's dialect also uses it
            # (its isolation_level setter): the statement keeps its place among the others.
            self._outcome = await_(aio._execute(run_statement, aio._conn, operation, parameters,
                                                many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        rows = self._outcome[3]
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._hop(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._hop(operation, seq_of_parameters, True)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        return OneHopConnection(self, super().connect(*arg, **kw)._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDbapi:
        import aiosqlite

        return OneHopDbapi(aiosqlite, sqlite3)
