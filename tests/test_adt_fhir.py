"""FHIR R4 transaction Bundles (a Patient and its Encounter) read into the movement an HL7 ADT
message gives (bots/adt/fhir.py): the same movement as the HL7 equivalent, the mapping of status,
class, priority, period and discharge disposition, idempotency keys, and refusals that name an
element, never a value. Pure: no server."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.adt import fhir
from bots.adt.inbox import movement_of
from bots.adt.messages import Movement, Refused, read
from bots.devstack.adt_messages import INS, message
from bots.devstack.patients import ins_for
from tests.adt_samples import NIR, bundle

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
# What the bundle says of the patient: never in a refusal.
IDENTITY_VALUES = ("DUPONT", "MARIE", INS, "1948")


def movement(body: dict[str, Any]) -> Movement:
    found = fhir.read(body, NOW)
    assert isinstance(found, Movement), found
    return found


def refused(body: dict[str, Any]) -> Refused:
    found = fhir.read(body, NOW)
    assert isinstance(found, Refused), found
    return found


def test_an_admission_is_the_same_movement_as_its_hl7_a01() -> None:
    from_fhir = movement(bundle(priority="UR"))
    from_hl7 = read(message("A01", "MSG1", admitted=date(2026, 11, 20), admission_type="U"))
    assert isinstance(from_hl7, Movement)
    for name in ("event", "identity", "ins_kind", "ipp", "visit", "ward", "planned",
                 "admitted_at", "discharged_at", "discharge_mode"):
        assert getattr(from_fhir, name) == getattr(from_hl7, name), name
    assert (from_fhir.sending_application, from_fhir.sending_facility) == ("FHIR", "API")
    assert from_fhir.identity.family_name == "DUPONT"  # the official (birth) name, not usual


def test_a_discharge_with_its_mode_and_a_date_only_end() -> None:
    found = movement(bundle(status="finished", end="2026-11-23", disposition="rehab"))
    assert (found.event, found.discharge_mode) == ("A03", "ssr")
    assert found.discharged_at is not None and found.discharged_at.date() == date(2026, 11, 23)
    assert movement(bundle(status="finished", end="2026-11-23")).discharge_mode is None
    assert (refused(bundle(status="finished", end=None)).reason,
            refused(bundle(status="finished", end=None)).field) == (
        "missing_field", "Encounter.period.end")


@pytest.mark.parametrize(("code", "mode"), sorted(fhir.DISPOSITIONS.items()))
def test_each_discharge_disposition_maps_to_its_mode(code: str, mode: str) -> None:
    assert movement(bundle(status="finished", end="2026-11-23", disposition=code)) \
        .discharge_mode == mode


@pytest.mark.parametrize("code", ["psy", "long", "hosp", "oth", "8"])
def test_dispositions_without_a_mode_of_ours_are_refused(code: str) -> None:
    assert refused(bundle(status="finished", end="2026-11-23", disposition=code)).reason == \
        "unknown_disposition"


@pytest.mark.parametrize(("status", "klass", "event"), [
    ("planned", "IMP", "A05"), ("arrived", "IMP", "A01"), ("in-progress", "EMER", "A01"),
    ("onleave", "IMP", "A01"), ("in-progress", "AMB", "A04"), ("finished", "IMP", "A03")])
def test_status_and_class_give_the_event(status: str, klass: str, event: str) -> None:
    assert movement(bundle(status=status, klass=klass, end="2026-11-23")).event == event


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error", "unknown"])
def test_statuses_that_are_no_movement_are_refused(status: str) -> None:
    found = refused(bundle(status=status))
    assert (found.reason, found.field) == ("unsupported_event", "Encounter.status")


@pytest.mark.parametrize(("klass", "priority", "planned"), [
    ("EMER", "EL", False), ("IMP", "EM", False), ("IMP", "UR", False), ("IMP", "EL", True),
    ("IMP", "R", True), ("IMP", None, None)])
def test_class_and_priority_say_whether_it_was_planned(klass: str, priority: str | None,
                                                       planned: bool | None) -> None:
    assert movement(bundle(klass=klass, priority=priority)).planned is planned


def test_an_admission_needs_its_start() -> None:
    assert refused(bundle(start=None)).field == "Encounter.period.start"
    assert movement(bundle(status="planned", start=None)).event == "A05"


def test_the_identity_reliability_extension_qualifies_the_ins() -> None:
    assert not movement(bundle()).ins_qualified
    reliability = [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/"
                           "fr-core-identity-reliability",
                    "extension": [{"url": "identityStatus", "valueCoding": {"code": "VALI"}}]}]
    assert movement(bundle(extension=reliability)).ins_qualified


def test_the_idempotency_key_is_the_bundle_identifier_else_the_encounter_version() -> None:
    keyed = movement(bundle()).control_id
    assert keyed == movement(bundle()).control_id  # the same Bundle again: a resend
    assert keyed != movement(bundle(identifier=False)).control_id
    versioned = bundle(identifier=False)
    assert movement(versioned).control_id != movement(bundle(identifier=False, start=(
        "2026-11-21T10:30:00+01:00"))).control_id
    newer = bundle(identifier=False)
    newer["entry"][1]["resource"]["meta"]["versionId"] = "4"
    assert movement(versioned).control_id != movement(newer).control_id
    del versioned["entry"][1]["resource"]["meta"]
    assert movement(versioned).control_id == movement(copy.deepcopy(versioned)).control_id
    del versioned["entry"][1]["resource"]["id"]
    with pytest.raises(fhir.Invalid) as invalid:
        fhir.parse(versioned)
    assert invalid.value.details[0][0] == "/identifier"


@pytest.mark.parametrize("identifier", [True, False])
@pytest.mark.parametrize("version", [True, False])
def test_the_discharge_of_an_encounter_is_no_resend_of_its_admission(
        identifier: bool, version: bool) -> None:
    """Review: the key was `Encounter/{id}` without a version, so the A03 of an admitted
    Encounter was folded into its A01 (a lost discharge); a sender reusing the Bundle's
    identifier lost it the same way."""
    admission = bundle(identifier=identifier)
    discharge = bundle(identifier=identifier, status="finished", end="2026-11-23",
                       disposition="home")
    for body in (admission, discharge):
        if not version:
            del body["entry"][1]["resource"]["meta"]
    assert movement(admission).control_id != movement(discharge).control_id


@pytest.mark.parametrize(("change", "reason", "field"), [
    ({"identifier": [{"system": "urn:oid:1.2.3", "value": INS}]}, "missing_ins",
     "Patient.identifier"),
    ({"identifier": [{"system": NIR, "value": INS[:13] + f"{(int(INS[13:]) + 1) % 97:02d}"}]},
     "ins_key", "Patient.identifier"),
    ({"identifier": [{"system": NIR, "value": ins_for("1480375123456")}]}, "ins_mismatch",
     "Patient.identifier"),
    ({"gender": None}, "missing_field", "Patient.gender"),
    ({"birthDate": "1948"}, "bad_date", "Patient.birthDate"),
    ({"name": [{"family": "DUPONT"}]}, "missing_field", "Patient.name"),
])
def test_a_patient_that_is_no_identity_is_refused_by_element(
        change: dict[str, Any], reason: str, field: str) -> None:
    body = bundle()
    body["entry"][0]["resource"].update(change)
    body["entry"][0]["resource"] = {k: v for k, v in body["entry"][0]["resource"].items()
                                    if v is not None}
    found = refused(body)
    assert (found.reason, found.field) == (reason, field)


def _invalid(body: Any) -> list[tuple[str, str]]:
    with pytest.raises(fhir.Invalid) as invalid:
        fhir.parse(body)
    text = json.dumps(invalid.value.details)
    for value in (*IDENTITY_VALUES, "SECRET"):
        assert value not in text
    return invalid.value.details


def test_what_the_fhir_models_refuse_is_invalid_and_never_echoed() -> None:
    body = bundle()
    body["entry"][0]["resource"]["birthDate"] = "SECRET-1948"
    body["entry"][0]["resource"]["SECRETKEY"] = "DUPONT"
    details = dict(_invalid(body))
    assert details["/entry/0/resource/birthDate"].startswith("does not satisfy")
    assert details["/entry/0/resource"] == "unknown element"
    wrong = bundle()
    wrong["type"] = "batch"
    assert _invalid(wrong) == [("/type", "must be transaction")]
    three = bundle()
    three["entry"].append(copy.deepcopy(three["entry"][0]))
    assert ("/entry", "exactly one Patient expected") in _invalid(three)
    other = bundle()
    other["entry"][1]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    assert _invalid(other)[0][0] == "/entry/1/resource/subject"
    unknown = bundle()
    unknown["entry"][1]["resource"]["resourceType"] = "Nothing"
    assert _invalid(unknown) == [("/entry", "every resource must be a FHIR R4 resource")]


def test_a_stored_bundle_reads_back_as_the_same_movement() -> None:
    """The applier reads any row with inbox.movement_of: a Bundle (the API's) as a Bundle."""
    body = bundle(status="finished", end="2026-11-23", disposition="home")
    again = movement_of(fhir.stored(body), NOW)
    assert again == movement(body)
    assert isinstance(movement_of(message("A01", "MSG1", admitted=date(2026, 11, 20))),
                      Movement)


def test_the_sample_bundle_docs_adt_posts_is_this_admission() -> None:
    # docs/ADT.md's curl line posts tests/data/adt/fhir_admission.json to the dev stack.
    path = Path(__file__).parent / "data" / "adt" / "fhir_admission.json"
    assert json.loads(path.read_text()) == bundle()
    assert movement(bundle()).event == "A01"
