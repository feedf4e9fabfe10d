"""The discharge checklist's state machine and due times, pure (no Matrix, no database)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.common.dates import DateError, parse_day, wall_clock, within_hours
from bots.discharge.checklist import (
    Checklist,
    ChecklistError,
    may_answer,
)
from bots.discharge.records import from_dict, to_dict
from bots.discharge.reminders import (
    Hours,
    letter_plan,
    letter_prefix,
    next_digest,
    next_letter_morning,
    plan,
    prefix,
)
from bots.discharge.summary import summary_markdown
from bots.discharge.template import DEFAULT_TEMPLATE, DEFAULT_TEMPLATES_DIR, load_template
from bots.episode.workdays import Calendar

PARIS = ZoneInfo("Europe/Paris")
TEMPLATE = load_template(DEFAULT_TEMPLATES_DIR / f"{DEFAULT_TEMPLATE}.yaml")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)


def checklist(**kwargs) -> Checklist:
    values = {"template": TEMPLATE, "zone": PARIS, "discharge": date(2026, 11, 24),
              "admission": date(2026, 11, 18), **kwargs}
    return Checklist(**values)


def test_due_times_follow_their_anchor_and_a_moved_discharge_date():
    c = checklist()
    assert c.due_at(c.item(1).due) == datetime(2026, 11, 19, 18, 0, tzinfo=PARIS)  # A+1
    assert c.due_at(c.item(8).due) == datetime(2026, 11, 23, 18, 0, tzinfo=PARIS)  # J-1
    assert c.due_at(c.item(17).due) == datetime(2026, 11, 24, 18, 0, tzinfo=PARIS)  # J0
    earlier = c.move(date(2026, 11, 21))  # moved backwards: J items come earlier, A items stay
    assert earlier.due_at(c.item(8).due) == datetime(2026, 11, 20, 18, 0, tzinfo=PARIS)
    assert earlier.due_at(c.item(1).due) == c.due_at(c.item(1).due)
    assert [i.id for i in earlier.overdue(datetime(2026, 11, 20, 18, 0, tzinfo=PARIS))] == \
        [i.id for i in TEMPLATE.items if i.due.anchor == "A" or i.due.days <= -1]
    with pytest.raises(ChecklistError) as caught:
        c.move(date(2026, 11, 1))
    assert caught.value.key == "checklist.before_admission"
    # Unknown admission date: A items have no due time (never reported overdue), J items do.
    unknown = checklist(admission=None)
    assert unknown.due_at(c.item(1).due) is None
    assert 1 not in [i.id for i in unknown.overdue(datetime(2027, 1, 1, tzinfo=PARIS))]


def test_due_times_on_daylight_saving_change_days():
    # 29 March 2026: clocks go 02:00 → 03:00 in Paris; 25 October 2026: 03:00 → 02:00.
    spring = wall_clock(date(2026, 3, 29), time(18, 0), PARIS)
    assert spring.utcoffset() == timedelta(hours=2) and spring.astimezone(UTC).hour == 16
    before = wall_clock(date(2026, 3, 28), time(18, 0), PARIS)
    assert before.astimezone(UTC).hour == 17
    # A day of 23 hours between the same wall-clock times (Python subtracts aware times of one
    # zone as wall clocks: compare in UTC).
    assert spring.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)
    gap = wall_clock(date(2026, 3, 29), time(2, 30), PARIS)  # does not exist: moves forward
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, timedelta(hours=2))
    repeat = wall_clock(date(2026, 10, 25), time(2, 30), PARIS)  # twice: the first one
    assert repeat.utcoffset() == timedelta(hours=2)
    c = checklist(admission=date(2026, 10, 20), discharge=date(2026, 10, 25))
    assert c.due_at(c.item(17).due) == datetime(2026, 10, 25, 18, 0, tzinfo=PARIS)
    assert c.due_at(c.item(17).due).utcoffset() == timedelta(hours=1)


def test_answers_na_rules_and_comments():
    c = checklist().answer(4, "oui", by="@sec:x", at=NOW)
    c = c.answer(10, "non", by="@idec:x", at=NOW, comment="  IDEL   pas encore trouvée ")
    assert c.state(4).answer == "oui" and c.state(4).by == "@sec:x" and c.state(4).at == NOW
    assert c.state(10).comment == "IDEL pas encore trouvée"
    with pytest.raises(ChecklistError) as caught:
        c.answer(1, "na", by="@mh:x", at=NOW)
    assert caught.value.key == "checklist.na_forbidden"
    assert c.answer(11, "na", by="@ph:x", at=NOW).state(11).answer == "na"
    # The lettre de liaison is due at every discharge: never NA, with its own reason.
    with pytest.raises(ChecklistError) as caught:
        c.answer(17, "na", by="@sec:x", at=NOW)
    assert caught.value.key == "checklist.na_letter" and caught.value.values["item"] == 17
    with pytest.raises(ChecklistError) as caught:
        c.answer(42, "oui", by="@mh:x", at=NOW)
    assert caught.value.key == "checklist.unknown_item" and caught.value.values["last"] == 20
    with pytest.raises(ChecklistError):
        c.answer(4, "peut-être", by="@mh:x", at=NOW)  # type: ignore[arg-type]
    with pytest.raises(ChecklistError):
        c.answer(4, "oui", by="@mh:x", at=NOW, comment="x" * 501)
    # Changing an answer keeps the latest, and who gave it.
    changed = c.answer(10, "oui", by="@idel:x", at=NOW + timedelta(hours=1))
    assert changed.state(10).answer == "oui" and changed.state(10).comment is None
    assert c.state(10).answer == "non"  # the old checklist is untouched (pure)


def test_assignment_and_who_may_answer():
    c = checklist().assign(8, "@sec:x")
    assert c.state(8).assignee == "@sec:x" and c.state(8).answer is None
    item8 = c.item(8)
    assert set(item8.roles) == {"SEC", "IDEC"}
    assert may_answer(item8, "SEC") and may_answer(item8, "IDEC")
    assert may_answer(item8, "MH", any_item=True) and not may_answer(item8, "MH")
    assert not may_answer(item8, "PO") and not may_answer(item8, None, any_item=True)
    assert may_answer(item8, "PO", assigned=True)


def test_validation_is_blocked_until_blocking_items_are_yes_or_na_or_overridden():
    c = checklist()
    blocking = [i.id for i in c.blockers()]
    # Blocking items, and the items that cannot be remedied (HAS 1, 2, 3, 5, 8) unanswered.
    assert blocking == [1, 2, 3, 4, 7, 12, 16, 17, 19]
    with pytest.raises(ChecklistError) as caught:
        c.validate(by="@idec:x", at=NOW, physician=False)
    assert caught.value.key == "checklist.blocked" and caught.value.values["items"] == blocking
    for item_id in blocking:
        c = c.answer(item_id, "oui", by="@mh:x", at=NOW)
    c = c.answer(17, "non", by="@sec:x", at=NOW)
    with pytest.raises(ChecklistError) as caught:
        c.validate(by="@mh:x", at=NOW, physician=True)
    assert caught.value.key == "checklist.override_needs_reason"
    done = c.validate(by="@mh:x", at=NOW, physician=True, reason="lettre envoyée demain matin")
    assert done.validated_at == NOW and done.override is not None
    assert done.override.items == (17,) and done.override.reason == "lettre envoyée demain matin"
    with pytest.raises(ChecklistError) as caught:
        done.answer(4, "oui", by="@sec:x", at=NOW)
    assert caught.value.key == "checklist.already_validated"
    # The letter outlives the validation: still missing, and its item still answerable.
    assert not done.letter_sent
    assert done.answer(17, "oui", by="@sec:x", at=NOW).letter_sent
    clean = c.answer(17, "oui", by="@sec:x", at=NOW).validate(by="@idec:x", at=NOW,
                                                               physician=False)
    assert clean.override is None


def test_escalation_from_j0_for_high_risk_patients_only():
    c = checklist(risk="eleve").answer(10, "non", by="@idec:x", at=NOW)
    c = c.answer(4, "non", by="@sec:x", at=NOW)  # not an escalation item
    j_minus_1 = datetime(2026, 11, 23, 12, 0, tzinfo=PARIS)
    j0 = datetime(2026, 11, 24, 8, 0, tzinfo=PARIS)
    assert c.escalations(j_minus_1) == []
    assert [i.id for i in c.escalations(j0)] == [10]
    assert checklist(risk="faible").answer(10, "non", by="@idec:x", at=NOW).escalations(j0) \
        == []
    # Unknown risk: treated as high, escalation included.
    unknown = checklist().answer(10, "non", by="@idec:x", at=NOW)
    assert unknown.high_risk and [i.id for i in unknown.escalations(j0)] == [10]


def test_items_that_cannot_be_remedied_are_kept_late_and_block_only_unanswered():
    c = checklist()  # admission 18/11: item 3 due A+1 19/11 18:00, item 8 (remediable) J-1
    assert [i.id for i in c.template.items if not i.remediable] == [1, 2, 3, 4, 7]
    late = c.answer(3, "oui", by="@mh:x", at=NOW)  # 20/11: after its due time
    assert late.state(3).late
    assert not c.answer(3, "oui", by="@mh:x", at=datetime(2026, 11, 19, 9, 0, tzinfo=PARIS)
                        ).state(3).late
    after_due = datetime(2026, 11, 25, 9, 0, tzinfo=PARIS)
    assert not c.answer(8, "oui", by="@sec:x", at=after_due).state(8).late  # can be remedied
    # "Non" cannot be fixed at discharge: it does not block; unanswered does.
    assert 3 not in [i.id for i in c.answer(3, "non", by="@mh:x", at=NOW).blockers()]
    assert 3 in [i.id for i in c.blockers()]
    # Compliance: every item "Oui"/"NA", none of those answered late.
    on_time = datetime(2026, 11, 18, 12, 0, tzinfo=PARIS)
    full = c
    for item in c.template.items:
        full = full.answer(item.id, "oui", by="@mh:x", at=on_time)
    assert full.compliant
    assert not full.answer(3, "oui", by="@mh:x", at=NOW).compliant  # answered again, late
    assert not full.answer(9, "non", by="@mh:x", at=on_time).compliant
    again = from_dict(json.loads(json.dumps(to_dict(late))), TEMPLATE, PARIS)
    assert again.state(3).late


def test_the_letter_alert_comes_at_the_end_of_j0_then_each_working_morning():
    hours = Hours(time(8, 0), time(18, 0))
    c = checklist(discharge=date(2026, 11, 27))  # a Friday
    now = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)
    end, morning = letter_plan(7, c.discharge, c, hours, Calendar(), now)
    assert (end.when, end.payload["stage"]) == (datetime(2026, 11, 27, 18, 0, tzinfo=PARIS),
                                                "end")
    # The next working morning: Monday, not Saturday.
    assert (morning.when, morning.payload["stage"]) == (
        datetime(2026, 11, 30, 8, 0, tzinfo=PARIS), "morning")
    assert all(j.key.startswith(letter_prefix(7)) for j in (end, morning))
    assert not letter_prefix(7).startswith(prefix(7))  # validating never cancels them
    assert "due:17" not in {j.key.split(":", 3)[3] for j in plan(7, 1, c, hours, now)}
    # Validated later than both: one reminder at once.
    late = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the bots' clock is UTC
    (only,) = letter_plan(7, c.discharge, c, hours, Calendar(), late)
    assert (only.when, only.payload["stage"]) == (late, "morning")
    assert only.when.tzinfo == PARIS  # the scheduler wants the ward's zone
    chained = next_letter_morning(7, c.discharge, date(2026, 12, 24), c, hours, Calendar())
    assert chained.when == datetime(2026, 12, 28, 8, 0, tzinfo=PARIS)  # after Christmas


def test_reminders_wait_for_working_hours():
    start, end = time(8, 0), time(19, 0)
    night = datetime(2026, 11, 23, 23, 59, tzinfo=PARIS)
    assert within_hours(night, start, end) == datetime(2026, 11, 24, 8, 0, tzinfo=PARIS)
    early = datetime(2026, 11, 23, 6, 0, tzinfo=PARIS)
    assert within_hours(early, start, end) == datetime(2026, 11, 23, 8, 0, tzinfo=PARIS)
    day = datetime(2026, 11, 23, 18, 0, tzinfo=PARIS)
    assert within_hours(day, start, end) == day
    # Across the autumn change the next morning is still 08:00 local.
    saturday = datetime(2026, 10, 24, 20, 0, tzinfo=PARIS)
    sunday = within_hours(saturday, start, end)
    assert (sunday.day, sunday.hour, sunday.utcoffset()) == (25, 8, timedelta(hours=1))


def test_live_message_shows_states_late_items_and_escapes_comments():
    from bots.discharge.render import render
    from bots.runtime.notice import to_plain

    c = checklist(risk="eleve").answer(4, "oui", by="@sec:x", at=NOW)
    c = c.answer(10, "non", by="@idec:x", at=NOW, comment="<b>IDEL</b> absente")
    c = c.assign(8, "@sec:x")
    html = render(c, "fr", datetime(2026, 11, 23, 19, 0, tzinfo=PARIS))
    text = to_plain(html)
    assert "✅ 4." in text and "Oui (@sec:x, 20/11 10:00)" in text
    assert "❌ 10." in text and "« <b>IDEL</b> absente »" in text
    assert "<b>IDEL</b>" not in html and "&lt;b&gt;IDEL&lt;/b&gt;" in html
    assert "⏰ 8." in text and "assigné à @sec:x" in text and "en retard" in text
    assert "⬜ 16." in text  # J0, not late yet
    assert "risque élevé" in text and "2/20 items renseignés" in text
    assert "bloquants en suspens : 1, 2, 3, 7, 12, 16, 17, 19" in text
    late = to_plain(render(checklist().answer(3, "oui", by="@mh:x", at=NOW), "fr", NOW))
    assert "renseigné en retard" in late and "non conforme" in late
    assert "risque inconnu" in late and "traité comme à risque élevé" in late
    done = c.answer(17, "oui", by="@sec:x", at=NOW)
    for item_id in (1, 2, 3, 7, 12, 16, 19):
        done = done.answer(item_id, "oui", by="@mh:x", at=NOW)
    done = done.validate(by="@mh:x", at=NOW, physician=False)
    assert "Sortie validée le 20/11 10:00" in to_plain(render(done, "fr", NOW))
    english = to_plain(render(c, "en", NOW))
    assert "planned discharge 2026-11-24" in english and "Yes (@sec:x" in english


def test_the_default_template_and_bad_templates_refused_with_file_item_and_reason(tmp_path):
    import copy

    import yaml

    from bots.common.roles import Roles
    from bots.discharge.template import Due, TemplateError, load_templates

    known_roles = Roles.load().by_code
    templates = load_templates(known_roles=known_roles)
    default = templates[DEFAULT_TEMPLATE]
    assert [i.id for i in default.items] == list(range(1, 21))
    assert [i.id for i in default.items if not i.na_allowed] == [1, 2, 17]
    assert [i.id for i in default.items if i.escalate_if_no] == [8, 10, 11, 12, 17]
    assert default.letter is not None and default.letter.id == 17
    assert default.item(17).due.label() == "J0" and default.item(1).rescore_due.label() \
        == "J-1"
    assert Due.parse("A+2") == Due("A", 2) and Due.parse("J0").label() == "J0"
    for bad in ("J", "A+", "K-1", "J0 25:00"):
        with pytest.raises(ValueError):
            Due.parse(bad)
    raw = yaml.safe_load((DEFAULT_TEMPLATES_DIR / f"{DEFAULT_TEMPLATE}.yaml").read_text())
    cases = {
        "dup": (lambda r: r["sections"][1]["items"][0].update(id=1), "item 1: the id is used twice"),
        "role": (lambda r: r["sections"][0]["items"][1].update(roles=["CHEF"]),
                 "item 2: unknown role(s) CHEF"),
        "due": (lambda r: r["sections"][0]["items"][0].update(due="J+"), "item 1:"),
        "extra": (lambda r: r.update(colour="red"), "'colour' was unexpected"),
        "letter_na": (lambda r: r["sections"][2]["items"][1].update(na_allowed=True),
                      "item 17: the lettre de liaison never takes NA"),
        "two_letters": (lambda r: r["sections"][2]["items"][2].update(letter=True),
                        "item 18: a second lettre de liaison item"),
    }
    for name, (change, message) in cases.items():
        broken = copy.deepcopy(raw)
        broken["name"] = f"ward-{name}"
        change(broken)
        folder = tmp_path / name
        folder.mkdir()
        (folder / "ward.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True))
        with pytest.raises(TemplateError) as caught:
            load_templates([folder], known_roles=known_roles)
        assert "ward.yaml" in str(caught.value) and message in str(caught.value), str(caught.value)
    good = copy.deepcopy(raw)
    good["name"] = "cardio"
    (tmp_path / "cardio.yaml").write_text(yaml.safe_dump(good, allow_unicode=True))
    assert set(load_templates([tmp_path / "cardio.yaml"])) == {DEFAULT_TEMPLATE, "cardio"}
    good["name"] = DEFAULT_TEMPLATE
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(good, allow_unicode=True))
    with pytest.raises(TemplateError, match="already exists"):
        load_templates([tmp_path / "twin.yaml"])


def test_days_as_people_type_them():
    today = date(2026, 11, 20)
    assert parse_day("24/11/2026", today) == date(2026, 11, 24)
    assert parse_day("24/11", today) == date(2026, 11, 24)
    assert parse_day("02/01", today) == date(2027, 1, 2)  # the next such day
    assert parse_day("2026-12-01", today) == date(2026, 12, 1)
    assert parse_day("demain", today) == date(2026, 11, 21)
    assert parse_day("J+3", today) == date(2026, 11, 23)
    assert parse_day("hier", today) == parse_day("J-1", today) == date(2026, 11, 19)
    # A day already past (a readmission, a discharge): 24/11 is last year's 24 November.
    assert parse_day("24/11", today, past=True) == date(2025, 11, 24)
    assert parse_day("18/11", today, past=True) == date(2026, 11, 18)
    for bad in ("32/13", "31/02/2026", "lundi", "24-11", ""):
        with pytest.raises(DateError) as caught:
            parse_day(bad, today)
        assert caught.value.key == "date.bad"


def test_reminder_plan_keeps_working_hours_and_skips_what_is_already_late():
    hours = Hours(time(8, 0), time(19, 0))
    c = checklist()  # admission 18/11, discharge 24/11
    now = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)
    jobs = {j.key.split(":", 3)[3]: j for j in plan(7, 2, c, hours, now)}
    assert all(j.key.startswith("discharge:7:v2:") for j in jobs.values())
    # A items (due 19/11 and 20/11 18:00): only those still ahead.
    assert "due:1" not in jobs and jobs["due:2"].when == datetime(2026, 11, 20, 18, 0,
                                                                  tzinfo=PARIS)
    assert jobs["due:8"].when == datetime(2026, 11, 23, 18, 0, tzinfo=PARIS)
    assert jobs["rescore:1"].payload == {"checklist": 7, "version": 2, "item": 1,
                                         "rescore": True}
    assert jobs["escalate"].when == datetime(2026, 11, 24, 8, 0, tzinfo=PARIS)
    # Moved backwards to tomorrow: what is now past gets no job of its own.
    moved = {j.key.split(":", 3)[3] for j in plan(7, 3, c.move(date(2026, 11, 21)), hours, now)}
    assert "due:7" not in moved and "due:8" in moved  # J-2 (19/11) gone, J-1 (20/11 18:00) kept
    digest = next_digest(7, now, time(9, 0), hours)
    assert digest.when == datetime(2026, 11, 21, 9, 0, tzinfo=PARIS)
    assert digest.key == "discharge:7:digest:2026-11-21"
    early = next_digest(7, now.replace(hour=7), time(9, 0), hours)
    assert early.when == datetime(2026, 11, 20, 9, 0, tzinfo=PARIS)


def test_stored_state_round_trips_and_the_summary_cannot_be_broken_by_a_comment():
    c = checklist(risk="eleve").answer(10, "non", by="@idec:x", at=NOW, comment="a | b <i>x</i>")
    c = c.assign(8, "@sec:x").validate(by="@mh:x", at=NOW, physician=True, reason="SSR")
    again = from_dict(json.loads(json.dumps(to_dict(c))), TEMPLATE, PARIS)
    assert again == c
    md = summary_markdown(c, "fr", "P-2026-00001", "DUPONT Marie")
    row10 = next(line for line in md.splitlines() if line.startswith("| 10 |"))
    assert row10.count(" | ") == 5 and "a \\| b &lt;i>x&lt;/i>" in row10
    assert "Passé outre par @mh:x" in md and "Risque de réhospitalisation : élevé" in md


def test_the_summary_and_journal_keep_late_answers_and_say_whether_compliant():
    from bots.discharge.summary import Entry

    c = checklist().answer(3, "oui", by="@mh:x", at=NOW)
    journal = [Entry(NOW, "@mh:x", "answer", 3, {"answer": "oui", "comment": None,
                                                 "late": True}),
               Entry(NOW, "@bot:x", "answer", 17, {"answer": "oui", "comment": None,
                                                   "by_mail": 12})]
    md = summary_markdown(c, "fr", "P-2026-00001", "DUPONT Marie", journal)
    row3 = next(line for line in md.splitlines() if line.startswith("| 3 |"))
    assert "Oui (en retard)" in row3
    assert "item 3 : Oui (en retard)" in md and "courriel MSSanté" in md
    assert "complète et à l'heure : non" in md and "niveau de risque inconnu" in md
