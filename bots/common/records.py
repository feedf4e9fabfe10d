"""The care rooms as the bots read them: a room by ID or reference, the coordination rooms, a
room's team and who holds a role there, a user's rooms and roles (the dashboard), the patient's
file opened. Database only, inside the
caller's transaction (its account); the care-team bot writes these rows (bots/careteam/records.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from bots.common.identity import Identity
from bots.common.models import COORDINATION, PATIENT, CareRoom, TeamMember
from bots.runtime.store import Transaction
from bots.runtime.vault import Binding


class LessTrusted(Exception):
    """The room's identity is qualified and the new one is not: it is kept (identitovigilance,
    `identity.may_replace`). Raised by the care-team bot's identity update, caught by the ADT
    applier, which sets the message aside for a person."""


class IdentityConflict(Exception):
    """Same traits, another INS: a human must check the identity (identitovigilance). Raised
    by the care-team bot's patient lookup, caught by whoever asked (a command, the API, the ADT
    applier)."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


@dataclass(frozen=True)
class PatientFile:
    """What the sealed column holds, opened. `qualified`: the identity came with a qualified
    INS (the hospital's feed said so: PID-32 VALI), which a less trusted one never replaces
    (`identity.may_replace`); rooms opened by hand or before this flag are not."""

    identity: Identity
    admission_date: date | None
    qualified: bool = False

    @classmethod
    def open(cls, tx: Transaction, row: CareRoom) -> PatientFile:
        raw = tx.vault.open(row.sealed, row.bound("sealed"))
        admission = raw.get("admission_date")
        return cls(Identity.from_dict(raw["identity"]),
                   date.fromisoformat(admission) if admission else None,
                   bool(raw.get("qualified")))

    def seal(self, tx: Transaction, at: Binding) -> bytes:
        return tx.vault.seal({
            "identity": self.identity.to_dict(),
            "admission_date": self.admission_date.isoformat() if self.admission_date else None,
            "qualified": self.qualified}, at)


async def coordination_rooms(tx: Transaction) -> list[CareRoom]:
    return list((await tx.session.scalars(select(CareRoom).where(
        CareRoom.account == tx.account, CareRoom.kind == COORDINATION)
        .order_by(CareRoom.id))).all())


async def room_by_id(tx: Transaction, room_id: str) -> CareRoom | None:
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == tx.account, CareRoom.room_id == room_id))


async def room_by_ref(tx: Transaction, ref: str) -> CareRoom | None:
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == tx.account, CareRoom.ref == ref))


async def team(tx: Transaction, room: CareRoom) -> list[TeamMember]:
    """Members asked to be present (removed ones are kept as history, not listed)."""
    return list((await tx.session.scalars(select(TeamMember).where(
        TeamMember.care_room_id == room.id, TeamMember.desired == "present")
        .order_by(TeamMember.id))).all())


async def members_with(tx: Transaction, care_room_id: int, roles: Sequence[str],
                       fallback: Sequence[str] = ()) -> list[str]:
    """The team members (asked present) holding one of `roles`, by user ID; if there are none,
    those holding one of `fallback`. One query for both (a burst of RH30 steps asks for each)."""
    rows = (await tx.session.execute(select(TeamMember.user_id, TeamMember.role).where(
        TeamMember.care_room_id == care_room_id, TeamMember.desired == "present",
        TeamMember.role.in_([*roles, *fallback])).order_by(TeamMember.user_id))).all()
    return [user for user, role in rows if role in roles] or \
        [user for user, role in rows if role in fallback]


async def member(tx: Transaction, room: CareRoom, user_id: str) -> TeamMember | None:
    return await tx.session.scalar(select(TeamMember).where(
        TeamMember.care_room_id == room.id, TeamMember.user_id == user_id))


async def role_in(tx: Transaction, room_id: str, user_id: str,
                  account: str | None = None) -> tuple[str | None, str | None]:
    """(kind of room, the user's role there) for permission checks; (None, None) elsewhere.
    `account`: the care-team bot's, when another account (the bridge) asks."""
    row = (await tx.session.execute(
        select(CareRoom.kind, TeamMember.role)
        .outerjoin(TeamMember, (TeamMember.care_room_id == CareRoom.id)
                   & (TeamMember.user_id == user_id) & (TeamMember.desired == "present"))
        .where(CareRoom.account == (account or tx.account), CareRoom.room_id == room_id))).first()
    return (row[0], row[1]) if row else (None, None)


async def standings(tx: Transaction, user_id: str,
                    account: str | None = None) -> list[tuple[str, str, str | None]]:
    """(room ID, kind of room, role) of every open room whose team has the user (asked present),
    for a permission that holds in any of them (the dashboard's login)."""
    rows = (await tx.session.execute(
        select(CareRoom.room_id, CareRoom.kind, TeamMember.role)
        .join(TeamMember, TeamMember.care_room_id == CareRoom.id)
        .where(CareRoom.account == (account or tx.account), CareRoom.status == "open",
               CareRoom.room_id.is_not(None), TeamMember.user_id == user_id,
               TeamMember.desired == "present")
        .order_by(CareRoom.id))).all()
    return [(room_id, kind, role) for room_id, kind, role in rows]


async def patient_rooms_of(tx: Transaction, user_id: str,
                           statuses: Collection[str] = ("open",)) -> list[CareRoom]:
    """The patient rooms in one of `statuses` whose team has the user (asked present), by ward
    and file number."""
    return list((await tx.session.scalars(
        select(CareRoom).join(TeamMember, TeamMember.care_room_id == CareRoom.id)
        .where(CareRoom.account == tx.account, CareRoom.kind == PATIENT,
               CareRoom.status.in_(statuses), TeamMember.user_id == user_id,
               TeamMember.desired == "present")
        .order_by(CareRoom.ward, CareRoom.ref))).all())
