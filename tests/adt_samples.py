"""ADT messages built like the samples in tests/data/adt/ (IHE PAM France), with the event,
control ID, patient, ward, dates and discharge disposition a test needs: dates relative to today
stay valid whenever the tests run. The builder is bots/devstack/adt_messages.py, shared with the
benchmark (bench/adt.py); its default patient is tests.careteam_helpers.INS's. `bundle` is the
same admission as a FHIR transaction Bundle (bots/adt/fhir.py)."""

from __future__ import annotations

from typing import Any

from bots.adt import fhir
from bots.devstack.adt_messages import INS, PARIS, message
from tests.careteam_helpers import INS as CARETEAM_INS

assert INS == CARETEAM_INS  # the samples' patient is the care-team tests' patient
__all__ = ["NIR", "PARIS", "bundle", "message"]

NIR = "urn:oid:1.2.250.1.213.1.4.8"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"

def bundle(*, status: str = "in-progress", klass: str = "IMP", priority: str | None = "R",
           start: str | None = "2026-11-20T10:30:00+01:00", end: str | None = None,
           disposition: str | None = None, ins: str = INS, identifier: bool = True,
           **patient: Any) -> dict[str, Any]:
    """An admission of the samples' patient to CARDIO (bots/devstack/adt_messages.py's)."""
    encounter: dict[str, Any] = {
        "resourceType": "Encounter", "id": "SEJ-0001", "meta": {"versionId": "3"},
        "identifier": [{"system": "urn:oid:1.2.250.1.999.1.3", "value": "NDA0001"}],
        "status": status, "class": {"system": V3, "code": klass},
        "subject": {"reference": "urn:uuid:patient-1"},
        "location": [{"location": {"identifier": {"value": "CARDIO"}}}]}
    if priority:
        encounter["priority"] = {"coding": [{"system": PRIORITY, "code": priority}]}
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        encounter["period"] = period
    if disposition:
        encounter["hospitalization"] = {"dischargeDisposition": {"coding": [
            {"system": fhir.DISPOSITION_SYSTEM, "code": disposition}]}}
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": NIR, "value": ins},
                       {"type": {"coding": [{"code": "PI"}]}, "value": "123456"}],
        "name": [{"use": "usual", "family": "MARTIN", "given": ["MARIE"]},
                 {"use": "official", "family": "DUPONT", "given": ["MARIE"]}],
        "gender": "female", "birthDate": "1948-03-15", **patient}
    body: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:patient-1", "resource": resource,
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": encounter, "request": {"method": "PUT", "url": "Encounter/SEJ-0001"}}]}
    if identifier:
        body["identifier"] = {"system": "urn:oid:1.2.250.1.999.1.2", "value": "MVT-1"}
    return body
