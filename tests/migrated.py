"""A SQLite database at head for a test, copied from one migrated once per test process: running
the Alembic migrations from scratch costs about 0.1 s, a copy a millisecond. The template is made
by `migrate` itself, from an empty file, as every fresh database is."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault

_template: Path | None = None
_lock = threading.Lock()  # tests may ask from a worker thread (asyncio.to_thread)


def sqlite_at_head(path: Path) -> str:
    """A fresh database at `path` with the schema at head; its URL."""
    global _template
    with _lock:
        if _template is None:
            template = Path(tempfile.mkdtemp(prefix="liaison-migrated-")) / "bots.db"
            atexit.register(shutil.rmtree, template.parent, True)
            migrate(f"sqlite:///{template}")
            _template = template
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_template, path)
    return f"sqlite:///{path}"


@asynccontextmanager
async def sqlite_store(path: Path) -> AsyncIterator[Store]:
    """A Store on a fresh database at head, with a new vault key; closed on exit."""
    store = Store(await asyncio.to_thread(sqlite_at_head, path), Vault([Vault.new_key()]))
    try:
        yield store
    finally:
        await store.close()
