"""A FHIR R4 transaction Bundle holding a Patient and its Encounter, read into the same `Movement`
an HL7 ADT message gives (bots/adt/messages.py), or refused. Pure: no network, no database.

The Bundle is validated with the `fhir.resources` models of FHIR 4.3.0 (R4B, the technical
correction of R4 4.0.1; Patient and Encounter are R4's). What the models refuse, or a Bundle
that is not a transaction of one Patient and one Encounter, is `Invalid`: where (a JSON Pointer)
and which rule, never a value. A valid Bundle whose content cannot be a movement (no INS, a bad
INS key, an unknown discharge disposition…) is a `Refused` with the HL7 reader's reasons, the
field named as a FHIR element (`Patient.identifier`). docs/ADT.md, FHIR, has the mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient

from bots.adt.mapping import INS_OIDS, IPP_TYPE, QUALIFIED_STATUS, Event, planned
from bots.adt.messages import PARIS, Movement, Refused, identity_reason
from bots.common.identity import Identity, IdentityError, make_identity, parse_birth_date
from bots.episode.modes import Mode

# The `sender` of the rows the API stores (MSH-3^MSH-4 for the feed's): Bundles are told apart
# by their identifier, or their Encounter's id, period and version (`control_id`).
APPLICATION, FACILITY = "FHIR", "API"
# Encounter.status (R4) → event: planned is a pre-admission, in the hospital an admission
# (registration for an outpatient encounter), finished a discharge. The others (cancelled,
# entered-in-error, unknown) are not movements (unsupported_event).
_IN = frozenset({"arrived", "triaged", "in-progress", "onleave"})
_OUTPATIENT = frozenset({"AMB", "VR", "HH"})  # Encounter.class (v3 ActCode): no stay
_EMERGENCY = "EMER"
# Encounter.priority (v3 ActPriority) → PV1-4 (HL7 table 0007), read by mapping.planned.
_PRIORITIES = {"EM": "E", "UR": "U", "A": "E", "EL": "C", "R": "R"}
# Patient.gender → the INS traits' sex.
_SEXES = {"female": "F", "male": "M", "other": "I", "unknown": "I"}
DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
# hospitalization.dischargeDisposition (HL7's table) → our modes (bots/episode/modes.py). Hospice,
# long-term care, psychiatry and "other" have no mode of ours yet: refused, as their PMSI codes
# are in PV1-36 (docs/ADT.md, open questions). HAD has no code in that table.
DISPOSITIONS: dict[str, Mode] = {
    "home": "domicile", "alt-home": "domicile", "aadvice": "domicile",
    "snf": "ehpad", "rehab": "ssr", "other-hcf": "mco", "exp": "deces",
}
_OID = "urn:oid:"


class Invalid(Exception):
    """The Bundle fails the FHIR models, or is not a transaction of one Patient and one
    Encounter: each problem's JSON Pointer and rule, never the value."""

    def __init__(self, details: list[tuple[str, str]]) -> None:
        super().__init__("invalid FHIR Bundle")
        self.details = details


@dataclass(frozen=True)
class Parsed:
    """A valid Bundle's two resources, with where each is in `entry` (for the pointers)."""
    bundle: Bundle
    patient: Patient
    encounter: Encounter
    places: dict[str, int]  # "Patient", "Encounter" → index in entry


def parse(payload: Any) -> Parsed:
    """The Bundle validated by the FHIR models; raises `Invalid`."""
    try:
        bundle = Bundle.model_validate(payload)
    except pydantic.ValidationError as error:
        raise Invalid([_problem(e) for e in error.errors()]) from None
    except Exception:  # an unknown resourceType is a KeyError in the library, among others
        raise Invalid([("/entry", "every resource must be a FHIR R4 resource")]) from None
    if bundle.type != "transaction":
        raise Invalid([("/type", "must be transaction")])
    found: dict[str, list[int]] = {}
    for index, entry in enumerate(bundle.entry or []):
        kind = entry.resource.get_resource_type() if entry.resource is not None else None
        found.setdefault(kind or "", []).append(index)
    problems = [("/entry", f"exactly one {kind} expected") for kind in ("Patient", "Encounter")
                if len(found.get(kind, [])) != 1]
    problems += [(f"/entry/{i}/resource", "only a Patient and an Encounter")
                 for kind, places in found.items() if kind not in ("Patient", "Encounter")
                 for i in places]
    if problems:
        raise Invalid(problems)
    places = {kind: found[kind][0] for kind in ("Patient", "Encounter")}
    entries = bundle.entry or []
    patient, encounter = (entries[places[k]].resource for k in ("Patient", "Encounter"))
    assert isinstance(patient, Patient) and isinstance(encounter, Encounter)
    subject = encounter.subject.reference if encounter.subject else None
    names = {entries[places["Patient"]].fullUrl, f"Patient/{patient.id}" if patient.id else None}
    if subject is None or subject not in names - {None}:
        raise Invalid([(f"/entry/{places['Encounter']}/resource/subject",
                        "must reference the Bundle's Patient (its fullUrl or Patient/id)")])
    if control_id(bundle, encounter) is None:
        raise Invalid([("/identifier", "Bundle.identifier or the Encounter's id is required "
                                       "(what makes a resent Bundle the same)")])
    return Parsed(bundle, patient, encounter, places)


