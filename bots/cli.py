"""`liaison`: the single entry point (dev stack, accounts, status, production bots, ADT
intake)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bots import backup, logs, pyversion
from bots import config as config_mod
from bots.backup import BackupError
from bots.devstack import stack as devstack
from bots.devstack.adt_send import SAMPLES, sample, send
from bots.devstack.homeserver import (
    DEFAULT_DATABASE_URL,
    DevHomeserver,
    HomeserverError,
    register_with_shared_secret,
)
from bots.runtime.vault import Vault
from bots.synapseconf import (
    TOPOLOGIES,
    DashboardRoute,
    SynapseSettings,
    default_ports,
    render,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the dev stack: Synapse on 127.0.0.1 and the bots")
    up.add_argument("--data-dir", type=Path, default=Path("var"))
    up.add_argument("--port", type=int, default=8008)
    up.add_argument("--api-port", type=int, help="provisioning API port (default: port + 2)")
    up.add_argument("--dashboard-port", type=int,
                    help="coordinator dashboard port (default: port + 3)")
    up.add_argument("--adt-port", type=int, help="ADT intake's MLLP port (default: port + 4)")
    up.add_argument("--adt-metrics-port", type=int,
                    help="ADT intake's /health and /metrics port (default: port + 5)")
    up.add_argument("--mail", action="store_true", help="also the MSSanté bridge, on a local "
                    "Dovecot and Postfix (root; `make mail-packages` installs them)")
    up.add_argument("--workers", action="store_true", help="the production topology: Synapse's "
                    "main process and workers on PostgreSQL and Redis, nginx on --port "
                    "(`make synapse-packages` installs nginx)")
    _backend_options(up, database_default=DEFAULT_DATABASE_URL)

    conf = sub.add_parser("synapse-config", help="render Synapse's configuration (homeserver.yaml, "
                          "conf.d, workers, nginx.conf, log configs) into a folder; secrets and "
                          "signing key created there once")
    conf.add_argument("--topology", choices=TOPOLOGIES, default="single")
    conf.add_argument("--out", type=Path, required=True)
    conf.add_argument("--server-name", default="localhost")
    conf.add_argument("--public-url", help="what clients use (default: http://127.0.0.1:8008/, "
                      "the workers topology: nginx's http://127.0.0.1:8080/)")
    conf.add_argument("--data-dir", type=Path, help="database (SQLite), media, logs, pid files "
                      "(default: --out)")
    conf.add_argument("--bind-address", default="127.0.0.1", help="address of Synapse's client "
                      "listeners and nginx (replication stays on 127.0.0.1)")
    conf.add_argument("--upstream-host", default="127.0.0.1", help="where nginx reaches Synapse")
    conf.add_argument("--federation-allow", action="append", default=None, metavar="SERVER",
                      help="a partner homeserver allowed to federate (repeat; env "
                      "LIAISON_FEDERATION_ALLOW=a,b); none: federation closed")
    conf.add_argument("--bot", action="append", default=[], metavar="USER_ID",
                      help="a bot account (repeat; `*` allowed): the policy module lets only "
                      "these name patient rooms (server-config/conf.d/policy.yaml.tmpl)")
    conf.add_argument("--dashboard-config", type=Path, metavar="LIAISON_YAML", help="workers: "
                      "the bots' configuration; with a dashboard section, nginx serves the "
                      "dashboard on its public_url's host (https), proxied to its listen port")
    conf.add_argument("--dashboard-upstream-host", default="127.0.0.1",
                      help="where nginx reaches the bots process's dashboard (compose: bots)")
    conf.add_argument("--dashboard-resolver", default="127.0.0.11", help="DNS server nginx "
                      "resolves that host with, per request (default: Docker's)")
    _backend_options(conf, database_default="")

    reg = sub.add_parser("register", help="create an account on the dev homeserver")
    reg.add_argument("user", help="localpart, e.g. alice")
    reg.add_argument("--password", help="default: a random one, printed")
    reg.add_argument("--admin", action="store_true")
    reg.add_argument("--role", help="invite the account to the coordination room with this role "
                     "(e.g. DAC, IDEC, MH; see roles.yaml)")
    reg.add_argument("--data-dir", type=Path, default=Path("var"))

    status = sub.add_parser("status", help="is the dev stack up")
    status.add_argument("--json", action="store_true")
    status.add_argument("--data-dir", type=Path, default=Path("var"))

    run = sub.add_parser("bots", help="run the bots against any homeserver (production form)")
    run.add_argument("--config", type=Path, required=True)

    bridge = sub.add_parser("bridge", help="run the MSSanté bridge (the accounts with the "
                            "mssante bot), its own process")
    bridge.add_argument("--config", type=Path, required=True)

    adt = sub.add_parser("adt", help="run the ADT intake: HL7 admissions and discharges over "
                         "MLLP, stored for the bots (the adt: section), its own process")
    adt.add_argument("--config", type=Path, required=True)

    send = sub.add_parser("adt-send", help="send a sample ADT message to the dev stack's intake "
                          "over MLLP and print the ACK")
    send.add_argument("--sample", required=True, choices=sorted(SAMPLES))
    send.add_argument("--ward", default=devstack.DEV_WARD, help="PV1-3.1 (default: the dev ward)")
    send.add_argument("--patient", type=int, metavar="N", help="made-up patient N instead of "
                      "the samples' DUPONT Marie")
    send.add_argument("--data-dir", type=Path, default=Path("var"))

    sub.add_parser("keygen", help="print a new data encryption key (for data_keys)")

    rekey = sub.add_parser("rekey", help="re-encrypt data at rest with the first of data_keys")
    rekey.add_argument("--config", type=Path, required=True)

    mig = sub.add_parser("migrate", help="bring the bots' database schema to the current "
                         "version (also done at every start)")
    mig.add_argument("--config", type=Path, required=True)

    element = sub.add_parser("element-config", help="write Element Web's config.json for a "
                             "deployment (no guests, analytics, integrations, widgets, previews)")
    element.add_argument("--homeserver-url", required=True, help="e.g. https://matrix.chu.example")
    element.add_argument("--server-name", required=True, help="e.g. chu.example")
    element.add_argument("--element-url", required=True, help="e.g. https://element.chu.example")
    element.add_argument("--sso", action="store_true", help="log in through SSO straight away")
    element.add_argument("--out", type=Path, required=True)

    save = sub.add_parser("backup", help="back up the bots' and Synapse's state into a new "
                          "folder (NOT the data keys: keep them apart)")
    save.add_argument("--config", type=Path, required=True)
    save.add_argument("--out", type=Path, required=True)
    save.add_argument("--synapse-config", type=Path, help="Synapse's homeserver.yaml (default: "
                      "the dev stack's, beside the configuration file, if there is one)")

    back = sub.add_parser("restore", help="restore a backup where the configuration says the "
                          "state lives (into a fresh place; the data keys come from the config)")
    back.add_argument("--config", type=Path, required=True)
    back.add_argument("--from", dest="source", type=Path, required=True)
    back.add_argument("--synapse-config", type=Path, help="Synapse's homeserver.yaml (default: "
                      "the dev stack's, beside the configuration file)")
    back.add_argument("--force", action="store_true", help="replace state already there")
    return parser


def _backend_options(parser: argparse.ArgumentParser, *, database_default: str) -> None:
    """PostgreSQL and Redis of the workers topology: options, else environment, else defaults."""
    parser.add_argument("--database-url", default=os.environ.get("LIAISON_SYNAPSE_DATABASE_URL",
                                                                 database_default),
                        help="Synapse's PostgreSQL, postgresql://user:password@host:port/dbname "
                        "(env LIAISON_SYNAPSE_DATABASE_URL)")
    parser.add_argument("--redis-host", default=os.environ.get("LIAISON_REDIS_HOST", "127.0.0.1"))
    parser.add_argument("--redis-port", type=int,
                        default=int(os.environ.get("LIAISON_REDIS_PORT", "6379")))


def _synapse_config(args: argparse.Namespace) -> int:
    allow = args.federation_allow
    if allow is None:
        allow = [s for s in os.environ.get("LIAISON_FEDERATION_ALLOW", "").split(",") if s]
    ports = default_ports(args.topology)
    default_url = f"http://127.0.0.1:{ports.get('proxy', ports['http'])}/"
    settings = SynapseSettings(
        server_name=args.server_name, public_baseurl=args.public_url or default_url,
        topology=args.topology, ports=ports, database_url=args.database_url,
        redis_host=args.redis_host, redis_port=args.redis_port, federation_allow=tuple(allow),
        bind_address=args.bind_address, upstream_host=args.upstream_host,
        data_dir=args.data_dir, bots=tuple(args.bot))
    try:
        if args.dashboard_config is not None:
            import yaml

            settings = replace(settings, dashboard=DashboardRoute.from_bots_config(
                yaml.safe_load(args.dashboard_config.read_text()) or {},
                args.dashboard_upstream_host, args.dashboard_resolver))
        processes = render(settings, args.out)
    except (ValueError, OSError) as exc:
        print(f"liaison: {exc}", file=sys.stderr)
        return 2
    for process in processes:
        print(shlex.join(process.argv))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            logs.setup("INFO")
            backend = devstack.Backend(args.database_url, args.redis_host, args.redis_port) \
                if args.workers else None
            ports = devstack.DevPorts(api=args.api_port or args.port + 2,
                                      dashboard=args.dashboard_port or args.port + 3,
                                      adt=args.adt_port or args.port + 4,
                                      adt_metrics=args.adt_metrics_port or args.port + 5)
            return asyncio.run(devstack.up(args.data_dir, args.port, ports, mail=args.mail,
                                           workers=backend))
        if args.command == "synapse-config":
            return _synapse_config(args)
        if args.command == "register":
            return asyncio.run(_register(args))
        if args.command == "status":
            return asyncio.run(_status(args))
        if args.command in ("bots", "bridge"):
            return asyncio.run(_bots(args.config, bridge=args.command == "bridge"))
        if args.command == "adt":
            return asyncio.run(_adt(args.config))
        if args.command == "adt-send":
            return asyncio.run(_adt_send(args))
        if args.command == "keygen":
            print(Vault.new_key())
            return 0
        if args.command == "rekey":
            from bots.rekey import rekey

            report = asyncio.run(rekey(config_mod.load(args.config)))
            print(f"re-encrypted {report.rows} rows and {report.accounts} account secret files "
                  "with the first data key; the other keys may now be removed")
            return 0
        if args.command == "migrate":
            from bots.runtime.store import migrate

            migrate(config_mod.load(args.config).database)
            return 0
        if args.command == "element-config":
            from bots import element

            element.write(args.out, element.render(args.homeserver_url, args.server_name,
                                                   args.element_url, sso=args.sso))
            return 0
        if args.command in ("backup", "restore"):
            return _backup_or_restore(args)
    except (config_mod.ConfigError, HomeserverError, BackupError) as exc:
        print(f"liaison: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def _stack(data_dir: Path) -> dict[str, Any] | None:
    path = devstack.stack_file(data_dir)
    return json.loads(path.read_text()) if path.exists() else None


async def _register(args: argparse.Namespace) -> int:
    state = _stack(args.data_dir)
    if state is None:
        print(f"liaison: the dev stack is not running (no {devstack.stack_file(args.data_dir)});"
              " start it with `liaison up`", file=sys.stderr)
        return 1
    if args.role:
        from bots.common.roles import Roles

        roles = Roles.load(config_mod.load(Path(state["config"])).careteam.roles_file)
        if roles.get(args.role) is None:  # before the account exists: nothing half-done
            print(f"liaison: unknown role {args.role}; roles: {', '.join(roles.by_code)}",
                  file=sys.stderr)
            return 1
    hs = DevHomeserver(args.data_dir)
    password = args.password or secrets.token_urlsafe(12)
    user_id = await register_with_shared_secret(
        state.get("admin_url", state["homeserver_url"]), hs.shared_secret, args.user, password, admin=args.admin,
        server_name=state["server_name"])
    print(f"{user_id} ready. Homeserver: {state['homeserver_url']}")
    if not args.password:
        print(f"Password: {password}")
    if args.role:
        return await _invite_to_coordination(state, user_id, args.role)
    return 0


async def _invite_to_coordination(state: dict[str, Any], user_id: str, role: str) -> int:
    """Through the bots' provisioning API (the bot owns the coordination room)."""
    import aiohttp
    import yaml

    token = yaml.safe_load(Path(state["config"]).read_text())["careteam"]["api"]["token"]
    status, body = 0, {"error": {"message": f"no answer from {state['api_url']}"}}
    async with aiohttp.ClientSession() as http:
        for _ in range(30):  # right after `up`: the API may not listen yet, nor the room exist
            try:
                async with http.post(f"{state['api_url']}/api/v1/coordination/members",
                                     json={"user_id": user_id, "role": role.upper()},
                                     headers={"Authorization": f"Bearer {token}"}) as resp:
                    status, body = resp.status, await resp.json()
            except aiohttp.ClientConnectorError:
                pass
            else:
                if status != 503:
                    break
            await asyncio.sleep(1)
    if status != 200:
        print(f"liaison: {body['error']['message']}", file=sys.stderr)
        return 1
    print(f"Invited to the coordination room {body['room_id']} as {body['role']}.")
    return 0


