"""Patient identity: names, dates, sex, the INS and its control key, and their consistency."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from bots.common.identity import (
    FIELD_LABELS,
    TEXTS,
    Identity,
    IdentityError,
    check_consistency,
    make_identity,
    may_replace,
    normalize_name,
    parse_birth_date,
    parse_sex,
    validate_ins,
)

TODAY = date(2026, 11, 23)


def ins_for(body13: str) -> str:
    """A valid INS built by the rule, independently of the module: 2A read as 19, 2B as 18."""
    number = int(body13[:5] + {"2A": "19", "2B": "18"}.get(body13[5:7], body13[5:7]) + body13[7:])
    return f"{body13}{97 - number % 97:02d}"


# Checked by hand (bc): 2480375123456 mod 97 = 39, so key 58 (a woman born in March 1948,
# Paris); 1550519004012 mod 97 = 12, so key 85 (a man born in May 1955 in Corse-du-Sud);
# 2620818033005 mod 97 = 29, so key 68 (a woman born in August 1962 in Haute-Corse).
INS = "248037512345658"
INS_2A = "155052A00401285"
INS_2B = "262082B03300568"


def marie(**changes: object) -> Identity:
    fields: dict[str, object] = {"family_name": "DUPONT", "given_names": "Marie Claire",
                                 "birth_date": date(1948, 3, 12), "sex": "F", "ins": INS}
    fields.update(changes)
    return make_identity(**fields)  # type: ignore[arg-type]


def raised(call: Callable[[], object]) -> IdentityError:
    with pytest.raises(IdentityError) as info:
        call()
    return info.value


def test_the_helper_agrees_with_the_hand_checked_numbers():
    assert ins_for("2480375123456") == INS
    assert ins_for("155052A004012") == INS_2A
    assert ins_for("262082B033005") == INS_2B


# --- the INS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    INS, "2 48 03 75 123 456 58", "2.48.03.75.123.456.58", "2-48-03-75-123-456-58",
    " 2 48 03\u00a075 123 456 58 ",
])
def test_valid_ins_is_normalized(raw):
    assert validate_ins(raw) == INS


def test_ins_of_the_wrong_length_says_how_long_it_is():
    for raw, length in ((INS[:-1], 14), (INS + "1", 16), ("2 48 03", 5)):
        exc = raised(lambda raw=raw: validate_ins(raw))
        assert (exc.key, exc.values["length"], exc.values["value"]) == ("ins.length", length, raw)


def test_wrong_key_carries_the_expected_key():
    exc = raised(lambda: validate_ins(INS[:13] + "59"))
    assert exc.key == "ins.key" and exc.values["expected"] == "58"
    # A key under 10 is given on two digits, as printed on the card.
    body = next(b for b in (f"2480375123{n:03d}" for n in range(1000)) if ins_for(b)[13:] < "10")
    good = ins_for(body)
    wrong = f"{(int(good[13:]) + 1) % 97:02d}"
    exc = raised(lambda: validate_ins(body + wrong))
    assert exc.key == "ins.key" and exc.values["expected"] == good[13:]
    assert len(exc.values["expected"]) == 2 and exc.values["expected"].startswith("0")


@pytest.mark.parametrize("raw", [
    "2480C7512345658",  # a letter among the digits
    "248032C12345600",  # Corsica is 2A or 2B only
    ins_for("2480375123456")[:-2] + "5X",
    "2A8037512345658",  # 2A elsewhere than the department
])
def test_letters_outside_the_corsican_department_are_rejected(raw):
    assert raised(lambda: validate_ins(raw)).key == "ins.chars"


@pytest.mark.parametrize("first", "0569")
def test_first_digit_must_be_a_known_sex_digit(first):
    # The key is right: it is the first digit alone that is refused.
    assert raised(lambda: validate_ins(ins_for(first + "480375123456"))).key == "ins.chars"


@pytest.mark.parametrize("first", "123478")
def test_every_known_sex_digit_is_accepted(first):
    ins = ins_for(first + "480375123456")
    assert validate_ins(ins) == ins


@pytest.mark.parametrize("ins", [INS_2A, INS_2B, INS_2A.lower(), "1 55 05 2a 004 012 85"])
def test_corsican_ins_is_accepted_upper_cased(ins):
    assert validate_ins(ins) == "".join(ins.split()).upper()


def test_corsican_key_reads_2a_as_19_and_2b_as_18():
    # The key 2A would have if read as 20 (the old department number) or as 18 is refused.
    read_as_20 = ins_for("1550520004012")[13:]
    read_as_18 = ins_for("1550518004012")[13:]
    assert INS_2A[13:] not in (read_as_20, read_as_18)
    for key in (read_as_20, read_as_18):
        exc = raised(lambda key=key: validate_ins(INS_2A[:13] + key))
        assert exc.key == "ins.key" and exc.values["expected"] == "85"
    exc = raised(lambda: validate_ins(INS_2B[:13] + ins_for("2620819033005")[13:]))
    assert exc.key == "ins.key" and exc.values["expected"] == "68"


def test_ins_display_groups_as_on_the_card():
    assert marie().ins_display() == "2 48 03 75 123 456 58"
    assert marie(family_name="CASANOVA", given_names="Paul", sex="M",
                 birth_date=date(1955, 5, 2), ins=INS_2A).ins_display() == "1 55 05 2A 004 012 85"
    assert marie(ins=None).ins_display() is None


# --- INS and traits together ------------------------------------------------------------------

def test_ins_sex_must_match_the_sex_unless_undetermined():
    assert raised(lambda: marie(sex="M")).key == "ins.sex_mismatch"
    for first in "12":  # undetermined goes with either sex digit
        assert marie(sex="I", ins=ins_for(first + INS[1:13])).sex == "I"
    for first, sex in (("3", "M"), ("7", "M"), ("4", "F"), ("8", "F")):
        assert marie(sex=sex, ins=ins_for(first + INS[1:13])).sex == sex
        other = "F" if sex == "M" else "M"
        assert raised(lambda f=first, o=other: marie(sex=o, ins=ins_for(f + INS[1:13]))
                      ).key == "ins.sex_mismatch"


def test_ins_year_must_match_the_birth_year():
    assert raised(lambda: marie(birth_date=date(1949, 3, 12))).key == "ins.year_mismatch"
    # Only the last two digits are coded: the century comes from the birth date.
    assert marie(ins=ins_for("2000375123456"), birth_date=date(2000, 3, 1)).ins
    assert raised(lambda: marie(ins=ins_for("2000375123456"), birth_date=date(1990, 3, 1))
                  ).key == "ins.year_mismatch"


def test_ins_month_must_match_the_birth_month_when_it_is_a_month():
    assert raised(lambda: marie(birth_date=date(1948, 4, 12))).key == "ins.month_mismatch"
    assert raised(lambda: marie(birth_date=date(1948, 12, 3))).key == "ins.month_mismatch"


@pytest.mark.parametrize("month", ["00", "13", "15", "19", "43", "49"])
def test_ins_month_that_no_nir_has_is_refused_with_the_valid_ranges(month):
    ins = ins_for(f"248{month}75123456")  # the key is right: the month alone is wrong
    exc = raised(lambda: validate_ins(ins))
    assert (exc.key, exc.values["month"]) == ("ins.month", month)
    assert "01 à 12" in TEXTS["ins.month"]["fr"] and "20 à 42" in TEXTS["ins.month"]["fr"]


@pytest.mark.parametrize("month", ["20", "30", "42", "50", "99"])
def test_ins_month_outside_01_12_is_not_checked(month):
    ins = ins_for(f"248{month}75123456")
    assert marie(ins=ins, birth_date=date(1948, 7, 1)).ins == ins


def test_check_consistency_alone():
    identity = Identity("DUPONT", "Marie", date(1948, 3, 12), "M", ins=INS)  # not via make
    assert raised(lambda: check_consistency(identity)).key == "ins.sex_mismatch"
    check_consistency(Identity("DUPONT", "Marie", date(1948, 3, 12), "F", ins=INS))
    check_consistency(Identity("DUPONT", "Marie", date(1901, 1, 1), "M"))  # no INS, no check


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("DUPONT", "DUPONT"),
    ("  de   la\tTour ", "de la Tour"),
    ("Élodie Marie", "Élodie Marie"),
    ("Jean-Pierre", "Jean-Pierre"),
    ("O’Neil", "O'Neil"),
    ("d'Artagnan", "d'Artagnan"),
    ("Nguyễn Thị", "Nguyễn Thị"),
    ("Ørsted", "Ørsted"),
])
def test_names_accept_letters_accents_hyphens_apostrophes(raw, expected):
    assert normalize_name(raw, "family_name") == expected


@pytest.mark.parametrize("raw", ["Dupont2", "DUPONT!", "<b>Dupont</b>", "Du_pont", "Marie;",
                                 "Dupont\u0000", "M" * 101])
def test_names_with_digits_or_other_characters_are_rejected(raw):
    exc = raised(lambda: normalize_name(raw, "given_names"))
    assert exc.key == "identity.bad_name"
    assert exc.values == {"field": "given_names", "value": raw}


def test_decomposed_accents_are_letters_too():
    # Text pasted from some PDFs or macOS carries "E" + combining acute rather than "É".
    assert normalize_name("E\u0301lodie", "given_names") == "Élodie"


def test_names_up_to_100_characters_are_accepted():
    assert normalize_name("M" * 100, "family_name") == "M" * 100


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_names_are_missing(raw):
    exc = raised(lambda: normalize_name(raw, "family_name"))
    assert (exc.key, exc.values) == ("identity.missing", {"field": "family_name"})


def test_make_identity_normalizes_both_names_and_says_which_is_wrong():
    identity = marie(family_name=" O’NEIL ", given_names="Marie   Claire")
    assert (identity.family_name, identity.given_names) == ("O'NEIL", "Marie Claire")
    assert raised(lambda: marie(family_name="")).values["field"] == "family_name"
    assert raised(lambda: marie(given_names="Marie2")).values["field"] == "given_names"


# --- birth date, sex, birth place ---------------------------------------------------------------

@pytest.mark.parametrize("raw", ["12/03/1948", "12-03-1948", "12.03.1948", "1948-03-12",
                                 " 12/03/1948 "])
def test_birth_date_formats(raw):
    assert parse_birth_date(raw, TODAY) == date(1948, 3, 12)


@pytest.mark.parametrize("raw", ["31/02/1948", "12/13/1948", "12/03/48", "1948/03/12", "hier",
                                 "", "12031948"])
def test_unparseable_dates_are_rejected(raw):
    exc = raised(lambda: parse_birth_date(raw, TODAY))
    assert (exc.key, exc.values) == ("identity.bad_date", {"value": raw})


def test_birth_dates_are_between_1880_and_today():
    assert parse_birth_date(TODAY.strftime("%d/%m/%Y"), TODAY) == TODAY
    assert parse_birth_date("01/01/1880", TODAY) == date(1880, 1, 1)
    tomorrow = (TODAY + timedelta(days=1)).strftime("%d/%m/%Y")
    for raw in (tomorrow, "31/12/1879", "1066-10-14"):
        exc = raised(lambda raw=raw: parse_birth_date(raw, TODAY))
        assert (exc.key, exc.values) == ("identity.date_range", {"value": raw})


@pytest.mark.parametrize(("raw", "sex"), [
    ("F", "F"), ("f", "F"), ("femme", "F"), ("Femme", "F"), ("female", "F"), ("féminin", "F"),
    ("M", "M"), ("m", "M"), ("H", "M"), ("h", "M"), ("homme", "M"), ("HOMME", "M"),
    ("masculin", "M"), ("male", "M"),
    ("I", "I"), ("i", "I"), ("indéterminé", "I"), ("Indetermine", "I"), (" F ", "F"),
])
def test_sex_aliases(raw, sex):
    assert parse_sex(raw) == sex


@pytest.mark.parametrize("raw", ["X", "W", "", "2", "FM"])
def test_unknown_sex_is_rejected(raw):
    exc = raised(lambda: parse_sex(raw))
    assert (exc.key, exc.values) == ("identity.bad_sex", {"value": raw})


@pytest.mark.parametrize(("raw", "place"), [("75056", "75056"), ("2A004", "2A004"),
                                            ("2b033", "2B033"), ("99134", "99134")])
def test_birth_place_is_an_insee_code(raw, place):
    assert marie(birth_place=raw).birth_place == place


@pytest.mark.parametrize("raw", ["2C004", "7505", "750560", "Paris", "2A04"])
def test_bad_birth_place_is_rejected(raw):
    exc = raised(lambda: marie(birth_place=raw))
    assert (exc.key, exc.values) == ("identity.bad_place", {"value": raw})


# --- derived values and storage ---------------------------------------------------------------

def test_initials_are_upper_case_without_accents():
    assert marie().initials == "D.M."
    assert marie(family_name="élise", given_names="Ève Marie", ins=None).initials == "E.E."
    assert marie(family_name="Çelik", given_names="Ömer", ins=None).initials == "C.O."


def test_traits_key_ignores_case_accents_spacing_and_later_given_names():
    base = marie(family_name="Dupont", given_names="Élodie Marie")
    assert base.traits_key() == marie(family_name="DUPONT ", given_names="elodie").traits_key()
    assert base.traits_key() == marie(family_name="du pont", given_names="ELODIE").traits_key()
    assert base.traits_key() == "dupont|elodie|1948-03-12|F"
    # Anything else that differs is another person.
    assert base.traits_key() != marie(family_name="Dupond", given_names="Élodie").traits_key()
    assert base.traits_key() != marie(family_name="Dupont", given_names="Marie Élodie"
                                      ).traits_key()
    assert base.traits_key() != marie(given_names="Élodie", ins=None,
                                      birth_date=date(1948, 3, 13)).traits_key()
    assert base.traits_key() != marie(given_names="Élodie", sex="I").traits_key()


def test_to_dict_and_from_dict_round_trip():
    full = marie(birth_place="2A004")
    bare = marie(ins=None)
    for identity in (full, bare):
        raw = identity.to_dict()
        assert json.loads(json.dumps(raw)) == raw
        assert Identity.from_dict(raw) == identity
    assert bare.to_dict() == {"family_name": "DUPONT", "given_names": "Marie Claire",
                              "birth_date": "1948-03-12", "sex": "F", "ins": None,
                              "birth_place": None}


def test_from_dict_validates():
    raw = marie().to_dict()
    assert raised(lambda: Identity.from_dict({**raw, "ins": INS[:13] + "00"})).key == "ins.key"
    assert raised(lambda: Identity.from_dict({**raw, "sex": "M"})).key == "ins.sex_mismatch"


# --- the messages -----------------------------------------------------------------------------

ERRORS: list[tuple[str, Callable[[], object]]] = [
    ("identity.missing", lambda: normalize_name(" ", "family_name")),
    ("identity.bad_name", lambda: normalize_name("R2D2", "given_names")),
    ("identity.bad_date", lambda: parse_birth_date("30/02/2000", TODAY)),
    ("identity.date_range", lambda: parse_birth_date("01/01/2099", TODAY)),
    ("identity.bad_sex", lambda: parse_sex("X")),
    ("identity.bad_place", lambda: marie(birth_place="2C004")),
    ("ins.length", lambda: validate_ins("123")),
    ("ins.chars", lambda: validate_ins("548037512345658")),
    ("ins.key", lambda: validate_ins(INS[:13] + "00")),
    ("ins.month", lambda: validate_ins(ins_for("2481375123456"))),
    ("ins.sex_mismatch", lambda: marie(sex="M")),
    ("ins.year_mismatch", lambda: marie(birth_date=date(1958, 3, 12))),
    ("ins.month_mismatch", lambda: marie(birth_date=date(1948, 5, 12))),
]


@pytest.mark.parametrize(("key", "call"), ERRORS, ids=[k for k, _ in ERRORS])
def test_every_error_has_french_and_english_texts_that_format(key, call):
    exc = raised(call)
    assert exc.key == key and str(exc) == key
    assert set(TEXTS[key]) == {"fr", "en"}
    for lang in ("fr", "en"):
        template = TEXTS[key][lang]
        placeholders = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert placeholders <= set(exc.values), (key, lang, placeholders)
        values = dict(exc.values)
        if "field" in values:
            values["field"] = FIELD_LABELS[values["field"]][lang]
        text = template.format(**values)
        assert text.strip() and "{" not in text
        assert "<" not in text.replace("<code>", "").replace("</code>", "")


def test_texts_cover_exactly_the_keys_raised():
    assert set(TEXTS) == {k for k, _ in ERRORS}


def test_field_labels_name_every_field_in_both_languages():
    assert set(FIELD_LABELS) == {"family_name", "given_names", "birth_date", "sex", "ins",
                                 "birth_place"}
    assert all(set(labels) == {"fr", "en"} for labels in FIELD_LABELS.values())
    assert "nom de naissance" in FIELD_LABELS["family_name"]["fr"]


def test_the_key_message_gives_the_expected_key_in_french():
    exc = raised(lambda: validate_ins(INS[:13] + "00"))
    assert "58" in TEXTS["ins.key"]["fr"].format(**exc.values)
    assert "clé" in TEXTS["ins.key"]["fr"]


def test_a_qualified_identity_gives_way_only_to_another_qualified_one():
    assert may_replace(False, False) and may_replace(False, True) and may_replace(True, True)
    assert not may_replace(True, False)