def _problem(error: Any) -> tuple[str, str]:
    """A pydantic error as (pointer, rule). An unknown element's name may be anything the
    sender wrote: the pointer stops at its parent."""
    where = [str(part) for part in error["loc"]]
    if error["type"] == "extra_forbidden":
        return "/" + "/".join(where[:-1]), "unknown element"
    return "/" + "/".join(where), f"does not satisfy '{error['type']}'"


def control_id(bundle: Bundle, encounter: Encounter) -> str | None:
    """What makes a resent Bundle the same and another event of the same Encounter not:
    `Bundle.identifier`, else the Encounter's id, period and version (`meta.versionId`,
    `meta.lastUpdated`); either way with the Encounter's status, so that the discharge of an
    admitted Encounter (`finished`, A03) is never taken for a resend of its admission, even
    from a sender that reuses its identifier or sends no version. The sender's own words (an
    identifier may carry a patient number): stored only as a keyed hash (inbox.record)."""
    if bundle.identifier is not None and bundle.identifier.value:
        parts: list[Any] = ["identifier", bundle.identifier.system, bundle.identifier.value]
    elif encounter.id:
        meta, period = encounter.meta, encounter.period
        parts = ["Encounter", encounter.id, meta.versionId if meta else None,
                 str(meta.lastUpdated) if meta and meta.lastUpdated else None,
                 str(period.start) if period and period.start else None,
                 str(period.end) if period and period.end else None]
    else:
        return None
    # JSON: no choice of values can spell another key.
    return json.dumps([*parts, encounter.status], separators=(",", ":"))


class _Refuse(Exception):
    def __init__(self, reason: Any, where: str) -> None:
        super().__init__(reason)
        self.reason, self.where = reason, where


def movement(parsed: Parsed, now: datetime, *, zone: ZoneInfo = PARIS) -> Movement | Refused:
    """The movement the Bundle tells, or why not. `now` stamps a Bundle without a timestamp."""
    key = control_id(parsed.bundle, parsed.encounter)
    assert key is not None  # parse checked it
    try:
        return _movement(parsed, key, now, zone)
    except _Refuse as refusal:
        return Refused(refusal.reason, refusal.where, key)


def read(payload: Any, now: datetime, *, zone: ZoneInfo = PARIS) -> Movement | Refused:
    """`parse` then `movement`; an invalid Bundle as a refusal (the API answered it already: a
    stored one reads again)."""
    try:
        parsed = parse(payload)
    except Invalid:
        return Refused("missing_segment", "Bundle")
    return movement(parsed, now, zone=zone)


