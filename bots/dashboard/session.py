"""Sessions, forms and login attempts, pure: no I/O; the caller passes the time.

- A session's ID is a random token the cookie holds; the database keeps only its SHA-256, so a
  copy of the database opens no session.
- Each session's CSRF token is derived from its ID (HMAC), compared in constant time.
- The login form, before any session, carries a token signed by the process's key, matched
  with a random value in a cookie (a signed double-submit): a page elsewhere cannot post it.
- Login attempts are counted per user and per address in a sliding window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the database keeps of a session ID."""
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(key: bytes, message: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def same(expected: str, given: str | None) -> bool:
    """Constant-time equality of two tokens (a missing one never matches)."""
    return given is not None and hmac.compare_digest(
        expected.encode(), given.encode("utf-8", "replace"))


def csrf_token(session_token: str) -> str:
    return _mac(session_token.encode(), b"liaison-dashboard-csrf")


class LoginForms:
    """The login form's token: `issue()` gives (cookie value, form value); `valid` checks a
    pair. Without a key (tests), one in memory: a restart would make open login forms reload."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self) -> tuple[str, str]:
        nonce = new_token()
        return nonce, _mac(self._key, nonce.encode())

    def valid(self, nonce: str | None, token: str | None) -> bool:
        return nonce is not None and same(_mac(self._key, nonce.encode()), token)


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta

    def expired(self, created_at: datetime, seen_at: datetime, now: datetime) -> bool:
        return now - seen_at >= self.idle or now - created_at >= self.absolute


class RateLimit:
    """At most `attempts` per key within `window` seconds. Keys are kept only while they have
    attempts in the window, and at most `max_keys` of them (a spray of names evicts the oldest)."""

    def __init__(self, attempts: int, window: float, max_keys: int = 10_000) -> None:
        self.attempts, self.window, self.max_keys = attempts, window, max_keys
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, key: str, now: float) -> bool:
        return len(self._recent(key, now)) >= self.attempts

    def record(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        times.append(now)
        self._seen.pop(key, None)
        self._seen[key] = times  # most recent last: eviction takes the oldest
        if len(self._seen) > self.max_keys:
            for stale in [k for k, v in self._seen.items() if not self._recent(k, now)]:
                del self._seen[stale]
            while len(self._seen) > self.max_keys:
                del self._seen[next(iter(self._seen))]

    def retry_after(self, key: str, now: float) -> float:
        times = self._recent(key, now)
        return max(0.0, times[0] + self.window - now) if times else 0.0
