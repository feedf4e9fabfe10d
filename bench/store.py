"""The database work of one command, alone: through the Store against the same rows on bare sqlite3.

    python -m bench.store [--n 1000]

No homeserver, no network: a fresh SQLite file migrated to head, then `--n` times what the bots
process writes for a `!ping` (bots/runtime/runtime.py, sender.py): one transaction that claims the
event (inbox row) and posts the answer (outbox row), then one that records it as sent. The
baseline writes the same rows with the same statements on bare sqlite3, in the same run. Prints
the CPU time per command of both (the process's, aiosqlite's thread included), their ratio, and
the hops to aiosqlite's thread per command. Figures only; nothing is written to the docs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bench.lib import report
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault

ACCOUNT, ROOM = "@bot:localhost", "!room:localhost"


def count_hops(hops: Counter[str]) -> None:
    """Count every call aiosqlite hands to its thread, by name (run_statement, commit…)."""
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any,
                       **kwargs: Any) -> Any:
        hops[getattr(fn, "__name__", "other")] += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counting  # type: ignore[method-assign]


async def through_store(url: str, first: int, n: int) -> float:
    store = Store(url, Vault([Vault.new_key()]))
    try:
        started = time.process_time()
        for i in range(first, first + n):
            event = {"event_id": f"$e{i}", "room_id": ROOM}
            async with store.transaction(ACCOUNT) as tx:
                assert await Store.claim_new(tx, event)
                row = tx.post(ROOM, {"msgtype": "m.notice", "body": f"pong {i}"},
                              cause_event_id=event["event_id"])
            await store.outbox_done(row.id, event_id=f"$s{i}", error=None, attempts=1)
        return time.process_time() - started
    finally:
        await store.close()


def bare(path: Path, first: int, n: int) -> float:
    db = sqlite3.connect(path)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    now = datetime.now(UTC).isoformat()
    started = time.process_time()
    for i in range(first, first + n):
        db.execute("INSERT INTO inbox (account, event_id, room_id, state, payload, received_at, "
                   "handled_at, attempts) VALUES (?, ?, ?, 'handled', x'', ?, ?, 0) "
                   "ON CONFLICT (account, event_id) DO NOTHING RETURNING id",
                   (ACCOUNT, f"$e{i}", ROOM, now, now)).fetchall()
        row_id = db.execute("INSERT INTO outbox (account, room_id, event_type, content, txn_id, "
                            "state, cause_event_id, created_at, attempts) VALUES (?, ?, "
                            "'m.room.message', ?, ?, 'pending', ?, ?, 0)",
                            (ACCOUNT, ROOM, bytes(200), f"t{i}", f"$e{i}", now)).lastrowid
        db.commit()
        db.execute("UPDATE outbox SET state = 'sent', event_id = ?, sent_at = ?, attempts = 1 "
                   "WHERE id = ?", (f"$s{i}", now, row_id))
        db.commit()
    db.close()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = report.arguments("store", __doc__)
    parser.add_argument("--n", type=int, default=1000, help="commands (1000)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up commands (50)")
    args = parser.parse_args(argv)
    hops: Counter[str] = Counter()
    count_hops(hops)
    with tempfile.TemporaryDirectory(prefix="liaison-bench-store-") as tmp:
        path = Path(tmp) / "bots.db"
        migrate(f"sqlite:///{path}")
        url = f"sqlite:///{path}"
        asyncio.run(through_store(url, 0, args.warmup))
        hops.clear()
        store_s = asyncio.run(through_store(url, args.warmup, args.n))
        bare_s = bare(path, args.warmup + args.n, args.n)
    store_ms, bare_ms = 1000 * store_s / args.n, 1000 * bare_s / args.n
    print(f"database work of one command, CPU ms (n={args.n}): Store {store_ms:.3f}, bare sqlite3 "
          f"{bare_ms:.3f}, ratio {store_ms / bare_ms:.1f}×")
    print(f"hops to aiosqlite's thread per command: {sum(hops.values()) / args.n:.1f} ("
          + ", ".join(f"{k} {v / args.n:.1f}" for k, v in hops.most_common()
                      if v / args.n >= 0.05) + ")")  # not the connections' set-up
    return 0


if __name__ == "__main__":
    sys.exit(main())
