"""ADT messages built like the samples in tests/data/adt/ (IHE PAM France), with the event,
control ID, patient, ward, dates and discharge disposition a test needs: dates relative to today
stay valid whenever the tests run."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from tests.careteam_helpers import INS

PARIS = ZoneInfo("Europe/Paris")
NIR = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
IPP = "CHU-EXEMPLE&1.2.250.1.999.1.1&ISO"  # the hospital's patient numbers


def _dtm(day: date | None, hour: int = 10) -> str:
    return f"{datetime.combine(day, time(hour, 30), tzinfo=PARIS):%Y%m%d%H%M}" if day else ""


def message(event: str, control_id: str, *, ins: str = INS, family: str = "DUPONT",
            given: str = "MARIE", birth: str = "19480315", sex: str = "F",
            ward: str = "CARDIO", patient_class: str = "I", admission_type: str = "R",
            admitted: date | None = None, discharged: date | None = None,
            disposition: str = "", ipp: str = "123456", prior_ipp: str | None = None,
            prior_ins: str | None = None) -> bytes:
    """One message; `admission_type` is PV1-4 (R planned, U urgent, "" unknown). A40 (merge):
    MRG-1 holds `prior_ipp` and `prior_ins` (PAM FR sends the IPP), and no PV1 is sent."""
    pv1 = [""] * 46
    pv1[0], pv1[2], pv1[3], pv1[4] = "PV1", patient_class, f"{ward}^101^1^CHU-EXEMPLE", \
        admission_type
    pv1[19], pv1[36] = "NDA0001", disposition
    pv1[44], pv1[45] = _dtm(admitted), _dtm(discharged, 15)
    kind = {"A03": "ADT_A03", "A02": "ADT_A02", "A11": "ADT_A09", "A40": "ADT_A39"}.get(
        event, "ADT_A01")
    sent = _dtm(discharged or admitted or date.today(), 16)
    segments = [
        f"MSH|^~\\&|GAM|CHU-EXEMPLE|LIAISON|CHU-EXEMPLE|{sent}||ADT^{event}^{kind}|{control_id}"
        "|P|2.5^FRA^2.11|||||FRA|8859/1",
        f"EVN||{sent}",
        f"PID|||{ins}^^^{NIR}^INS~{ipp}^^^{IPP}^PI||"
        f"{family}^{given}^{given}^^^^L||{birth}|{sex}" + "|" * 24 + "VALI",
    ]
    if event == "A40":
        prior = [f"{prior_ipp}^^^{IPP}^PI"] if prior_ipp else []
        prior += [f"{prior_ins}^^^{NIR}^INS"] if prior_ins else []
        segments.append("MRG|" + "~".join(prior))
    else:
        segments.append("|".join(pv1).rstrip("|"))
    return "\r".join(segments).encode() + b"\r"
