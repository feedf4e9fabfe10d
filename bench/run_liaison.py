"""The Liaison bot as its own process, for the benchmark: `python -m bench.run_liaison SPEC.json`.

By default the account runs no bot, only the runtime's built-in commands (`!ping`, `!aide`);
`"bots": ["careteam"]` in the spec adds the care-team bot, with its provisioning API on
127.0.0.1:`api_port` when `api_port` and `api_token` are given (bench/rooms.py). The Config is
built here directly, as the test suite builds it, and handed to bots.app.run_bots, the function
`liaison bots` runs. SIGTERM stops it cleanly (no logout). With BENCH_TRACE_FILE set,
bench/trace.py times each stage of the runtime.
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
from bots.config import AccountConfig, ApiConfig, CareteamConfig, Config


def config_from(spec: dict[str, Any]) -> Config:
    data_dir = Path(spec["data_dir"])
    careteam = CareteamConfig()
    if "api_port" in spec:
        careteam = CareteamConfig(api=ApiConfig("127.0.0.1", int(spec["api_port"]),
                                                spec["api_token"]))
    return Config(
        homeserver=spec["homeserver"], data_dir=data_dir,
        database=f"sqlite:///{data_dir / 'bots.db'}", data_keys=(spec["data_key"],),
        language="fr", timezone="Europe/Paris", allowed_servers=(spec["server_name"],),
        allow_legacy_devices=False, log_level=spec.get("log_level", "INFO"),
        accounts=(AccountConfig(spec["user_id"], spec["password"], "Liaison bench",
                                tuple(spec.get("bots", ()))),),
        careteam=careteam)


async def main(spec_path: str) -> int:
    config = config_from(json.loads(Path(spec_path).read_text()))
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
        await run_bots(config, stop)
    finally:
        trace.dump()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
