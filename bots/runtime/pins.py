"""What device trust remembers in the database: each user's cross-signing master key pinned on
first use (a change waits for a coordinator's confirmation), and who was told that commands sent
in clear are refused."""

from __future__ import annotations

from sqlalchemy import or_, select, update

from bots.runtime.models import ClearCommandNotice, IdentityPin
from bots.runtime.store import Transaction, dialect_insert, utcnow


async def check(tx: Transaction, masters: dict[str, str]) -> tuple[set[str], set[str]]:
    """Pin the master keys of users seen for the first time; compare the others with their pin.
    Returns (users whose key is not the pinned one, those of them whose change is new: seen for
    the first time here, to be told once)."""
    changed: set[str] = set()
    new: set[str] = set()
    now = utcnow()
    insert = dialect_insert(tx)
    for user_id, master in sorted(masters.items()):
        await tx.session.execute(
            insert(IdentityPin).values(user_id=user_id, master_key=master, pinned_at=now)
            .on_conflict_do_nothing(index_elements=["user_id"]))
        pinned = await tx.session.scalar(
            select(IdentityPin.master_key).where(IdentityPin.user_id == user_id))
        if pinned == master:
            # Back to the pinned key: a change seen again later is told again.
            await tx.session.execute(update(IdentityPin).where(
                IdentityPin.user_id == user_id, IdentityPin.changed_to.is_not(None))
                .values(changed_to=None))
            continue
        changed.add(user_id)
        # Conditional: two processes (bots, bridge) seeing the same change tell it once.
        result = await tx.session.execute(
            update(IdentityPin).where(
                IdentityPin.user_id == user_id, IdentityPin.master_key != master,
                or_(IdentityPin.changed_to.is_(None), IdentityPin.changed_to != master))
            .values(changed_to=master, changed_at=now))
        if result.rowcount == 1:
            new.add(user_id)
    return changed, new


async def confirm(tx: Transaction, user_id: str) -> bool:
    """Pin the new key a coordinator vouches for; False if no change waits for confirmation."""
    result = await tx.session.execute(
        update(IdentityPin).where(IdentityPin.user_id == user_id,
                                  IdentityPin.changed_to.is_not(None))
        .values(master_key=IdentityPin.changed_to, changed_to=None, pinned_at=utcnow()))
    return result.rowcount == 1


async def first_clear_command(tx: Transaction, room_id: str, user_id: str) -> bool:
    """Record that this sender is told about clear commands in this room: True the first time."""
    result = await tx.session.execute(
        dialect_insert(tx)(ClearCommandNotice)
        .values(account=tx.account, room_id=room_id, user_id=user_id, told_at=utcnow())
        .on_conflict_do_nothing(index_elements=["account", "room_id", "user_id"])
        .returning(ClearCommandNotice.user_id))
    return result.scalar() is not None
