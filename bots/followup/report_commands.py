"""The RH30 indicator in coordination rooms: `!rh30 stats`, `!rh30 export`, and the report
posted on the first day of each month (table and chart), a durable job that plans the next one.
The figures come from indicator.py, their form from report.py."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bots.common import records as care_rooms
from bots.common.dates import month_of, months_back, wall_clock
from bots.followup import records
from bots.followup.indicator import (
    Compliance,
    Counts,
    IndexStay,
    Return,
    compliance,
    outcomes,
    stats,
)
from bots.followup.report import (
    DEFAULT_MONTHS,
    chart_png,
    export_csv,
    parse_period,
    stats_html,
)
from bots.runtime.bot import CommandContext, JobContext
from bots.runtime.commands import ArgError
from bots.runtime.i18n import Lang, t
from bots.runtime.models import ScheduledJob
from bots.runtime.notice import attachment, notice
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

REPORT = "followup.report"
ALL_WARDS = "tous"


class Filter:
    """What `!rh30 stats` / `export` were asked for: a period of discharge months, a ward."""

    def __init__(self, period: tuple[str, str], ward: str | None) -> None:
        self.period, self.ward = period, ward

    @classmethod
    def parse(cls, text: str | None, today: date) -> Filter:
        words = (text or "").split()
        period = parse_period(words[0], today) if words else None
        if period is not None:
            words = words[1:]
        return cls(period or months_back(today, DEFAULT_MONTHS), " ".join(words) or None)


class Reports:
    def __init__(self, zone: ZoneInfo, post_at: time) -> None:
        self.zone, self.post_at = zone, post_at

    def today(self, now: datetime | None = None) -> date:
        return (now or utcnow()).astimezone(self.zone).date()

    async def _data(self, ctx: CommandContext, text: str | None
                    ) -> tuple[Filter, list[tuple[IndexStay, str]], list[Return]] | None:
        """The stays of the period asked for, all wards (a patient's index stay is chosen
        among them before a ward is), with their risk level, and all returns; or a reply."""
        try:
            wanted = Filter.parse(text, self.today())
        except ArgError as exc:
            ctx.reply(exc.text(ctx.lang))
            return None
        stays, returns = await records.indicator_data(ctx.tx)
        if wanted.ward is not None:
            wards = {s.ward for s, _ in stays if s.ward}
            match = next((w for w in wards if w.casefold() == wanted.ward.casefold()), None)
            if match is None:
                ctx.reply(t(ctx.lang, "stats.unknown_ward", ward=wanted.ward,
                            known=", ".join(sorted(wards)) or "—"))
                return None
            wanted.ward = match
        first, last = wanted.period
        chosen = [(s, risk) for s, risk in stays if first <= month_of(s.discharged_on) <= last]
        return wanted, chosen, returns

    async def stats(self, ctx: CommandContext, filter_: str | None) -> None:
        found = await self._data(ctx, filter_)
        if found is None:
            return
        wanted, stays, returns = found
        rows = stats([s for s, _ in stays], returns, self.today(), ward=wanted.ward,
                     all_wards=ALL_WARDS)
        ctx.reply(stats_html(rows, ctx.lang, wanted.period, wanted.ward, ALL_WARDS,
                             await _compliance(ctx.tx, wanted.period, wanted.ward)))

    async def export(self, ctx: CommandContext, filter_: str | None) -> None:
        found = await self._data(ctx, filter_)
        if found is None:
            return
        wanted, stays, returns = found
        found_outcomes = outcomes([s for s, _ in stays], returns, self.today())
        lines = [(o, risk) for o, (_, risk) in zip(found_outcomes, stays, strict=True)
                 if wanted.ward is None or o.stay.ward == wanted.ward]
        data = export_csv(lines)
        first, last = wanted.period
        name = f"rh30-{first}-{last}{'-' + wanted.ward if wanted.ward else ''}.csv"
        ctx.tx.post(ctx.room_id, attachment(name.replace(" ", "_"), data, "text/csv"),
                    cause_event_id=ctx.event_id)
        ctx.reply(t(ctx.lang, "export.done", n=len(lines), first=first, last=last))

    # --- the monthly report ----------------------------------------------------------------

    async def monthly_job(self, ctx: JobContext) -> None:
        """On the first of the month: the last 12 months of discharges in every open
        coordination room, a table and a chart."""
        today = self.today(ctx.now)
        period = months_back(today - timedelta(days=today.day), DEFAULT_MONTHS)
        stays, returns = await records.indicator_data(ctx.tx)
        chosen = [s for s, _ in stays if period[0] <= month_of(s.discharged_on) <= period[1]]
        rows = stats(chosen, returns, today, all_wards=ALL_WARDS)
        checked = await _compliance(ctx.tx, period, None)
        for room in await care_rooms.coordination_rooms(ctx.tx):
            if room.status == "open" and room.room_id:
                self._post_report(ctx.tx, room.room_id, rows, room.language,  # type: ignore
                                  period, checked)
        self._schedule_next(ctx.tx, ctx.runtime, today)

    def _post_report(self, tx: Transaction, room_id: str, rows: list[Counts], lang: Lang,
                     period: tuple[str, str], checked: list[Compliance]) -> None:
        tx.post(room_id, notice(t(lang, "report.intro", table=stats_html(
            rows, lang, period, None, ALL_WARDS, checked))))
        if any(c.month != "total" for c in rows):
            png, width, height = chart_png(rows, lang, ALL_WARDS)
            tx.post(room_id, attachment(f"rh30-{period[1]}.png", png, "image/png",
                                        msgtype="m.image", w=width, h=height))

    def _first_of_next_month(self, today: date) -> datetime:
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        return wall_clock(first, self.post_at, self.zone)

    def _schedule_next(self, tx: Transaction, runtime: Runtime, today: date) -> None:
        when = self._first_of_next_month(today)
        runtime.scheduler.schedule(tx, REPORT, _key(when.date()), when)

    async def keep_scheduled(self, runtime: Runtime) -> None:
        """At start: the next monthly report is planned (once: its key is the month)."""
        try:
            async with runtime.transaction() as tx:
                when = self._first_of_next_month(self.today())
                planned = await tx.session.scalar(select(ScheduledJob.id).where(
                    ScheduledJob.account == tx.account, ScheduledJob.key == _key(when.date())))
                if planned is None:
                    self._schedule_next(tx, runtime, self.today())
        except IntegrityError:
            # The other bots process (PostgreSQL) planned it at the same moment: the key's
            # unique row is theirs, and planned once.
            log.info("monthly report planned by the other process")


async def _compliance(tx: Transaction, period: tuple[str, str],
                      ward: str | None) -> list[Compliance]:
    """The validated checklists of the period (of `ward`), compliance by ward."""
    return compliance([(w, ok) for w, day, ok in await records.compliance_data(tx)
                       if period[0] <= month_of(day) <= period[1]
                       and (ward is None or w == ward)], ALL_WARDS)


def _key(first: date) -> str:
    return f"followup:report:{month_of(first)}"
