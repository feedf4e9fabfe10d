"""RH30 follow-up, pure: risk scores against the published tables, the readmission indicator
against hand-made cases, working days and the follow-up plan."""

from __future__ import annotations

from datetime import UTC, date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.common.roles import Roles
from bots.datafiles import TemplateError
from bots.episode.scores import ScoreError, hospital, lace, lace_length, parse_hospital, parse_lace
from bots.episode.workdays import Calendar
from bots.followup import schedule as rh30  # the RH30 schedules and plans
from bots.followup.indicator import (
    IndexStay,
    Return,
    category,
    index_stays,
    outcome,
    outcomes,
    same_patients,
    stats,
)
from bots.followup.readmissions import parse_details, return_day
from bots.runtime.commands import ArgError
from tests.conftest import examples

D0 = date(2026, 3, 2)  # an index discharge
PARIS = ZoneInfo("Europe/Paris")


# --- scores ---------------------------------------------------------------------------------------


def test_lace_components_and_the_high_risk_cut_off():
    assert [lace_length(d) for d in (0, 1, 2, 3, 4, 6, 7, 13, 14, 60)] == \
        [0, 1, 2, 3, 4, 4, 5, 5, 7, 7]
    # C: 0–3 same points, ≥ 4 → 5 (not 4); E: 0–3 same, ≥ 4 → 4; L ≥ 14 → 7 (not 6).
    assert lace(14, True, 4, 4).points == 7 + 3 + 5 + 4 == 19
    assert lace(3, False, 3, 3).parts == (("L", 3), ("A", 0), ("C", 3), ("E", 3))
    assert lace(6, True, 2, 1).points == 10 and lace(6, True, 2, 1).risk == "eleve"
    assert lace(6, True, 1, 1).points == 9 and lace(6, True, 1, 1).risk == "intermediaire"
    assert lace(1, False, 1, 0).risk == "faible"
    with pytest.raises(ScoreError) as caught:
        lace(-1, False, 0, 0)
    assert caught.value.key == "score.out_of_range" and caught.value.values["name"] == "L"


def test_hospital_components_and_classes():
    top = hospital(10.5, True, 130, True, True, 6, 5)
    assert top.points == 13 and top.risk == "eleve"
    assert dict(top.parts) == {"H": 1, "O": 2, "S": 1, "P": 1, "I": 1, "A": 5, "L": 2}
    # Thresholds are strict: Hb 12 and Na 135 score nothing; A 0–1 → 0, 2–5 → 2, > 5 → 5.
    edge = hospital(12.0, False, 135, False, False, 1, 4)
    assert edge.points == 0 and edge.risk == "faible"
    assert [dict(hospital(13, False, 140, False, False, n, 1).parts)["A"]
            for n in (0, 1, 2, 5, 6)] == [0, 0, 2, 2, 5]
    assert hospital(11, False, 140, False, True, 2, 5).points == 1 + 1 + 2 + 2 == 6
    assert hospital(11, False, 140, False, True, 2, 5).risk == "intermediaire"
    assert hospital(11, True, 140, False, True, 2, 5).risk == "eleve"  # 8


def test_scores_as_typed_in_the_room():
    assert parse_lace("6 oui 2 1").points == 10
    assert parse_hospital("hb=11,2 onco=non na=133 acte=oui urgent=oui adm=3 duree=6").points \
        == 1 + 0 + 1 + 1 + 1 + 2 + 2
    for text, key in (("6 oui 2", "score.lace_usage"), ("6 peut-être 2 1", "score.not_yes_no"),
                      ("six oui 2 1", "score.not_number")):
        with pytest.raises(ScoreError) as caught:
            parse_lace(text)
        assert caught.value.key == key
    with pytest.raises(ScoreError) as caught:
        parse_hospital("hb=11 onco=non")
    assert caught.value.key == "score.missing" and "na" in caught.value.values["names"]
    with pytest.raises(ScoreError) as caught:
        parse_hospital("hb=1 onco=non na=133 acte=oui urgent=oui adm=3 duree=6")
    assert caught.value.key == "score.out_of_range"


# --- the indicator --------------------------------------------------------------------------------


def back(days: int, ref: str = "P1", **kw) -> Return:
    return Return(ref, D0 + timedelta(days=days), **kw)


