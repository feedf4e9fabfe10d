"""The care-team bot's records: find or register a patient, ask for team changes, look up who
has which role where. Database only, inside the caller's transaction; Matrix is the
provisioner's job (provisioner.py), which carries out what is recorded here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from bots.careteam.requests import Member, OpenRequest
from bots.common import records as care_rooms
from bots.common.identity import Identity
from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.runtime.store import Transaction, utcnow

ACTIVE = ("creating", "open", "closing")


async def find_patient(tx: Transaction, identity: Identity) -> CareRoom | None:
    """The patient's current (not closed) room: same INS, or same traits with no INS on one side.
    Raises bots.common.records.IdentityConflict for same traits with two different INS."""
    vault = tx.vault
    by_ins = vault.indexes(identity.ins) if identity.ins else []
    by_traits = vault.indexes(identity.traits_key())
    rows = (await tx.session.scalars(select(CareRoom).where(
        CareRoom.account == tx.account, CareRoom.kind == PATIENT, CareRoom.status.in_(ACTIVE),
        or_(CareRoom.ins_index.in_(by_ins), CareRoom.traits_index.in_(by_traits)))
        .order_by(CareRoom.id))).all()
    conflict = None
    for row in rows:
        if row.ins_index in by_ins:
            return row
        stored = care_rooms.PatientFile.open(tx, row).identity
        if identity.ins and stored.ins and identity.ins != stored.ins:
            conflict = row
            continue
        return row
    if conflict is not None:
        raise care_rooms.IdentityConflict(conflict.ref or "?")
    return None


async def next_ref(tx: Transaction, prefix: str, year: int) -> str:
    """The next file number of the year: P-2026-00042. Unique per account (a constraint); on
    PostgreSQL two concurrent openings may collide, and the loser's transaction is retried."""
    stem = f"{prefix}-{year}-"
    last = await tx.session.scalar(select(func.max(CareRoom.ref)).where(
        CareRoom.account == tx.account, CareRoom.ref.like(f"{stem}%")))
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{stem}{number:05d}"


async def register_patient(tx: Transaction, req: OpenRequest, *, prefix: str, language: str,
                           requested_by: str, origin_room_id: str | None = None,
                           cause_event_id: str | None = None) -> tuple[CareRoom, bool]:
    """The patient's room: the existing one, or a new row for the provisioner to create."""
    existing = await find_patient(tx, req.identity)
    if existing is not None:
        return existing, False
    now = utcnow()
    identity, ref = req.identity, await next_ref(tx, prefix, now.year)
    row = CareRoom(
        account=tx.account, kind=PATIENT, status="creating", ref=ref, ward=req.ward,
        sealed=care_rooms.PatientFile(identity, req.admission_date, req.qualified).seal(
            tx, CareRoom.bind("sealed", tx.account, ref)),
        ins_index=tx.vault.index(identity.ins) if identity.ins else None,
        traits_index=tx.vault.index(identity.traits_key()), language=language,
        requested_by=requested_by, origin_room_id=origin_room_id,
        cause_event_id=cause_event_id, created_at=now, attempts=0)
    tx.session.add(row)
    await tx.session.flush()
    for member in req.team:
        tx.session.add(_member(row, member, requested_by, None, language, applied=False))
    return row, True


def _member(room: CareRoom, member: Member, requested_by: str | None, cause: str | None,
            language: str, *, applied: bool) -> TeamMember:
    return TeamMember(care_room_id=room.id, user_id=member.user_id, role=member.role,
                      desired="present", applied=applied, requested_by=requested_by,
                      cause_event_id=cause, language=language, updated_at=utcnow())


async def register_coordination_room(tx: Transaction, *, room_id: str | None, name: str | None,
                                     language: str) -> CareRoom:
    """A declared coordination room (already exists) or one for the provisioner to create."""
    if room_id is not None:
        row = await care_rooms.room_by_id(tx, room_id)
        if row is not None:
            return row
    row = CareRoom(account=tx.account, kind=COORDINATION, room_id=room_id, name=name,
                   status="open" if room_id else "creating", sealed=b"", language=language,
                   created_at=utcnow(), opened_at=utcnow() if room_id else None, attempts=0)
    tx.session.add(row)
    await tx.session.flush()
    return row


async def ask_member(tx: Transaction, room: CareRoom, new: Member, *, requested_by: str,
                     cause_event_id: str | None, language: str) -> str:
    """Record that `new` should be in the team with that role: "added", "role_changed" or
    "unchanged". The provisioner invites and sets the power level, then answers."""
    row = await care_rooms.member(tx, room, new.user_id)
    if row is not None and row.desired == "present" and row.role == new.role:
        return "unchanged"
    outcome = "role_changed" if row is not None and row.desired == "present" else "added"
    if row is None:
        tx.session.add(_member(room, new, requested_by, cause_event_id, language, applied=False))
    else:
        _update(row, desired="present", role=new.role, requested_by=requested_by,
                cause_event_id=cause_event_id, language=language)
    return outcome


async def ask_removal(tx: Transaction, room: CareRoom, user_id: str, *, requested_by: str,
                      cause_event_id: str | None, language: str) -> bool:
    """Record that `user_id` should leave the team; False if they are not in it."""
    row = await care_rooms.member(tx, room, user_id)
    if row is None or row.desired != "present":
        return False
    _update(row, desired="absent", requested_by=requested_by, cause_event_id=cause_event_id,
            language=language)
    return True


def _update(row: TeamMember, **values: Any) -> None:
    for key, value in values.items():
        setattr(row, key, value)
    row.applied = False
    row.last_error = None
    row.updated_at = utcnow()


async def pending_rooms(tx: Transaction) -> list[CareRoom]:
    return list((await tx.session.scalars(select(CareRoom).where(
        CareRoom.account == tx.account,
        CareRoom.status.in_(("creating", "closing", "expiring")))
        .order_by(CareRoom.id))).all())


async def pending_members(tx: Transaction, care_room_id: int | None = None,
                          ) -> list[tuple[TeamMember, CareRoom]]:
    """Team changes not yet carried out (in one room, or all), in the order they were asked."""
    query = (select(TeamMember, CareRoom)
             .join(CareRoom, TeamMember.care_room_id == CareRoom.id)
             .where(CareRoom.account == tx.account, TeamMember.applied.is_(False),
                    CareRoom.status.in_(("open", "closing"))))
    if care_room_id is not None:
        query = query.where(CareRoom.id == care_room_id)
    rows = (await tx.session.execute(query.order_by(TeamMember.id))).all()
    return [(m, r) for m, r in rows]
