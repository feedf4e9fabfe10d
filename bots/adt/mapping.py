"""The ADT feed's codes mapped to ours (docs/ADT.md keeps the same tables). Pure.

Events, the INS assigning authorities (BRIEF §4), the planned/emergency reading of PV1-2 and
PV1-4, and the discharge disposition (PV1-36) as one of bots/episode/modes.py's modes.
"""

from __future__ import annotations

from typing import Literal

from bots.episode.modes import Mode

Event = Literal["A01", "A04", "A05", "A03", "A02", "A08", "A11", "A13", "A40"]
EVENTS: tuple[Event, ...] = ("A01", "A04", "A05", "A03", "A02", "A08", "A11", "A13", "A40")
# A40 (merge) may come without a visit; every other event is about one (PV1).
WITHOUT_VISIT: frozenset[Event] = frozenset({"A40"})
# Events whose time the message must carry: an admission without its date cannot start the
# checklist's A+n items, a discharge without its date cannot start the RH30 window.
ADMISSION_TIME_REQUIRED: frozenset[Event] = frozenset({"A01", "A04"})
DISCHARGE_TIME_REQUIRED: frozenset[Event] = frozenset({"A03"})

InsKind = Literal["NIR", "NIA"]
# PID-3's assigning authority (CX-4, universal ID) of the INS: NIR or NIA (BRIEF §4).
INS_OIDS: dict[str, InsKind] = {"1.2.250.1.213.1.4.8": "NIR", "1.2.250.1.213.1.4.9": "NIA"}
# PID-3's identifier type (CX-5) of the hospital's own patient number (IPP).
IPP_TYPE = "PI"
# PID-32 (identity reliability, PAM FR table 0445): VALI is a validated identity; with an INS
# from PID-3 we call it qualified. Our reading, to check with the sender's PAM FR version.
QUALIFIED_STATUS = "VALI"

# PV1-2 patient class "E": came through the emergency department.
_EMERGENCY_CLASS = "E"
# PV1-4 admission type (HL7 table 0007): emergency, urgent, accident are unplanned; routine
# and elective are planned. Anything else says nothing (None): planned readmissions are
# flagged by the team, never guessed (BRIEF §3).
_UNPLANNED_TYPES = frozenset({"E", "U", "A"})
_PLANNED_TYPES = frozenset({"R", "C"})


def planned(patient_class: str, admission_type: str) -> bool | None:
    """Whether the admission was planned, from PV1-2 and PV1-4; None when they do not say."""
    if patient_class.strip().upper() == _EMERGENCY_CLASS:
        return False
    kind = admission_type.strip().upper()
    if kind in _UNPLANNED_TYPES:
        return False
    if kind in _PLANNED_TYPES:
        return True
    return None


# PV1-36 as the PMSI codes: the mode de sortie (6 mutation, 7 transfer, 8 home, 9 death),
# followed for 6/7/8 by the destination (1 MCO, 2 SSR/SMR, 6 HAD, 7 medico-social housing).
# 63/73 (long-term care) and 64/74 (psychiatry) have no mode of ours yet: refused as unknown
# until the clinical team decides (docs/ADT.md, open questions).
DISPOSITIONS: dict[str, Mode] = {
    "8": "domicile",
    "86": "had", "66": "had", "76": "had",
    "87": "ehpad",
    "62": "ssr", "72": "ssr",
    "61": "mco", "71": "mco",
    "9": "deces",
}


def discharge_mode(disposition: str) -> Mode | None:
    return DISPOSITIONS.get(disposition.strip())