def stored(payload: Any) -> bytes:
    """The Bundle as a row keeps it (adt_messages.raw, sealed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def is_fhir(raw: bytes) -> bool:
    """Whether a row holds a FHIR Bundle (the API's) rather than an HL7 message (the feed's)."""
    return raw.lstrip()[:1] == b"{"


def _movement(parsed: Parsed, key: str, now: datetime, zone: ZoneInfo) -> Movement:
    encounter = parsed.encounter
    event = _event(encounter)
    identity, kind, qualified, ipp = _identity(parsed.patient, now.date())
    period = encounter.period
    admitted = _time(period.start if period else None, "Encounter.period.start", zone)
    discharged = _time(period.end if period else None, "Encounter.period.end", zone)
    if admitted is None and event in ("A01", "A04"):
        raise _Refuse("missing_field", "Encounter.period.start")
    if discharged is None and event == "A03":
        raise _Refuse("missing_field", "Encounter.period.end")
    sent = parsed.bundle.timestamp
    found = Movement(
        event=event, control_id=key,
        sent_at=sent if isinstance(sent, datetime) and sent.tzinfo else now,
        sending_application=APPLICATION, sending_facility=FACILITY, msh="",
        identity=identity, ins_kind=kind, ins_qualified=qualified, ipp=ipp,
        visit=next((i.value for i in encounter.identifier or [] if i.value), None),
        ward=_ward(encounter), planned=_planned(encounter),
        admitted_at=admitted, discharged_at=discharged)
    return replace(found, discharge_mode=_mode(encounter)) if event == "A03" else found


def _event(encounter: Encounter) -> Event:
    status = encounter.status
    if status == "planned":
        return "A05"
    if status == "finished":
        return "A03"
    if status in _IN:
        code = encounter.class_fhir.code if encounter.class_fhir else None
        return "A04" if code in _OUTPATIENT else "A01"
    raise _Refuse("unsupported_event", "Encounter.status")


def _identity(patient: Patient, today: date) -> tuple[Identity, Any, bool, str | None]:
    ins: tuple[str, Any] | None = None
    ipp = None
    for identifier in patient.identifier or []:
        system = (identifier.system or "").removeprefix(_OID)
        if system in INS_OIDS and identifier.value and ins is None:
            ins = (identifier.value, INS_OIDS[system])
        elif ipp is None and identifier.value and identifier.type is not None and any(
                c.code == IPP_TYPE for c in identifier.type.coding or []):
            ipp = identifier.value
    if ins is None:
        raise _Refuse("missing_ins", "Patient.identifier")
    names = patient.name or []
    name = next((n for n in names if n.use == "official"), names[0] if names else None)
    if name is None or not name.family or not name.given:
        raise _Refuse("missing_field", "Patient.name")
    if patient.birthDate is None:
        raise _Refuse("missing_field", "Patient.birthDate")
    if not isinstance(patient.birthDate, date):  # a year or a month: not the INS traits' date
        raise _Refuse("bad_date", "Patient.birthDate")
    try:
        born = parse_birth_date(patient.birthDate.isoformat(), today)
    except IdentityError:
        raise _Refuse("bad_date", "Patient.birthDate") from None
    sex = _SEXES.get(patient.gender or "")
    if sex is None:
        raise _Refuse("missing_field", "Patient.gender")
    try:
        identity = make_identity(name.family, " ".join(name.given), born, sex, ins=ins[0])
    except IdentityError as error:  # its values hold the INS or a name: only the key is kept
        raise _Refuse(*identity_reason(error.key, "Patient.identifier", "Patient.name")) \
            from None
    return identity, ins[1], _qualified(patient.extension or []), ipp


def _qualified(extensions: list[Any]) -> bool:
    """Whether an extension (FR Core's identity reliability, at any depth) says VALI."""
    for extension in extensions:
        coding = extension.valueCoding
        if coding is not None and coding.code == QUALIFIED_STATUS:
            return True
        if _qualified(extension.extension or []):
            return True
    return False


def _time(value: Any, where: str, zone: ZoneInfo) -> datetime | None:
    """A FHIR date or dateTime as an aware moment (the hospital's wall clock when no offset)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    raise _Refuse("bad_date", where)  # a year or a month: not a day


def _ward(encounter: Encounter) -> str | None:
    """The first location given by an identifier: the ward's code, as PV1-3.1."""
    for place in encounter.location or []:
        identifier = place.location.identifier if place.location else None
        if identifier is not None and identifier.value:
            return str(identifier.value)
    return None


def _planned(encounter: Encounter) -> bool | None:
    emergency = encounter.class_fhir is not None and encounter.class_fhir.code == _EMERGENCY
    codes = [c.code for c in (encounter.priority.coding or [])] if encounter.priority else []
    kind = next((_PRIORITIES[c] for c in codes if c in _PRIORITIES), "")
    return planned("E" if emergency else "", kind)


def _mode(encounter: Encounter) -> Mode | None:
    disposition = encounter.hospitalization.dischargeDisposition \
        if encounter.hospitalization else None
    if disposition is None:
        return None
    for coding in disposition.coding or []:
        if coding.system == DISPOSITION_SYSTEM and coding.code in DISPOSITIONS:
            return DISPOSITIONS[coding.code]
    raise _Refuse("unknown_disposition", "Encounter.hospitalization.dischargeDisposition")
