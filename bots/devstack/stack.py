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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bots import config as config_mod
from bots.devstack.homeserver import DevHomeserver, WorkerHomeserver
from bots.runtime.files import write_private
from bots.runtime.vault import Vault

if TYPE_CHECKING:
    from bots.devstack.mailservers import MailServers

BOT_LOCALPART = "liaison"
DEV_BOTS = ("careteam", "discharge", "followup", "adt")  # what the dev stack's bot account runs
COORDINATION = "Coordination"  # the coordination room the bot creates at first start
# The ADT feed's dev ward (the samples' PV1-3.1, bots/devstack/adt_messages.py): rooms opened at
# admission get these clinicians (localpart, role), registered by `up`, passwords in
# clinicians.yaml; the opening is told in the coordination room.
DEV_WARD, DEV_WARD_NAME = "CARDIO", "Cardiologie"
DEV_CLINICIANS = (("idec", "IDEC"), ("medecin", "MH"))
BRIDGE_LOCALPART = "mssante"  # with --mail: the MSSanté bridge's own account
# With --mail: our mailbox's domain and a GP's, both in the dev trust list.
DEV_MAILBOX, DEV_GP = "coordination@hopital.test", "medecin@operator.test"
DEV_TRUST_LIST = """<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
  <Domaine><Nom>hopital.test</Nom></Domaine>
  <Domaine><Nom>operator.test</Nom></Domaine>
</ListeBlanche>
"""


def stack_file(data_dir: Path) -> Path:
    return Path(data_dir) / "stack.json"


@dataclass(frozen=True)
class DevPorts:
    """The stack's loopback ports besides Synapse's (`liaison up` picks them from --port)."""

    api: int
    dashboard: int
    adt: int  # the ADT intake's MLLP listener
    adt_metrics: int  # its /health/* and /metrics


def dev_config(data_dir: Path, hs: DevHomeserver, ports: DevPorts,
               mail: MailServers | None = None) -> Path:
    """The bots' configuration for the dev stack, written once (mode 0600: it holds secrets).
    With `mail`, the MSSanté bridge too, on the local Dovecot and Postfix. The dashboard is on,
    over plain HTTP on loopback (no Secure cookies: there is no TLS here); so is the ADT intake,
    with the dev ward."""
    path = data_dir / "liaison.yaml"
    if path.exists():
        raw = yaml.safe_load(path.read_text())
        raw["homeserver"] = hs.url  # the ports may change between runs
        raw.setdefault("careteam", _careteam_section())
        raw["careteam"].setdefault("api", _careteam_section()["api"])
        raw["careteam"]["api"]["listen"] = f"127.0.0.1:{ports.api}"
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
        raw["careteam"]["api"]["listen"] = f"127.0.0.1:{ports.api}"
    dashboard = f"127.0.0.1:{ports.dashboard}"
    raw["dashboard"] = {**raw.get("dashboard", {}), "listen": dashboard,
                        "public_url": f"http://{dashboard}", "secure_cookies": False}
    raw["adt"] = {**raw.get("adt", {}), "listen": f"127.0.0.1:{ports.adt}",
                  "wards": raw.get("adt", {}).get("wards") or _dev_wards(hs)}
    raw["metrics"] = {**raw.get("metrics", {}), "adt_listen": f"127.0.0.1:{ports.adt_metrics}"}
    if mail is not None:
        _mail_sections(raw, data_dir, hs, mail)
    write_private(path, yaml.safe_dump(raw, sort_keys=False, allow_unicode=True).encode())
    return path


