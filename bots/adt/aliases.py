"""The patients the hospital merged (A40), in the database: who the merged-away patient was,
their room, and the alias that makes their INS stand for the survivor's from then on
(`adt_aliases`, bots/adt/models.py). Inside the applier's transaction; blind indexes only, the
survivor's identity sealed. The rule for the rooms is merge.py's."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bots.adt.inbox import ipp_index
from bots.adt.messages import Movement
from bots.adt.models import AdtAlias, AdtMessage
from bots.common.identity import Identity
from bots.common.models import PATIENT, CareRoom
from bots.runtime.store import Transaction, utcnow


async def as_survivor(tx: Transaction, movement: Movement) -> Movement:
    """A patient merged away stands for the survivor: a later message that still names them by
    their INS is applied to the survivor's identity (and so room), as trusted as the merge
    said it was (never the qualification the old record's message claims for its own INS)."""
    if not movement.identity.ins:
        return movement
    alias = await tx.session.scalar(select(AdtAlias).where(
        AdtAlias.prior.in_(tx.vault.indexes(movement.identity.ins))))
    if alias is None:
        return movement
    survivor = tx.vault.open(alias.identity, alias.bound("identity"))
    return replace(movement, identity=Identity.from_dict(survivor),
                   ins_qualified=bool(survivor.get("qualified")))


async def same_patient(tx: Transaction, patient: str) -> list[str]:
    """The INS indexes the feed knows one patient by since the merges: the survivor's (theirs,
    or the one they were merged into) and every patient merged into that survivor. What an A11
    looks for its admission among: after a merge, the admission may be the prior patient's."""
    survivor = await tx.session.scalar(select(AdtAlias.survivor).where(
        AdtAlias.prior == patient)) or patient
    return [survivor, *(await tx.session.scalars(select(AdtAlias.prior).where(
        AdtAlias.survivor == survivor))).all()]


async def prior_patient(tx: Transaction, movement: Movement) -> str | None:
    """The merged-away patient's INS index: their INS if MRG-1 gives it, else that of the
    patient the feed last named with the prior IPP; None if the feed never did."""
    if movement.prior_ins:
        return tx.vault.index(movement.prior_ins)
    if movement.prior_ipp is None:
        return None
    return await tx.session.scalar(select(AdtMessage.patient).where(
        AdtMessage.ipp == ipp_index(tx, movement.sending_facility, movement.prior_ipp),
        AdtMessage.patient.is_not(None)).order_by(AdtMessage.id.desc()).limit(1))


async def patient_room(tx: Transaction, patient: str) -> CareRoom | None:
    """The patient's current room by the INS's blind index (a merge has no traits of the prior
    patient to find it by)."""
    return await tx.session.scalar(select(CareRoom).where(
        CareRoom.account == tx.account, CareRoom.kind == PATIENT,
        CareRoom.status.in_(("creating", "open")), CareRoom.ins_index == patient)
        .order_by(CareRoom.id.desc()).limit(1))


async def merged(tx: Transaction, prior: str, survivor: str) -> bool:
    """Whether that merge is already recorded (the same A40 again)."""
    return await tx.session.scalar(select(AdtAlias.survivor).where(
        AdtAlias.prior == prior)) == survivor


async def alias(tx: Transaction, prior: str, survivor: str, identity: Identity,
                qualified: bool) -> None:
    """The prior INS points to the survivor, and so do the patients merged into the prior one
    before (one look-up, never a chain). The survivor's identity is kept with whether its INS
    was qualified (in the same sealed value: `Identity.from_dict` reads the traits only)."""
    row = await tx.session.scalar(select(AdtAlias).where(AdtAlias.prior == prior))
    if row is None:
        row = AdtAlias(prior=prior, survivor=survivor, identity=b"", merged_at=utcnow())
        tx.session.add(row)
    earlier = (await tx.session.scalars(select(AdtAlias).where(
        AdtAlias.survivor == prior))).all()
    for each in [row, *earlier]:
        each.survivor, each.merged_at = survivor, utcnow()
        each.identity = tx.vault.seal({**identity.to_dict(), "qualified": qualified},
                                      each.bound("identity"))
