"""The live checklist message: posted once (again for a newcomer), edited in place (m.replace)
after every change, and pinned in the room once Synapse has given it an event ID."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nio import RoomGetStateEventResponse, RoomPutStateResponse
from sqlalchemy import or_, select, update

from bots.discharge import records
from bots.discharge.models import ChecklistRow
from bots.runtime.i18n import t
from bots.runtime.models import OutboxMessage
from bots.runtime.notice import Html, edit, join, notice
from bots.runtime.store import Transaction

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)
PINNED = "m.room.pinned_events"
RETRY_EVERY = 60.0  # seconds: a pin that failed (network, rights) is tried again


def update_live(tx: Transaction, row: ChecklistRow, markup: Html) -> None:
    if row.live_outbox_id is not None:
        tx.post(row.room_id, edit(markup), refers_to=row.live_outbox_id)


async def post_live(tx: Transaction, row: ChecklistRow, markup: Html, pinner: Pinner, *,
                    intro: Html | None = None, mentions: list[str] | None = None) -> None:
    """A new live message, which the old one (if any) now points to."""
    message = tx.post(row.room_id, notice(join([intro, markup]) if intro else markup,
                                          mentions=mentions))
    await records.about_item(tx, row, message, records.LIVE)
    if row.live_outbox_id is not None:
        tx.post(row.room_id, edit(t(row.language, "discharge.live_moved")),  # type: ignore[arg-type]
                refers_to=row.live_outbox_id)
    row.live_outbox_id = message.id
    tx.after_commit.append(lambda: pinner.expect(message.id))


class Pinner:
    """Keeps each checklist's current live message pinned (a service beside the sync loop)."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._awaited: set[int] = set()  # live messages committed, not sent yet

    def expect(self, outbox_id: int) -> None:
        """A live message was committed: pin it once the sender has its event ID."""
        self._awaited.add(outbox_id)

    def _sent(self, row: OutboxMessage, _event_id: str) -> None:
        if row.id in self._awaited:  # the sender tells of every message: only ours wake us
            self._awaited.discard(row.id)
            self._wake.set()

    async def run(self, runtime: Runtime) -> None:
        runtime.sender.on_sent.append(self._sent)
        while True:
            self._wake.clear()
            await self.pin_pending(runtime)
            try:
                await asyncio.wait_for(self._wake.wait(), RETRY_EVERY)
            except TimeoutError:
                pass

    async def pin_pending(self, runtime: Runtime) -> None:
        async with runtime.store.transaction(runtime.user_id) as tx:
            rows = (await tx.session.execute(
                select(ChecklistRow.id, ChecklistRow.room_id, ChecklistRow.pinned_event_id,
                       OutboxMessage.event_id)
                .join(OutboxMessage, OutboxMessage.id == ChecklistRow.live_outbox_id)
                .where(ChecklistRow.account == runtime.user_id,
                       OutboxMessage.event_id.is_not(None),
                       or_(ChecklistRow.pinned_event_id.is_(None),
                           ChecklistRow.pinned_event_id != OutboxMessage.event_id)))).all()
        for checklist_id, room_id, old, new in rows:
            if await self._pin(runtime, room_id, old, new):
                async with runtime.transaction() as tx:
                    await tx.session.execute(update(ChecklistRow).where(
                        ChecklistRow.id == checklist_id).values(pinned_event_id=new))

    @staticmethod
    async def _pin(runtime: Runtime, room_id: str, old: str | None, new: str) -> bool:
        """The new live message pinned first, the old one unpinned, others' pins kept."""
        client = runtime.client
        current = await client.room_get_state_event(room_id, PINNED)
        if isinstance(current, RoomGetStateEventResponse):
            pinned = current.content.get("pinned", [])
        elif getattr(current, "status_code", None) == "M_NOT_FOUND":
            pinned = []  # nothing pinned yet
        else:  # unknown: writing now could drop others' pins
            log.warning("reading the pinned messages failed", extra={"room_id": room_id})
            return False
        keep = [p for p in pinned if isinstance(p, str) and p not in (old, new)]
        resp = await client.room_put_state(room_id, PINNED, {"pinned": [new, *keep]})
        if not isinstance(resp, RoomPutStateResponse):
            log.warning("pinning the checklist failed",
                        extra={"room_id": room_id, "error": getattr(resp, "message", "?")})
            return False
        return True
