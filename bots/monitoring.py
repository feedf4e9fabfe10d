"""Health and Prometheus metrics over HTTP: one listener per process (`metrics.listen` for the
bots, `metrics.bridge_listen` for the bridge), on loopback or a private network.

- `/health/live`: 200 while the process runs (the event loop answers).
- `/health/ready`: 200 once every runtime of the process has synced, keeps syncing, and its
  sender is not stuck (no message waiting longer than SENDER_STUCK), the database answers, and
  the process's own checks pass (the ADT intake: its listener serves); 503 with the reasons
  else.
- `/metrics`: bots/runtime/metrics.py, plus the gauges read from the database at each scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bots.runtime.metrics import OUTBOX_OLDEST, OUTBOX_PENDING
from bots.runtime.runtime import Runtime
from bots.runtime.store import Store, utcnow

log = logging.getLogger(__name__)

# A sync long-polls 30 s: a runtime whose last round ended longer ago than this is stuck or
# cannot reach the homeserver.
SYNC_STALE_SECONDS = 120
# A message decided this long ago and still not sent: the homeserver refuses or is unreachable.
SENDER_STUCK_SECONDS = 300


# A process's own readiness check: why it is not ready, or None.
Check = Callable[[], str | None]


class Monitoring:
    def __init__(self, runtimes: Sequence[Runtime], store: Store,
                 checks: Sequence[Check] = ()) -> None:
        self.runtimes = list(runtimes)
        self.store = store
        self.checks = list(checks)
        self.accounts = [r.user_id for r in self.runtimes]
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health/live", self._live)
        app.router.add_get("/health/ready", self._ready)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("health and metrics served", extra={"listen": f"{host}:{port}"})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def not_ready(self) -> list[str]:
        """Why the process is not ready (empty: ready). Bot names only, no account IDs."""
        now = utcnow()
        reasons = []
        for runtime in self.runtimes:
            name = "+".join(b.name for b in runtime.bots) or "runtime"
            synced = runtime.synced_at
            if synced is None:
                reasons.append(f"{name}: first sync not done")
            elif (now - synced).total_seconds() > SYNC_STALE_SECONDS:
                reasons.append(f"{name}: no sync for {(now - synced).total_seconds():.0f} s")
        reasons.extend(reason for check in self.checks if (reason := check()) is not None)
        pending, oldest = await self._outbox()
        if oldest is not None and oldest > SENDER_STUCK_SECONDS:
            reasons.append(f"sender: {pending} message(s) waiting, the oldest for {oldest:.0f} s")
        return reasons

    async def _outbox(self) -> tuple[int, float | None]:
        pending, oldest = await self.store.outbox_backlog(self.accounts)
        age = (utcnow() - oldest).total_seconds() if oldest else None
        OUTBOX_PENDING.set(pending)
        OUTBOX_OLDEST.set(age or 0)
        return pending, age

    async def _live(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "live"})

    async def _ready(self, _request: web.Request) -> web.Response:
        reasons = await self.not_ready()
        return web.json_response({"status": "not ready" if reasons else "ready",
                                  "reasons": reasons}, status=503 if reasons else 200)

    async def _metrics(self, _request: web.Request) -> web.Response:
        await self._outbox()
        hooks = {bot.gauges for r in self.runtimes for bot in r.bots if bot.gauges}
        for gauges in hooks:
            await gauges(self.store, self.accounts)
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})
