"""Checking a person's Matrix password through the homeserver's client API: `POST /login`
(m.login.password), and at once `POST /logout` with the token it gave, so the dashboard keeps no
token of anyone's (its session holds the user ID only). With SSO (the homeserver offers
m.login.sso: Pro Santé Connect through Synapse's OIDC), the login token the homeserver hands
back after the redirect flow is exchanged the same way (m.login.token), then logged out.

`user_id_of` reads what was typed (pure)."""

from __future__ import annotations

import logging
import re
from typing import Literal

import aiohttp

from bots.runtime.i18n import Refusal

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=15)
# A user ID's localpart: printable ASCII without ':' (the historical grammar Synapse accepts).
_LOCALPART = re.compile(r"[\x21-\x39\x3b-\x7e]+")
DEVICE_NAME = "Liaison dashboard login check"  # the device exists only between the two calls


def user_id_of(typed: str, server_name: str) -> str:
    """A full user ID from a localpart or a user ID of this server; refused with the reason."""
    typed = typed.strip()
    if typed.startswith("@"):
        localpart, _, server = typed[1:].partition(":")
        if not server:
            raise Refusal("dash.login.bad_user", server=server_name)
        if server.lower() != server_name.lower():
            raise Refusal("dash.login.other_server", server=server_name)
    else:
        localpart = typed
    if not _LOCALPART.fullmatch(localpart) or len(localpart) + len(server_name) + 2 > 255:
        raise Refusal("dash.login.bad_user", server=server_name)
    return f"@{localpart}:{server_name}"


Why = Literal["wrong", "limited", "unavailable"]


class LoginFailed(Exception):
    def __init__(self, why: Why) -> None:
        super().__init__(why)
        self.why = why


async def check_password(http: aiohttp.ClientSession, homeserver: str, user_id: str,
                         password: str) -> str:
    """The user's canonical ID once the homeserver accepted the password (and forgot the login
    again); `LoginFailed` otherwise."""
    return await _login(http, homeserver, {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
        "password": password})


async def check_login_token(http: aiohttp.ClientSession, homeserver: str, token: str) -> str:
    """The user's ID from the login token an SSO login handed back (single use, short-lived),
    the login forgotten again; `LoginFailed` otherwise."""
    return await _login(http, homeserver, {"type": "m.login.token", "token": token})


async def offers_sso(http: aiohttp.ClientSession, homeserver: str) -> bool | None:
    """Whether the homeserver's login flows have m.login.sso; None when it cannot be asked."""
    try:
        async with http.get(f"{homeserver}/_matrix/client/v3/login", timeout=TIMEOUT) as resp:
            answer = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    flows = answer.get("flows") if isinstance(answer, dict) else None
    if not isinstance(flows, list):
        return None
    return any(isinstance(f, dict) and f.get("type") == "m.login.sso" for f in flows)


async def _login(http: aiohttp.ClientSession, homeserver: str, body: dict[str, object]) -> str:
    try:
        async with http.post(f"{homeserver}/_matrix/client/v3/login",
                             json={**body, "initial_device_display_name": DEVICE_NAME},
                             timeout=TIMEOUT) as resp:
            answer = await resp.json(content_type=None) if resp.status == 200 else None
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("homeserver login unreachable", extra={"error": type(exc).__name__})
        raise LoginFailed("unavailable") from None
    if status in (401, 403):  # wrong password or token, unknown or deactivated user
        raise LoginFailed("wrong")
    if status == 429:
        raise LoginFailed("limited")
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) \
            or not isinstance(answer.get("user_id"), str):
        log.warning("homeserver login answered unexpectedly", extra={"status": status})
        raise LoginFailed("unavailable")
    await _logout(http, homeserver, answer["access_token"])
    return answer["user_id"]


async def _logout(http: aiohttp.ClientSession, homeserver: str, token: str) -> None:
    try:
        async with http.post(f"{homeserver}/_matrix/client/v3/logout", json={},
                             headers={"Authorization": f"Bearer {token}"},
                             timeout=TIMEOUT) as resp:
            if resp.status == 200:
                return
            status: int | str = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = type(exc).__name__
    # The token is not kept anywhere; the user sees the device in Element and may remove it.
    log.warning("could not log the login check out", extra={"status": status})