@pytest.mark.parametrize(("days", "rh7", "rh30", "same_day"), [
    (0, False, False, 1),  # same-day return: logged, not counted
    (1, True, True, 0),
    (7, True, True, 0),
    (8, False, True, 0),
    (30, False, True, 0),
    (31, False, False, 0),  # outside the window
])
def test_window_edges(days, rh7, rh30, same_day):
    o = outcome(IndexStay("P1", D0), [back(days)], as_of=D0 + timedelta(days=60))
    assert (o.readmitted7, o.readmitted30, o.same_day) == (rh7, rh30, same_day)


def test_planned_ed_and_several_returns():
    returns = [back(3, planned=True), back(5, kind="ed"), back(12, avoidable=True), back(20),
               back(-2), back(2, ref="P2")]
    o = outcome(IndexStay("P1", D0), returns, as_of=D0 + timedelta(days=40))
    assert o.planned == 1 and o.ed_visits == 1
    # All-cause (the official figure): the planned readmission on day 3 counts, in RH7 too.
    assert o.first_delay == 3 and o.readmitted7 and o.readmitted30
    # Unplanned, beside it: from day 12, and the avoidability judged on that one.
    assert o.unplanned30 and not o.unplanned7 and o.avoidable is True


def test_a_planned_same_day_return_is_logged_like_an_unplanned_one():
    stay = IndexStay("P1", D0)
    planned, unplanned = back(0, planned=True), back(0)
    assert category(stay, planned) == category(stay, unplanned) == "same_day"
    o = outcome(stay, [planned], as_of=D0 + timedelta(days=40))
    assert (o.same_day, o.planned, o.readmitted30) == (1, 0, False)


def test_transfers_deaths_and_sessions_are_not_index_stays():
    returns = [back(3)]
    as_of = D0 + timedelta(days=40)
    for mode in ("mco", "deces"):
        assert outcome(IndexStay("P1", D0, mode=mode), returns, as_of).exclusion == mode
    assert outcome(IndexStay("P1", D0, iterative=True), returns, as_of).exclusion == "iterative"
    for mode in ("domicile", "had", "ssr", "ehpad"):  # SSR/EHPAD discharges stay in
        assert not outcome(IndexStay("P1", D0, mode=mode), returns, as_of).excluded
    rows = {(r.month, r.ward): r for r in stats(
        [IndexStay("P1", D0, mode="mco"), IndexStay("P2", D0)], [back(3), back(4, "P2")],
        as_of)}
    total = rows[("total", "tous")]
    assert (total.discharges, total.excluded, total.closed30, total.readmitted30) == (1, 1, 1, 1)


def test_two_rooms_of_one_patient_are_one_index_stay():
    first = IndexStay("P-1", D0, "cardio", patient="patient:7")
    again = IndexStay("P-2", D0 + timedelta(days=20), "pneumo", patient="patient:7")
    other = IndexStay("P-3", D0, "cardio")
    chosen = dict((s.ref, why) for s, why in index_stays([again, first, other]))
    assert chosen == {"P-1": None, "P-2": "repeat", "P-3": None}
    # The return reported in the first room counts once, for the patient's index stay.
    returns = [Return("P-1", D0 + timedelta(days=10), patient="patient:7")]
    rows = {(r.month, r.ward): r for r in stats([first, again, other], returns,
                                                D0 + timedelta(days=90))}
    total = rows[("total", "tous")]
    assert (total.discharges, total.repeat, total.closed30, total.readmitted30) == (2, 1, 2, 1)
    assert ("total", "pneumo") in rows and rows[("total", "pneumo")].discharges == 0
    # An excluded first stay (a transfer) leaves the patient's next stay as the index one.
    moved = IndexStay("P-0", D0 - timedelta(days=2), mode="mco", patient="patient:7")
    assert dict((s.ref, why) for s, why in index_stays([moved, first])) == {
        "P-0": "mco", "P-1": None}


def test_rooms_are_one_patient_by_ins_or_by_traits_without_ins():
    patients = same_patients([(1, "ins-a", "traits-x"), (2, None, "traits-x"),
                              (3, "ins-a", "traits-y"), (4, "ins-b", "traits-x"),
                              (5, None, "traits-z")])
    assert patients[1] == patients[2] == patients[3]
    assert patients[4] != patients[1]  # same traits, another INS: another patient
    assert patients[5] not in (patients[1], patients[4])