def _backup_or_restore(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    if args.command == "backup":
        site = backup.site_from_config(args.synapse_config) if args.synapse_config \
            else backup.dev_stack_site(args.config)
        report = backup.backup(cfg, args.out, site)
        print(f"Backup written to {report.folder}:", *report.lines(), sep="\n")
        if site is None:
            print("  (no Synapse: give --synapse-config to include its database, media and keys)")
        else:
            print("It holds Synapse's signing key and secrets in clear: store it encrypted, "
                  "readable by its operators only.")
    else:
        site = backup.site_from_config(args.synapse_config) if args.synapse_config \
            else backup.dev_stack_site(args.config, args.source)
        report = backup.restore(cfg, args.source, site, force=args.force)
        print(f"Restored from {report.folder}:", *report.lines(), sep="\n")
        print("Start Synapse, then the bots: same bot devices, same rooms.")
    print(backup.KEYS_WARNING, file=sys.stderr)
    return 0


async def _adt_send(args: argparse.Namespace) -> int:
    state = _stack(args.data_dir)
    if state is None or "adt_address" not in state:
        print(f"liaison: the dev stack is not running (no {devstack.stack_file(args.data_dir)});"
              " start it with `liaison up`", file=sys.stderr)
        return 1
    host, port = state["adt_address"].rsplit(":", 1)
    raw = sample(args.sample, ward=args.ward, patient_number=args.patient)
    try:
        ack = await send(host, int(port), raw)
    except (OSError, TimeoutError) as exc:
        print(f"liaison: no ACK from the intake at {state['adt_address']}: {exc!r}",
              file=sys.stderr)
        return 1
    print(str(ack).replace("\r", "\n"))
    return 0 if str(ack.segment("MSA")[1]) == "AA" else 1


async def _status(args: argparse.Namespace) -> int:
    state = _stack(args.data_dir) or {}
    up = False
    if state:
        port = int(state["homeserver_url"].rsplit(":", 1)[1])
        up = await DevHomeserver(args.data_dir, port=port).is_up()
    bots = []
    for user_id in state.get("bot_user_ids", []):
        status_file = Path(state["bots_data_dir"]) / user_id[1:].split(":", 1)[0] / "status.json"
        bots.append(json.loads(status_file.read_text()) if status_file.exists()
                    else {"user_id": user_id, "running": False})
    report = {"up": up, "homeserver_url": state.get("homeserver_url"),
              "server_name": state.get("server_name"),
              "bot_user_ids": state.get("bot_user_ids", []), "bots": bots}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"Liaison dev stack: {'up' if up else 'down'}")
        if up:
            print(f"  homeserver {report['homeserver_url']}")
            for bot in bots:
                signed = "cross-signed" if bot.get("cross_signed") else "NOT cross-signed"
                print(f"  bot {bot['user_id']} device {bot.get('device_id', '?')} ({signed})")
    return 0 if up else 1


async def _bots(config_path: Path, *, bridge: bool = False) -> int:
    cfg = config_mod.load(config_path)  # a bad one is said before the bots are even imported
    from bots.app import run_bots

    logs.setup(cfg.log_level)
    pyversion.warn_if_outdated()
    await run_bots(cfg, _stop_on_signals(), bridge=bridge)
    return 0


async def _adt(config_path: Path) -> int:
    cfg = config_mod.load(config_path)
    from bots.adt.process import run_intake

    logs.setup(cfg.log_level)
    await run_intake(cfg, _stop_on_signals())
    return 0


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGINT or SIGTERM: the process ends cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


if __name__ == "__main__":
    sys.exit(main())
