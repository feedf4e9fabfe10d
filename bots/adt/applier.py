"""The ADT applier: the rows the intake process stored (bots/adt/inbox.py) turned into what a
person would otherwise have typed — a room opened, a discharge recorded, a readmission alerted —
through the care-team and follow-up bots' own code (the ports, bots/episode/movements.py).

Runs in the bots process as a service of the `adt` bot, on the care-team bot's account. The
intake is another process: new rows are found by polling (at start, then every second; the
`state` column is indexed). Each row is applied in one transaction with its effects and its new
state, after a conditional update that claims it: a crash rolls both back (the row is tried
again), and a row applied is never applied again. A row whose application raises is tried again
and, after `MAX_ATTEMPTS`, quarantined; the others go on. Quarantined rows are listed once in
the coordination rooms (event, control ID, sender, reason: never patient data).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bots.adt import aliases, render
from bots.adt.inbox import movement_of
from bots.adt.merge import NO_ROOM, ByHand, Side, action, by_hand
from bots.adt.messages import Movement, Refused
from bots.adt.models import AdtMessage
from bots.adt.order import ADMISSIONS, Pending, next_rows
from bots.common import records as care_rooms
from bots.common.identity import may_replace
from bots.common.models import CareRoom
from bots.common.render import room_link, when
from bots.config import WardConfig
from bots.episode.modes import Discharge
from bots.episode.movements import Episodes
from bots.episode.withdrawals import NONE
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join, notice
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between looks for new rows (PostgreSQL LISTEN/NOTIFY: later)
RECHECK_EVERY = 60.0  # seconds between looks at what changed on the rooms' side (`recheck`)
MAX_ATTEMPTS = 3  # a row whose application raises this often is quarantined
REPORT_BATCH = 50  # quarantined rows listed per message
BY = "adt"  # who recorded a discharge or a readmission (the follow-up's `by` columns)
# Admissions that record a readmission: a pre-admission (A05) is one to come.
RETURNS = frozenset({"A01", "A04"})
# The state of an admission's row once a later A11 cancelled it (a second A11 finds it so).
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Outcome:
    """What became of one row: its next state, the room it concerns, why it was set aside."""
    state: str  # applied | waiting | quarantined | stored (not yet: tried again next round)
    room: CareRoom | None = None
    reason: str | None = None
    field: str | None = None


LATER = Outcome("stored")
WAITING = Outcome("waiting")


def aside(reason: str, field: str | None) -> Outcome:
    return Outcome("quarantined", reason=reason, field=field)


def _todo(lang: Lang, left: list[ByHand]) -> Html:
    """What a merge leaves to a person, as a list (empty: nothing)."""
    return t(lang, "adt.merge_todo", items=join(
        [t(lang, f"adt.merge.{item}") for item in left])) if left else Html("")


class Applier:
    def __init__(self, wards: dict[str, WardConfig], episodes: Episodes, zone: ZoneInfo) -> None:
        self.wards, self.episodes, self.zone = wards, episodes, zone

    async def serve(self, runtime: Runtime) -> None:
        loop = asyncio.get_running_loop()
        rechecked = -RECHECK_EVERY
        while True:
            if loop.time() - rechecked >= RECHECK_EVERY:
                await self.recheck(runtime)
                rechecked = loop.time()
            await self.round(runtime)
            await asyncio.sleep(POLL_EVERY)

    async def recheck(self, runtime: Runtime) -> None:
        """At start and every `RECHECK_EVERY`: what the rooms' side may have changed without a
        row of the feed. Waiting rows are tried again (a person may have opened the room by
        hand: the advice for an admission set aside); an admission applied whose room the
        care-team bot could not create (an unknown team member: it deletes the request) is set
        aside, to be redone by hand."""
        async with runtime.transaction() as tx:
            await tx.session.execute(update(AdtMessage).where(AdtMessage.state == "waiting")
                                     .values(state="stored"))
            await tx.session.execute(update(AdtMessage).where(
                AdtMessage.state == "applied", AdtMessage.care_room_id.is_(None),
                AdtMessage.event.in_(ADMISSIONS)).values(state="quarantined",
                                                         reason="room_failed", field=None))

    async def round(self, runtime: Runtime) -> None:
        """Apply every row that may be applied now, then list the new quarantined rows."""
        tried: set[int] = set()
        while True:
            async with runtime.transaction() as tx:
                pending = [Pending(*row) for row in (await tx.session.execute(
                    select(AdtMessage.id, AdtMessage.patient, AdtMessage.event,
                           AdtMessage.state)
                    .where(AdtMessage.state.in_(("stored", "waiting"))))).all()]
            chosen = [row for row in next_rows(pending) if row.id not in tried]
            if not chosen:
                break
            for row in chosen:
                tried.add(row.id)
                if await self.apply(runtime, row) == "applied":
                    # The patient's waiting rows are due again, in this round.
                    tried -= {r.id for r in pending if r.patient == row.patient}
        await self.report(runtime)

    async def apply(self, runtime: Runtime, pending: Pending) -> str:
        """One row in one transaction: its effects and its new state. Returns the state."""
        try:
            async with runtime.transaction() as tx:
                # Claimed: another process that took it first leaves nothing to do here.
                claimed = await tx.session.execute(update(AdtMessage).where(
                    AdtMessage.id == pending.id, AdtMessage.state == pending.state)
                    .values(state=pending.state))
                if claimed.rowcount != 1:
                    return "gone"
                row = await tx.session.get(AdtMessage, pending.id)
                assert row is not None
                outcome = await self._outcome(tx, runtime, row)
                row.state, row.reason, row.field = outcome.state, outcome.reason, outcome.field
                if outcome.room is not None:
                    row.care_room_id = outcome.room.id
                if outcome.state == "applied":
                    row.applied_at = utcnow()
                    # What waited for this patient may be possible now (a discharge whose
                    # admission has just come).
                    await tx.session.execute(update(AdtMessage).where(
                        AdtMessage.patient == row.patient, AdtMessage.state == "waiting")
                        .values(state="stored"))
            if outcome.state != "stored":
                log.info("ADT row handled", extra={
                    "adt_message": pending.id, "event": pending.event, "state": outcome.state,
                    "reason": outcome.reason})
            return outcome.state
        except Exception as exc:
            # The error's kind only: a message may carry identity (no PID in logs).
            log.error("ADT row could not be applied", extra={
                "adt_message": pending.id, "error": type(exc).__name__})
            return await self._failed(runtime, pending.id)

    async def _failed(self, runtime: Runtime, row_id: int) -> str:
        async with runtime.transaction() as tx:
            row = await tx.session.get(AdtMessage, row_id)
            if row is None:
                return "gone"
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.reason, row.field = "quarantined", "failed", None
            return row.state

    async def _outcome(self, tx: Transaction, runtime: Runtime, row: AdtMessage) -> Outcome:
        movement = movement_of(tx.vault.open_bytes(row.raw, row.bound("raw")))
        if isinstance(movement, Refused):  # read again by a newer version of the code
            return aside(movement.reason, movement.field)
        if movement.event != "A40":
            named = movement
            movement = await aliases.as_survivor(tx, movement)
            if movement.event == "A08" and movement is not named:
                # The record updated is one the hospital merged away: the survivor's identity
                # is changed by the survivor's own messages only.
                return Outcome("applied")
        if movement.event in ADMISSIONS:
            return await self._admission(tx, runtime, movement)
        if movement.event == "A03":
            return await self._discharge(tx, runtime, movement)
        if movement.event == "A02":
            return await self._transfer(tx, movement)
        if movement.event == "A13":
            return await self._discharge_cancelled(tx, runtime, movement)
        if movement.event == "A11":
            return await self._admission_cancelled(tx, runtime, row)
        if movement.event == "A08":
            return await self._identity(tx, movement)
        assert movement.event == "A40"
        return await self._merge(tx, movement)

    async def _room(self, tx: Transaction, movement: Movement) -> CareRoom | Outcome | None:
        try:
            return await self.episodes.find(tx, movement.identity)
        except care_rooms.IdentityConflict:
            return aside("identity_conflict", "PID-3")

    def _day(self, moment: datetime | None) -> date | None:
        """The hospital's day of a movement's time (Europe/Paris by default)."""
        return moment.astimezone(self.zone).date() if moment is not None else None

    async def _admission(self, tx: Transaction, runtime: Runtime,
                         movement: Movement) -> Outcome:
        ward = self.wards.get(movement.ward or "")
        if ward is None:
            return aside("unknown_ward", "PV1-3")
        room = await self._room(tx, movement)
        if isinstance(room, Outcome):
            return room
        admitted = self._day(movement.admitted_at)
        if room is None:
            return Outcome("applied", await self.episodes.open(
                tx, movement.identity, ward, admitted, movement.ins_qualified))
        today = utcnow().astimezone(self.zone).date()
        if movement.event in RETURNS and room.status == "open" and admitted is not None \
                and admitted <= today:
            await self.episodes.admission(tx, runtime, room, admitted, movement.planned, BY)
        return Outcome("applied", room)

    async def _discharge(self, tx: Transaction, runtime: Runtime,
                         movement: Movement) -> Outcome:
        if movement.discharge_mode is None:
            return aside("missing_field", "PV1-36")  # a person records the mode by hand
        room = await self._room(tx, movement)
        if room is None:
            return WAITING  # no admission known yet
        if isinstance(room, Outcome):
            return room
        if room.status == "creating":
            return LATER  # the care-team bot is creating the room: the plan needs it
        if room.status != "open":
            return aside("episode_closed", None)
        day = self._day(movement.discharged_at)
        assert day is not None  # the reading requires PV1-45 for A03
        if not await self.episodes.discharge(tx, runtime, room, day,
                                             Discharge(movement.discharge_mode), BY):
            return aside("followup_exists", "PV1-45")
        return Outcome("applied", room)

    async def _discharge_cancelled(self, tx: Transaction, runtime: Runtime,
                                   movement: Movement) -> Outcome:
        """A13: the follow-up the discharge started withdrawn and the discharge checklist
        validated for it open again (each bot tells the room); the same cancellation again, or
        one for a plan already withdrawn, changes nothing. What is left to a person is told in
        the room too, not only listed for the coordinators: the team there keeps a follow-up
        the hospital says has no discharge."""
        room = await self._room(tx, movement)
        if isinstance(room, Outcome):
            return room
        if room is None:
            return aside("nothing_to_cancel", None)
        if room.status == "creating":
            return LATER
        if room.status != "open":
            return aside("episode_closed", None)
        day = self._day(movement.discharged_at)
        done = await self.episodes.cancel_discharge(tx, runtime, room, day)
        if done.why is not None:
            lang: Lang = room.language  # type: ignore[assignment]
            tx.post(room.room_id or "", notice(t(lang, "adt.discharge_cancel_by_hand",
                                                 reason=render.reason(lang, done.why, "PV1-45"))))
            return aside(done.why, "PV1-45")
        reopened = await self.episodes.cancel_validation(tx, runtime, room, day)
        if done.verdict == "none" and not reopened:
            return aside("nothing_to_cancel", None)
        return Outcome("applied", room)

    async def _admission_cancelled(self, tx: Transaction, runtime: Runtime,
                                   row: AdtMessage) -> Outcome:
        """A11: the patient's last admission from the feed is `cancelled` (the patient as the
        merges left them: an admission of a patient merged into this one, or of the survivor
        this one was merged into, is theirs); the readmission it recorded is withdrawn (the
        follow-up bot tells the room), else the room is told that the admission was
        cancelled, and that it had opened the room if it did and nothing else came from the
        feed there since (the room stays: a person closes it). Its admission already
        cancelled: nothing changes."""
        patients = await aliases.same_patient(tx, row.patient) if row.patient else []
        admission = await tx.session.scalar(select(AdtMessage).where(
            AdtMessage.patient.in_(patients), AdtMessage.id < row.id,
            AdtMessage.event.in_(ADMISSIONS), AdtMessage.state.in_(("applied", CANCELLED)))
            .order_by(AdtMessage.id.desc()).limit(1))
        room = None if admission is None or admission.care_room_id is None else \
            await tx.session.get(CareRoom, admission.care_room_id)
        if admission is None or room is None:
            return aside("nothing_to_cancel", None)
        if admission.state == CANCELLED:
            return Outcome("applied", room)
        if room.status == "creating":
            return LATER
        if room.status != "open" or room.room_id is None:
            return aside("episode_closed", None)
        cancelled = movement_of(tx.vault.open_bytes(admission.raw, admission.bound("raw")))
        day = self._day(cancelled.admitted_at) if isinstance(cancelled, Movement) else None
        done = await self.episodes.cancel_admission(tx, runtime, room, day, BY) \
            if day is not None else NONE
        if done.why is not None:
            return aside(done.why, "PV1-44")
        admission.state = CANCELLED
        if done.verdict == "none":
            others = await tx.session.scalar(select(func.count()).select_from(AdtMessage).where(
                AdtMessage.care_room_id == room.id, AdtMessage.id != admission.id,
                AdtMessage.state.in_(("applied", CANCELLED))))
            opened = room.requested_by == BY and not others
            lang: Lang = room.language  # type: ignore[assignment]
            tx.post(room.room_id, notice(t(
                lang, "adt.admission_cancelled_opened" if opened else "adt.admission_cancelled",
                day=when(lang, day) if day else "—")))
        return Outcome("applied", room)

    async def _identity(self, tx: Transaction, movement: Movement) -> Outcome:
        """A08: the traits sealed again and the card posted again by the care-team bot; the
        same update again changes nothing. A patient without a room of ours has nothing to
        update (a hospital's feed updates every patient's record)."""
        room = await self._room(tx, movement)
        if isinstance(room, Outcome):
            return room
        if room is not None:
            try:
                await self.episodes.update_identity(tx, room, movement.identity,
                                                    movement.ins_qualified)
            except care_rooms.LessTrusted:
                return aside("less_trusted", "PID-32")
        return Outcome("applied", room)

    async def _merge(self, tx: Transaction, movement: Movement) -> Outcome:
        """A40: the prior patient (MRG-1: their INS, or their IPP as the feed gave it before)
        points to the survivor (PID) from then on, and their rooms are told (merge.py). A
        prior patient the feed never named has nothing of ours to merge; the same merge
        again changes nothing."""
        assert movement.identity.ins is not None  # the reading requires the INS
        survivor = tx.vault.index(movement.identity.ins)
        prior = await aliases.prior_patient(tx, movement)
        if prior is None or prior == survivor:
            return Outcome("applied")
        rooms = [await aliases.patient_room(tx, prior),
                 await aliases.patient_room(tx, survivor)]
        if any(room is not None and room.status == "creating" for room in rooms):
            return LATER  # the care-team bot is creating a room: its ID is needed to point to it
        if await aliases.merged(tx, prior, survivor):
            return Outcome("applied", rooms[1] or rooms[0])
        prior_room, survivor_room = rooms
        sides = [await self._side(tx, room) for room in rooms]
        done = action(*sides)
        if done == "take_over" and prior_room is not None and not may_replace(
                care_rooms.PatientFile.open(tx, prior_room).qualified, movement.ins_qualified):
            # The room's qualified identity would give way to a less trusted one: nothing is
            # merged, a person checks the two records (identitovigilance).
            return aside("less_trusted", "PID-32")
        await aliases.alias(tx, prior, survivor, movement.identity, movement.ins_qualified)
        if done == "take_over":
            assert prior_room is not None and prior_room.room_id is not None
            lang: Lang = prior_room.language  # type: ignore[assignment]
            tx.post(prior_room.room_id, notice(t(lang, "adt.merged_here")))
            await self.episodes.update_identity(tx, prior_room, movement.identity,
                                                movement.ins_qualified)
            return Outcome("applied", prior_room)
        if done == "point":
            assert prior_room is not None and survivor_room is not None
            left = by_hand(*sides)
            for here, there, key in ((prior_room, survivor_room, "adt.merged_away"),
                                     (survivor_room, prior_room, "adt.merged_in")):
                lang = here.language  # type: ignore[assignment]
                tx.post(here.room_id or "", notice(t(lang, key, link=room_link(
                    there.room_id or ""), ref=there.ref or "", todo=_todo(lang, left))))
            if left:  # the coordinators hear of it too, as of what the feed set aside
                for room in await care_rooms.coordination_rooms(tx):
                    if room.status == "open" and room.room_id:
                        lang = room.language  # type: ignore[assignment]
                        tx.post(room.room_id, notice(t(
                            lang, "adt.merge_listed", todo=_todo(lang, left),
                            prior=room_link(prior_room.room_id or ""), prior_ref=prior_room.ref,
                            survivor=room_link(survivor_room.room_id or ""),
                            survivor_ref=survivor_room.ref)))
        return Outcome("applied", survivor_room)

    async def _side(self, tx: Transaction, room: CareRoom | None) -> Side:
        if room is None:
            return NO_ROOM
        checklist = (await self.episodes.checklists(tx, [room.id], utcnow())).get(room.id)
        return Side(True, followup=await self.episodes.following(tx, room),
                    checklist=checklist is not None and not checklist.validated)

    async def _transfer(self, tx: Transaction, movement: Movement) -> Outcome:
        ward = self.wards.get(movement.ward or "")
        if ward is None:
            return aside("unknown_ward", "PV1-3")
        room = await self._room(tx, movement)
        if room is None:
            return WAITING
        if isinstance(room, Outcome):
            return room
        if room.ward != ward.name:
            room.ward = ward.name
            if room.room_id is not None and room.status == "open":
                lang: Lang = room.language  # type: ignore[assignment]
                tx.post(room.room_id, notice(t(lang, "adt.transferred", ward=ward.name)))
        return Outcome("applied", room)

    async def report(self, runtime: Runtime) -> None:
        """The quarantined rows not yet told, listed once in every open coordination room."""
        async with runtime.transaction() as tx:
            rooms = [r for r in await care_rooms.coordination_rooms(tx)
                     if r.status == "open" and r.room_id]
            if not rooms:
                return  # no room yet: told once one is open
            batch = select(AdtMessage.id).where(
                AdtMessage.state == "quarantined", AdtMessage.reported_at.is_(None)
            ).order_by(AdtMessage.id).limit(REPORT_BATCH).scalar_subquery()
            # Claimed by the conditional update: another bots process reporting the same rows
            # at once waits for this transaction, then finds them reported (none returned).
            reported = set((await tx.session.scalars(
                update(AdtMessage).where(AdtMessage.id.in_(batch),
                                         AdtMessage.reported_at.is_(None))
                .values(reported_at=utcnow()).returning(AdtMessage.id)
                .execution_options(synchronize_session=False))).all())
            if not reported:
                return
            rows = list((await tx.session.scalars(select(AdtMessage).where(
                AdtMessage.id.in_(reported)).order_by(AdtMessage.id))).all())
            for room in rooms:
                lang: Lang = room.language  # type: ignore[assignment]
                tx.post(room.room_id or "", notice(render.quarantined(lang, rows)))