@pytest.mark.parametrize(("days", "kind", "planned", "expected"), [
    (0, "admission", False, "same_day"), (1, "admission", False, "rh7"),
    (7, "admission", False, "rh7"), (8, "admission", False, "rh30"),
    (30, "admission", False, "rh30"), (31, "admission", False, "after"),
    (3, "ed", False, "ed"), (0, "ed", False, "ed"), (3, "admission", True, "rh7"),
    (0, "admission", True, "same_day"), (31, "ed", False, "after"),
])
def test_each_return_is_counted_as_the_brief_says(days, kind, planned, expected):
    stay = IndexStay("P1", D0)
    assert category(stay, Return("P1", D0 + timedelta(days=days), kind, planned)) == expected


def test_readmission_details_and_days_as_typed():
    assert parse_details(None) == (False, False)
    assert parse_details("programmée") == (True, False)
    assert parse_details("urgences") == (False, True)
    with pytest.raises(ArgError):
        parse_details("demain")
    today = date(2026, 3, 20)
    assert return_day("J+12", D0, today) == D0 + timedelta(days=12)  # from the discharge
    assert return_day("hier", D0, today) == date(2026, 3, 19)
    assert return_day("10/03", D0, today) == date(2026, 3, 10)  # this year's, not next


def test_windows_close_only_after_their_last_day():
    stay = IndexStay("P1", D0)
    assert not outcome(stay, [], D0 + timedelta(days=7)).closed7
    assert outcome(stay, [], D0 + timedelta(days=8)).closed7
    assert not outcome(stay, [], D0 + timedelta(days=30)).closed30
    assert outcome(stay, [], D0 + timedelta(days=31)).closed30


def test_rates_by_month_and_ward_count_closed_windows_only():
    stays = [
        IndexStay("A", date(2026, 3, 2), "cardio"),  # readmitted day 5 (RH7 and RH30)
        IndexStay("B", date(2026, 3, 10), "cardio"),  # readmitted day 20, avoidable
        IndexStay("C", date(2026, 3, 15), "cardio"),  # nothing
        IndexStay("D", date(2026, 3, 20), "cardio", mode="deces"),  # not an index stay
        IndexStay("E", date(2026, 3, 21), "cardio", mode="mco"),
        IndexStay("F", date(2026, 3, 22), "pneumo", iterative=True),
        IndexStay("G", date(2026, 3, 25), "pneumo"),  # planned day 3 (all-cause), ED day 4
        IndexStay("H", date(2026, 4, 20), "pneumo"),  # readmitted day 3, window still open
        IndexStay("I", date(2026, 4, 25), "pneumo"),  # window open, nothing yet
    ]
    returns = [Return("A", date(2026, 3, 7)), Return("B", date(2026, 3, 30), avoidable=True),
               Return("D", date(2026, 3, 22)), Return("G", date(2026, 3, 28), planned=True),
               Return("G", date(2026, 3, 29), kind="ed"), Return("H", date(2026, 4, 23))]
    rows = {(r.month, r.ward): r for r in stats(stays, returns, as_of=date(2026, 5, 1))}
    march = rows[("2026-03", "tous")]
    assert (march.discharges, march.excluded) == (4, 3)
    assert (march.readmitted30, march.closed30, march.rh30) == (3, 4, 0.75)
    assert (march.unplanned30, march.unplanned_rh30) == (2, 0.5)
    assert (march.readmitted7, march.closed7, march.rh7) == (2, 4, 0.5)
    assert march.final and (march.planned, march.ed_visits) == (1, 1)
    assert (march.avoidable, march.not_avoidable, march.not_judged) == (1, 0, 1)
    assert rows[("2026-03", "cardio")].rh30 == 2 / 3
    april = rows[("2026-04", "tous")]
    # Open windows are shown apart, never counted as "not readmitted".
    assert (april.closed30, april.open30, april.open_readmitted30) == (0, 2, 1)
    assert april.rh30 is None and not april.final
    assert april.closed7 == 1 and april.readmitted7 == 1  # H's 7-day window has passed
    total = rows[("total", "tous")]
    assert (total.discharges, total.readmitted30, total.closed30, total.open30) == (6, 3, 4, 2)
    only = stats(stays, returns, date(2026, 5, 1), months=("2026-04", "2026-04"),
                 ward="pneumo")
    assert {(r.month, r.ward) for r in only} == {("2026-04", "pneumo"), ("2026-04", "tous"),
                                                ("total", "pneumo"), ("total", "tous")}
    assert rows[("total", "cardio")].rh30 == 2 / 3


