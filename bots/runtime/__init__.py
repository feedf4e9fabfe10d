"""The runtime shared by every bot (one per account; bots/runtime/runtime.py).

matrix-nio's crypto store is peewee's, and peewee imports whichever PostgreSQL drivers are
installed (psycopg2, psycopg) at its own import, for databases nio never opens: its store is
SQLite. Both drivers are installed (Synapse's psycopg2, the bots' psycopg), and with their own
OpenSSL, libpq and Kerberos they cost ~16 MiB resident (issue 17, docs/PERFORMANCE.md). So peewee
is loaded here, before anything imports nio, with them hidden; they import normally afterwards,
for whoever needs one (SQLAlchemy's PostgreSQL dialect when the database is PostgreSQL).
"""

from __future__ import annotations

import sys


def _load_peewee_without_postgresql() -> None:
    if "peewee" in sys.modules:
        return
    hidden = [name for name in ("psycopg2", "psycopg") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "import fails" (importlib)
    try:
        import peewee  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


_load_peewee_without_postgresql()
