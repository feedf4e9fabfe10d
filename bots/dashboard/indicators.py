"""What the Indicators page shows (docs/DASHBOARD.md, definitions in docs/CLINICAL.md §2, §3,
§6): tables by month and ward, each with its definition, its CSV, and the charts. Pure: the rows
read for the person's scope in, tables, CSV text and SVG out.

The RH7 / RH30 figures, the checklists' compliance and the follow-up steps come computed by the
follow-up's own code (bots/episode/figures.py): nothing is counted twice here.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bots.common.dates import month_of
from bots.common.spreadsheet import csv_bytes
from bots.config import StructureConfig
from bots.episode.figures import FollowupFigures, Rate
from bots.runtime.i18n import Lang

ALL_WARDS = "tous"
Value = str | int | float | None


@dataclass(frozen=True)
class Room:
    """A patient room in the person's scope."""

    room_id: str
    ref: str
    ward: str | None
    status: str
    opened_on: date | None


@dataclass(frozen=True)
class Inputs:
    months: tuple[str, str]  # YYYY-MM, inclusive
    today: date
    rooms: Sequence[Room]  # those opened in the period, and those its mails went to
    # month, ward, sender, their role in the room's team, messages, commands
    activity: Sequence[tuple[str, str | None, str, str | None, int, int]]
    answers: Sequence[tuple[str, str | None, float]]  # month, ward, seconds waited
    # ward, open rooms, those with a message in the 30 days ending today
    open_rooms: Sequence[tuple[str | None, int, int]]
    mails: Sequence[tuple[str, date, str, int]]  # room, day, in | out, count
    letters: Sequence[tuple[str | None, date, bool]]  # ward, discharge day, letter sent on J0
    followup: FollowupFigures
    structures: Sequence[StructureConfig] = ()  # the configuration's, for the professionals


@dataclass(frozen=True)
class Table:
    """One table of the page: `name` (its CSV's and its texts' key), columns as (CSV name,
    text key), rows of values (None: no figure)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[Value, ...]] = field(default_factory=list)


def month_days(months: tuple[str, str]) -> tuple[date, date]:
    """The first and last days of a period of months."""
    first = date.fromisoformat(f"{months[0]}-01")
    after = date.fromisoformat(f"{months[1]}-01") + timedelta(days=32)
    return first, after.replace(day=1) - timedelta(days=1)


def rate(ok: int, of: int, lang: Lang) -> str | None:
    """`ok/of (x %)`, or None with nothing to count."""
    if not of:
        return None
    percent = f"{100 * ok / of:.1f}"
    return f"{ok}/{of} ({percent.replace('.', ',')} %)" if lang == "fr" \
        else f"{ok}/{of} ({percent}%)"


def median_minutes(seconds: Iterable[float]) -> float | None:
    found = list(seconds)
    return round(statistics.median(found) / 60, 1) if found else None


def _keys(month: str, ward: str | None) -> tuple[tuple[str, str], tuple[str, str]]:
    return (month, ward or "?"), (month, ALL_WARDS)


def _order(key: tuple[str, str]) -> tuple[str, bool, str]:
    return key[0], key[1] == ALL_WARDS, key[1]


def readmissions_table(inputs: Inputs, lang: Lang) -> Table:
    table = Table("rh30", (("month", "dash.ind.col.month"), ("ward", "dash.ind.col.ward"),
                           ("index_stays", "dash.ind.col.index_stays"),
                           ("rh7", "dash.ind.col.rh7"), ("rh30", "dash.ind.col.rh30"),
                           ("unplanned_rh30", "dash.ind.col.unplanned"),
                           ("avoidable", "dash.ind.col.avoidable"),
                           ("provisional", "dash.ind.col.provisional")))
    for r in inputs.followup.readmissions:
        table.rows.append((r.month, r.ward, r.discharges, rate(r.readmitted7, r.closed7, lang),
                           rate(r.readmitted30, r.closed30, lang),
                           rate(r.unplanned30, r.closed30, lang),
                           rate(r.avoidable, r.judged, lang),
                           "" if r.final else ("provisoire" if lang == "fr" else "provisional")))
    return table


def _rates(name: str, of_key: str, ok_key: str, rows: Sequence[Rate], lang: Lang) -> Table:
    table = Table(name, (("month", "dash.ind.col.month"), ("ward", "dash.ind.col.ward"),
                         (f"{name}_total", of_key), (f"{name}_ok", ok_key)))
    table.rows.extend((r.month, r.ward, r.of, rate(r.ok, r.of, lang)) for r in rows)
    return table


def sent_on_j0(discharged_on: date, letter_at: datetime | None, zone: ZoneInfo) -> bool:
    """A discharge's lettre de liaison counts as sent on J0 when it was recorded as sent on the
    discharge day itself, in the deployment's zone (not before, not after)."""
    return letter_at is not None and letter_at.astimezone(zone).date() == discharged_on