# --- working days and the plan -------------------------------------------------------------------


def test_working_days_skip_weekends_and_french_public_holidays():
    cal = Calendar()
    assert cal.add_working(date(2026, 4, 30), 2) == date(2026, 5, 5)  # 1 May, then a weekend
    assert cal.add_working(date(2026, 12, 24), 2) == date(2026, 12, 29)  # Christmas
    assert cal.add_working(date(2026, 4, 3), 1) == date(2026, 4, 7)  # Easter Monday 6 April
    assert cal.add_working(date(2026, 7, 11), 0) == date(2026, 7, 13)  # Saturday → Monday
    assert cal.next_working(date(2026, 7, 13)) == date(2026, 7, 15)  # 14 juillet
    # Alsace-Moselle keeps 26 December (and Good Friday) as public holidays.
    assert Calendar("57").add_working(date(2025, 12, 24), 2) == date(2025, 12, 30)
    assert Calendar().add_working(date(2025, 12, 24), 2) == date(2025, 12, 29)
    assert Calendar("57").add_working(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert Calendar().add_working(date(2026, 4, 2), 1) == date(2026, 4, 3)


def test_plan_filtered_by_risk_and_conditions_with_wall_clock_times_across_dst():
    schedule = rh30.load_schedules(known_roles=Roles.load().by_code)[rh30.DEFAULT_TEMPLATE]
    d0 = date(2026, 3, 20)  # a Friday; clocks go forward on Sunday 29 March
    high = rh30.plan(schedule, d0, "eleve", {"home_care"}, Calendar(), time(9, 0), PARIS)
    assert [(p.step.id, p.day) for p in high] == [
        (1, d0), (3, date(2026, 3, 21)), (4, date(2026, 3, 24)), (5, date(2026, 3, 27)),
        (6, date(2026, 4, 3)), (8, date(2026, 4, 10)), (9, date(2026, 4, 19))]
    assert high[1].until == date(2026, 3, 22)  # the home visit: D+1 to D+2
    # 09:00 in Paris on both sides of the change: 08:00 UTC before, 07:00 UTC after.
    assert high[0].at.astimezone(UTC).hour == 8 and high[4].at.astimezone(UTC).hour == 7
    assert all(p.at.time() == time(9, 0) for p in high)
    low = rh30.plan(schedule, d0, "faible", {"short_stay"}, Calendar(), time(9, 0), PARIS)
    assert [p.step.id for p in low] == [1, 2, 9]
    mid = rh30.plan(schedule, d0, "intermediaire", set(), Calendar(), time(9, 0), PARIS)
    assert [p.step.id for p in mid] == [1, 4, 7, 9]
    assert rh30.retry_day(date(2026, 3, 27), Calendar()) == date(2026, 3, 30)


def test_a_new_risk_adds_missing_steps_and_drops_only_those_not_yet_posted():
    schedule = rh30.load_schedules(known_roles=Roles.load().by_code)[rh30.DEFAULT_TEMPLATE]
    d0 = date(2026, 3, 20)
    mid = {1: "done", 4: "posted", 7: "planned", 9: "planned"}
    high = rh30.plan(schedule, d0, "eleve", (), Calendar(), time(9, 0), PARIS)
    add, drop = rh30.replan(mid, high)
    assert [p.step.id for p in add] == [5, 6, 8] and drop == [7]
    low = rh30.plan(schedule, d0, "faible", (), Calendar(), time(9, 0), PARIS)
    add, drop = rh30.replan(mid, low)
    assert add == [] and drop == [7]  # step 4 was posted: it stays, and can be recorded
    assert rh30.replan({1: "planned"}, rh30.plan(schedule, d0, "faible", (), Calendar(), time(9, 0),
                                       PARIS)) == ([p for p in low if p.step.id == 9], [])


def test_conditions_as_typed_and_as_the_discharge_says():
    assert rh30.parse_conditions("court, domicile") == ("short_stay", "home_care")
    assert rh30.parse_conditions("home") == ("home_care",)
    assert rh30.parse_conditions("aucune") == ()
    with pytest.raises(ArgError) as caught:
        rh30.parse_conditions("court dialyse")
    assert caught.value.values == {"value": "dialyse"}
    d = date(2026, 3, 20)
    assert rh30.conditions_at_discharge(d - timedelta(days=1), d, set()) == ("short_stay",)
    assert rh30.conditions_at_discharge(d - timedelta(days=2), d, {"home_care"}) == ("home_care",)
    assert rh30.conditions_at_discharge(None, d, set()) == ()


def test_bad_schedules_are_refused_with_file_step_and_reason(tmp_path):
    raw = yaml.safe_load((rh30.DEFAULT_TEMPLATES_DIR / f"{rh30.DEFAULT_TEMPLATE}.yaml").read_text())
    cases = {
        "role": (lambda r: r["steps"][3].update(roles=["CPTS"]), "item 4: unknown role(s) CPTS"),
        "day": (lambda r: r["steps"][1].update(day="J+1"), "item 2: steps/1/day"),
        "until": (lambda r: r["steps"][2].update(until="D0"), "item 3: `until` must come"),
        "risk": (lambda r: r["steps"][0].update(**{"for": ["haut"]}), "item 1:"),
        "twice": (lambda r: r["steps"][1].update(id=1), "item 1: the id is used twice"),
    }
    for name, (change, message) in cases.items():
        broken = yaml.safe_load(yaml.safe_dump(raw))
        broken["name"] = f"ward-{name}"
        change(broken)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True))
        with pytest.raises(TemplateError) as caught:
            rh30.load_schedules([tmp_path / f"{name}.yaml"], known_roles=Roles.load().by_code)
        assert f"{name}.yaml" in str(caught.value) and message in str(caught.value), \
            str(caught.value)


