"""The dev-stack homeserver: a real Synapse rendered from server-config/ and run as a child process.

Used by `liaison up`, `liaison register` and the test suite's session fixture.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from bots.resources import resource_dir
from bots.synapse_modules.settings import PscLogin, conf_d_values


class HomeserverError(RuntimeError):
    pass


def stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to a child's whole process group (a server and the workers it started), SIGKILL
    if it is still there after `timeout`."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load_or_create_secrets(path: Path) -> dict[str, str]:
    """Secrets are generated at first start and kept (mode 0600) so restarts reuse the same data."""
    if path.exists():
        return json.loads(path.read_text())
    values = {
        name: secrets.token_urlsafe(32)
        for name in ("registration_shared_secret", "macaroon_secret_key", "form_secret")
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    return values


@dataclass
class DevHomeserver:
    """Synapse on 127.0.0.1 with SQLite, its files under `data_dir/synapse`."""

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
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_args(self) -> list[str]:
        """Synapse's `-c` arguments: homeserver.yaml, then the conf.d parts."""
        return ["-c", str(self.config_path), "-c", str(self.synapse_dir / "conf.d")]

    @property
    def shared_secret(self) -> str:
        return _load_or_create_secrets(self.synapse_dir / "secrets.json")["registration_shared_secret"]

    def render(self) -> None:
        """Render homeserver.yaml and log.config from the templates; generate the signing key once."""
        self.synapse_dir.mkdir(parents=True, exist_ok=True)
        values = _load_or_create_secrets(self.synapse_dir / "secrets.json") | {
            "server_name": self.server_name,
            "public_baseurl": self.url + "/",
            "synapse_dir": str(self.synapse_dir),
            "port": str(self.port),
            # Tests drive many clients from one address; production keeps Synapse's defaults.
            "rc_per_second": "1000" if self.relaxed_rate_limits else "0.5",
            "rc_burst": "1000" if self.relaxed_rate_limits else "20",
            "log_level": self.log_level,
        }
        if self.message_rate:
            values["rc_message_per_second"] = str(self.message_rate[0])
            values["rc_message_burst"] = str(self.message_rate[1])
        else:
            values["rc_message_per_second"] = values["rc_per_second"]
            values["rc_message_burst"] = values["rc_burst"]
        values |= conf_d_values(self.server_name, self.bots, self.psc)
        templates = resource_dir("server-config")
        targets = [(templates / "homeserver.yaml.tmpl", self.config_path),
                   (templates / "log.config.tmpl", self.synapse_dir / "log.config")]
        # Optional parts of the configuration (modules, SSO, ...), one file each: Synapse reads
        # every *.yaml of the conf.d folder after homeserver.yaml (`-c` given twice).
        conf_d = self.synapse_dir / "conf.d"
        conf_d.mkdir(exist_ok=True)
        for stale in conf_d.glob("*.yaml"):
            stale.unlink()
        targets += [(part, conf_d / part.name.removesuffix(".tmpl"))
                    for part in sorted((templates / "conf.d").glob("*.yaml.tmpl"))]
        for template, target in targets:
            text = string.Template(template.read_text()).substitute(values)
            yaml.safe_load(text)  # a template error shows here, not as a Synapse crash
            target.write_text(text)
        if not (self.synapse_dir / "signing.key").exists():
            subprocess.run(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path),
                 "--generate-keys"],
                check=True, capture_output=True,
            )

    async def start(self, timeout: float = 60.0) -> None:
        self.render()
        if await self.is_up():
            raise HomeserverError(f"something already answers on {self.url}; pick another --port")
        log = open(self.synapse_dir / "stdout.log", "ab")  # owned by the child process
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", *self.config_args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HomeserverError(
                    f"Synapse exited with {self._proc.returncode}; see {self.synapse_dir}/stdout.log"
                )
            if await self.is_up():
                return
            await asyncio.sleep(0.2)
        raise HomeserverError(f"Synapse did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_group(proc, timeout)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def is_up(self) -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(
                f"{self.url}/health", timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """Shared-secret registration (Synapse admin API). Returns the user ID; an existing account
        is not an error, so the dev stack can run this at every start."""
        return await register_with_shared_secret(
            self.url, self.shared_secret, localpart, password, admin=admin,
            server_name=self.server_name,
        )


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
