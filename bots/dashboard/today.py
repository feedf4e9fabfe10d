"""What the Today page shows: the open patient rooms the user is a member of, each with its file
number, ward, the patient named (decrypted here because the user is in the team), the discharge
checklist's progress (through the reader the composition gives) and a link into the room."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime

from bots.common import records
from bots.common.render import room_link
from bots.episode.progress import DischargeProgress, ProgressReader
from bots.runtime.store import Transaction


@dataclass(frozen=True)
class PatientLine:
    ref: str
    ward: str | None
    name: str
    birth_date: date
    room_url: str
    progress: DischargeProgress | None


def room_url(room_id: str, element_url: str | None) -> str:
    """The deployment's Element when configured, else matrix.to (which offers the clients)."""
    if element_url:
        return f"{element_url}/#/room/{urllib.parse.quote(room_id, safe='!:')}"
    return room_link(room_id)


async def patient_lines(tx: Transaction, user_id: str, progress: ProgressReader,
                        element_url: str | None, now: datetime) -> list[PatientLine]:
    rooms = [r for r in await records.patient_rooms_of(tx, user_id) if r.room_id and r.ref]
    checklists = await progress(tx, [r.id for r in rooms], now)
    lines = []
    for room in rooms:
        identity = records.PatientFile.open(tx, room).identity
        lines.append(PatientLine(
            ref=room.ref or "", ward=room.ward,
            name=f"{identity.family_name} {identity.given_names}",
            birth_date=identity.birth_date, room_url=room_url(room.room_id or "", element_url),
            progress=checklists.get(room.id)))
    return lines
