"""The Indicators page's figures (bots/dashboard/indicators.py): tables by month and ward, the
CSV exports with their formula guard, the SVG chart, the page rendered. Pure."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bots.common.dates import months_back
from bots.config import StructureConfig
from bots.dashboard.indicators import (
    Inputs,
    Room,
    chart_svg,
    export_csv,
    monthly,
    only_ward,
    sent_on_j0,
    structure_of,
    tables,
)
from bots.dashboard.views import render
from bots.episode.figures import FollowupFigures, Rate, Readmissions

TODAY = date(2026, 12, 5)
ROOMS = [Room("!a:h.fr", "P-1", "Cardiologie", "open", date(2026, 11, 3)),
         Room("!b:h.fr", "P-2", "Gériatrie", "open", date(2026, 12, 1)),
         Room("!c:h.fr", "P-3", "=cmd()", "closed", date(2026, 10, 1))]


def inputs(**changes) -> Inputs:
    values = dict(
        months=("2026-11", "2026-12"), today=TODAY, rooms=ROOMS,
        activity=[("2026-11", "Cardiologie", "@ide:h.fr", "IDE", 3, 1),
                  ("2026-11", "Cardiologie", "@dac:h.fr", "DAC", 2, 0),
                  ("2026-12", "Gériatrie", "@mt:ville.fr", None, 1, 0)],
        answers=[("2026-11", "Cardiologie", 60.0), ("2026-11", "Cardiologie", 180.0),
                 ("2026-11", "Cardiologie", 600.0)],
        open_rooms=[("Cardiologie", 1, 1), ("Gériatrie", 1, 1)],
        mails=[("!a:h.fr", date(2026, 11, 20), "in", 2), ("!b:h.fr", date(2026, 12, 2), "out", 1)],
        letters=[("Cardiologie", date(2026, 11, 25), True),
                 ("Cardiologie", date(2026, 11, 26), False)],
        followup=FollowupFigures(
            [Readmissions("2026-11", "Cardiologie", 4, 4, 1, 2, 1, 1, 1, 1, False),
             Readmissions("2026-11", "tous", 4, 4, 1, 2, 1, 1, 1, 1, False)],
            [Rate("2026-11", "Cardiologie", 2, 1), Rate("2026-11", "tous", 2, 1)],
            [Rate("2026-11", "tous", 5, 4)]))
    values.update(changes)
    return Inputs(**values)


def by_name(lang="fr", **changes):
    return {t.name: t for t in tables(inputs(**changes), lang)}


def test_usage_by_month_and_ward_within_the_period():
    usage = by_name()["usage"]
    rows = {(r[0], r[1]): r[2:] for r in usage.rows}
    # opened, messages, commands, active, median minutes, mails in, mails out
    assert rows[("2026-11", "Cardiologie")] == (1, 5, 1, 2, 3.0, 2, 0)
    assert rows[("2026-12", "Gériatrie")] == (1, 1, 0, 1, None, 0, 1)
    assert rows[("2026-11", "tous")][:4] == (1, 5, 1, 2)
    assert not any(r[0] == "2026-10" for r in usage.rows)  # P-3 opened before the period


CHU = StructureConfig("CHU Exemple", "750712184", servers=frozenset({"h.fr"}))
CABINET = StructureConfig("Cabinet Ville", members=frozenset({"@dac:h.fr"}))


def test_active_professionals_by_role_and_configured_structure():
    """A member listed by a structure is counted there, before their server's structure; a
    server no structure lists is "autre", never the server's name."""
    rows = by_name(structures=[CHU, CABINET])["professionals"].rows
    assert rows == [("2026-11", "DAC", "Cabinet Ville", None, 1),
                    ("2026-11", "IDE", "CHU Exemple", "750712184", 1),
                    ("2026-12", "—", "autre", None, 1)]
    assert structure_of("@dac:h.fr", [CHU, CABINET]) is CABINET
    assert structure_of("@dac:h.fr", [CABINET, CHU]) is CABINET
    assert structure_of("@x:h.fr", [CABINET, CHU]) is CHU


def test_without_structures_every_professional_is_of_an_unknown_structure():
    rows = by_name("en")["professionals"].rows
    assert rows == [("2026-11", "DAC", "other", None, 1), ("2026-11", "IDE", "other", None, 1),
                    ("2026-12", "—", "other", None, 1)]


def test_the_structures_finess_is_beside_its_name_in_the_csv():
    table = by_name(structures=[CHU])["professionals"]
    lines = list(csv.reader(io.StringIO(export_csv(table).decode())))
    assert lines[0] == ["month", "role", "structure", "finess", "active_professionals"]
    assert ["2026-11", "IDE", "CHU Exemple", "750712184", "1"] in lines


