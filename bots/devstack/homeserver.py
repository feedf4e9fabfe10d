"""The homeserver as child processes: Synapse rendered from server-config/ (bots/synapseconf.py),
one process (DevHomeserver) or the main process, its workers and nginx (WorkerHomeserver).

Used by `liaison up`, `liaison register` and the test suite's session fixture.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bots.common.processes import stop_group
from bots.synapse_modules.settings import PscLogin
from bots.synapseconf import (
    Process,
    SynapseSettings,
    load_or_create_secrets,
    port_names,
    render,
)

# `liaison up --workers` without --database-url (created at first start).
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/liaison_synapse"


class HomeserverError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DevHomeserver:
    """Synapse on 127.0.0.1 with SQLite (topology "single"), its files under `data_dir/synapse`."""

    data_dir: Path
    server_name: str = "localhost"
    port: int = 8008
    relaxed_rate_limits: bool = False
    message_rate: tuple[float, int] | None = None  # (per second, burst) for rc_message only
    log_level: str = "INFO"
    bots: tuple[str, ...] = ()  # accounts the policy module lets name patient rooms (* allowed)
    psc: PscLogin | None = None  # Pro Santé Connect login (Synapse's SSO), off without it

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.synapse_dir = self.data_dir / "synapse"
        self.config_path = self.synapse_dir / "homeserver.yaml"
        self._procs: list[subprocess.Popen[bytes]] = []
        self.processes: list[Process] = []  # what the last start ran, main process first

    @property
    def url(self) -> str:
        """What clients use."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """The main process itself, for the admin API (never exposed by the proxy)."""
        return self.url

    @property
    def shared_secret(self) -> str:
        return load_or_create_secrets(self.synapse_dir / "secrets.json")[
            "registration_shared_secret"]

    def settings(self) -> SynapseSettings:
        return SynapseSettings(
            server_name=self.server_name, public_baseurl=self.url + "/", topology="single",
            ports={"http": self.port}, relaxed_rate_limits=self.relaxed_rate_limits,
            message_rate=self.message_rate, log_level=self.log_level,
            bots=self.bots, psc=self.psc)

    def render(self) -> list[Process]:
        """Render the configuration from server-config/ (bots/synapseconf.py)."""
        return render(self.settings(), self.synapse_dir)

    async def start(self, timeout: float = 60.0) -> None:
        processes = self.processes = self.render()
        if await self.is_up():
            raise HomeserverError(f"something already answers on {self.url}; pick another --port")
        # The main process first: it prepares the database the workers then use.
        deadline = time.monotonic() + timeout
        try:
            await self._launch(processes[:1], deadline)
            await self._launch(processes[1:], deadline)
        except BaseException:
            self.stop()
            raise

    async def _launch(self, processes: list[Process], deadline: float) -> None:
        started = []
        for process in processes:
            with open(self.synapse_dir / f"{process.name}.stdout.log", "ab") as log:
                proc = subprocess.Popen(process.argv, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            self._procs.append(proc)
            started.append((process, proc))
        for process, proc in started:
            while not (process.port is None or await _answers(process.port)):
                if proc.poll() is not None:
                    raise HomeserverError(
                        f"{process.name} exited with {proc.returncode}; see {process.log} and "
                        f"{self.synapse_dir}/{process.name}.stdout.log")
                if time.monotonic() > deadline:
                    raise HomeserverError(f"{process.name} did not answer on port "
                                          f"{process.port} in time; see {process.log}")
                await asyncio.sleep(0.2)

    def log_file(self, name: str) -> Path:
        """The log of one process (`main`, a worker's name, `nginx`)."""
        return next(p.log for p in self.processes if p.name == name)

    def stop(self, timeout: float = 20.0) -> None:
        """The proxy and workers first, the main process last."""
        procs, self._procs = self._procs, []
        for proc in reversed(procs):
            stop_group(proc, timeout)

    @property
    def pid(self) -> int | None:
        """The main process's."""
        return self._procs[0].pid if self._procs else None

    def pids(self) -> dict[str, int]:
        """Every running process's, by name (`main`, the workers', `nginx`)."""
        return {process.name: proc.pid
                for process, proc in zip(self.processes, self._procs, strict=False)}

    async def is_up(self) -> bool:
        return await _answers_url(self.url)

    async def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Shared-secret registration (Synapse admin API). Returns the user ID; an existing account
        is not an error, so the dev stack can run this at every start."""
        return await register_with_shared_secret(
            self.admin_url, self.shared_secret, localpart, password, admin=admin,
            server_name=self.server_name,
        )


@dataclass
class WorkerHomeserver(DevHomeserver):
    """Topology "workers": the main process and its workers on PostgreSQL and Redis, nginx in
    front on `port` (`url`); the main process on a port of its own (`admin_url`)."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ports = {name: free_port() for name in port_names("workers")} | {"proxy": self.port}

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http']}"

    def settings(self) -> SynapseSettings:
        return replace(super().settings(), topology="workers", ports=self.ports,
                       database_url=self.database_url, redis_host=self.redis_host,
                       redis_port=self.redis_port)

    def render(self) -> list[Process]:
        ensure_database(self.database_url)
        return super().render()


def ensure_database(url: str) -> None:
    """Create Synapse's PostgreSQL database if missing, as Synapse needs it: UTF8, C collation
    (from template0)."""
    # psycopg here, not with the module: `liaison bots` imports this module (bots/cli.py) and
    # on SQLite would load the driver for nothing (~10 MiB resident, issue 17).
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.strip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                             "TEMPLATE template0").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(parts.path.strip("/"))))


async def _answers(port: int) -> bool:
    return await _answers_url(f"http://127.0.0.1:{port}")


async def _answers_url(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(
            f"{url}/health", timeout=aiohttp.ClientTimeout(total=2)
        ) as resp:
            return resp.status == 200
    except (TimeoutError, aiohttp.ClientError):
        return False


async def register_with_shared_secret(
    url: str, shared_secret: str, localpart: str, password: str, *, admin: bool, server_name: str
) -> str:
    endpoint = f"{url}/_synapse/admin/v1/register"
    async with aiohttp.ClientSession() as http:
        async with http.get(endpoint) as resp:
            nonce = (await resp.json())["nonce"]
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin,
                "mac": _mac_hex(shared_secret, nonce, localpart, password, admin)}
        async with http.post(endpoint, json=body) as resp:
            data = await resp.json()
            if resp.status == 200:
                return data["user_id"]
            if data.get("errcode") == "M_USER_IN_USE":
                return f"@{localpart}:{server_name}"
            raise HomeserverError(f"registration of {localpart} failed: {data.get('error', data)}")


def _mac_hex(shared_secret: str, nonce: str, localpart: str, password: str, admin: bool) -> str:
    # The four fields joined by NUL, with no trailing NUL.
    message = "\x00".join([nonce, localpart, password, "admin" if admin else "notadmin"])
    return hmac.new(shared_secret.encode(), message.encode(), hashlib.sha1).hexdigest()
