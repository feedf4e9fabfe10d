"""The Liaison bot as its own process, for the benchmark: `python -m bench.run_liaison SPEC.json`.

By default the account runs no bot, only the runtime's built-in commands (`!ping`, `!aide`);
`"bots": ["careteam"]` in the spec adds the care-team bot, with its provisioning API on
127.0.0.1:`api_port` when `api_port` and `api_token` are given (bench/rooms.py), and
`"companions"` the accounts it invites into every room it creates. `"bots": ["mssante"]` with an
`"mssante"` section (MssanteConfig's fields; imap and smtp as MailServerConfig's) and
`"bridge": true` runs the MSSanté bridge instead, as `liaison bridge` does; `"database"` (a URL,
default data_dir/bots.db) lets the two processes share one database, and the same `data_key`
(bench/bridge.py). The Config is built here directly, as the test suite builds it, and handed to
bots.app.run_bots, the function `liaison bots` (or `liaison bridge`) runs. SIGTERM stops it
cleanly (no logout). With BENCH_TRACE_FILE set, bench/trace.py times each stage of the runtime.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from bench import trace
from bots import logs
from bots.app import run_bots
from bots.config import (
    AccountConfig,
    ApiConfig,
    CareteamConfig,
    Config,
    MailServerConfig,
    MssanteConfig,
    WardConfig,
)

PATHS = ("ca_file", "client_cert", "client_key")  # MailServerConfig's fields that are paths


def mssante_from(section: dict[str, Any]) -> MssanteConfig:
    def server(raw: dict[str, Any]) -> MailServerConfig:
        return MailServerConfig(**{k: Path(v) if k in PATHS else v for k, v in raw.items()})

    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    return MssanteConfig(**{**fields, "imap": server(section["imap"]),
                            "smtp": server(section["smtp"])})


def config_from(spec: dict[str, Any]) -> Config:
    data_dir = Path(spec["data_dir"])
    api = ApiConfig("127.0.0.1", int(spec["api_port"]), spec["api_token"]) \
        if "api_port" in spec else None
    careteam = CareteamConfig(api=api, companions=tuple(spec.get("companions", ())))
    return Config(
        homeserver=spec["homeserver"], data_dir=data_dir,
        database=spec.get("database", f"sqlite:///{data_dir / 'bots.db'}"),
        data_keys=(spec["data_key"],),
        language="fr", timezone="Europe/Paris", allowed_servers=(spec["server_name"],),
        allow_legacy_devices=False, log_level=spec.get("log_level", "INFO"),
        accounts=(AccountConfig(spec["user_id"], spec["password"], "Liaison bench",
                                tuple(spec.get("bots", ()))),),
        careteam=careteam,
        adt_wards={code: WardConfig(ward["name"], tuple(map(tuple, ward["team"])))
                   for code, ward in spec.get("wards", {}).items()},
        mssante=mssante_from(spec["mssante"]) if "mssante" in spec else None)


async def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    config = config_from(spec)
    if trace.enabled():
        trace.install_nio()
        trace.install_liaison()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    logs.setup(config.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_bots(config, stop, bridge=bool(spec.get("bridge")))
    finally:
        trace.dump()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
