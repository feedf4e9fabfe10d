"""The Today page's work lists (issue 18): discharges planned this week, follow-up steps due
today or late, readmissions of the last 30 days awaiting review; their CSV without identity.
Pure, and the follow-up bot's reader on SQLite."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from bots.careteam import records as careteam
from bots.careteam.requests import Member, OpenRequest
from bots.common.identity import make_identity
from bots.common.models import CareRoom
from bots.common.spreadsheet import cell, csv_bytes
from bots.dashboard.today import PatientLine, patient_lines, today_csv, today_of, week_of
from bots.dashboard.views import render
from bots.datafiles import Entry
from bots.discharge import records as discharge
from bots.discharge.template import load_templates
from bots.episode.followup_work import FollowupWork, ReturnToReview, StepDue
from bots.episode.progress import DischargeProgress, Overdue
from bots.followup.models import FollowupEvent, FollowupPlan, FollowupStep
from bots.followup.records import FollowupWorkReader
from bots.followup.schedule import load_schedules
from bots.runtime.store import Store, Transaction
from tests.migrated import sqlite_store

SAT = date(2026, 12, 5)  # a Saturday: its week runs from Monday 30/11 to Sunday 6/12
CALL = Entry(4, "Appel structuré", "Structured call", ("IDEC", "DAC"))
GP = Entry(5, "=HYPERLINK(\"x\")", None, ("IDEC",))


def line(ref: str, *, discharge: date | None = None, due: tuple[StepDue, ...] = (),
         review: tuple[ReturnToReview, ...] = (), ward: str | None = "Cardiologie",
         name: str = "DUPONT Marie", closed: bool = False) -> PatientLine:
    progress = DischargeProgress(discharge, 3, 20, (Overdue(17, ("IDE",), None),), False) \
        if discharge else None
    work = FollowupWork(SAT - timedelta(days=10), due, review) if due or review else None
    return PatientLine(ref, ward, name, date(1948, 3, 12), f"https://matrix.to/#/!{ref}:h.fr",
                       progress, work, closed)


def test_a_week_runs_from_monday_to_sunday():
    assert week_of(SAT) == (date(2026, 11, 30), date(2026, 12, 6))
    assert week_of(date(2026, 11, 30)) == (date(2026, 11, 30), date(2026, 12, 6))


def test_today_lists_this_weeks_discharges_the_steps_due_and_the_reviews_in_order():
    lines = [
        line("P-3", discharge=date(2026, 12, 6)),
        line("P-1", discharge=date(2026, 11, 30)),
        line("P-0", discharge=date(2026, 11, 29)),  # last week: not planned this week
        line("P-9", discharge=date(2026, 12, 7)),  # next week
        line("P-5", due=(StepDue(CALL, SAT, True), StepDue(GP, SAT - timedelta(days=3), False)),
             review=(ReturnToReview(SAT - timedelta(days=31), 3, "rh7"),  # too old
                     ReturnToReview(SAT - timedelta(days=2), 8, "rh30"))),
        line("P-4", due=(StepDue(CALL, SAT - timedelta(days=1), True),),
             review=(ReturnToReview(SAT - timedelta(days=30), 4, "rh7"),)),
    ]
    page = today_of(lines, SAT)
    assert page.patients == lines
    assert [li.ref for li in page.discharges] == ["P-1", "P-3"]
    assert [(li.ref, s.what.id, s.day) for li, s in page.steps] == [
        ("P-5", 5, SAT - timedelta(days=3)), ("P-4", 4, SAT - timedelta(days=1)),
        ("P-5", 4, SAT)]
    assert [(li.ref, r.on) for li, r in page.reviews] == [
        ("P-4", SAT - timedelta(days=30)), ("P-5", SAT - timedelta(days=2))]


def test_a_closed_room_stays_on_today_while_follow_up_work_is_due_there():
    lines = [
        line("P-1", closed=True, due=(StepDue(CALL, SAT - timedelta(days=1), True),)),
        line("P-2", closed=True, review=(ReturnToReview(SAT - timedelta(days=30), 4, "rh7"),)),
        line("P-3", closed=True, review=(ReturnToReview(SAT - timedelta(days=31), 4, "rh7"),)),
        line("P-4", closed=True, discharge=SAT),  # its checklist alone: nothing due any more
        line("P-5", closed=True),
        line("P-6"),  # open: listed, work or not
    ]
    page = today_of(lines, SAT)
    assert [li.ref for li in page.patients] == ["P-1", "P-2", "P-6"]
    assert [li.ref for li, _ in page.steps] == ["P-1"]
    assert [li.ref for li, _ in page.reviews] == ["P-2"]
    assert page.discharges == []
    html = render("today.html", "fr", user="u", csrf="c", page=page)
    assert html.count("salon clos, suivi en cours") == 4  # P-1 and P-2, in their list and below
    rows = _read(today_csv(page, "patients", "fr"))
    assert [(r["ref"], r["room_closed"]) for r in rows] == [("P-1", "1"), ("P-2", "1"),
                                                            ("P-6", "0")]


def test_the_page_shows_each_list_with_room_links_late_and_today_apart():
    lines = [line("P-1", discharge=SAT),
             line("P-2", due=(StepDue(CALL, SAT, True), StepDue(GP, SAT - timedelta(days=2),
                                                                  False)),
                  review=(ReturnToReview(SAT - timedelta(days=2), 8, "rh30"),))]
    page = render("today.html", "fr", user="@dac:h.fr", csrf="c", page=today_of(lines, SAT))
    discharges, rest = page.split('id="steps"')
    steps, rest = rest.split('id="reviews"')
    reviews, patients = rest.split('id="patients"')
    assert "P-1" in discharges and "P-2" not in discharges and "3/20 items renseignés" in discharges
    assert "n° 4 — Appel structuré" in steps and "aujourd'hui" in steps
    assert "en retard (prévue le 03/12/2026)" in steps and "IDEC/DAC" in steps
    assert "pas encore annoncée" in steps and "=HYPERLINK(&#34;x&#34;)" in steps.replace("&quot;", "&#34;")
    assert "RH30 (J+8)" in reviews and "03/12/2026" in reviews
    for part in (discharges, steps, reviews):
        assert 'href="https://matrix.to/#/!P-' in part and ".csv\" download" in part
    assert "né(e) le 12/03/1948" in patients
    english = render("today.html", "en", user="u", csrf="c", page=today_of(lines, SAT))
    assert "no. 4 — Structured call" in english and "late (due 12/03/2026)" not in english
    empty = render("today.html", "fr", user="u", csrf="c", page=today_of([], SAT))
    assert "Aucune sortie prévue" in empty and "Aucune réadmission à revoir" in empty
    assert ".csv" not in empty


def _read(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_the_csv_names_rooms_by_file_number_never_the_patient_and_runs_no_formula():
    lines = [line("P-1", discharge=SAT, ward="=cmd|' /C calc'!A0", name="DUPONT Marie"),
             line("P-2", due=(StepDue(GP, SAT - timedelta(days=2), False),),
                  review=(ReturnToReview(SAT - timedelta(days=2), 8, "rh30"),))]
    page = today_of(lines, SAT)
    for table in ("patients", "discharges", "steps", "reviews"):
        data = today_csv(page, table, "fr")
        assert b"DUPONT" not in data and b"1948" not in data, table
        assert data.startswith(b"ref,ward,room,") and data.endswith(b"\r\n")
    patients = _read(today_csv(page, "patients", "fr"))
    assert patients[0]["ward"] == "'=cmd|' /C calc'!A0"
    assert (patients[0]["discharge_planned"], patients[0]["items_answered"],
            patients[0]["overdue_items"]) == ("2026-12-05", "3", "17")
    assert (patients[1]["steps_due"], patients[1]["to_review"], patients[1]["items_total"]) \
        == ("1", "1", "")
    [step] = _read(today_csv(page, "steps", "fr"))
    assert step == {"ref": "P-2", "ward": "Cardiologie", "room": "https://matrix.to/#/!P-2:h.fr",
                    "step": "5", "label": "'=HYPERLINK(\"x\")", "roles": "IDEC",
                    "day": "2026-12-03", "late": "1", "posted": "0"}
    [review] = _read(today_csv(page, "reviews", "en"))
    assert (review["readmitted_on"], review["delay_days"], review["counts_as"]) \
        == ("2026-12-03", "8", "rh30")
    with pytest.raises(KeyError):
        today_csv(page, "names", "fr")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_the_shared_guard_neutralises_a_formula_start(text):
    assert cell(text) == "'" + text and cell("Cardio -1") == "Cardio -1"
    data = csv_bytes(("a", "b"), [(text, 3), (None, "x")])
    assert list(csv.reader(io.StringIO(data.decode(), newline=""))) \
        == [["a", "b"], ["'" + text, "3"], ["", "x"]]


# --- the follow-up bot's reader, on SQLite --------------------------------------------------

ACCOUNT = "@bot:h.fr"
ZONE = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=ZONE)


@pytest_asyncio.fixture
async def store(tmp_path: Path):
    async with sqlite_store(tmp_path / "bots.db") as store:
        yield store


async def _room(tx: Transaction, name: str, member: str, room_id: str) -> CareRoom:
    room, _ = await careteam.register_patient(
        tx, OpenRequest(make_identity(name, "Marie", date(1948, 3, 12), "F"),
                        team=(Member(member, "DAC"),), ward="Cardiologie"),
        prefix="P", language="fr", requested_by="api")
    room.status, room.room_id = "open", room_id
    return room


async def _plan(tx: Transaction, room: CareRoom, status: str, discharged: date,
                steps: dict[int, tuple[date, str]],
                events: list[tuple[date, str, bool, bool | None]]) -> None:
    plan = FollowupPlan(account=ACCOUNT, care_room_id=room.id, room_id=room.room_id,
                        schedule="rh30-default", status=status, discharged_on=discharged,
                        risk="high", conditions="", ward=room.ward, language="fr",
                        started_by="@dac:h.fr", created_at=NOW)
    tx.session.add(plan)
    await tx.session.flush()
    for step, (day, state) in steps.items():
        tx.session.add(FollowupStep(plan_id=plan.id, step=step, day=day, state=state, attempts=0,
                                    note=tx.vault.seal({}, FollowupStep.bind("note", plan.id,
                                                                             step))))
    for on, kind, planned, avoidable in events:
        tx.session.add(FollowupEvent(plan_id=plan.id, on=on, kind=kind, planned=planned,
                                     avoidable=avoidable, by="@dac:h.fr", at=NOW,
                                     note=tx.seal_on_insert({})))


async def test_the_reader_gives_open_steps_of_today_and_before_and_unjudged_readmissions(
        store: Store):
    d0 = date(2026, 11, 20)
    async with store.transaction(ACCOUNT) as tx:
        mine = await _room(tx, "DUPONT", "@dac:h.fr", "!m:h.fr")
        frozen = await _room(tx, "MARTIN", "@dac:h.fr", "!f:h.fr")
        other = await _room(tx, "DURAND", "@other:h.fr", "!o:h.fr")
        await _plan(tx, mine, "active", d0, {
            1: (d0, "done"), 4: (date(2026, 11, 24), "posted"), 5: (date(2026, 11, 27), "failed"),
            6: (SAT, "planned"), 8: (date(2026, 12, 11), "planned"),
            9: (date(2026, 12, 20), "planned")}, [
            (date(2026, 11, 25), "admission", False, None),  # D+5, unjudged: to review
            (date(2026, 11, 26), "admission", False, True),  # judged
            (date(2026, 11, 27), "admission", True, None),  # planned: not judged
            (date(2026, 11, 28), "ed", False, None),  # an ED visit: not a readmission
            (d0, "admission", False, None)])  # same day: not RH7/RH30
        # Back in hospital: no step is due while frozen; the readmission awaits its review.
        await _plan(tx, frozen, "frozen", d0, {4: (date(2026, 11, 24), "planned")},
                    [(date(2026, 12, 1), "admission", False, None)])
        await _plan(tx, other, "active", d0, {4: (date(2026, 11, 24), "posted")}, [])
    reader = FollowupWorkReader(load_schedules(), ZONE)
    async with store.reading(ACCOUNT) as tx:
        work = await reader(tx, [mine.id, frozen.id], NOW)
        assert await reader(tx, [], NOW) == {}
        lines = await patient_lines(tx, "@dac:h.fr", discharge.ChecklistProgress(
            load_templates(), ZONE), reader, None, NOW)
    assert set(work) == {mine.id, frozen.id}
    assert [(s.what.id, s.day, s.posted) for s in work[mine.id].due] == [
        (4, date(2026, 11, 24), True), (6, SAT, False)]
    assert work[mine.id].due[0].what.roles == ("IDEC", "DAC")
    assert work[mine.id].to_review == (ReturnToReview(date(2026, 11, 25), 5, "rh7"),)
    assert work[frozen.id].due == ()
    assert work[frozen.id].to_review == (ReturnToReview(date(2026, 12, 1), 11, "rh30"),)
    page = today_of(lines, SAT)
    assert [li.name for li in page.patients] == ["DUPONT Marie", "MARTIN Marie"]  # not DURAND
    assert [(li.name, s.what.id) for li, s in page.steps] == [("DUPONT Marie", 4),
                                                               ("DUPONT Marie", 6)]
    assert [(li.name, r.on) for li, r in page.reviews] == [
        ("DUPONT Marie", date(2026, 11, 25)), ("MARTIN Marie", date(2026, 12, 1))]


async def test_a_closed_room_with_work_due_is_read_and_one_without_is_not(store: Store):
    d0 = date(2026, 11, 20)
    async with store.transaction(ACCOUNT) as tx:
        due = await _room(tx, "DUPONT", "@dac:h.fr", "!d:h.fr")
        done = await _room(tx, "MARTIN", "@dac:h.fr", "!n:h.fr")
        expired = await _room(tx, "DURAND", "@dac:h.fr", "!e:h.fr")
        await _plan(tx, due, "active", d0, {4: (date(2026, 11, 24), "posted")}, [])
        await _plan(tx, done, "closed", d0, {4: (date(2026, 11, 24), "done")}, [])
        await _plan(tx, expired, "active", d0, {4: (date(2026, 11, 24), "posted")}, [])
        due.status, done.status, expired.status = "closed", "closed", "expired"
    reader = FollowupWorkReader(load_schedules(), ZONE)
    async with store.reading(ACCOUNT) as tx:
        lines = await patient_lines(tx, "@dac:h.fr", discharge.ChecklistProgress(
            load_templates(), ZONE), reader, None, NOW)
    assert [(li.name, li.closed) for li in lines] == [("DUPONT Marie", True)]
    page = today_of(lines, SAT)
    assert [(li.name, s.what.id) for li, s in page.steps] == [("DUPONT Marie", 4)]
