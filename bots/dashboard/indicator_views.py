"""The Indicators page (`/indicateurs`), its CSV exports (`/indicateurs/<table>.csv`) and its
charts (`/indicateurs/<chart>.svg`), with the same session, gate and headers as every page
(views.py). The period (`du`, `au`: YYYY-MM) and the ward (`service`) travel in the query."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bots.common.dates import months_back
from bots.dashboard.indicator_cache import DayCache
from bots.dashboard.indicator_data import page_tables, warm
from bots.dashboard.indicators import (
    ALL_WARDS,
    Table,
    chart_svg,
    export_csv,
    monthly,
    only_ward,
)
from bots.dashboard.session import csrf_token
from bots.episode.figures import FiguresReader, MailCounter
from bots.runtime.i18n import Lang, t
from bots.runtime.store import utcnow

if TYPE_CHECKING:
    from bots.dashboard.views import Dashboard

log = logging.getLogger(__name__)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DEFAULT_MONTHS = 12
# A chart: (table, bar column, line column or None, title, unit).
CHARTS = {"rh30": ("rh30", "rh30", "unplanned_rh30", "dash.ind.chart.rh30", "%"),
          "usage": ("usage", "messages", "commands", "dash.ind.chart.usage", "n")}


class Filter:
    def __init__(self, months: tuple[str, str], ward: str | None) -> None:
        self.months, self.ward = months, ward

    @classmethod
    def read(cls, request: web.Request, today: date) -> Filter:
        default = months_back(today, DEFAULT_MONTHS)
        first = request.query.get("du", "").strip() or default[0]
        last = request.query.get("au", "").strip() or default[1]
        if not _MONTH.match(first) or not _MONTH.match(last) or first > last:
            raise web.HTTPBadRequest(reason="the period is two months as YYYY-MM, in order")
        ward = request.query.get("service", "").strip() or None
        if ward is not None and len(ward) > 100:
            raise web.HTTPBadRequest(reason="the ward is too long")
        return cls((first, last), ward)

    def query(self) -> str:
        return urlencode({"du": self.months[0], "au": self.months[1],
                          **({"service": self.ward} if self.ward else {})})


class IndicatorPages:
    def __init__(self, dashboard: Dashboard, figures: FiguresReader, mails: MailCounter,
                 zone: ZoneInfo) -> None:
        self.dashboard, self.figures, self.mails, self.zone = dashboard, figures, mails, zone
        self.kept = DayCache()

    async def keep_warm(self) -> None:
        """Each day a few minutes after midnight (and at start), the coordinators' default
        period computed ahead in the deployment's language: their first page of the day is then
        as quick as the next ones (bench/dashboard.py measures the first one cold)."""
        d = self.dashboard
        config = d.runtime.config
        lang: Lang = config.language  # type: ignore[assignment]  # checked by the config schema
        while True:
            today = utcnow().astimezone(self.zone).date()
            try:
                async with d._reading() as tx:
                    await warm(tx, months_back(today, DEFAULT_MONTHS), today, self.zone,
                               self.figures, self.mails, lang, self.kept,
                               config.structures)
            except Exception:  # a cache only: the first page computes what this did not
                log.exception("the indicators were not computed ahead")
            next_run = datetime.combine(today + timedelta(days=1), time(0, 5), self.zone)
            await asyncio.sleep(max(60.0, (next_run - utcnow()).total_seconds()))

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/indicateurs", self.page)
        router.add_get("/indicateurs/{table}.csv", self.csv)
        router.add_get("/indicateurs/{chart}.svg", self.chart)

    async def _tables(self, request: web.Request, then: Callable[
            [str, str, Filter, list[Table]], Awaitable[web.StreamResponse]],
                      names: set[str] | None = None) -> web.StreamResponse:
        """The gate of every page (session, then the permission again), then the tables
        `names` (None: all) of the person's scope for the period asked."""
        d = self.dashboard
        user, token = await d._session(request)
        if user is None or token is None:
            return d._to_login("ended" if token else None)
        today = utcnow().astimezone(self.zone).date()
        wanted = Filter.read(request, today)
        lang: Lang = d.lang(request)
        async with d._reading() as tx:
            refusal = await d._refusal(tx, user)
            if refusal is not None:
                return d._refused(request, refusal, user, token)
            found = await page_tables(tx, user, wanted.months, today, self.zone, self.figures,
                                      self.mails, lang, self.kept, names,
                                      d.runtime.config.structures)
        return await then(user, token, wanted, found)

    async def page(self, request: web.Request) -> web.StreamResponse:
        async def show(user: str, token: str, wanted: Filter,
                       found: list[Table]) -> web.StreamResponse:
            wards = sorted({str(r[1]) for table in found if table.columns[1][0] == "ward"
                            for r in table.rows} - {ALL_WARDS})
            return self.dashboard._page(
                request, "indicators.html", user=user, csrf=csrf_token(token),
                tables=[only_ward(table, wanted.ward) for table in found], wanted=wanted,
                wards=wards, query=wanted.query(), charts=list(CHARTS))
        return await self._tables(request, show)

    async def csv(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["table"]

        async def export(_user: str, _token: str, wanted: Filter,
                         found: list[Table]) -> web.StreamResponse:
            table = next((tb for tb in found if tb.name == name), None)
            if table is None:
                raise web.HTTPNotFound()
            first, last = wanted.months
            filename = f"{name}-{first}-{last}.csv"
            return web.Response(body=export_csv(only_ward(table, wanted.ward)),
                                content_type="text/csv", charset="utf-8", headers={
                                    "Content-Disposition": f'attachment; filename="{filename}"'})
        return await self._tables(request, export, {name})

    async def chart(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["chart"]
        if name not in CHARTS:
            raise web.HTTPNotFound()
        table_name, bars, line, title, unit = CHARTS[name]
        lang = self.dashboard.lang(request)

        async def draw(_user: str, _token: str, wanted: Filter,
                       found: list[Table]) -> web.StreamResponse:
            table = next(tb for tb in found if tb.name == table_name)
            ward = wanted.ward or ALL_WARDS
            labels, values = monthly(table, bars, ward)
            _, lines = monthly(table, line, ward) if line else (labels, None)
            names = dict(table.columns)
            svg = chart_svg(labels, values, str(t(lang, names[bars])), lines,
                            str(t(lang, names[line])) if line else "", str(t(lang, title)), unit)
            return web.Response(body=svg, content_type="image/svg+xml")
        return await self._tables(request, draw, {table_name})
