"""The rows the Indicators page is computed from, for one person's scope: the patient rooms
whose team has them (any status: last month's closed rooms count), or every patient room of
the records when they are in an open coordination room's team (its aggregates, as `!rh30
stats` gives them there). Database only; the follow-up's figures and the bridge's mail counts
through the readers the composition gives (bots/episode/figures.py)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.config import StructureConfig
from bots.dashboard import usage_records
from bots.dashboard.indicators import Inputs, Room, month_days, sent_on_j0
from bots.episode.figures import FiguresReader, MailCounter
from bots.episode.models import Handover
from bots.runtime.store import Transaction, as_utc


async def scope(tx: Transaction, user_id: str) -> tuple[list[Room], str | None]:
    """The patient rooms whose figures this person sees (see the module's docstring), and
    whose team they must be in (None: every room, a coordinator's)."""
    present = (TeamMember.user_id == user_id) & (TeamMember.desired == "present")
    coordinator = await tx.session.scalar(
        select(CareRoom.id).join(TeamMember, TeamMember.care_room_id == CareRoom.id)
        .where(CareRoom.account == tx.account, CareRoom.kind == COORDINATION,
               CareRoom.status == "open", present).limit(1))
    query = select(CareRoom.room_id, CareRoom.ref, CareRoom.ward, CareRoom.status,
                   CareRoom.opened_at).where(
        CareRoom.account == tx.account, CareRoom.kind == PATIENT,
        CareRoom.room_id.is_not(None), CareRoom.ref.is_not(None))
    if coordinator is None:
        query = query.join(TeamMember, TeamMember.care_room_id == CareRoom.id).where(present)
    rooms = [Room(room_id, ref, ward, status,
                  as_utc(opened).date() if opened is not None else None)
             for room_id, ref, ward, status, opened in (await tx.session.execute(query)).all()]
    return rooms, None if coordinator is not None else user_id


async def _letters(tx: Transaction, room_ids: AbstractSet[str], zone: ZoneInfo
                   ) -> list[tuple[str | None, date, bool]]:
    """(ward, discharge day, letter sent that day) of each validated discharge the hospital
    did not cancel (CLINICAL §2)."""
    discharges = (await tx.session.execute(
        select(CareRoom.room_id, Handover.ward, Handover.discharged_on, Handover.letter_at)
        .join(CareRoom, CareRoom.id == Handover.care_room_id)
        .where(Handover.account == tx.account, Handover.cancelled_at.is_(None)))).all()
    return [(ward, day, sent_on_j0(day, as_utc(at) if at is not None else None, zone))
            for room, ward, day, at in discharges if room in room_ids]


async def inputs(tx: Transaction, user_id: str, months: tuple[str, str], today: date,
                 zone: ZoneInfo, figures: FiguresReader, mails: MailCounter,
                 structures: Sequence[StructureConfig] = ()) -> Inputs:
    rooms, member = await scope(tx, user_id)
    ids = {r.room_id for r in rooms}
    first, last = month_days(months)
    return Inputs(
        months=months, today=today, rooms=rooms,
        activity=await usage_records.activity(tx, member, months),
        answers=await usage_records.answers(tx, member, first, last),
        recent=await usage_records.updated_since(tx, member, today - timedelta(days=29)),
        mails=await mails(tx, ids, first, last),
        letters=await _letters(tx, ids, zone),
        followup=await figures(tx, {r.ref for r in rooms}, months, today),
        structures=structures)
