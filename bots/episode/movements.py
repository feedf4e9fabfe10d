"""What the hospital's movements (the ADT applier, bots/adt/) ask of the bots that keep an
episode: the patient's room found or opened, a discharge and an admission recorded or
cancelled, the identity updated, what a merge cannot move. Types only: the composition
(bots/registry.py) hands in the care-team, follow-up and discharge bots' own code, run in the
applier's transaction, so no bot imports another and a movement does exactly what a person's
command or the provisioning API would have done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bots.common.identity import Identity
from bots.common.models import CareRoom
from bots.config import WardConfig
from bots.episode.modes import Discharge
from bots.episode.progress import ProgressReader
from bots.episode.withdrawals import Withdrawal
from bots.runtime.store import Transaction

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

# The patient's current room (same INS, or same traits), or None; raises
# bots.common.records.IdentityConflict for the same traits under another INS.
FindRoom = Callable[[Transaction, Identity], Awaitable[CareRoom | None]]
# A room asked for the patient with the ward's name and team, admitted on that day, the INS
# qualified or not; the care-team bot creates it once the transaction commits (the row is
# `creating` until then).
OpenRoom = Callable[[Transaction, Identity, WardConfig, date | None, bool], Awaitable[CareRoom]]
# The discharge recorded in an open room and its follow-up started (by: who for the records).
# False when the episode already holds another discharge.
RecordDischarge = Callable[["Transaction", "Runtime", CareRoom, date, Discharge, str],
                           Awaitable[bool]]
# An admission in the patient's room on that day, planned or not (None: unknown): recorded and
# alerted as a readmission when a RH30 window is open there; False when none is.
RecordAdmission = Callable[["Transaction", "Runtime", CareRoom, date, bool | None, str],
                           Awaitable[bool]]

# The patient's traits as the hospital now has them (A08), the INS qualified or not: sealed again
# in the room's row, the card posted again; False when nothing changed; raises
# bots.common.records.LessTrusted rather than replace a qualified identity with one that is not.
UpdateIdentity = Callable[[Transaction, CareRoom, Identity, bool], Awaitable[bool]]
# Whether the room's follow-up is running (a merge, A40, cannot move it).
Following = Callable[[Transaction, CareRoom], Awaitable[bool]]
# The discharge (A13) cancelled: the follow-up it started withdrawn (bots/episode/withdrawals.py;
# the day: the discharge the message names, if it does).
CancelDischarge = Callable[["Transaction", "Runtime", CareRoom, date | None],
                           Awaitable[Withdrawal]]

# The discharge (A13) cancelled on the discharge checklist's side: the one validated for that day
# (None: whichever) open again, its hand-over out of the indicators, its letter's reminders
# stopped, the room told; False when none is.
CancelValidation = Callable[["Transaction", "Runtime", CareRoom, date | None], Awaitable[bool]]

# The admission (A11) on that day cancelled: the readmission the feed (`by`) recorded from it
# withdrawn.
CancelAdmission = Callable[["Transaction", "Runtime", CareRoom, date, str],
                           Awaitable[Withdrawal]]


@dataclass(frozen=True)
class Episodes:
    find: FindRoom
    open: OpenRoom
    discharge: RecordDischarge
    admission: RecordAdmission
    cancel_discharge: CancelDischarge
    cancel_validation: CancelValidation
    cancel_admission: CancelAdmission
    update_identity: UpdateIdentity
    following: Following
    checklists: ProgressReader  # the rooms' discharge checklists (a merge cannot move them)