def _mail_sections(raw: dict[str, Any], data_dir: Path, hs: DevHomeserver,
                   mail: MailServers) -> None:
    """The bridge's account and section (kept across runs; the ports are new each run)."""
    bridge_id = f"@{BRIDGE_LOCALPART}:{hs.server_name}"
    if not any(a["user_id"] == bridge_id for a in raw["accounts"]):
        raw["accounts"].append({"user_id": bridge_id, "password": secrets.token_urlsafe(24),
                                "device_name": "MSSanté", "bots": ["mssante"]})
    raw["careteam"]["companions"] = sorted({*raw["careteam"].get("companions", []), bridge_id})
    cert, key = mail.add_app_mailbox(DEV_MAILBOX)
    trust = data_dir / "liste-blanche.xml"
    trust.write_text(DEV_TRUST_LIST)

    def server(host: str, port: int) -> dict[str, Any]:
        return {"host": host, "port": port, "security": "starttls", "ca_file": str(mail.ca_file),
                "client_cert": str(cert), "client_key": str(key)}

    raw["mssante"] = {"mailbox": DEV_MAILBOX,
                      "careteam_account": f"@{BOT_LOCALPART}:{hs.server_name}",
                      "imap": server(mail.imap_host, mail.imap_port),
                      "smtp": server(mail.smtp_host, mail.submission_port),
                      "trust_list": str(trust)}


def _dev_wards(hs: DevHomeserver) -> dict[str, Any]:
    return {DEV_WARD: {"name": DEV_WARD_NAME,
                       "team": [f"@{user}:{hs.server_name}:{role}" for user, role in DEV_CLINICIANS],
                       "coordination_room": COORDINATION}}


def dev_clinicians(data_dir: Path) -> dict[str, str]:
    """The dev ward's clinicians' passwords by localpart, made once (mode 0600)."""
    path = data_dir / "clinicians.yaml"
    known = yaml.safe_load(path.read_text()) if path.exists() else {}
    wanted = {user: known.get(user) or secrets.token_urlsafe(12) for user, _ in DEV_CLINICIANS}
    if wanted != known:
        write_private(path, yaml.safe_dump(wanted).encode())
    return wanted


def _careteam_section() -> dict[str, Any]:
    return {"create_coordination_room": COORDINATION,
            "api": {"listen": "127.0.0.1:0", "token": secrets.token_urlsafe(32)}}


@dataclass(frozen=True)
class Backend:
    """The workers topology's PostgreSQL (database created if missing) and Redis."""

    database_url: str
    redis_host: str
    redis_port: int


