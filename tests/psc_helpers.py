"""A stand-in for Pro Santé Connect (PSC) in the tests: a real OpenID provider (panva's
oidc-provider, tests/js/psc_provider.mjs) run as a child process, with CIBA in poll mode, rotated
refresh tokens and token introspection; the tests get tokens from it with the bridge's own client
(bridge/oauth.py).

The provider serves HTTPS on 127.0.0.1 with a certificate of the mail servers' test CA, so that
Dovecot can check bearer tokens at its introspection endpoint (`Psc.introspection`). The tests play
the professional's e-CPS phone app through a control port of the same process (loopback, plain
HTTP, away from the OpenID routes): `approve`, `deny`, `revoke`, ... Everything is in memory: a
restart of the provider loses its accounts, grants and tokens.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bots.common.processes import stop_group
from bots.config import OAuthConfig
from bots.devstack.mailservers import SERVER_NAMES, Introspection
from bots.devstack.testca import CertificateAuthority
from bots.runtime.store import utcnow
from bridge.oauth import CIBA_GRANT, Pending, Provider, Tokens

JS_DIR = Path(__file__).parent / "js"
PROVIDER = JS_DIR / "psc_provider.mjs"
CIBA = CIBA_GRANT
SCOPE = "openid offline_access"

# Everything here is on 127.0.0.1: never through an environment's proxy.
_CONTROL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PscError(RuntimeError):
    pass


@dataclass
class Psc:
    """The running provider (its log: psc.log in its directory)."""

    issuer: str  # discovery at issuer + "/.well-known/openid-configuration"
    client_id: str  # the bridge's client: CIBA (poll) then refresh_token, client_secret_basic
    client_secret: str = field(repr=False)
    ca_file: Path  # the CA that signed the provider's certificate
    introspection: Introspection  # Dovecot's client, the only one allowed to introspect
    control: str = field(repr=False)
    _proc: subprocess.Popen[bytes] = field(repr=False)

    def add_account(self, national_id: str, mailbox: str = "",
                    claims: dict[str, Any] | None = None) -> None:
        """A professional (login_hint = national_id) whose access tokens open `mailbox`: they carry
        the claim "mailbox", which introspection returns. `claims`: what userinfo says of them
        (scope_all: SubjectNameID, given_name, SubjectRefPro, ...)."""
        self._call("POST", "/accounts", {"national_id": national_id, "mailbox": mailbox,
                                         "claims": claims or {}})

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """A client of the authorization code flow (Synapse's SSO); users log in on the
        provider's development pages (any password)."""
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret,
                                        "redirect_uris": [redirect_uri]})

    def pending(self) -> list[dict[str, Any]]:
        """CIBA requests waiting for the user: [{"login_hint", "binding_message", "scope"}]."""
        return self._call("GET", "/pending")

    def approve(self, national_id: str, timeout: float = 10.0) -> None:
        """What the e-CPS app does once the user accepts: waits for a pending request of that
        account, then grants the scopes it asked for (the latest request, if several wait)."""
        self._answer("/approve", national_id, timeout)

    def deny(self, national_id: str, timeout: float = 10.0) -> None:
        """The user refuses: the client's next poll gets access_denied."""
        self._answer("/deny", national_id, timeout)

    def revoke(self, national_id: str) -> None:
        """Ends every grant of the account: its refresh tokens get invalid_grant, its access tokens
        introspect as inactive."""
        self._call("POST", "/revoke", {"national_id": national_id})

    def set_ttl(self, access: int | None = None, refresh: int | None = None) -> None:
        """Lifetimes in seconds of the tokens issued from now on (None: unchanged)."""
        self._call("POST", "/ttl", {"access": access, "refresh": refresh})

    def grants(self) -> dict[str, int]:
        """Tokens issued so far by the token endpoint, per grant_type."""
        return self._call("GET", "/grants")

    def stop(self, timeout: float = 10.0) -> None:
        stop_group(self._proc, timeout)

    def _answer(self, path: str, national_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call("POST", path, {"national_id": national_id})
                return
            except urllib.error.HTTPError as error:
                if error.code != 404 or time.monotonic() > deadline:
                    raise PscError(f"{path} {national_id}: {error.read().decode()}") from None
            time.sleep(0.05)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.control + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with _CONTROL.open(request, timeout=15) as response:
            return json.load(response)


def start_psc(directory: Path, ca: CertificateAuthority, *, access_ttl: int = 120,
              refresh_ttl: int = 3600, timeout: float = 30.0) -> Psc:
    """Start the provider (its log in `directory`/psc.log) and return once it serves."""
    node = shutil.which("node")
    if node is None:
        raise PscError("node is not installed (Node 20 or later is needed)")
    if not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
        raise PscError("oidc-provider is missing: `make tests/js/node_modules/.installed`")
    directory.mkdir(parents=True, exist_ok=True)
    # The CA keeps one server certificate whatever names are asked: the mail servers' ones.
    cert, key = ca.server_cert(SERVER_NAMES)
    client = {"id": "liaison-bridge", "secret": secrets.token_urlsafe(24)}
    introspector = {"id": "dovecot", "secret": secrets.token_urlsafe(24)}
    settings = {"cert": str(cert), "key": str(key), "client": client,
                "introspector": introspector, "access_ttl": access_ttl,
                "refresh_ttl": refresh_ttl}
    log = directory / "psc.log"
    with open(log, "wb") as out:  # truncated: the ready line below is this start's
        proc = subprocess.Popen([node, str(PROVIDER)], stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert proc.stdin is not None
        with proc.stdin:  # the settings (secrets included) on stdin, not on the command line
            proc.stdin.write(json.dumps(settings).encode())
        ready = _wait_ready(proc, log, timeout)
    except BaseException:
        stop_group(proc, 5)
        raise
    issuer = ready["issuer"]
    return Psc(issuer, client["id"], client["secret"], ca.cert_file,
               Introspection(discovery(issuer, ca.cert_file)["introspection_endpoint"],
                             introspector["id"], introspector["secret"]),
               ready["control"], proc)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> dict[str, str]:
    """The provider's ready line, {"issuer", "control"}, the only JSON line of its output."""
    deadline = time.monotonic() + timeout
    while True:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                return json.loads(line)
        if proc.poll() is not None or time.monotonic() > deadline:
            state = f"exited with {proc.returncode}" if proc.poll() is not None else "not ready"
            raise PscError(f"the OpenID provider {state}; its log ({log}):\n{log.read_text()}")
        time.sleep(0.05)


def _https(ca_file: Path) -> urllib.request.OpenerDirector:
    """An opener trusting the provider's CA, without proxy."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    return urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                       urllib.request.HTTPSHandler(context=ctx))


def discovery(issuer: str, ca_file: Path) -> dict[str, Any]:
    with _https(ca_file).open(issuer + "/.well-known/openid-configuration",
                              timeout=15) as response:
        return json.load(response)


def client_of(psc: Psc) -> Provider:
    """The bridge's own OpenID client (bridge/oauth.py), as the bridge's configuration makes it."""
    return Provider(OAuthConfig(psc.issuer, psc.client_id, psc.client_secret, SCOPE,
                                psc.ca_file))


async def ciba_poll(client: Provider, pending: Pending, timeout: float = 30.0) -> Tokens:
    """Polls at the request's interval until the user answered: the tokens, or Refused
    (access_denied, expired_token, ...)."""
    deadline = time.monotonic() + timeout
    while (answer := await client.poll(pending, utcnow())) in ("pending", "slow_down"):
        if time.monotonic() > deadline:
            raise PscError(f"no answer to the CIBA request in {timeout} s")
        await asyncio.sleep(pending.interval)
    assert isinstance(answer, Tokens)
    return answer


async def token_for(psc: Psc, national_id: str) -> Tokens:
    """The whole CIBA flow, the user approving on their phone."""
    client = client_of(psc)
    pending = await client.start(national_id, "LIAISON-TEST", utcnow())
    await asyncio.to_thread(psc.approve, national_id)
    return await ciba_poll(client, pending)