def letters_table(inputs: Inputs, lang: Lang) -> Table:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for ward, day, sent in inputs.letters:
        if not inputs.months[0] <= month_of(day) <= inputs.months[1]:
            continue
        for key in _keys(month_of(day), ward):
            of, ok = found.get(key, (0, 0))
            found[key] = (of + 1, ok + sent)
    return _rates("letters", "dash.ind.col.discharges", "dash.ind.col.letters_j0",
                  [Rate(m, w, of, ok) for (m, w), (of, ok) in sorted(found.items(),
                                                                     key=lambda kv: _order(kv[0]))],
                  lang)


def usage_table(inputs: Inputs) -> Table:
    """By month and ward: rooms opened, messages, commands, active professionals, median time
    to the first human answer, mails in and out."""
    ward_of = {r.room_id: r.ward for r in inputs.rooms}
    first, last = month_days(inputs.months)
    opened: dict[tuple[str, str], int] = defaultdict(int)
    messages: dict[tuple[str, str], int] = defaultdict(int)
    commands: dict[tuple[str, str], int] = defaultdict(int)
    active: dict[tuple[str, str], set[str]] = defaultdict(set)
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    mails: dict[tuple[str, str, str], int] = defaultdict(int)
    for room in inputs.rooms:
        if room.opened_on and first <= room.opened_on <= last:
            for key in _keys(month_of(room.opened_on), room.ward):
                opened[key] += 1
    for month, ward, sender, _, n, c in inputs.activity:
        for key in _keys(month, ward):
            messages[key] += n
            commands[key] += c
            active[key].add(sender)
    for month, ward, seconds in inputs.answers:
        for key in _keys(month, ward):
            waits[key].append(seconds)
    for room_id, day, direction, n in inputs.mails:
        for key in _keys(month_of(day), ward_of.get(room_id)):
            mails[(*key, direction)] += n
    keys = {*opened, *messages, *waits, *((m, w) for m, w, _ in mails)}
    table = Table("usage", (("month", "dash.ind.col.month"), ("ward", "dash.ind.col.ward"),
                            ("rooms_opened", "dash.ind.col.opened"),
                            ("messages", "dash.ind.col.messages"),
                            ("commands", "dash.ind.col.commands"),
                            ("active_professionals", "dash.ind.col.active"),
                            ("median_first_answer_min", "dash.ind.col.median"),
                            ("mails_in", "dash.ind.col.mails_in"),
                            ("mails_out", "dash.ind.col.mails_out")))
    for key in sorted(keys, key=_order):
        table.rows.append((*key, opened[key], messages[key], commands[key], len(active[key]),
                           median_minutes(waits[key]), mails[(*key, "in")],
                           mails[(*key, "out")]))
    return table


def structure_of(user_id: str, structures: Sequence[StructureConfig]
                 ) -> StructureConfig | None:
    """The configured structure a professional belongs to: the one listing them among its
    members, else the one listing their homeserver, else none (CLINICAL §6)."""
    server = user_id.partition(":")[2]
    return next((s for s in structures if user_id in s.members), None) \
        or next((s for s in structures if server in s.servers), None)