def test_rooms_kept_up_to_date_count_open_rooms_with_a_recent_message_by_ward():
    found = tables(inputs(open_rooms=[("Gériatrie", 3, 1), ("Cardiologie", 1, 1), (None, 2, 0),
                                      ("?", 1, 1)]), "fr")
    rows = {r[0]: r[1:] for r in next(t for t in found if t.name == "up_to_date").rows}
    assert rows["Gériatrie"] == (3, "1/3 (33,3 %)")
    assert rows["Cardiologie"] == (1, "1/1 (100,0 %)")
    assert rows["?"] == (3, "1/3 (33,3 %)")  # no ward and the ward "?" are one
    assert rows["tous"] == (7, "3/7 (42,9 %)")


def test_readmissions_and_rates_come_from_the_follow_up_figures():
    found = by_name("en")
    rh30 = found["rh30"].rows[0]
    assert rh30 == ("2026-11", "Cardiologie", 4, "1/4 (25.0%)", "1/2 (50.0%)", "1/2 (50.0%)",
                    "1/1 (100.0%)", "provisional")
    assert found["letters"].rows == [("2026-11", "Cardiologie", 2, "1/2 (50.0%)"),
                                     ("2026-11", "tous", 2, "1/2 (50.0%)")]
    assert found["steps"].rows == [("2026-11", "tous", 5, "4/5 (80.0%)")]
    assert monthly(found["rh30"], "rh30") == (["2026-11"], [50.0])


def test_a_letter_counts_on_j0_only_when_sent_on_the_discharge_day_in_the_zone():
    paris, day = ZoneInfo("Europe/Paris"), date(2026, 11, 25)
    assert sent_on_j0(day, datetime(2026, 11, 25, 17, 30, tzinfo=UTC), paris)
    # 23:30 UTC on the 24th is 00:30 in Paris on the 25th: the discharge day.
    assert sent_on_j0(day, datetime(2026, 11, 24, 23, 30, tzinfo=UTC), paris)
    assert not sent_on_j0(day, datetime(2026, 11, 25, 23, 30, tzinfo=UTC), paris)  # the 26th
    assert not sent_on_j0(day, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), paris)  # the day before
    assert not sent_on_j0(day, None, paris)  # never recorded as sent


def test_a_ward_filter_keeps_its_rows():
    usage = only_ward(by_name()["usage"], "Gériatrie")
    assert {r[1] for r in usage.rows} == {"Gériatrie"}


def test_the_csv_has_stable_names_and_no_formula():
    table = by_name()["letters"]
    table.rows.append(("2026-11", "=HYPERLINK(\"x\")", 1, None))
    lines = list(csv.reader(io.StringIO(export_csv(table).decode())))
    assert lines[0] == ["month", "ward", "letters_total", "letters_ok"]
    assert lines[-1] == ["2026-11", "'=HYPERLINK(\"x\")", "1", ""]


def test_the_period_defaults_to_the_last_twelve_months():
    assert months_back(TODAY, 12) == ("2026-01", "2026-12")
    assert months_back(date(2026, 3, 1), 12) == ("2025-04", "2026-03")


def test_the_chart_is_an_svg_made_in_memory():
    svg = chart_svg(["2026-11", "2026-12"], [50.0, 10.0], "RH30", [25.0, 5.0], "non prog.",
                    "RH30", "%")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and b"RH30" in svg


def test_the_page_shows_each_table_with_its_definition_and_escapes_wards():
    from bots.dashboard.indicator_views import Filter

    html = render("indicators.html", "fr", user="@dac:h.fr", csrf="x",
                  tables=tables(inputs(), "fr"), wanted=Filter(("2026-11", "2026-12"), None),
                  wards=["<b>Cardio</b>"], query="du=2026-11&au=2026-12", charts=["rh30"])
    assert "Réhospitalisations RH7 / RH30" in html and "toutes causes, par patient" in html
    assert "Professionnels actifs par rôle et structure" in html
    assert "<th scope=\"col\">FINESS</th>" in html
    assert html.count('class="definition"') == 7
    assert "/indicateurs/usage.csv?du=2026-11&amp;au=2026-12" in html
    assert "<b>Cardio</b>" not in html and "&lt;b&gt;Cardio&lt;/b&gt;" in html
    assert '<img src="/indicateurs/rh30.svg?' in html and 'alt="Graphique' in html
