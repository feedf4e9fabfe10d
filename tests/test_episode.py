"""What the bots of one patient episode share, pure: the discharge mode as typed, and the
risk level's rules (docs/CLINICAL.md §3, §4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.episode.modes import MODES, Discharge, ModeError, parse_discharge
from bots.episode.risk import Level, RiskError, by_hand, effective, plan_level, with_score


@pytest.mark.parametrize(("words", "mode", "iterative", "rest"), [
    ("domicile", "domicile", False, []),
    ("HAD raison longue", "had", False, ["raison", "longue"]),
    ("smr", "ssr", False, []),
    ("ehpad", "ehpad", False, []),
    ("mco itératif urgent", "mco", True, ["urgent"]),
    ("décès", "deces", False, []),
    ("domicile seances eleve", "domicile", True, ["eleve"]),
])
def test_the_discharge_mode_as_typed(words, mode, iterative, rest):
    assert parse_discharge(words.split()) == (Discharge(mode, iterative), rest)


@pytest.mark.parametrize("words", ["", "transfert urgent en SSR", "maison"])
def test_a_missing_or_unknown_mode_is_refused_naming_the_modes(words):
    with pytest.raises(ModeError) as caught:
        parse_discharge(words.split())
    assert caught.value.key == "mode.missing" and "mco" in caught.value.values["modes"]


def test_transfers_deaths_and_sessions_leave_the_denominator():
    assert Discharge("domicile").index_stay and Discharge("ssr").index_stay
    assert not Discharge("mco").index_stay and not Discharge("deces").index_stay
    assert not Discharge("had", iterative=True).index_stay


def test_a_score_sets_or_raises_the_level_never_lowers_it():
    assert effective(None) == "eleve"  # unknown: treated as high
    first = with_score(None, "faible", "@ide:x")
    assert first == Level("faible", "score", "@ide:x")
    raised = with_score(first, "eleve", "@mh:x")
    assert raised.risk == "eleve"
    assert with_score(raised, "intermediaire", "@ide:x") is raised  # the highest class wins


def test_lowering_by_hand_needs_a_physician_and_a_reason():
    high = Level("eleve", "score", "@ide:x")
    assert by_hand(None, "faible", "@idec:x", physician=False).risk == "faible"  # the first
    assert by_hand(Level("faible", "score", "x"), "eleve", "@idec:x", physician=False).risk \
        == "eleve"
    with pytest.raises(RiskError) as caught:
        by_hand(high, "faible", "@idec:x", physician=False, reason="stable")
    assert caught.value.key == "risk.lower_physician"
    with pytest.raises(RiskError) as caught:
        by_hand(high, "faible", "@mh:x", physician=True, reason="  ")
    assert caught.value.key == "risk.lower_reason"
    lowered = by_hand(high, "faible", "@mh:x", physician=True, reason="  aidant  présent ")
    assert lowered == Level("faible", "lowered", "@mh:x", "aidant présent")


def test_a_score_typed_later_never_silently_lowers_the_plan():
    # Started while unknown (high); a low score comes later: the plan stays high.
    assert plan_level("eleve", with_score(None, "faible", "@ide:x")) is None
    assert plan_level("faible", with_score(None, "eleve", "@ide:x")) == "eleve"  # raised
    assert plan_level("eleve", Level("faible", "lowered", "@mh:x", "aidant")) == "faible"
    assert plan_level("eleve", None) is None


@given(st.lists(st.text(max_size=30), max_size=8))
def test_any_words_give_a_mode_or_a_clear_refusal(words):
    try:
        discharge, rest = parse_discharge(words)
    except ModeError as exc:
        assert exc.key == "mode.missing"
    else:
        assert discharge.mode in MODES and len(rest) <= len(words) - 1
