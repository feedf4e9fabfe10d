"""Where the bridge's mail goes: the care-team bot's rooms (its account, not the bridge's), found
by reference, by INS (blind index: the identity stays sealed), by the mail a message answers;
and who may send from a room. Database only, inside the caller's transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.common.identity import IdentityError, validate_ins
from bots.common.models import COORDINATION, PATIENT, CareRoom
from bots.episode.figures import MailCounter
from bots.runtime.store import Transaction, as_utc
from bots.runtime.vault import Vault
from bridge.models import InboundRow, OutboundRow
from bridge.routing import genuine, tagged

OPEN = ("open", "discharged")  # rooms that still take mail


async def by_ref(tx: Transaction, account: str, ref: str) -> CareRoom | None:
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == account, CareRoom.kind == PATIENT, CareRoom.ref == ref,
        CareRoom.status.in_(OPEN)))


async def by_tagged_ref(tx: Transaction, account: str, ref: str, tag: str) -> CareRoom | None:
    """The room a mail's reference names, if its tag is that room's."""
    room = await by_ref(tx, account, ref)
    return room if room is not None and room.room_id is not None \
        and genuine(tag, _indexes(tx.vault, room.room_id)) else None


def reference(vault: Vault, ref: str, room_id: str) -> str:
    """The room's reference with its tag, as written in the subjects of its mail."""
    return tagged(ref, _indexes(vault, room_id)[0])


def _indexes(vault: Vault, room_id: str) -> list[str]:
    return vault.indexes(f"mssante reference {room_id}")


async def by_ins(tx: Transaction, account: str, ins: str) -> CareRoom | None:
    try:
        ins = validate_ins(ins)
    except IdentityError:
        return None
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == account, CareRoom.kind == PATIENT, CareRoom.status.in_(OPEN),
        CareRoom.ins_index.in_(tx.vault.indexes(ins))).order_by(CareRoom.id.desc()).limit(1))


async def by_thread(tx: Transaction, message_ids: Sequence[str]) -> str | None:
    """The room of the nearest mail in the thread that the bridge sent or posted."""
    for message_id in message_ids:
        sent = await tx.session.scalar(select(OutboundRow.room_id).where(
            OutboundRow.account == tx.account, OutboundRow.message_id == message_id,
            OutboundRow.kind == "mail"))
        if sent:
            return sent
        received = await tx.session.scalar(select(InboundRow.room_id).where(
            InboundRow.account == tx.account, InboundRow.message_id == message_id,
            InboundRow.state == "posted"))
        if received:
            return received
    return None


async def coordination(tx: Transaction, account: str) -> list[str]:
    return list((await tx.session.scalars(select(CareRoom.room_id).where(
        CareRoom.account == account, CareRoom.kind == COORDINATION, CareRoom.status == "open",
        CareRoom.room_id.is_not(None)).order_by(CareRoom.id))).all())  # type: ignore[arg-type]


async def room(tx: Transaction, account: str, room_id: str) -> CareRoom | None:
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == account, CareRoom.room_id == room_id))


def mail_counter(zone: ZoneInfo) -> MailCounter:
    """The mails bridged in and out per room and day, read from the bridge's own rows (for the
    coordinator dashboard, given by bots/registry.py): in, posted into a room, by day received;
    out, mails (not receipts) the server accepted, by day sent. Whatever account ran the bridge."""
    async def count(tx: Transaction, room_ids: AbstractSet[str] | None, first: date, last: date
                    ) -> list[tuple[str, date, str, int]]:
        start = datetime.combine(first, time(), zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
        inbound = (await tx.session.execute(select(InboundRow.room_id, InboundRow.received_at)
                   .where(InboundRow.state == "posted", InboundRow.received_at >= start,
                          InboundRow.received_at < end))).all()
        outbound = (await tx.session.execute(select(OutboundRow.room_id, OutboundRow.sent_at)
                    .where(OutboundRow.kind == "mail", OutboundRow.state == "sent",
                           OutboundRow.sent_at >= start, OutboundRow.sent_at < end))).all()
        found: Counter[tuple[str, date, str]] = Counter()
        for direction, rows in (("in", inbound), ("out", outbound)):
            for room_id, at in rows:
                if room_ids is None or room_id in room_ids:
                    found[(room_id, as_utc(at).astimezone(zone).date(), direction)] += 1
        return [(room, day, direction, n) for (room, day, direction), n in sorted(found.items())]
    return count
