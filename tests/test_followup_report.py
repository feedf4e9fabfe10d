"""The RH30 indicator as people read it, pure: periods as typed, the table (escaped, rates over
closed windows, provisional months), the pseudonymous CSV and the chart."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.followup.indicator import IndexStay, Return, compliance, outcome, stats
from bots.followup.report import CSV_COLUMNS, chart_png, export_csv, parse_period, stats_html
from bots.runtime.commands import ArgError
from bots.runtime.notice import to_plain

TODAY = date(2026, 5, 10)
STAYS = [IndexStay("P-2026-00001", date(2026, 3, 2), "cardio"),
         IndexStay("P-2026-00002", date(2026, 3, 10), "<b>pneumo</b>"),
         IndexStay("P-2026-00003", date(2026, 4, 25), "cardio")]
RETURNS = [Return("P-2026-00001", date(2026, 3, 7), avoidable=True),
           Return("P-2026-00003", date(2026, 4, 27))]


def test_periods_as_typed():
    assert parse_period("2026", TODAY) == ("2026-01", "2026-12")
    assert parse_period("2026-03", TODAY) == parse_period("3/2026", TODAY) == ("2026-03",
                                                                               "2026-03")
    assert parse_period("2025-11..2026-02", TODAY) == ("2025-11", "2026-02")
    assert parse_period("6m", TODAY) == ("2025-12", "2026-05")
    assert parse_period("cardio", TODAY) is None  # a ward, not a period
    for bad in ("2026-05..2026-01", "13/2026", "99m"):
        with pytest.raises(ArgError):
            parse_period(bad, TODAY)


def test_the_table_counts_closed_windows_and_escapes_ward_names():
    rows = stats(STAYS, RETURNS, TODAY, all_wards="tous")
    html = stats_html(rows, "fr", ("2026-03", "2026-05"), None, "tous")
    assert "&lt;b&gt;pneumo&lt;/b&gt;" in html and "<b>pneumo" not in html
    plain = to_plain(html)
    assert "1/2 (50,0 %)" in plain  # March: two closed windows, one readmission
    assert "provisoire" in plain  # April: its window is still open
    assert "1 (1)" in plain  # April: one open window, already readmitted
    assert "Par service" in plain
    en = to_plain(stats_html(rows, "en", ("2026-03", "2026-05"), "cardio", "tous"))
    assert "1/1 (100.0%)" in en and "By ward" not in en
    assert "Aucune sortie" in stats_html([], "fr", ("2026-01", "2026-01"), None, "tous")


def test_the_export_has_one_pseudonymous_line_per_stay():
    data = export_csv([(outcome(s, RETURNS, TODAY), "eleve") for s in STAYS])
    lines = list(csv.DictReader(io.StringIO(data.decode())))
    assert tuple(lines[0]) == CSV_COLUMNS
    assert [line["ref"] for line in lines] == [s.ref for s in STAYS]
    first, _, third = lines
    assert (first["readmitted_7"], first["first_delay_days"], first["avoidable"]) == ("1", "5",
                                                                                     "yes")
    assert (third["window_30_closed"], third["readmitted_30"], third["avoidable"]) == (
        "0", "1", "not_judged")


def test_the_table_names_each_figure_and_the_checklists_compliance():
    rows = stats(STAYS, RETURNS, TODAY, all_wards="tous")
    plain = to_plain(stats_html(rows, "fr", ("2026-03", "2026-05"), None, "tous",
                                compliance([("cardio", True), ("cardio", False)], "tous")))
    assert "RH30 (officiel)" in plain and "toutes causes" in plain
    assert "RH30 non programmées" in plain and "Évitables (HAS 2013)" in plain
    assert "complètes et à l'heure" in plain and "1/2 (50,0 %)" in plain


@pytest.mark.parametrize("ward", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)",
                                  "\tcardio", "\rcardio"])
def test_the_export_neutralises_formulas_in_text_cells(ward):
    stay = IndexStay("P-2026-00009", date(2026, 3, 2), ward)
    line = next(csv.DictReader(io.StringIO(export_csv(
        [(outcome(stay, [], TODAY), "eleve")]).decode())))
    assert line["ward"] == "'" + ward


def test_the_chart_is_a_png_of_the_months():
    rows = stats(STAYS, RETURNS, TODAY, all_wards="tous")
    png, width, height = chart_png(rows, "fr", "tous")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and (width, height) == (800, 400)
    assert int.from_bytes(png[16:20], "big") == 800  # the IHDR width


@given(st.text(max_size=40))
def test_no_text_cell_of_the_export_starts_a_formula(text):
    stay = IndexStay(text or "P", date(2026, 3, 2), text)
    line = next(csv.DictReader(io.StringIO(export_csv(
        [(outcome(stay, [], TODAY), "eleve")]).decode(), newline="")))
    for column in ("ref", "ward"):
        assert not line[column].startswith(("=", "+", "-", "@", "\t", "\r"))
