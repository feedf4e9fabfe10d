"""Made-up ADT messages (HL7 v2.5, IHE PAM France) for the tests and the benchmarks: one message
built like the samples in tests/data/adt/ (`message`), and a hospital's feed of many patients'
movements (`feed`), in the order an interface engine would send them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bots.common.identity import Identity
from bots.devstack.patients import ins_for, patient

PARIS = ZoneInfo("Europe/Paris")
NIR = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
IPP = "CHU-EXEMPLE&1.2.250.1.999.1.1&ISO"  # the hospital's patient numbers
INS = ins_for("2480375123456")  # the samples' patient: a woman born in March 1948
# MSH-9.3, the message structure of each event (HL7 v2.5); the others use ADT_A01's.
STRUCTURES = {"A03": "ADT_A03", "A02": "ADT_A02", "A05": "ADT_A05", "A11": "ADT_A09",
              "A40": "ADT_A39"}


def _dtm(day: date | None, hour: int = 10) -> str:
    return f"{datetime.combine(day, time(hour, 30), tzinfo=PARIS):%Y%m%d%H%M}" if day else ""


def message(event: str, control_id: str, *, ins: str = INS, family: str = "DUPONT",
            given: str = "MARIE", birth: str = "19480315", sex: str = "F",
            ward: str = "CARDIO", patient_class: str = "I", admission_type: str = "R",
            admitted: date | None = None, discharged: date | None = None,
            disposition: str = "", ipp: str = "123456", prior_ipp: str | None = None,
            prior_ins: str | None = None, qualified: bool = True) -> bytes:
    """One message; `admission_type` is PV1-4 (R planned, U urgent, "" unknown). A40 (merge):
    MRG-1 holds `prior_ipp` and `prior_ins` (PAM FR sends the IPP), and no PV1 is sent.
    `qualified`: PID-32 VALI (a qualified INS), else PROV."""
    pv1 = [""] * 46
    pv1[0], pv1[2], pv1[3], pv1[4] = "PV1", patient_class, f"{ward}^101^1^CHU-EXEMPLE", \
        admission_type
    pv1[19], pv1[36] = "NDA0001", disposition
    pv1[44], pv1[45] = _dtm(admitted), _dtm(discharged, 15)
    sent = _dtm(discharged or admitted or date.today(), 16)
    segments = [
        f"MSH|^~\\&|GAM|CHU-EXEMPLE|LIAISON|CHU-EXEMPLE|{sent}||ADT^{event}^"
        f"{STRUCTURES.get(event, 'ADT_A01')}|{control_id}|P|2.5^FRA^2.11|||||FRA|8859/1",
        f"EVN||{sent}",
        f"PID|||{ins}^^^{NIR}^INS~{ipp}^^^{IPP}^PI||"
        f"{family}^{given}^{given}^^^^L||{birth}|{sex}" + "|" * 24 +
        ("VALI" if qualified else "PROV"),
    ]
    if event == "A40":
        prior = [f"{prior_ipp}^^^{IPP}^PI"] if prior_ipp else []
        prior += [f"{prior_ins}^^^{NIR}^INS"] if prior_ins else []
        segments.append("MRG|" + "~".join(prior))
    else:
        segments.append("|".join(pv1).rstrip("|"))
    return "\r".join(segments).encode() + b"\r"


def patient_message(event: str, control_id: str, who: Identity, **visit: Any) -> bytes:
    """`message` about `who` (bots.devstack.patients.patient) instead of the samples' patient."""
    assert who.ins is not None
    return message(event, control_id, ins=who.ins, family=who.family_name,
                   given=who.given_names, birth=f"{who.birth_date:%Y%m%d}", sex=who.sex,
                   **visit)


@dataclass(frozen=True)
class Sent:
    """One message of a feed, and whose (the patient's number: a sender keeps a patient's
    messages on one connection, in order)."""
    patient: int
    event: str
    raw: bytes


WARDS = ("CARDIO", "GERIA", "MEDPOLY", "PNEUMO", "NEURO")
# PV1-36 as sent, weighted as a medicine ward's discharges are (most go home).
DISPOSITIONS = (("8", 70), ("86", 6), ("87", 8), ("62", 8), ("71", 4), ("9", 4))
# PV1-2, PV1-4: through the emergency department, urgent, planned, unknown.
ADMISSIONS = ((("E", "U"), 45), (("I", "U"), 15), (("I", "R"), 30), (("I", ""), 10))
IN_HOSPITAL = 300  # patients in the wards at once, about


def feed(n: int, *, seed: int = 0, prefix: str = "ADT", today: date | None = None,
         first_patient: int = 0) -> list[Sent]:
    """`n` messages of a hospital's feed: patients admitted (A01, some after a pre-admission
    A05 or a registration A04), transferred (A02), their traits updated (A08), discharged (A03)
    with a disposition, about `IN_HOSPITAL` of them in at once; control IDs `prefix` + a number.
    The same seed gives the same feed."""
    rng = random.Random(seed)
    today = today or date.today()
    out: list[Sent] = []
    inside: dict[int, tuple[str, date]] = {}  # patient number → ward, admission day
    pending: dict[int, date] = {}  # pre-admitted (A05), not yet in
    next_patient = first_patient

    def emit(number: int, event: str, **visit: Any) -> None:
        who = patient(number)
        out.append(Sent(number, event, patient_message(
            event, f"{prefix}{len(out):07d}", who, ipp=f"IPP{number:07d}", **visit)))

    while len(out) < n:
        roll = rng.random()
        if len(inside) < IN_HOSPITAL and (roll < 0.35 or not inside):
            number, next_patient = next_patient, next_patient + 1
            ward = rng.choice(WARDS)
            day = today - timedelta(days=rng.randrange(0, 15))
            (patient_class, admission_type), = rng.choices(
                [a for a, _ in ADMISSIONS], [w for _, w in ADMISSIONS])
            if admission_type == "R" and rng.random() < 0.5:
                emit(number, "A05", ward=ward, admitted=day, patient_class="I",
                     admission_type="R")
                pending[number] = day
                continue
            emit(number, rng.choice(("A01",) * 9 + ("A04",)), ward=ward, admitted=day,
                 patient_class=patient_class, admission_type=admission_type)
            inside[number] = (ward, day)
        elif pending and roll < 0.45:
            number, day = pending.popitem()
            ward = rng.choice(WARDS)
            emit(number, "A01", ward=ward, admitted=day, admission_type="R")
            inside[number] = (ward, day)
        elif roll < 0.60:
            number = rng.choice(list(inside))
            ward, day = inside[number]
            ward = rng.choice([w for w in WARDS if w != ward])
            emit(number, "A02", ward=ward, admitted=day)
            inside[number] = (ward, day)
        elif roll < 0.70:
            number = rng.choice(list(inside))
            ward, day = inside[number]
            emit(number, "A08", ward=ward, admitted=day)
        else:
            number = rng.choice(list(inside))
            ward, day = inside.pop(number)
            disposition, = rng.choices([d for d, _ in DISPOSITIONS],
                                       [w for _, w in DISPOSITIONS])
            emit(number, "A03", ward=ward, admitted=day,
                 discharged=min(today, day + timedelta(days=rng.randrange(1, 12))),
                 disposition=disposition)
    return out
