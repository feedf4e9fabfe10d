"""The RH30 indicator as people read it: the period asked for, the table for a coordination
room, the CSV export (pseudonymous references only) and the monthly chart. Pure: counts and
outcomes in, HTML, CSV text and PNG bytes out.

Rates only use closed windows; a month whose windows are not all closed is marked provisional,
and its open windows are shown apart with the readmissions already known in them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date

from bots.common.dates import months_back
from bots.common.spreadsheet import csv_bytes
from bots.followup.indicator import Compliance, Counts, Outcome
from bots.runtime.commands import ArgError
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join

DEFAULT_MONTHS = 12
_MONTH = re.compile(r"^(?:(?P<y>\d{4})-(?P<m>\d{1,2})|(?P<m2>\d{1,2})/(?P<y2>\d{4}))$")
_LAST = re.compile(r"^(?P<n>\d{1,2})\s?m(?:ois)?$")
CSV_COLUMNS = ("ref", "ward", "discharged_on", "discharge_mode", "iterative", "risk", "excluded",
               "exclusion", "window_30_closed", "readmitted_7", "readmitted_30",
               "unplanned_readmitted_30", "first_delay_days", "same_day_returns", "ed_visits",
               "planned_readmissions", "avoidable")


def _month(text: str) -> str | None:
    m = _MONTH.match(text)
    if m is None:
        return None
    year, month = int(m["y"] or m["y2"]), int(m["m"] or m["m2"])
    if not 1 <= month <= 12:
        raise ArgError("followup.bad_period", value=text)
    return f"{year:04d}-{month:02d}"


def parse_period(text: str, today: date) -> tuple[str, str] | None:
    """A period as typed: 2026 (the year), 2026-10 or 10/2026 (a month), 2026-01..2026-06 (a
    range), 6m (the last six months). None if `text` is not a period (it may be a ward)."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d{4}", raw):
        return f"{raw}-01", f"{raw}-12"
    if (m := _LAST.match(raw)):
        n = int(m["n"])
        if not 1 <= n <= 60:
            raise ArgError("followup.bad_period", value=text)
        return months_back(today, n)
    first, sep, last = raw.partition("..")
    if sep:
        a, b = _month(first), _month(last)
        if a is None or b is None or a > b:
            raise ArgError("followup.bad_period", value=text)
        return a, b
    single = _month(raw)
    return (single, single) if single else None


def _rate(lang: Lang, n: int, of: int) -> str:
    if not of:
        return "—"
    percent = f"{100 * n / of:.1f}"
    return f"{n}/{of} ({percent.replace('.', ',')} %)" if lang == "fr" \
        else f"{n}/{of} ({percent}%)"


def _row(lang: Lang, c: Counts, label: str) -> Html:
    judged = c.avoidable + c.not_avoidable
    return t(lang, "stats.row", label=label, discharges=c.discharges,
             excluded=c.excluded + c.repeat,
             rh7=_rate(lang, c.readmitted7, c.closed7),
             rh30=_rate(lang, c.readmitted30, c.closed30),
             unplanned=_rate(lang, c.unplanned30, c.closed30),
             provisional=t(lang, "stats.provisional") if not c.final else "",
             open=f"{c.open30} ({c.open_readmitted30})" if c.open30 else "—",
             same_day=c.same_day, ed=c.ed_visits, planned=c.planned,
             avoidable=_rate(lang, c.avoidable, judged) if judged else "—",
             not_judged=c.not_judged)


def compliance_html(rows: Sequence[Compliance], lang: Lang) -> Html:
    if not rows:
        return Html("")
    return t(lang, "stats.compliance", rows=join([
        t(lang, "stats.compliance_row", ward=c.ward, rate=_rate(lang, c.compliant, c.checklists))
        for c in rows]))


def stats_html(rows: Sequence[Counts], lang: Lang, period: tuple[str, str],
               ward: str | None, all_wards: str,
               compliance: Sequence[Compliance] = ()) -> Html:
    """By month (all wards, or the ward asked for), the total, then the total of each ward,
    what each figure means, and the checklists' compliance by ward."""
    wanted = ward or all_wards
    by_month = [_row(lang, c, c.month) for c in rows if c.month != "total" and c.ward == wanted]
    total = [_row(lang, c, t(lang, "stats.total")) for c in rows
             if c.month == "total" and c.ward == wanted]
    wards = [_row(lang, c, c.ward) for c in rows if c.month == "total" and c.ward != all_wards]
    if not by_month:
        return t(lang, "stats.empty", first=period[0], last=period[1],
                 ward=ward or t(lang, "stats.all_wards"))
    return t(lang, "stats.table", first=period[0], last=period[1],
             ward=ward or t(lang, "stats.all_wards"), head=t(lang, "stats.head"),
             rows=join([*by_month, *total]),
             by_ward=t(lang, "stats.by_ward", head=t(lang, "stats.head"), rows=join(wards))
             if ward is None and len(wards) > 1 else "",
             definitions=t(lang, "stats.definitions"),
             compliance=compliance_html(compliance, lang))


def export_csv(outcomes: Sequence[tuple[Outcome, str]]) -> bytes:
    """One line per stay with its pseudonymous reference (never identity); `str` is the risk
    level. Text cells neutralised (bots/common/spreadsheet.py)."""
    return csv_bytes(CSV_COLUMNS, ((
        o.stay.ref, o.stay.ward or "", o.stay.discharged_on.isoformat(), o.stay.mode,
        int(o.stay.iterative), risk, int(o.excluded), o.exclusion or "", int(o.closed30),
        int(o.readmitted7), int(o.readmitted30), int(o.unplanned30),
        "" if o.first_delay is None else o.first_delay, o.same_day, o.ed_visits, o.planned,
        "" if not o.unplanned30 else {True: "yes", False: "no", None: "not_judged"}[o.avoidable])
        for o, risk in outcomes))


def chart_png(rows: Sequence[Counts], lang: Lang, all_wards: str) -> tuple[bytes, int, int]:
    """Official (all-cause) RH30 and RH7 by month of discharge (all wards): bars for RH30, hatched while the month
    is provisional, a line for RH7. PNG bytes, width and height in pixels."""
    # Imported here: matplotlib takes half a second to load and only this monthly chart needs it.
    import matplotlib

    matplotlib.use("Agg")  # no display: the bots run headless
    from matplotlib.figure import Figure

    months = [c for c in rows if c.month != "total" and c.ward == all_wards]
    labels = [c.month for c in months]
    rh30 = [100 * (c.rh30 or 0) for c in months]
    rh7 = [100 * c.rh7 if c.rh7 is not None else float("nan") for c in months]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    bars = ax.bar(labels, rh30, color="#3d7ebf", label=str(t(lang, "chart.rh30")))
    for bar, c in zip(bars, months, strict=True):
        if not c.final:
            bar.set_alpha(0.45)
            bar.set_hatch("//")
    ax.plot(labels, rh7, color="#d9822b", marker="o", label=str(t(lang, "chart.rh7")))
    ax.set_ylabel("%")
    ax.set_ylim(bottom=0)
    ax.set_title(str(t(lang, "chart.title")))
    ax.legend(loc="upper left")
    ax.tick_params(axis="x", labelrotation=45)
    fig.text(0.01, 0.01, str(t(lang, "chart.note")), fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    width, height = (int(v) for v in fig.get_size_inches() * fig.dpi)
    return buffer.getvalue(), width, height
