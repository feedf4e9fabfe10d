"""The rows the Indicators page is computed from, for one person's scope: the patient rooms
whose team has them (any status: last month's closed rooms count), or every patient room of
the records when they are in an open coordination room's team (its aggregates, as `!rh30
stats` gives them there). Database only; the follow-up's figures and the bridge's mail counts
through the readers the composition gives (bots/episode/figures.py). A coordinator's scope may
be 20,000 rooms: it is filtered and counted in the database, never read room by room
(bench/dashboard.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.config import StructureConfig
from bots.dashboard import usage_records
from bots.dashboard.indicator_cache import DAILY, DayCache, merged, open_span, settled_part
from bots.dashboard.indicators import Inputs, Room, Table, month_days, sent_on_j0, tables
from bots.episode.figures import FiguresReader, FollowupFigures, MailCounter
from bots.episode.models import Handover
from bots.runtime.i18n import Lang
from bots.runtime.store import Transaction, as_utc

# What each table is computed from (indicators.py): a request for one table reads no more.
NEEDS = {"rh30": "figures", "checklists": "figures", "letters": "letters", "steps": "figures",
         "usage": "usage", "professionals": "usage", "up_to_date": "open_rooms"}
_BATCH = 500  # room IDs in one IN (...): SQLite's bound parameters are few


@dataclass(frozen=True)
class Scope:
    """The rooms a person sees: every patient room of the records (`member` None, a
    coordinator's), or those whose team has `member`, with their room IDs and references."""

    member: str | None
    rooms: frozenset[str] | None = None
    refs: frozenset[str] | None = None

    @property
    def key(self) -> str:
        """The scope's name in the day's cache: the same rooms, the same name (a team joined
        or left makes another)."""
        if self.rooms is None:
            return "*"
        return hashlib.sha256("\n".join(sorted(self.rooms)).encode()).hexdigest()


async def scope(tx: Transaction, user_id: str) -> Scope:
    """The person's scope (see the module's docstring)."""
    present = (TeamMember.user_id == user_id) & (TeamMember.desired == "present")
    coordinator = await tx.session.scalar(
        select(CareRoom.id).join(TeamMember, TeamMember.care_room_id == CareRoom.id)
        .where(CareRoom.account == tx.account, CareRoom.kind == COORDINATION,
               CareRoom.status == "open", present).limit(1))
    if coordinator is not None:
        return Scope(None)
    # Every room of theirs with a Matrix room, a reference or not: its usage rows are read, so
    # the cache's key must name it.
    rows = (await tx.session.execute(
        select(CareRoom.room_id, CareRoom.ref)
        .join(TeamMember, TeamMember.care_room_id == CareRoom.id)
        .where(CareRoom.account == tx.account, CareRoom.kind == PATIENT,
               CareRoom.room_id.is_not(None), present))).all()
    return Scope(user_id, frozenset(r for r, _ in rows),
                 frozenset(ref for _, ref in rows if ref is not None))


def _rooms_query(tx: Transaction, who: Scope) -> Select[tuple[str, str, str | None, str,
                                                              datetime | None]]:
    return select(CareRoom.room_id, CareRoom.ref, CareRoom.ward, CareRoom.status,
                  CareRoom.opened_at).where(
        CareRoom.account == tx.account, CareRoom.room_id.is_not(None),
        CareRoom.ref.is_not(None), usage_records.in_scope(who.member))


async def _rooms(tx: Transaction, who: Scope, first: date, last: date,
                 mailed: AbstractSet[str]) -> list[Room]:
    """The rooms in scope opened between two days (by the UTC day of `opened_at`, as
    `Room.opened_on`), and those among `mailed` (the ward their mails count for)."""
    query = _rooms_query(tx, who)
    rows = list((await tx.session.execute(query.where(
        CareRoom.opened_at >= datetime.combine(first, time(), UTC),
        CareRoom.opened_at < datetime.combine(last + timedelta(days=1), time(), UTC)))).all())
    others = sorted(mailed - {row[0] for row in rows})
    for at in range(0, len(others), _BATCH):
        rows += (await tx.session.execute(
            query.where(CareRoom.room_id.in_(others[at:at + _BATCH])))).all()
    return [Room(room_id, ref, ward, status, as_utc(opened).date() if opened else None)
            for room_id, ref, ward, status, opened in rows]


async def _letters(tx: Transaction, who: Scope, first: date, last: date, zone: ZoneInfo
                   ) -> list[tuple[str | None, date, bool]]:
    """(ward, discharge day, letter sent that day) of each validated discharge between two
    days (CLINICAL §2; one the hospital cancelled has no hand-over any more)."""
    discharges = (await tx.session.execute(
        select(Handover.ward, Handover.discharged_on, Handover.letter_at)
        .join(CareRoom, CareRoom.id == Handover.care_room_id)
        .where(Handover.account == tx.account,
               Handover.discharged_on >= first, Handover.discharged_on <= last,
               CareRoom.room_id.is_not(None), CareRoom.ref.is_not(None),
               usage_records.in_scope(who.member)))).all()
    return [(ward, day, sent_on_j0(day, as_utc(at) if at is not None else None, zone))
            for ward, day, at in discharges]


async def inputs(tx: Transaction, who: Scope, months: tuple[str, str], today: date,
                 zone: ZoneInfo, figures: FiguresReader, mails: MailCounter, *,
                 structures: Sequence[StructureConfig] = (),
                 reads: AbstractSet[str] = frozenset(NEEDS.values()),
                 readmissions: bool = True) -> Inputs:
    """The rows of a period for a scope; only those `reads` names (NEEDS), the others empty;
    without the RH7 / RH30 figures unless `readmissions`."""
    first, last = month_days(months)
    usage = "usage" in reads
    mailed = await mails(tx, who.rooms, first, last) if usage else []
    rooms = await _rooms(tx, who, first, last, {m[0] for m in mailed}) if usage else []
    ids = {r.room_id for r in rooms}
    return Inputs(
        months=months, today=today, rooms=rooms,
        activity=await usage_records.activity(tx, who.member, months) if usage else [],
        answers=await usage_records.answers(tx, who.member, first, last) if usage else [],
        open_rooms=await usage_records.up_to_date(tx, who.member, today - timedelta(days=29))
        if "open_rooms" in reads else [],
        mails=[m for m in mailed if m[0] in ids],
        letters=await _letters(tx, who, first, last, zone) if "letters" in reads else [],
        followup=await figures(tx, who.refs, months, today, readmissions)
        if "figures" in reads else FollowupFigures([], [], []),
        structures=structures)


async def page_tables(tx: Transaction, user_id: str, months: tuple[str, str], today: date,
                      zone: ZoneInfo, figures: FiguresReader, mails: MailCounter, lang: Lang,
                      kept: DayCache, names: AbstractSet[str] | None = None,
                      structures: Sequence[StructureConfig] = ()) -> list[Table]:
    """The tables `names` (None: all) of a person's scope for a period, in the page's order:
    on the first page of the day for this scope and period, every table computed and their
    settled part kept; on the next ones, the open months read again and put after it
    (bots/dashboard/indicator_cache.py)."""
    return await _scope_tables(tx, await scope(tx, user_id), months, today, zone, figures,
                               mails, lang, kept, names, structures)


async def warm(tx: Transaction, months: tuple[str, str], today: date, zone: ZoneInfo,
               figures: FiguresReader, mails: MailCounter, lang: Lang, kept: DayCache,
               structures: Sequence[StructureConfig] = ()) -> bool:
    """The coordinators' tables of a period computed and kept for the day, unless they are
    already: done after midnight, so that no coordinator's first page of the day waits for the
    whole period (docs/DASHBOARD.md, Speed). True when computed now."""
    if kept.get(today, (tx.account, Scope(None).key, months, lang)) is not None:
        return False
    await _scope_tables(tx, Scope(None), months, today, zone, figures, mails, lang, kept,
                        frozenset(), structures)
    return True


async def _scope_tables(tx: Transaction, who: Scope, months: tuple[str, str], today: date,
                        zone: ZoneInfo, figures: FiguresReader, mails: MailCounter, lang: Lang,
                        kept: DayCache, names: AbstractSet[str] | None,
                        structures: Sequence[StructureConfig]) -> list[Table]:
    key = (tx.account, who.key, months, lang)
    found = kept.get(today, key)
    if found is None:
        full = tables(await inputs(tx, who, months, today, zone, figures, mails,
                                   structures=structures), lang)
        kept.put(today, key, settled_part(full, today))
        return [table for table in full if names is None or table.name in names]
    # The open months of each table, read together when they are the same (indicator_cache).
    asked = set(NEEDS) if names is None else set(names)
    groups: dict[tuple[str, str], set[str]] = {}
    for name in asked - DAILY - {"up_to_date"}:
        span = open_span(months, today, name)
        if name in NEEDS and span is not None:
            groups.setdefault(span, set()).add(NEEDS[name])
    if not groups:  # every month kept: the tables' shapes, and what is as of today
        groups[months] = set()
    if "up_to_date" in asked:  # as of today, whatever the period: with any of the reads
        next(iter(groups.values())).add(NEEDS["up_to_date"])
    fresh: dict[str, Table] = {}
    shapes: list[Table] = []
    for span, reads in groups.items():
        read = tables(await inputs(tx, who, span, today, zone, figures, mails,
                                   structures=structures, reads=reads, readmissions=False), lang)
        shapes = shapes or read
        fresh.update((table.name, table) for table in read if NEEDS.get(table.name) in reads)
    return [table for table in merged(found, [fresh.get(t.name, t) for t in shapes])
            if names is None or table.name in names]
