"""The ADT intake's pure core (issue 19): each sample message (tests/data/adt/, written on the
IHE PAM France examples' structure) read into its Movement or refused with its reason; the
ACKs; any bytes or mutated message give a Movement or a Refused, never an exception; refusals
name fields, never patient data."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.adt.ack import ERROR_CODES, ack
from bots.adt.mapping import DISPOSITIONS, planned
from bots.adt.messages import Movement, Reason, Refused, read
from bots.adt.texts import TEXTS
from bots.devstack.adt_messages import feed
from bots.episode.modes import MODES
from tests.conftest import examples

DATA = Path(__file__).parent / "data" / "adt"
PARIS = ZoneInfo("Europe/Paris")
INS = "248037512345658"
# What a refusal must never show: the samples' identity traits and numbers.
PATIENT_DATA = ("DUPONT", "MARIE", "DURAND", "19480315", "1948", INS, "848037500012395",
                "248037512345659", "123456", "654321", "NDA0001")


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def moved(name: str) -> Movement:
    found = read(sample(name))
    assert isinstance(found, Movement), found
    return found


def test_an_admission_with_a_qualified_ins():
    found = moved("a01_admission.hl7")
    assert (found.event, found.control_id) == ("A01", "MSG0001")
    assert found.sent_at == datetime(2026, 12, 1, 8, 30, tzinfo=PARIS)
    assert (found.sending_application, found.sending_facility) == ("GAM", "CHU-EXEMPLE")
    who = found.identity
    assert (who.family_name, who.given_names, who.birth_date, who.sex, who.ins) == (
        "DUPONT", "MARIE CLAIRE", date(1948, 3, 15), "F", INS)
    assert (found.ins_kind, found.ins_qualified, found.ipp, found.visit) == (
        "NIR", True, "123456", "NDA0001")
    assert (found.ward, found.planned) == ("CARDIO", True)
    assert found.admitted_at == datetime(2026, 12, 1, 8, 25, tzinfo=PARIS)
    assert (found.discharged_at, found.discharge_mode, found.prior_ipp) == (None, None, None)


def test_an_emergency_registration_with_an_nia_in_8859_1():
    found = moved("a04_emergency_nia.hl7")
    assert (found.event, found.ward, found.planned) == ("A04", "URG", False)
    assert (found.ins_kind, found.ins_qualified) == ("NIA", False)  # PID-32 PROV
    assert found.identity.ins == "848037500012395"
    assert found.identity.given_names == "LÉA"  # the Latin-1 byte read as É


@pytest.mark.parametrize("name, mode, at", [
    ("a03_home.hl7", "domicile", datetime(2026, 12, 10, 15, 30, tzinfo=PARIS)),
    ("a03_ssr.hl7", "ssr", datetime(2026, 12, 10, 15, 45, tzinfo=timezone(timedelta(hours=1)))),
])
def test_a_discharge_gives_its_date_and_mode(name, mode, at):
    found = moved(name)
    assert (found.event, found.discharge_mode, found.discharged_at) == ("A03", mode, at)


def test_a_cancellation_and_a_merge():
    assert moved("a11_cancel.hl7").event == "A11"
    merge = moved("a40_merge.hl7")
    assert (merge.event, merge.prior_ipp, merge.ipp, merge.ward) == ("A40", "654321", "123456", None)
    assert merge.prior_ins is None
    # MRG-1 may also carry the prior INS (its NIR or NIA OID), beside the prior IPP.
    both = (DATA / "a40_merge.hl7").read_bytes().replace(
        b"^PI\n", b"^PI~248037512345659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS\n")
    found = read(both)
    assert isinstance(found, Movement)
    assert (found.prior_ipp, found.prior_ins) == ("654321", "248037512345659")


def test_a_cancelled_discharge_names_its_day_and_an_update_its_birth_name():
    cancel = moved("a13_cancel_discharge.hl7")
    assert (cancel.event, cancel.discharge_mode) == ("A13", "domicile")
    assert cancel.discharged_at == datetime(2026, 12, 2, 15, 0, tzinfo=PARIS)
    update = moved("a08_update.hl7")
    assert (update.event, update.identity.family_name, update.identity.ins) == (
        "A08", "DURAND", INS)


@pytest.mark.parametrize("name, reason, field, control_id, code", [
    ("not_hl7.hl7", "not_hl7", None, None, "AR"),
    ("bad_msh_no_control_id.hl7", "bad_msh", "MSH-10", None, "AR"),
    ("unsupported_event.hl7", "unsupported_event", "MSH-9", "MSG0101", "AR"),
    ("no_pid.hl7", "missing_segment", "PID", "MSG0102", "AE"),
    ("no_ins.hl7", "missing_ins", "PID-3", "MSG0103", "AE"),
    ("bad_ins_key.hl7", "ins_key", "PID-3", "MSG0104", "AE"),
    ("bad_date.hl7", "bad_date", "PV1-44", "MSG0105", "AE"),
    ("unknown_disposition.hl7", "unknown_disposition", "PV1-36", "MSG0106", "AE"),
])
def test_a_malformed_message_is_refused_with_its_reason(name, reason, field, control_id, code):
    refused = read(sample(name))
    assert refused == Refused(reason, field, control_id)
    assert refused.code == code


def _edit(raw: bytes, old: bytes, new: bytes) -> bytes:
    """`raw` with the last `old` (PV1 comes last) replaced by `new`."""
    before, found, after = raw.rpartition(old)
    assert found
    return before + new + after


A01 = sample("a01_admission.hl7")


@pytest.mark.parametrize("old, new, reason, field", [
    (b"ADT^A01^ADT_A01", b"ORU^R01^ORU_R01", "unsupported_event", "MSH-9"),
    (b"|20261201083000|", b"|2026-12-01|", "bad_msh", "MSH-7"),
    (b"|19480315|", b"|1948|", "bad_date", "PID-7"),
    (b"|19480315|", b"|21480315|", "bad_date", "PID-7"),  # born after the message
    (b"|19480315|", b"|19480415|", "ins_mismatch", "PID-3"),
    (b"|F|", b"|M|", "ins_mismatch", "PID-3"),
    (b"|F|", b"|X|", "bad_identity", "PID-8"),
    (b"|F|", b"||", "missing_field", "PID-8"),
    (b"DUPONT^", b"DUP0NT^", "bad_identity", "PID-5"),
    (b"DUPONT^MARIE^MARIE CLAIRE", b"", "missing_field", "PID-5"),
    (b"248037512345658^", b"24803751234565^", "ins_invalid", "PID-3"),
    (b"1.2.250.1.213.1.4.8", b"1.2.250.1.213.1.4.99", "missing_ins", "PID-3"),
    (b"|20261201082500\n", b"|\n", "missing_field", "PV1-44"),
])
def test_each_field_is_checked(old, new, reason, field):
    found = read(_edit(A01, old, new))
    assert isinstance(found, Refused) and (found.reason, found.field) == (reason, field)


def test_a_merge_without_its_prior_number_and_a_discharge_without_its_date():
    merge = sample("a40_merge.hl7")
    assert read(merge.split(b"MRG|")[0]) == Refused("missing_segment", "MRG", "MSG0006")
    discharge = _edit(sample("a03_home.hl7"), b"|20261210153000\n", b"|\n")
    assert read(discharge) == Refused("missing_field", "PV1-45", "MSG0003")


def test_frames_line_ends_and_text_are_read_alike():
    expected = moved("a01_admission.hl7")
    for variant in (A01.replace(b"\n", b"\r"), A01.replace(b"\n", b"\r\n"),
                    b"\x0b" + A01.replace(b"\n", b"\r") + b"\x1c\r", A01.decode("latin-1")):
        assert read(variant) == expected


@pytest.mark.parametrize("patient_class, admission_type, expected", [
    ("E", "R", False), ("I", "E", False), ("I", "U", False), ("I", "A", False),
    ("I", "R", True), ("O", "C", True), ("I", "", None), ("I", "L", None),
])
def test_planned_from_pv1_2_and_pv1_4(patient_class, admission_type, expected):
    assert planned(patient_class, admission_type) is expected


def test_every_disposition_maps_to_one_of_our_modes():
    assert set(DISPOSITIONS.values()) <= set(MODES)
    assert {"domicile", "ssr", "had", "ehpad", "mco", "deces"} <= set(DISPOSITIONS.values())


AT = datetime(2026, 12, 1, 7, 31, tzinfo=UTC)


def _segments(text: str) -> dict[str, list[str]]:
    assert text.endswith("\r")
    return {line[:3]: line.split("|") for line in text.rstrip("\r").split("\r")}


def test_an_aa_swaps_sender_and_receiver_and_echoes_the_control_id():
    text = ack(moved("a01_admission.hl7"), "AA", texts=TEXTS, at=AT, control_id="ACK0001")
    segments = _segments(text)
    msh = segments["MSH"]
    assert msh[2:6] == ["LIAISON", "CHU-EXEMPLE", "GAM", "CHU-EXEMPLE"]
    assert (msh[6], msh[8], msh[9]) == ("20261201073100+0000", "ACK^A01^ACK", "ACK0001")
    assert segments["MSA"] == ["MSA", "AA", "MSG0001"]
    assert "ERR" not in segments
    assert ack(A01, "AA", texts=TEXTS, at=AT, control_id="ACK0001") == text  # raw or read


@pytest.mark.parametrize("lang, words", [("fr", "clé de contrôle"), ("en", "control key")])
def test_an_ae_says_where_and_why(lang, words):
    raw = sample("bad_ins_key.hl7")
    refused = read(raw)
    assert isinstance(refused, Refused)
    segments = _segments(ack(raw, refused.code, refused, texts=TEXTS, lang=lang, at=AT))
    assert segments["MSA"] == ["MSA", "AE", "MSG0104"]
    err = segments["ERR"]
    assert (err[2], err[3], err[4], err[5]) == (
        "PID^1^3", "102^Data type error^HL70357", "E", "ins_key")
    assert words in err[8]
    assert not any(value in err[8] for value in PATIENT_DATA)


def test_what_is_not_hl7_still_gets_an_ar():
    refused = read(b"\x00\xffnothing")
    assert refused == Refused("not_hl7")
    segments = _segments(ack(b"\x00\xffnothing", "AR", refused, texts=TEXTS, at=AT))
    assert segments["MSA"] == ["MSA", "AR", ""]
    assert segments["ERR"][3].startswith("100^")


def test_the_reason_text_escapes_the_delimiters():
    refused = Refused("missing_field", "A|B^C")
    err = _segments(ack(A01, "AE", refused, texts=TEXTS, at=AT))["ERR"]
    assert "A\\F\\B\\S\\C" in err[8]


def test_an_ae_needs_a_reason():
    with pytest.raises(ValueError):
        ack(A01, "AE", texts=TEXTS)


def test_every_reason_has_both_languages_and_names_no_value():
    for key, forms in TEXTS.items():
        assert key.startswith("adt.") and set(forms) == {"fr", "en"}
    assert {f"adt.{reason}" for reason in get_args(Reason)} == set(TEXTS)
    assert set(ERROR_CODES) == set(get_args(Reason))


def test_a_movement_shows_no_identity_in_its_repr():
    shown = repr(moved("a40_merge.hl7")) + repr(moved("a04_emergency_nia.hl7"))
    assert not any(value in shown for value in PATIENT_DATA)


def test_the_library_logs_no_field_it_cannot_unescape(caplog):
    caplog.set_level(logging.DEBUG)
    read(_edit(A01, b"MARIE CLAIRE", b"MARIE\\XZZ\\CLAIRE"))
    assert not any("MARIE" in record.getMessage() for record in caplog.records)


def _never_raises(raw: bytes | str) -> None:
    found = read(raw)
    assert isinstance(found, Movement | Refused)
    if isinstance(found, Refused):
        shown = repr(found) + found.text(TEXTS, "fr") + found.text(TEXTS, "en")
        assert not any(value in shown for value in PATIENT_DATA)
        assert ack(raw, found.code, found, texts=TEXTS, at=AT).startswith("MSH|")
    else:
        assert not any(value in repr(found) for value in PATIENT_DATA)
        assert ack(found, "AA", texts=TEXTS, at=AT).startswith("MSH|")


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_any_bytes_give_a_movement_or_a_refusal(raw):
    _never_raises(raw)
    _never_raises(b"MSH" + raw)


SAMPLES = sorted(p.name for p in DATA.iterdir())
DELIMITERS = st.sampled_from(list(b"|^~\\&\r\n0A ") + [0x0b, 0x1c, 0xe9])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A sample with a few bytes replaced, deleted or inserted, or a segment dropped or
    repeated: what a broken sender or a cut connection would give."""
    raw = bytearray(sample(draw(st.sampled_from(SAMPLES))))
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        kind = draw(st.sampled_from(("replace", "delete", "insert", "segment")))
        if kind == "replace":
            raw[at] = draw(DELIMITERS | st.integers(0, 255))
        elif kind == "delete":
            del raw[at:at + draw(st.integers(1, 20))]
        elif kind == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            lines = bytes(raw).split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index]) if draw(st.booleans()) else lines.pop(index)
            raw = bytearray(b"\n".join(lines))
    return bytes(raw)


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_message_gives_a_movement_or_a_refusal(raw):
    _never_raises(raw)


def test_the_benchmark_feed_reads_and_keeps_each_patients_movements_in_order() -> None:
    """bots/devstack/adt_messages.py's feed (bench/adt.py replays it): every message a movement,
    each patient admitted before being transferred, updated or discharged, the mix varied."""
    sent = feed(2000, seed=3)
    read_ = [read(s.raw) for s in sent]
    assert all(isinstance(m, Movement) for m in read_)
    assert len({m.control_id for m in read_ if isinstance(m, Movement)}) == 2000
    seen: dict[int, list[str]] = {}
    for s in sent:
        seen.setdefault(s.patient, []).append(s.event)
    for events in seen.values():
        inside = [e for e in events if e != "A05"]
        assert not inside or inside[0] in {"A01", "A04"}
        assert "A03" not in inside[:-1]  # nothing after the discharge
    assert {s.event for s in sent} == {"A01", "A02", "A03", "A04", "A05", "A08"}
    assert len(seen) > 500
