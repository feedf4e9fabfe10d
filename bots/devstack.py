"""`liaison up`: Synapse + the bots on one laptop, all state under one data dir (default ./var).

First start generates the secrets, the bots' configuration and the bot account; later starts reuse
them (same bot device, same rooms, no new login).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from bots import config as config_mod
from bots.app import run_bots
from bots.homeserver import DevHomeserver
from bots.runtime.files import write_private
from bots.runtime.vault import Vault

BOT_LOCALPART = "liaison"
DEV_BOTS = ("careteam", "discharge", "followup")  # what the dev stack's bot account runs


def stack_file(data_dir: Path) -> Path:
    return Path(data_dir) / "stack.json"


def dev_config(data_dir: Path, hs: DevHomeserver, api_port: int) -> Path:
    """The bots' configuration for the dev stack, written once (mode 0600: it holds secrets)."""
    path = data_dir / "liaison.yaml"
    if path.exists():
        raw = yaml.safe_load(path.read_text())
        raw["homeserver"] = hs.url  # the ports may change between runs
        raw.setdefault("careteam", _careteam_section())
        raw["careteam"].setdefault("api", _careteam_section()["api"])
        raw["careteam"]["api"]["listen"] = f"127.0.0.1:{api_port}"
        for account in raw["accounts"]:
            if account["user_id"].startswith(f"@{BOT_LOCALPART}:"):
                account["bots"] = sorted({*account.get("bots", []), *DEV_BOTS})
    else:
        raw = {
            "homeserver": hs.url,
            "data_dir": "bots",
            "database": "sqlite:///bots/liaison.db",
            "data_keys": [Vault.new_key()],
            "language": "fr",
            "timezone": "Europe/Paris",
            "allowed_servers": [hs.server_name],
            "allow_legacy_devices": False,
            "accounts": [{
                "user_id": f"@{BOT_LOCALPART}:{hs.server_name}",
                "password": secrets.token_urlsafe(24),
                "device_name": "Liaison",
                "bots": list(DEV_BOTS),
            }],
            "careteam": _careteam_section(),
        }
        raw["careteam"]["api"]["listen"] = f"127.0.0.1:{api_port}"
    write_private(path, yaml.safe_dump(raw, sort_keys=False, allow_unicode=True).encode())
    return path


def _careteam_section() -> dict[str, Any]:
    return {"create_coordination_room": "Coordination",
            "api": {"listen": "127.0.0.1:0", "token": secrets.token_urlsafe(32)}}


async def up(data_dir: Path, port: int, api_port: int) -> int:
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    hs = DevHomeserver(data_dir, port=port)
    print(f"Starting Synapse on {hs.url} (data in {data_dir}) …", flush=True)
    await hs.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        cfg_path = dev_config(data_dir, hs, api_port)
        cfg = config_mod.load(cfg_path)
        for account in cfg.accounts:
            await hs.register(account.localpart, account.password)
        state: dict[str, Any] = {
            "homeserver_url": hs.url, "server_name": hs.server_name,
            "bot_user_ids": [a.user_id for a in cfg.accounts], "config": str(cfg_path),
            "synapse_pid": hs.pid, "bots_data_dir": str(cfg.data_dir),
            "api_url": f"http://127.0.0.1:{api_port}",
        }
        write_private(stack_file(data_dir), json.dumps(state, indent=2).encode())
        print(_banner(state, data_dir), flush=True)
        await run_bots(cfg, stop)
        return 0
    finally:
        stack_file(data_dir).unlink(missing_ok=True)
        hs.stop()
        print("Liaison stopped.", flush=True)


def _banner(state: dict[str, Any], data_dir: Path) -> str:
    # `make run` uses .venv/bin/liaison, which may not be on PATH: show where it is.
    liaison = "liaison" if shutil.which("liaison") else \
        os.path.relpath(Path(sys.executable).parent / "liaison")
    return f"""
Liaison dev stack
  Homeserver   {state['homeserver_url']}   (server name: {state['server_name']})
  Bot          {', '.join(state['bot_user_ids'])}
  API          {state['api_url']}/api/v1/  (token in {state['config']})
  1. Make an account:  {liaison} register alice --role DAC --data-dir {data_dir}
     (it is invited to the "Coordination" room with that role; roles: !equipe roles)
  2. In Element Desktop, "Sign in", edit the homeserver to {state['homeserver_url']}
     and sign in as alice; set up secure backup when Element offers it (cross-signing).
  3. Accept the invitation to "Coordination" and type !aide, then for example
     !patient ouvrir DUPONT Marie 12/03/1948 F service=Cardiologie
  Ctrl-C stops everything; running it again reuses the same data.
"""