def professionals_table(inputs: Inputs, lang: Lang) -> Table:
    """Active professionals by month, role and structure (each counted once per role), the
    structure's FINESS number beside its name; those of no configured structure as "autre"."""
    other = "autre" if lang == "fr" else "other"
    found: dict[tuple[str, str, bool, str, str], set[str]] = defaultdict(set)
    for month, _, sender, role, _, _ in inputs.activity:
        structure = structure_of(sender, inputs.structures)
        # The unknown structure sorts after the named ones.
        key = (month, role or "—", structure is None,
               structure.name if structure else other,
               (structure.finess or "") if structure else "")
        found[key].add(sender)
    table = Table("professionals", (("month", "dash.ind.col.month"),
                                    ("role", "dash.ind.col.role"),
                                    ("structure", "dash.ind.col.structure"),
                                    ("finess", "dash.ind.col.finess"),
                                    ("active_professionals", "dash.ind.col.active")))
    for key in sorted(found):
        month, role, _, name, finess = key
        table.rows.append((month, role, name, finess or None, len(found[key])))
    return table


def up_to_date_table(inputs: Inputs, lang: Lang) -> Table:
    """Open patient rooms with a message in the 30 days ending today, by ward."""
    found: dict[str, tuple[int, int]] = {}
    for ward_, rooms, updated in inputs.open_rooms:
        for ward in (ward_ or "?", ALL_WARDS):
            of, ok = found.get(ward, (0, 0))
            found[ward] = (of + rooms, ok + updated)
    table = Table("up_to_date", (("ward", "dash.ind.col.ward"),
                                 ("open_rooms", "dash.ind.col.open_rooms"),
                                 ("updated_30_days", "dash.ind.col.updated")))
    table.rows.extend((ward, of, rate(ok, of, lang)) for ward, (of, ok) in sorted(
        found.items(), key=lambda kv: (kv[0] == ALL_WARDS, kv[0])))
    return table


def tables(inputs: Inputs, lang: Lang) -> list[Table]:
    """Every table of the page, in its order."""
    return [readmissions_table(inputs, lang),
            _rates("checklists", "dash.ind.col.validated", "dash.ind.col.compliant",
                   inputs.followup.checklists, lang),
            letters_table(inputs, lang),
            _rates("steps", "dash.ind.col.steps_due", "dash.ind.col.steps_on_time",
                   inputs.followup.steps, lang),
            usage_table(inputs), professionals_table(inputs, lang), up_to_date_table(inputs, lang)]


def only_ward(table: Table, ward: str | None) -> Table:
    """The rows of one ward (the tables whose second column is the ward), or all."""
    if ward is None or table.columns[1][0] != "ward":
        return table
    return Table(table.name, table.columns, [r for r in table.rows if r[1] == ward])


def export_csv(table: Table) -> bytes:
    """The table as CSV: a header of stable English names, UTF-8, text cells neutralised."""
    return csv_bytes([name for name, _ in table.columns], table.rows)


def chart_svg(labels: Sequence[str], bars: Sequence[float], bar_label: str,
              line: Sequence[float] | None, line_label: str, title: str, unit: str) -> bytes:
    """A monthly chart: bars, and a line beside them. SVG bytes (matplotlib, Agg, in memory)."""
    # Imported here: matplotlib takes half a second to load; only this page needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5), dpi=100)
    ax = fig.subplots()
    ax.bar(list(labels), list(bars), color="#3d7ebf", label=bar_label)
    if line is not None:
        ax.plot(list(labels), list(line), color="#b35900", marker="o", label=line_label)
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def monthly(table: Table, column: str, ward: str = ALL_WARDS) -> tuple[list[str], list[float]]:
    """A column of a month × ward table for one ward, as numbers (a rate's percentage)."""
    at = [name for name, _ in table.columns].index(column)
    labels, values = [], []
    for row in table.rows:
        if row[1] != ward:
            continue
        value = row[at]
        labels.append(str(row[0]))
        if isinstance(value, str):  # "n/of (x %)"
            value = float(value.rpartition("(")[2].split()[0].strip(")%").replace(",", "."))
        values.append(float(value) if value is not None else float("nan"))
    return labels, values
