"""The trust list as the bridge uses it: read from its file or URL, re-read every refresh period
without a restart; a failed refresh keeps the last good list (and says so in the log)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp

from bridge.trustlist import TrustList, TrustListError, parse_trust_list

log = logging.getLogger(__name__)


class TrustSource:
    def __init__(self, where: str, refresh_minutes: int) -> None:
        self.where, self.refresh = where, refresh_minutes * 60
        self._list: TrustList | None = None
        self._read_at = 0.0

    async def _read(self) -> bytes:
        if self.where.startswith("https://"):
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http, \
                    http.get(self.where) as resp:
                resp.raise_for_status()
                return await resp.read()
        return await asyncio.to_thread(Path(self.where).read_bytes)

    async def current(self) -> TrustList:
        if self._list is None or time.monotonic() - self._read_at > self.refresh:
            try:
                self._list = parse_trust_list(await self._read())
                log.info("trust list read", extra={"domains": len(self._list.domains)})
            except (OSError, aiohttp.ClientError, TrustListError) as exc:
                if self._list is None:
                    raise
                log.warning("trust list refresh failed, keeping the last one",
                            extra={"error": str(exc)})
            self._read_at = time.monotonic()
        return self._list
