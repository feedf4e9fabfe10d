"""`liaison`: the single entry point (dev stack, accounts, status, production bots)."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from bots import backup, devstack, logs, pyversion
from bots import config as config_mod
from bots.backup import BackupError
from bots.homeserver import DevHomeserver, HomeserverError, register_with_shared_secret
from bots.runtime.vault import Vault


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the dev stack: Synapse on 127.0.0.1 and the bots")
    up.add_argument("--data-dir", type=Path, default=Path("var"))
    up.add_argument("--port", type=int, default=8008)
    up.add_argument("--api-port", type=int, help="provisioning API port (default: port + 2)")
    up.add_argument("--mail", action="store_true", help="also the MSSanté bridge, on a local "
                    "Dovecot and Postfix (root; `make mail-packages` installs them)")

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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            logs.setup("INFO")
            return asyncio.run(devstack.up(args.data_dir, args.port,
                                           args.api_port or args.port + 2, mail=args.mail))
        if args.command == "register":
            return asyncio.run(_register(args))
        if args.command == "status":
            return asyncio.run(_status(args))
        if args.command in ("bots", "bridge"):
            return asyncio.run(_bots(args.config, bridge=args.command == "bridge"))
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
        from bots.careteam.roles import Roles

        roles = Roles.load(config_mod.load(Path(state["config"])).careteam.roles_file)
        if roles.get(args.role) is None:  # before the account exists: nothing half-done
            print(f"liaison: unknown role {args.role}; roles: {', '.join(roles.by_code)}",
                  file=sys.stderr)
            return 1
    hs = DevHomeserver(args.data_dir)
    password = args.password or secrets.token_urlsafe(12)
    user_id = await register_with_shared_secret(
        state["homeserver_url"], hs.shared_secret, args.user, password, admin=args.admin,
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
    async with aiohttp.ClientSession() as http:
        for _ in range(30):  # the bot may still be creating the room right after `up`
            async with http.post(f"{state['api_url']}/api/v1/coordination/members",
                                 json={"user_id": user_id, "role": role.upper()},
                                 headers={"Authorization": f"Bearer {token}"}) as resp:
                body = await resp.json()
            if resp.status != 503:
                break
            await asyncio.sleep(1)
    if resp.status != 200:
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
    from bots.app import run_bots

    cfg = config_mod.load(config_path)
    logs.setup(cfg.log_level)
    pyversion.warn_if_outdated()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_bots(cfg, stop, bridge=bridge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
