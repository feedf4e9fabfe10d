"""Pro Santé Connect for PER/ORG mailboxes (BRIEF §5): an OpenID Connect client that gets the
mailbox's tokens by CIBA (a professional approves a push on their e-CPS app: the server needs no
browser) and renews the access token with the refresh token.

What a provider's answer means and when a token is stale are plain functions; `Provider` is the
thin HTTP edge (discovery, the backchannel request, the token endpoint). No OAuth library does
CIBA, and the three calls are plain form posts.
"""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote_plus

import aiohttp

from bots.config import OAuthConfig

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
# An access token this close to its end is renewed first: it must outlive the IMAP or SMTP login.
MARGIN = timedelta(seconds=30)
# Short: `!mss connexion` waits for the backchannel answer inside its transaction.
TIMEOUT = aiohttp.ClientTimeout(total=15)


class ProviderError(Exception):
    """The provider could not be reached or gave an unusable answer: try again later."""


class Refused(Exception):
    """The provider refused: `code` is its OAuth error (invalid_grant, access_denied,
    expired_token, unknown_user_id, invalid_client, ...)."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code, self.description = code, description


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: datetime
    refresh_token: str | None
    # When the refresh token lapses if unused (the provider's session idle time), if said.
    refresh_expires_at: datetime | None
    login_hint: str  # whose approval they come from
    issued_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now + MARGIN < self.expires_at

    def renew_at(self) -> datetime | None:
        """When to renew unasked so that an idle session does not lapse: half-way through the
        refresh token's life (kept alive by the provider only while it is used)."""
        if self.refresh_token is None or self.refresh_expires_at is None:
            return None
        return self.issued_at + (self.refresh_expires_at - self.issued_at) / 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "expires_at": self.expires_at.isoformat(), "issued_at": self.issued_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat()
            if self.refresh_expires_at else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokens:
        later = data.get("refresh_expires_at")
        return cls(data["access_token"], datetime.fromisoformat(data["expires_at"]),
                   data.get("refresh_token"), datetime.fromisoformat(later) if later else None,
                   data["login_hint"], datetime.fromisoformat(data["issued_at"]))


@dataclass(frozen=True)
class Pending:
    """A login waiting for the professional's approval on their e-CPS app."""

    auth_req_id: str
    login_hint: str
    binding_message: str
    interval: float
    expires_at: datetime


def tokens_from(body: Any, login_hint: str, now: datetime,
                previous: Tokens | None = None) -> Tokens:
    """A token endpoint's success answer. A refresh answer without a new refresh token keeps the
    previous one (RFC 6749 §6: rotation is the provider's choice)."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) \
            or str(body.get("token_type", "")).lower() != "bearer":
        raise ProviderError("the token endpoint's answer has no bearer access token")
    expires_in = _seconds(body.get("expires_in"), default=60)
    refresh = body.get("refresh_token")
    refresh_in = body.get("refresh_expires_in")
    if isinstance(refresh, str):
        refresh_at = now + timedelta(seconds=_seconds(refresh_in)) if refresh_in else None
    elif previous is not None:
        refresh, refresh_at = previous.refresh_token, previous.refresh_expires_at
    else:
        refresh, refresh_at = None, None
    return Tokens(body["access_token"], now + timedelta(seconds=expires_in), refresh, refresh_at,
                  login_hint, now)


def pending_from(body: Any, login_hint: str, binding_message: str, now: datetime) -> Pending:
    """The backchannel authentication endpoint's answer (CIBA §7.3)."""
    if not isinstance(body, dict) or not isinstance(body.get("auth_req_id"), str):
        raise ProviderError("the backchannel answer has no auth_req_id")
    return Pending(body["auth_req_id"], login_hint, binding_message,
                   float(_seconds(body.get("interval"), default=5)),
                   now + timedelta(seconds=_seconds(body.get("expires_in"), default=120)))


PollOutcome = Literal["pending", "slow_down"]


def poll_error(body: Any) -> PollOutcome:
    """A token endpoint error while polling (CIBA §11): wait (longer on slow_down), or the
    login is over (raised: denied, expired, or anything else)."""
    code = body.get("error") if isinstance(body, dict) else None
    if code == "authorization_pending":
        return "pending"
    if code == "slow_down":
        return "slow_down"
    raise _error(body)


def discovered(metadata: Any, issuer: str) -> dict[str, Any]:
    """A discovery document, taken only if it is the configured issuer's (OpenID Connect
    Discovery §4.3: its `issuer` is the URL it was fetched from): another one would send the
    client's secret, the logins and the tokens to endpoints that issuer never vouched for."""
    if not isinstance(metadata, dict):
        raise ProviderError("the discovery document is not a JSON object")
    said = metadata.get("issuer")
    if not isinstance(said, str) or said.rstrip("/") != issuer.rstrip("/"):
        raise ProviderError(f"the discovery document is for the issuer {said!r}, not the "
                            f"configured {issuer!r}: refused")
    return metadata


def _error(body: Any) -> Refused | ProviderError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return Refused(body["error"], str(body.get("error_description") or ""))
    return ProviderError("the provider's error answer is not OAuth's")


def _seconds(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default


class Provider:
    """The provider's endpoints, from its discovery document; the client authenticates with its
    secret (client_secret_basic)."""

    def __init__(self, settings: OAuthConfig) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._ssl = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None)
        self._ssl.minimum_version = ssl.TLSVersion.TLSv1_2
        # client_secret_basic: each part form-encoded first (RFC 6749 §2.3.1).
        pair = f"{quote_plus(settings.client_id)}:{quote_plus(settings.client_secret)}"
        self._basic = "Basic " + base64.b64encode(pair.encode()).decode()

    async def start(self, login_hint: str, binding_message: str, now: datetime) -> Pending:
        """Ask for the professional's approval (a push on their e-CPS app)."""
        status, body = await self._post("backchannel_authentication_endpoint", {
            "scope": self.settings.scope, "login_hint": login_hint,
            "binding_message": binding_message})
        if status != 200:
            raise _error(body)
        return pending_from(body, login_hint, binding_message, now)

    async def poll(self, pending: Pending, now: datetime) -> Tokens | PollOutcome:
        status, body = await self._post("token_endpoint", {
            "grant_type": CIBA_GRANT, "auth_req_id": pending.auth_req_id})
        if status == 200:
            return tokens_from(body, pending.login_hint, now)
        return poll_error(body)

    async def refresh(self, tokens: Tokens, now: datetime) -> Tokens:
        if tokens.refresh_token is None:
            raise Refused("invalid_grant", "no refresh token")
        status, body = await self._post("token_endpoint", {
            "grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        if status != 200:
            raise _error(body)
        return tokens_from(body, tokens.login_hint, now, previous=tokens)

    async def _post(self, endpoint: str, form: dict[str, str]) -> tuple[int, Any]:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                url = (await self._discover(http)).get(endpoint)
                if not isinstance(url, str) or not url.startswith("https://"):
                    raise ProviderError(f"the provider has no https {endpoint}")
                async with http.post(url, data=form, ssl=self._ssl,
                                     headers={"Authorization": self._basic}) as resp:
                    if resp.status >= 500:
                        raise ProviderError(f"{endpoint} answered {resp.status}")
                    return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise ProviderError(f"{exc.__class__.__name__}: {exc}") from exc

    async def _discover(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with http.get(url, ssl=self._ssl) as resp:
                resp.raise_for_status()
                self._metadata = discovered(await resp.json(content_type=None),
                                            self.settings.issuer)
        return self._metadata