async def up(data_dir: Path, port: int, ports: DevPorts, mail: bool = False,
             workers: Backend | None = None) -> int:
    from bots.app import run_bots  # the bots themselves: not for `liaison status`/`register`
    from bots.runtime.store import migrate_apart

    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    bots = tuple(f"@{localpart}:localhost" for localpart in (BOT_LOCALPART, BRIDGE_LOCALPART))
    if workers is None:
        hs = DevHomeserver(data_dir, port=port, bots=bots)
        print(f"Starting Synapse on {hs.url} (data in {data_dir}) …", flush=True)
    else:
        hs = WorkerHomeserver(data_dir, port=port, bots=bots, database_url=workers.database_url,
                              redis_host=workers.redis_host, redis_port=workers.redis_port)
        print(f"Starting Synapse's main process and workers behind nginx on {hs.url} "
              f"(data in {data_dir}, database {workers.database_url.rsplit('@', 1)[-1]}, "
              f"Redis {workers.redis_host}:{workers.redis_port}) …", flush=True)
    await hs.start(timeout=180 if workers else 60)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    servers: MailServers | None = None
    bridge: asyncio.subprocess.Process | None = None
    intake: asyncio.subprocess.Process | None = None
    try:
        if mail:
            # Imported here: the mail servers and their test CA (~2 MiB resident) would
            # otherwise sit in `liaison bots`, the production process, which imports this module
            # through the CLI.
            from bots.devstack.mailservers import start_mail_servers

            print("Starting Dovecot and Postfix on 127.0.0.1 …", flush=True)
            folder = data_dir / "mail"
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)  # the servers' own users must reach their files
            servers = await asyncio.to_thread(start_mail_servers, folder,
                                              ("hopital.test", "operator.test"))
        cfg_path = dev_config(data_dir, hs, ports, servers)
        cfg = config_mod.load(cfg_path)
        for account in cfg.accounts:
            # Server admins: each lifts its own message rate limit at start (ratelimit.py).
            await hs.register(account.localpart, account.password, admin=True)
        for user, password in dev_clinicians(data_dir).items():
            await hs.register(user, password)
        state: dict[str, Any] = {
            "homeserver_url": hs.url, "admin_url": hs.admin_url, "server_name": hs.server_name,
            "bot_user_ids": [a.user_id for a in cfg.accounts], "config": str(cfg_path),
            "synapse_pid": hs.pid, "bots_data_dir": str(cfg.data_dir),
            "api_url": f"http://127.0.0.1:{ports.api}",
            "dashboard_url": f"http://127.0.0.1:{ports.dashboard}",
            "adt_address": f"127.0.0.1:{ports.adt}",
            "adt_metrics_url": f"http://127.0.0.1:{ports.adt_metrics}",
        }
        # The intake is its own process, as in production (`liaison adt`); the schema is
        # brought to head first, so that it and the bots never migrate the database at once.
        await migrate_apart(cfg.database)
        intake = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "adt", "--config", str(cfg_path))
        state["adt_pid"] = intake.pid
        if cfg.mssante is not None:
            # The bridge is its own process, as in production (`liaison bridge`).
            bridge = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots.cli", "bridge", "--config", str(cfg_path))
            state["bridge_pid"] = bridge.pid
        write_private(stack_file(data_dir), json.dumps(state, indent=2).encode())
        print(_banner(state, data_dir), flush=True)
        if servers is not None:
            print(_mail_banner(servers), flush=True)
        await run_bots(cfg, stop)
        return 0
    finally:
        stack_file(data_dir).unlink(missing_ok=True)
        for child in (bridge, intake):
            if child is not None and child.returncode is None:
                child.terminate()
                await asyncio.wait_for(child.wait(), 30)
        if servers is not None:
            servers.stop()
        hs.stop()
        print("Liaison stopped.", flush=True)


def _mail_banner(mail: MailServers) -> str:
    cert, key = mail.client_cert(DEV_GP)
    return f"""  MSSanté (local Dovecot and Postfix, TLS with the dev CA {mail.ca_file})
     The bridge reads {DEV_MAILBOX}. To write to it as a GP, submit to
     {mail.smtp_host}:{mail.submission_port} (STARTTLS) with the client certificate
     {cert} and key {key}; put the room's [P-…] reference in the subject.
"""


def _banner(state: dict[str, Any], data_dir: Path) -> str:
    # `make run` uses .venv/bin/liaison, which may not be on PATH: show where it is.
    liaison = "liaison" if shutil.which("liaison") else \
        os.path.relpath(Path(sys.executable).parent / "liaison")
    return f"""
Liaison dev stack
  Homeserver   {state['homeserver_url']}   (server name: {state['server_name']})
  Bot          {', '.join(state['bot_user_ids'])}
  API          {state['api_url']}/api/v1/  (token in {state['config']})
  Dashboard    {state['dashboard_url']}/  (coordinators: log in with the account and password)
  ADT intake   MLLP on {state['adt_address']}, ward {DEV_WARD} ({DEV_WARD_NAME}): team
               {', '.join(f'@{u}:{state["server_name"]} ({r})' for u, r in DEV_CLINICIANS)},
               passwords in {data_dir / 'clinicians.yaml'}
               Send a sample:  {liaison} adt-send --sample admission --data-dir {data_dir}
  1. Make an account:  {liaison} register alice --role DAC --data-dir {data_dir}
     (it is invited to the "Coordination" room with that role; roles: !equipe roles)
  2. In Element Desktop, "Sign in", edit the homeserver to {state['homeserver_url']}
     and sign in as alice; set up secure backup when Element offers it (cross-signing).
  3. Accept the invitation to "Coordination" and type !aide, then for example
     !patient ouvrir DUPONT Marie 12/03/1948 F service=Cardiologie
  Ctrl-C stops everything; running it again reuses the same data.
"""
