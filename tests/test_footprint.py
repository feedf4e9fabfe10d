"""What the bots process loads (issue 17, its resident memory): not the PostgreSQL drivers that
peewee, under matrix-nio's crypto store, would import (bots/runtime/__init__.py), and they still
import after, for whoever needs one."""

from __future__ import annotations

import json
import subprocess
import sys

# Every bot `liaison bots` may run, the runtime and the process's entry point.
MODULES = ["bots.cli", "bots.app", "bots.careteam.bot", "bots.dashboard.views", "bots.discharge.bot",
           "bots.followup.bot", "bots.adt.bot", "bots.episode.movements", "bots.runtime.cryptostore",
           "bench.run_liaison"]
PROBE = f"""
import importlib, json, sys
for name in {MODULES!r}:
    importlib.import_module(name)
loaded = sorted({{m.split(".")[0] for m in sys.modules}})
import psycopg, psycopg2, sqlalchemy.dialects.postgresql.psycopg  # hidden from peewee only
print(json.dumps(loaded))
"""


def test_the_bots_process_loads_no_postgresql_driver_for_nio() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)
    loaded = set(json.loads(done.stdout))
    assert not {"psycopg", "psycopg2", "psycopg_binary"} & loaded
    assert {"nio", "peewee", "sqlalchemy"} <= loaded