def test_score_refusals_read_as_sentences():
    with pytest.raises(ScoreError) as caught:
        parse_lace("6 oui 50 1")
    assert caught.value.text("fr") == "C = 50 : hors de l'intervalle attendu (0 à 40)."
    with pytest.raises(ScoreError) as caught:
        parse_hospital("hb=11 onco=peut-être na=133 acte=oui urgent=oui adm=3 duree=6")
    assert "« peut-être » n'est ni oui ni non" in caught.value.text("fr")


STAYS = st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["A", "B", None]),
                           st.sampled_from(["domicile", "mco", "deces"]), st.booleans(),
                           st.integers(0, 8)), max_size=30)


@settings(max_examples=examples(200), deadline=None)
@given(STAYS, st.lists(st.tuples(st.integers(0, 29), st.integers(0, 40), st.booleans(),
                                 st.booleans(), st.sampled_from([True, False, None])),
                       max_size=30), st.integers(0, 160))
def test_the_counts_add_up_and_each_stay_reads_only_its_patients_returns(stays, rets, as_of):
    """`outcomes` hands each stay its patient's returns only (read once, by patient): the same
    outcome as from every return; the total row is the months' rows added up."""
    made = [IndexStay(f"P{i}", D0 + timedelta(days=d), ward, mode, iterative, f"pt{p}")  # type: ignore[arg-type]
            for i, (d, ward, mode, iterative, p) in enumerate(stays)]
    returns = [Return(s.ref, s.discharged_on + timedelta(days=d), "ed" if ed else "admission",
                      planned, avoidable, s.patient)
               for i, d, ed, planned, avoidable in rets if i < len(made) for s in [made[i]]]
    day = D0 + timedelta(days=as_of)
    assert outcomes(made, returns, day) == [outcome(s, returns, day, why)
                                            for s, why in index_stays(made)]
    rows = stats(made, returns, day)
    total = next((c for c in rows if c.month == "total" and c.ward == "tous"), None)
    months = [c for c in rows if c.month != "total" and c.ward == "tous"]
    for name in ("discharges", "excluded", "repeat", "closed30", "readmitted30", "unplanned30",
                 "open30", "avoidable", "not_avoidable", "not_judged", "planned", "ed_visits"):
        assert (getattr(total, name) if total else 0) == sum(getattr(c, name) for c in months)
    assert sorted(total.refs if total else ()) == sorted(r for c in months for r in c.refs)
