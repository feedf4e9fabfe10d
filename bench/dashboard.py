"""The coordinator dashboard's pages with 20,000 patient rooms: Today and Indicators rendered,
against a plain SQL count of the same rows.

    python -m bench.dashboard [--rooms 20000] [--mine 200] [--n 50] [--today 2026-12-05] [--cold]
                              [--doc docs/PERFORMANCE.md]

No homeserver: a fresh SQLite file migrated to head, `--rooms` patient rooms (identity sealed,
as the care-team bot stores them) in four wards, a coordinator in the team of `--mine` of them
and of the coordination room (so Indicators covers every room), a year of usage aggregates up
to `--today` (12 day-and-sender rows and 3 answers per room), and a follow-up plan with 5 steps
for a quarter of the rooms. Each page is its reads plus the template rendered, as the dashboard
does for a request (bots/dashboard/today.py, indicator_data.py, indicators.py): Indicators with
the day's cache filled by the warm-up, as every page after the first of the day finds it;
`--cold` also measures the first page of the day (an empty cache each time). The baseline counts
the rows each page reads with one bare sqlite3 query, in the same run. Prints p50/p99 of both
and their ratio; `--doc` writes them to a section of the performance page (one section per
`--today`).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.lib import report
from bots.common.dates import month_of, months_back
from bots.common.identity import make_identity
from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.common.records import PatientFile
from bots.dashboard.indicator_cache import DayCache
from bots.dashboard.indicator_data import page_tables
from bots.dashboard.models import UsageAnswer, UsageCount, UsageMonth
from bots.dashboard.texts import TEXTS as DASHBOARD_TEXTS
from bots.dashboard.today import patient_lines, today_of
from bots.dashboard.views import render
from bots.discharge.records import ChecklistProgress
from bots.discharge.template import load_templates
from bots.followup.figures import figures_reader
from bots.followup.models import FollowupPlan, FollowupStep
from bots.followup.records import FollowupWorkReader
from bots.followup.schedule import load_schedules
from bots.runtime import i18n
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault
from bridge.records import mail_counter

ACCOUNT, COORD, SERVER = "@bot:bench", "@coord:bench", "bench"
PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 12, 5)  # the default `--today`
WARDS = ("Cardiologie", "Gériatrie", "Médecine interne", "Pneumologie")
HEADING = "## Coordinator dashboard: Today and Indicators with 20,000 patient rooms"
EXPLAINED = [
    "Where the time goes. First page of the day: every table of the year computed, as before "
    "the cache (the twelve months' usage sums, the year's first answers and follow-up steps, "
    "the RH30 figures over every discharge). The pages after it read only the open months "
    "(the usage, answers, mails and rooms opened of December; the letters, checklists and "
    "steps of November and December) and count the open rooms kept up to date in SQL; the RH30 table and the settled months' rows "
    "come from the cache, rebuilt on the first page of the next day. A coordinator's 20,000 "
    "rooms are never read one by one: the scope is a condition of each query.",
]


def _letters(i: int) -> str:
    """A name for room i (names take letters only)."""
    return "".join(chr(ord("A") + int(d)) for d in str(i))


async def fill(store: Store, rooms: int, mine: int, today: date) -> None:
    rng = random.Random(18)
    now = datetime(today.year, today.month, today.day, 8, tzinfo=UTC)
    async with store.transaction(ACCOUNT) as tx:
        coordination = CareRoom(account=ACCOUNT, kind=COORDINATION, room_id="!coord:bench",
                                status="open", sealed=b"", language="fr", created_at=now)
        tx.session.add(coordination)
        await tx.session.flush()
        tx.session.add(TeamMember(care_room_id=coordination.id, user_id=COORD, role="DAC",
                                  desired="present", applied=True, language="fr",
                                  updated_at=now))
    for start in range(0, rooms, 1000):
        async with store.transaction(ACCOUNT) as tx:
            batch = []
            for i in range(start, min(rooms, start + 1000)):
                ref, opened = f"P-{i:06d}", now - timedelta(days=rng.randrange(365))
                identity = make_identity(f"NOM {_letters(i)}", "Prénom", date(1940, 1, 1) + timedelta(
                    days=i % 20000), "F")
                room = CareRoom(account=ACCOUNT, kind=PATIENT, room_id=f"!p{i}:bench", ref=ref,
                                status="open" if i % 3 else "closed", ward=WARDS[i % 4],
                                language="fr", created_at=opened, opened_at=opened,
                                sealed=PatientFile(identity, opened.date()).seal(
                                    tx, CareRoom.bind("sealed", ACCOUNT, ref)))
                batch.append(room)
            tx.session.add_all(batch)
            await tx.session.flush()
            for i, room in zip(range(start, start + len(batch)), batch, strict=True):
                team = [("@ide:bench", "IDE"), (f"@mt{i % 50}:ville", "MT")]
                if i < mine:
                    team.append((COORD, "DAC"))
                tx.session.add_all(TeamMember(care_room_id=room.id, user_id=user, role=role,
                                              desired="present", applied=True, language="fr",
                                              updated_at=now) for user, role in team)
                # The monthly rows beside the day rows, as the usage observer writes them.
                months: dict[tuple[str, str], list[int]] = {}
                for k in range(12):  # one a month: the keys stay distinct
                    day = today - timedelta(days=30 * k + rng.randrange(30))
                    sender = team[k % 2][0] if k % 3 else f"@x{k}:b"
                    messages, commands = rng.randrange(1, 9), rng.randrange(3)
                    tx.session.add(UsageCount(account=ACCOUNT, room_id=room.room_id, day=day,
                                              sender=sender, messages=messages,
                                              commands=commands))
                    sums = months.setdefault((month_of(day), sender), [0, 0])
                    sums[0] += messages
                    sums[1] += commands
                tx.session.add_all(UsageMonth(account=ACCOUNT, month=month, room_id=room.room_id,
                                              sender=sender, messages=n, commands=c)
                                   for (month, sender), (n, c) in months.items())
                for k in range(3):
                    tx.session.add(UsageAnswer(
                        account=ACCOUNT, event_id=f"$a{i}-{k}", room_id=room.room_id,
                        day=today - timedelta(days=rng.randrange(365)),
                        seconds=rng.uniform(30, 7200)))
                if i % 4 == 0:
                    discharged = today - timedelta(days=rng.randrange(365))
                    plan = FollowupPlan(account=ACCOUNT, care_room_id=room.id,
                                        room_id=room.room_id, schedule="rh30-standard",
                                        status="closed", discharged_on=discharged, risk="high",
                                        conditions="", ward=room.ward, language="fr",
                                        started_by=COORD, created_at=now)
                    tx.session.add(plan)
                    await tx.session.flush()
                    tx.session.add_all(FollowupStep(
                        plan_id=plan.id, step=s, day=discharged + timedelta(days=2 * s + 1),
                        state="done" if s % 2 else "posted", note=b"",
                        at=now if s % 2 else None) for s in range(5))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def pages(store: Store, n: int, today: date, kept: DayCache | None
                ) -> tuple[list[float], list[float], int]:
    """`n` renders of Today and of Indicators, Indicators with the day's cache `kept` (None:
    each with an empty one, the first page of the day)."""
    i18n.register(DASHBOARD_TEXTS)  # as the care-team runtime does
    progress = ChecklistProgress(load_templates(), PARIS)
    figures, mails = figures_reader(PARIS), mail_counter(PARIS)
    work = FollowupWorkReader(load_schedules(), PARIS)
    months = months_back(today, 12)
    now = datetime(today.year, today.month, today.day, 9, tzinfo=UTC)
    today_ms, indicators_ms = [], []
    lines = 0
    for _ in range(n):
        started = time.perf_counter()
        async with store.reading(ACCOUNT) as tx:
            found = await patient_lines(tx, COORD, progress, work, None, now)
        render("today.html", "fr", user=COORD, csrf="x", page=today_of(found, today))
        today_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        async with store.reading(ACCOUNT) as tx:
            shown = await page_tables(tx, COORD, months, today, PARIS, figures, mails, "fr",
                                      DayCache() if kept is None else kept)
        render("indicators.html", "fr", user=COORD, csrf="x", tables=shown,
               wanted=type("F", (), {"months": months, "ward": None})(), wards=list(WARDS),
               query="", charts=["rh30", "usage"])
        indicators_ms.append(1000 * (time.perf_counter() - started))
        lines = len(found)
    return today_ms, indicators_ms, lines


def baseline(path: Path, n: int, today: date) -> tuple[list[float], list[float]]:
    """The same rows counted with one plain query each (what the pages read, no more)."""
    db = sqlite3.connect(path)
    today_ms, indicators_ms = [], []
    first = f"{months_back(today, 12)[0]}-01"
    for _ in range(n):
        started = time.perf_counter()
        db.execute("SELECT count(*) FROM care_rooms r JOIN care_team m ON m.care_room_id = r.id "
                   "WHERE r.account = ? AND r.kind = 'patient' AND r.status = 'open' "
                   "AND m.user_id = ? AND m.desired = 'present'", (ACCOUNT, COORD)).fetchall()
        today_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        db.execute("SELECT count(*), sum(messages), sum(commands) FROM usage_counts "
                   "WHERE account = ? AND day >= ?", (ACCOUNT, first)).fetchall()
        indicators_ms.append(1000 * (time.perf_counter() - started))
    db.close()
    return today_ms, indicators_ms


def measure(rooms: int, mine: int, n: int, today: date, cold: bool) -> list[str]:
    """The table's rows of one day, on its own data: the pages, then the baseline."""
    with tempfile.TemporaryDirectory(prefix="liaison-bench-dashboard-") as tmp:
        path = Path(tmp) / "bots.db"
        url = f"sqlite:///{path}"
        migrate(url)
        store = Store(url, Vault([Vault.new_key()]))

        async def run() -> list[tuple[str, list[float], int]]:
            try:
                started = time.perf_counter()
                await fill(store, rooms, mine, today)
                print(f"filled {rooms} rooms in {time.perf_counter() - started:.1f} s")
                kept = DayCache()
                await pages(store, 3, today, kept)  # warm-up: templates compiled, cache filled
                today_ms, warm, lines = await pages(store, n, today, kept)
                found = [("Today", today_ms, lines), ("Indicators, same day", warm, rooms)]
                if cold:
                    found.append(("Indicators, first of the day", (
                        await pages(store, n, today, None))[1], rooms))
                return found
            finally:
                await store.close()

        found = asyncio.run(run())
        base_today, base_indicators = baseline(path, n, today)
    rows = []
    for name, ms, read in found:
        base = base_today if name == "Today" else base_indicators
        p50, base50 = statistics.median(ms), statistics.median(base)
        rows.append(f"| {name} | {today:%d %b} | {read} rooms | {p50:.1f} | "
                    f"{percentile(ms, 0.99):.1f} | {base50:.2f} | {percentile(base, 0.99):.2f} | "
                    f"{p50 / base50:.1f}× |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = report.arguments("dashboard", __doc__)
    parser.add_argument("--rooms", type=int, default=20000, help="patient rooms (20000)")
    parser.add_argument("--mine", type=int, default=200,
                        help="rooms whose team has the coordinator (200)")
    parser.add_argument("--n", type=int, default=50, help="renders of each page (50)")
    parser.add_argument("--today", type=date.fromisoformat, nargs="+", default=[TODAY],
                        help="the days the pages are asked on, each on its own data ending "
                             "that day (2026-12-05)")
    parser.add_argument("--cold", action="store_true",
                        help="also the first Indicators page of the day (an empty cache)")
    parser.add_argument("--doc", type=Path, help="write the figures to this page's section")
    args = parser.parse_args(argv)
    table = ["| page | day | rows in scope | p50 ms | p99 ms | baseline p50 ms | "
             "baseline p99 ms | p50 / baseline |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for today in args.today:
        table += measure(args.rooms, args.mine, args.n, today, args.cold)
    print("\n".join(table))
    if args.doc:
        versions = report.versions(None)
        section = "\n".join([
            HEADING, "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.dashboard "
            f"{' '.join(report.shown_argv())}` (n={args.n} renders of each page).", "",
            f"- Machine: {report.machine()}, shared with other jobs while it ran: the absolute "
            "times move with the load, the ratio to the baseline measured in the same run is "
            "the figure to compare.",
            f"- Versions: Python {versions['python']}, SQLAlchemy {versions['SQLAlchemy']}, "
            f"aiosqlite {versions['aiosqlite']}; code {versions.get('code', '?')}.",
            f"- Data: {args.rooms} patient rooms (identity sealed), 4 wards, a third closed; the "
            f"coordinator in the team of {args.mine} and of the coordination room (Indicators "
            f"covers every room); 12 usage rows and 3 first answers per room over the year "
            f"ending on the day; a follow-up plan with 5 steps for a quarter of the rooms.",
            "- A page = its reads in one read-only transaction + the template rendered, without "
            "HTTP (the charts are separate requests). Indicators, same day: the day's cache "
            "filled (bots/dashboard/indicator_cache.py), the open months read again (the "
            "current month's usage; the checklists, letters and steps of the months whose "
            "30-day windows are open: November and December on 5 and 30 Dec); first of the "
            "day: the cache empty, every table computed and kept. Baseline: one bare sqlite3 count of the rows the page "
            "reads (Today: the coordinator's open rooms; Indicators: the year's usage rows).",
            "", *table, "", *EXPLAINED, "",
            report.rerun("dashboard", "not in the default run"), ""])
        report.write_doc(args.doc, section, HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
