"""Documents the bridge re-reads while it runs: the trust list and the operator's CRLs. Each is
read from its file or URL and parsed, again every refresh period without a restart; a failed
refresh keeps the last good one (and says so in the log). None good yet: the error is raised.
A last good one older than `STALE_AFTER` is `stale`: each failed refresh is then logged as an
error, and the bridge tells the coordination rooms (bridge.bot)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import aiohttp

from bridge.trustlist import TrustList, parse_trust_list

log = logging.getLogger(__name__)
T = TypeVar("T")
STALE_AFTER = 24 * 3600.0  # seconds since the last good read: past it, failures are loud
ERRORS = (OSError, aiohttp.ClientError, TimeoutError, ValueError)  # a failed read


class Source(Generic[T]):
    def __init__(self, where: str, refresh_minutes: int, parse: Callable[[bytes], T],
                 what: str) -> None:
        self.where, self.refresh, self.parse, self.what = where, refresh_minutes * 60, parse, what
        self._value: T | None = None
        self._read_at = 0.0
        self._good_at = 0.0

    async def _read(self) -> bytes:
        if self.where.startswith(("https://", "http://")):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http, \
                    http.get(self.where) as resp:
                resp.raise_for_status()
                return await resp.read()
        return await asyncio.to_thread(Path(self.where).read_bytes)

    async def current(self) -> T:
        if self._value is None or time.monotonic() - self._read_at > self.refresh:
            try:
                self._value = self.parse(await self._read())
                self._good_at = time.monotonic()
                log.info(f"{self.what} read", extra={"source": self.where})
            except ERRORS as exc:
                if self._value is None:
                    raise
                extra = {"source": self.where, "error": str(exc),
                         "hours": round((time.monotonic() - self._good_at) / 3600, 1)}
                if self.stale:
                    log.error(f"{self.what} not refreshed for too long, keeping the last one",
                              extra=extra)
                else:
                    log.warning(f"{self.what} refresh failed, keeping the last one", extra=extra)
            self._read_at = time.monotonic()
        return self._value

    @property
    def stale(self) -> bool:
        """In use, and no good read for longer than `STALE_AFTER`."""
        return self._value is not None and time.monotonic() - self._good_at > STALE_AFTER


TrustSource = Source[TrustList]


def trust_source(where: str, refresh_minutes: int) -> TrustSource:
    """The trust list (an https URL or a file: what the operator's agency publishes)."""
    return Source(where, refresh_minutes, parse_trust_list, "trust list")
