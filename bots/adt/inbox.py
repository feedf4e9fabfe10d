"""The intake's one step before it acknowledges: a message read and recorded, once. Database
only, inside the caller's transaction; the listener (MLLP) acknowledges after the commit, so an
AA always means "stored", and the bots process applies the rows (bots/adt/models.py). The FHIR
endpoint (bots/adt/api.py) records its Bundles here too (`record`), and the applier reads any
row back with `movement_of`."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import select

from bots.adt import fhir
from bots.adt.messages import Movement, Refused, header, read
from bots.adt.models import AdtMessage
from bots.runtime.store import Transaction, dialect_insert, utcnow

# The sender and control ID columns hold 255 characters (`identifier()`), and PostgreSQL's text
# no NUL: a header field beyond that would make the insert fail at every resend, so such a
# message is refused as a bad header instead (neither is patient data: MSH only).
_COLUMN = 255


@dataclass(frozen=True)
class Taken:
    """What became of one message: how it reads, whether a row holds it (a message whose header
    cannot be read has none: AR, nothing kept), and whether it was new (a resent message is
    acknowledged again and changes nothing)."""
    result: Movement | Refused
    stored: bool
    new: bool


def sender_of(raw: bytes, result: Movement | Refused) -> str | None:
    """MSH-3^MSH-4: the system that numbered the message, whose MSH-10 is unique."""
    if isinstance(result, Movement):
        return f"{result.sending_application}^{result.sending_facility}"
    msh = header(raw)
    if msh is None:
        return None
    fields = msh.split("|")
    return f"{fields[2]}^{fields[3]}"


def ipp_index(tx: Transaction, facility: str, ipp: str) -> str:
    """The blind index of an IPP, which numbers patients per facility (MSH-4)."""
    return tx.vault.index(f"ipp|{facility}|{ipp}")


def storable(value: str) -> bool:
    """Whether a header field fits its column: short enough, no control character."""
    return len(value) <= _COLUMN and not any(c < " " or c == "\x7f" for c in value)


async def take(tx: Transaction, raw: bytes) -> Taken:
    """Read `raw` and record it: `stored` for a movement, `quarantined` (with the reason and
    field, never a value) for a refused message whose header names it."""
    result = read(raw)
    control_id = result.control_id
    sender = sender_of(raw, result)
    if control_id is None or sender is None:
        return Taken(result, stored=False, new=False)
    for value, where in ((control_id, "MSH-10"), (sender, "MSH-3")):
        if not storable(value):
            return Taken(Refused("bad_msh", where), stored=False, new=False)
    if isinstance(result, Movement):
        return await record(tx, result, raw)
    values = {"event": None, "state": "quarantined", "patient": None, "ipp": None,
              "reason": result.reason, "field": result.field}
    return Taken(result, stored=True, new=await _insert(tx, sender, control_id, raw, values))


async def record(tx: Transaction, movement: Movement, raw: bytes) -> Taken:
    """`movement` (read from `raw`, HL7 or FHIR) recorded as `stored`, once. A Bundle's control
    ID is its sender's identifier or Encounter id, which may carry a patient number: only its
    keyed hash is kept (`Taken.result.control_id`), looked for under every data key so that a
    resend after a key rotation is still the same row."""
    values = {"event": movement.event, "state": "stored",
              "patient": tx.vault.index(movement.identity.ins) if movement.identity.ins else None,
              "ipp": ipp_index(tx, movement.sending_facility, movement.ipp)
              if movement.ipp else None}
    sender = sender_of(raw, movement) or ""
    if fhir.is_fhir(raw):
        keys = tx.vault.indexes(f"fhir|{movement.control_id}")
        movement = replace(movement, control_id=keys[0])
        if await tx.session.scalar(select(AdtMessage.id).where(
                AdtMessage.sender == sender, AdtMessage.control_id.in_(keys[1:]))):
            return Taken(movement, stored=True, new=False)
    new = await _insert(tx, sender, movement.control_id, raw, values)
    return Taken(movement, stored=True, new=new)


async def _insert(tx: Transaction, sender: str, control_id: str, raw: bytes,
                  values: dict[str, object]) -> bool:
    """The row, sealed; False when the sender's control ID was already there (a resend)."""
    inserted = await tx.session.execute(
        dialect_insert(tx)(AdtMessage)
        .values(sender=sender, control_id=control_id, attempts=0, received_at=utcnow(),
                raw=tx.vault.seal_bytes(raw, AdtMessage.bind("raw", sender, control_id)), **values)
        .on_conflict_do_nothing(index_elements=["sender", "control_id"])
        .returning(AdtMessage.id))
    return inserted.scalar() is not None


def movement_of(raw: bytes, received_at: datetime | None = None) -> Movement | Refused:
    """A stored row's movement: a FHIR Bundle (the API's) or an HL7 message (the feed's)."""
    if fhir.is_fhir(raw):
        try:
            payload = json.loads(raw)
        except ValueError:
            return Refused("not_hl7")
        return fhir.read(payload, received_at or datetime.now(UTC))
    return read(raw)
