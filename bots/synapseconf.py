"""Synapse's configuration rendered from server-config/: the one renderer for every topology.

"single" (dev): one process on SQLite. "workers" (production): the main process and the workers of
`WORKERS` on PostgreSQL and Redis, nginx in front. Both share homeserver.yaml.tmpl (every hardening
option) and conf.d/; `liaison up` and `liaison synapse-config` (compose's init) call `render`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from bots.resources import resource_dir
from bots.synapse_modules.settings import PscLogin, conf_d_values

TOPOLOGIES = ("single", "workers")
SECRETS = ("registration_shared_secret", "macaroon_secret_key", "form_secret",
           "worker_replication_secret")


@dataclass(frozen=True)
class Worker:
    name: str
    kind: str  # its template: server-config/workers/<kind>.yaml.tmpl
    http: bool = True  # a listener nginx forwards to
    replication: bool = False  # a stream writer: a replication listener in instance_map

    @property
    def app(self) -> str:
        return "synapse.app.media_repository" if self.kind == "media" else \
            "synapse.app.generic_worker"


# Names as topology/workers.yaml.tmpl and nginx/nginx.conf.tmpl use them.
WORKERS = (
    Worker("client1", "client"), Worker("client2", "client"),  # sync and client API pool
    Worker("events1", "writer", replication=True),  # event persister
    Worker("devices1", "writer", replication=True),  # to_device and device_lists writer
    Worker("media1", "media"),
    Worker("pusher1", "background", http=False),
    Worker("background1", "background", http=False),
    Worker("federation_sender1", "background", http=False),
)


def port_names(topology: str) -> list[str]:
    """The ports a topology listens on, by name: `http` (the main process's client listener)."""
    if topology == "single":
        return ["http"]
    return ["http", "main_replication", "proxy",
            *(w.name for w in WORKERS if w.http),
            *(f"{w.name}_replication" for w in WORKERS if w.replication)]


def default_ports(topology: str, base: int = 8008) -> dict[str, int]:
    """Fixed ports for a deployment: the main process on `base`, nginx on 8080, the workers
    from 8081 up, replication from 9093 up."""
    ports = {"http": base}
    if topology == "workers":
        ports |= {"proxy": 8080, "main_replication": 9093}
        http = [w.name for w in WORKERS if w.http]
        ports |= {name: 8081 + i for i, name in enumerate(http)}
        repl = [f"{w.name}_replication" for w in WORKERS if w.replication]
        ports |= {name: 9094 + i for i, name in enumerate(repl)}
    return ports


@dataclass
class SynapseSettings:
    server_name: str = "localhost"
    public_baseurl: str = "http://127.0.0.1:8008/"
    topology: str = "single"
    ports: dict[str, int] = field(default_factory=lambda: default_ports("single"))
    database_url: str = ""  # workers: postgresql://user:password@host:port/dbname
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    federation_allow: tuple[str, ...] = ()  # partner homeservers; empty: no federation
    bind_address: str = "127.0.0.1"  # Synapse's client-facing listeners (replication: loopback)
    upstream_host: str = "127.0.0.1"  # where nginx reaches them
    data_dir: Path | None = None  # database (SQLite), media, pid file; default: the config dir
    relaxed_rate_limits: bool = False
    message_rate: tuple[float, int] | None = None  # (per second, burst) for rc_message only
    log_level: str = "INFO"
    max_upload_size: str = "50M"
    bots: tuple[str, ...] = ()  # accounts the policy module lets name patient rooms (* allowed)
    psc: PscLogin | None = None  # Pro Santé Connect login (Synapse's SSO), off without it
    dashboard: DashboardRoute | None = None  # workers: nginx serves the dashboard too


@dataclass(frozen=True)
class DashboardRoute:
    """The coordinator dashboard (the bots process's `dashboard:` listener) behind nginx, on a
    host name of its own: `host` as people open it, `upstream` (host:port) where nginx reaches
    it, resolved per request with `resolver` (the bots may start after nginx; 127.0.0.11 is
    Docker's DNS)."""

    host: str
    upstream: str
    resolver: str = "127.0.0.11"

    @classmethod
    def from_bots_config(cls, raw: dict[str, Any], upstream_host: str,
                         resolver: str = "127.0.0.11") -> DashboardRoute | None:
        """From the bots' configuration (its YAML as read): its `dashboard` section's
        public_url host and listen port; None when the dashboard is off."""
        section = raw.get("dashboard")
        if not section:
            return None
        if "public_url" not in section or "listen" not in section:
            raise ValueError("dashboard: listen and public_url are needed to route it")
        host = urlsplit(section["public_url"]).hostname
        if not host or urlsplit(section["public_url"]).scheme != "https":
            raise ValueError("dashboard/public_url: an https:// URL behind the proxy (its "
                             "cookies are Secure)")
        port = str(section["listen"]).rsplit(":", 1)[1]
        return cls(host, f"{upstream_host}:{port}", resolver)


@dataclass(frozen=True)
class Process:
    """One program to run for the topology, in start order."""

    name: str
    argv: list[str]
    port: int | None  # where it answers GET /health (None: no listener)
    log: Path


class _Template(string.Template):
    """Only `${name}` is a placeholder, so nginx's own `$variables` stay as written; `$$` is `$`."""

    pattern = r"""\$(?:(?P<escaped>\$)|\{(?P<braced>[_a-z][_a-z0-9]*)\}|(?P<named>(?!))|(?P<invalid>(?!)))"""


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Secrets are generated at first render and kept (mode 0600) so later renders reuse them;
    one missing from an older file is added."""
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in SECRETS if name not in values]
    if missing:
        values |= {name: secrets.token_urlsafe(32) for name in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh)
        tmp.replace(path)
    return values


def _database_values(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise ValueError(f"the workers topology needs a postgresql://…/dbname URL, not {url!r}")
    return {"db_user": json.dumps(unquote(parts.username or "synapse")),
            "db_password": json.dumps(unquote(parts.password or "")),
            "db_host": json.dumps(parts.hostname or "127.0.0.1"),
            "db_port": str(parts.port or 5432),
            "db_name": json.dumps(parts.path.strip("/"))}


def _values(settings: SynapseSettings, config_dir: Path, data_dir: Path) -> dict[str, str]:
    relaxed = settings.relaxed_rate_limits
    public = urlsplit(settings.public_baseurl)
    values = load_or_create_secrets(config_dir / "secrets.json") | {
        "server_name": settings.server_name,
        "public_baseurl": settings.public_baseurl,
        "config_dir": str(config_dir),
        "data_dir": str(data_dir),
        "bind_address": settings.bind_address,
        "upstream_host": settings.upstream_host,
        "federation_domain_whitelist": json.dumps(list(settings.federation_allow)),
        # Without partners no federation listener at all; with some, Synapse checks the list.
        "main_resources": "client, federation" if settings.federation_allow else "client",
        "federation_rule": "proxy_pass http://synapse_main;" if settings.federation_allow
        else "return 404;",
        # Tests drive many clients from one address; production keeps Synapse's defaults.
        "rc_per_second": "1000" if relaxed else "0.5",
        "rc_burst": "1000" if relaxed else "20",
        "log_level": settings.log_level,
        "max_upload_size": settings.max_upload_size,
        "redis_host": settings.redis_host,
        "redis_port": str(settings.redis_port),
        "well_known_server": f"{public.hostname}:{public.port or 443}",
        "run_dir": str(data_dir / "run"),
        "log_dir": str(data_dir / "logs"),
    }
    rate = settings.message_rate
    values["rc_message_per_second"] = str(rate[0]) if rate else values["rc_per_second"]
    values["rc_message_burst"] = str(rate[1]) if rate else values["rc_burst"]
    values |= {f"port_{name}": str(port) for name, port in settings.ports.items()}
    values |= conf_d_values((settings.server_name, *settings.federation_allow), settings.bots,
                            settings.psc)
    if settings.topology == "workers":
        values |= _database_values(settings.database_url)
        values["proxy_listen"] = f"{settings.bind_address}:{settings.ports['proxy']}"
        values["proxy_server_name"] = public.hostname or settings.server_name
        values["client_servers"] = "\n".join(
            f"        server {settings.upstream_host}:{settings.ports[w.name]};"
            for w in WORKERS if w.kind == "client")
        values["dashboard_server"] = _dashboard_server(settings.dashboard, values["proxy_listen"])
    return values


def _dashboard_server(route: DashboardRoute | None, listen: str) -> str:
    """nginx's server block for the dashboard, on the same listener as Matrix (TLS as the
    template's header says): its cookies forced Secure whatever the bots' configuration says."""
    if route is None:
        return "# No dashboard route (`liaison synapse-config --dashboard-config`)."
    template = resource_dir("server-config") / "nginx" / "dashboard.conf.tmpl"
    return _Template(template.read_text()).substitute(
        proxy_listen=listen, dashboard_host=route.host, dashboard_upstream=route.upstream,
        dashboard_resolver=route.resolver)


def _write(template: Path, target: Path, values: dict[str, str], *, check_yaml: bool = True) -> None:
    text = _Template(template.read_text()).substitute(values)
    if check_yaml:
        yaml.safe_load(text)  # a template error shows here, not as a Synapse crash
    target.write_text(text)


def render(settings: SynapseSettings, config_dir: Path) -> list[Process]:
    """Write the configuration into `config_dir` (secrets and signing key created once, kept) and
    return the processes to run, main process first."""
    if settings.topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {settings.topology!r} (one of {', '.join(TOPOLOGIES)})")
    config_dir = Path(config_dir).resolve()
    data_dir = Path(settings.data_dir or config_dir).resolve()
    for folder in (config_dir, data_dir, data_dir / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    values = _values(settings, config_dir, data_dir)
    templates = resource_dir("server-config")
    main_config = config_dir / "homeserver.yaml"
    text = "\n".join(_Template(t.read_text()).substitute(values) for t in (
        templates / "homeserver.yaml.tmpl", templates / "topology" / f"{settings.topology}.yaml.tmpl"))
    yaml.safe_load(text)
    main_config.write_text(text)
    _write(templates / "log.config.tmpl", config_dir / "log.config",
           values | {"log_file": str(data_dir / "logs" / "homeserver.log")})
    # Optional parts of the configuration (modules, SSO, ...), one file each: every process reads
    # every *.yaml of conf.d after homeserver.yaml (`-c` given twice).
    conf_d = config_dir / "conf.d"
    conf_d.mkdir(exist_ok=True)
    for stale in conf_d.glob("*.yaml"):
        stale.unlink()
    for part in sorted((templates / "conf.d").glob("*.yaml.tmpl")):
        _write(part, conf_d / part.name.removesuffix(".tmpl"), values)
    signing_key = config_dir / "signing.key"
    if not signing_key.exists():
        with open(signing_key, "w") as fh:
            write_signing_keys(fh, [generate_signing_key("a_" + secrets.token_hex(2))])
    shared = ["-c", str(main_config), "-c", str(conf_d)]
    processes = [Process("main", [sys.executable, "-m", "synapse.app.homeserver", *shared],
                         settings.ports["http"], data_dir / "logs" / "homeserver.log")]
    if settings.topology == "workers":
        processes += _render_workers(settings, templates, config_dir, data_dir, values, shared)
    return processes


def _render_workers(settings: SynapseSettings, templates: Path, config_dir: Path, data_dir: Path,
                    values: dict[str, str], shared: list[str]) -> list[Process]:
    workers_dir = config_dir / "workers"
    workers_dir.mkdir(exist_ok=True)
    processes = []
    for worker in WORKERS:
        log = data_dir / "logs" / f"{worker.name}.log"
        own = values | {"worker_name": worker.name,
                        "worker_port": str(settings.ports.get(worker.name, "")),
                        "worker_replication_port":
                            str(settings.ports.get(f"{worker.name}_replication", "")),
                        "log_file": str(log)}
        config = workers_dir / f"{worker.name}.yaml"
        _write(templates / "workers" / f"{worker.kind}.yaml.tmpl", config, own)
        _write(templates / "log.config.tmpl", workers_dir / f"{worker.name}.log.config", own)
        processes.append(Process(worker.name,
                                 [sys.executable, "-m", worker.app, *shared, "-c", str(config)],
                                 settings.ports[worker.name] if worker.http else None, log))
    (data_dir / "run").mkdir(exist_ok=True)
    nginx_conf = config_dir / "nginx.conf"
    _write(templates / "nginx" / "nginx.conf.tmpl", nginx_conf, values, check_yaml=False)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    processes.append(Process("nginx", [nginx, "-p", str(data_dir / "run"), "-c", str(nginx_conf),
                                       "-e", str(data_dir / "logs" / "nginx-error.log"),
                                       "-g", "daemon off;"],
                             settings.ports["proxy"], data_dir / "logs" / "nginx-error.log"))
    return processes
