"""The dashboard's logic without a homeserver: session IDs and their CSRF tokens, the login
form's token, expiry, the login rate limits, reading what was typed as a user ID, the gate
(`permissions.check_anywhere` with the roles file's `dashboard.view`), and on SQLite the
sessions table and what the Today page reads (rooms, names, checklist progress)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import update

from bots.careteam import records as careteam
from bots.careteam.requests import Member, OpenRequest
from bots.common import capabilities as cap
from bots.common import permissions
from bots.common.identity import make_identity
from bots.common.models import COORDINATION, PATIENT, CareRoom
from bots.common.roles import Roles
from bots.config import ConfigError, parse
from bots.dashboard import records
from bots.dashboard.login import user_id_of
from bots.dashboard.models import DashboardSession
from bots.dashboard.session import (
    Lifetime,
    LoginForms,
    RateLimit,
    csrf_token,
    digest,
    new_token,
    same,
)
from bots.dashboard.today import PatientLine, patient_lines, room_url, today_of
from bots.dashboard.views import render
from bots.discharge import records as discharge
from bots.discharge.checklist import Checklist
from bots.discharge.models import ChecklistRow
from bots.discharge.template import load_templates
from bots.followup.records import FollowupWorkReader
from bots.followup.schedule import load_schedules
from bots.runtime.commands import Caller
from bots.runtime.i18n import Refusal, accepted
from bots.runtime.notice import to_plain
from bots.runtime.store import Store, utcnow
from bots.runtime.vault import Vault
from tests.migrated import sqlite_store

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


# --- tokens ---------------------------------------------------------------------------------

def test_session_ids_are_random_and_stored_only_as_their_hash():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 43  # 32 random bytes
    assert digest(a) == digest(a) and digest(a) != digest(b) and a not in digest(a)


def test_each_session_has_its_own_csrf_token_checked_whole():
    a, b = new_token(), new_token()
    assert csrf_token(a) == csrf_token(a) != csrf_token(b)
    assert same(csrf_token(a), csrf_token(a))
    assert not same(csrf_token(a), csrf_token(b))
    assert not same(csrf_token(a), None) and not same(csrf_token(a), "")
    assert not same(csrf_token(a), csrf_token(a)[:-1])
    assert not same(csrf_token(a), "é\udcff")  # any text a form may carry: no exception


def test_the_login_form_token_matches_only_its_cookie_and_this_process():
    forms = LoginForms()
    nonce, token = forms.issue()
    other_nonce, other_token = forms.issue()
    assert forms.valid(nonce, token) and forms.valid(other_nonce, other_token)
    assert not forms.valid(nonce, other_token)  # a token from another browser's form
    assert not forms.valid(None, token) and not forms.valid(nonce, None)
    assert not forms.valid(token, nonce)
    assert not LoginForms().valid(nonce, token)  # another key: a restarted process


def test_a_login_form_from_one_bots_process_is_good_at_the_other():
    """Two processes behind the proxy have the same data keys, thus the same forms' key."""
    keys = [Vault.new_key(), Vault.new_key()]
    one, two = (LoginForms(Vault(keys).purpose_key("dashboard login forms")) for _ in range(2))
    nonce, token = one.issue()
    assert two.valid(nonce, token)
    assert not LoginForms(Vault(keys).purpose_key("other")).valid(nonce, token)
    assert not LoginForms(Vault([Vault.new_key()]).purpose_key(
        "dashboard login forms")).valid(nonce, token)


# --- expiry and rate limits -----------------------------------------------------------------

def test_a_session_ends_when_idle_or_at_its_absolute_end():
    life = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    assert not life.expired(T0, T0, T0 + timedelta(minutes=29))
    assert life.expired(T0, T0, T0 + timedelta(minutes=30))
    used = T0 + timedelta(hours=9, minutes=50)
    assert not life.expired(T0, used, T0 + timedelta(hours=9, minutes=59))
    assert life.expired(T0, used, T0 + timedelta(hours=10))  # in use, yet over


def test_login_attempts_are_limited_per_key_in_a_sliding_window():
    limit = RateLimit(3, 60.0)
    for second in (0.0, 1.0, 2.0):
        assert not limit.blocked("@a:h", second)
        limit.record("@a:h", second)
    assert limit.blocked("@a:h", 3.0)
    assert not limit.blocked("@b:h", 3.0)  # another key is free
    assert limit.retry_after("@a:h", 3.0) == pytest.approx(57.0)
    assert not limit.blocked("@a:h", 60.5)  # the first attempt left the window


def test_a_spray_of_keys_keeps_the_memory_bounded():
    limit = RateLimit(1, 60.0, max_keys=100)
    for n in range(1000):
        limit.record(f"@u{n}:h", float(n) / 100)
    assert len(limit._seen) <= 100
    assert limit.blocked("@u999:h", 10.0)  # the latest are the ones kept


# --- what was typed -------------------------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ("alice", "@alice:h.fr"), ("  alice ", "@alice:h.fr"), ("@alice:h.fr", "@alice:h.fr"),
    ("@alice:H.FR", "@alice:h.fr"), ("a.b-c_d=e/f+g", "@a.b-c_d=e/f+g:h.fr"),
])
def test_a_localpart_or_a_user_id_of_this_server_is_read(typed, expected):
    assert user_id_of(typed, "h.fr") == expected


@pytest.mark.parametrize("typed, key", [
    ("@alice:other.fr", "dash.login.other_server"), ("@alice", "dash.login.bad_user"),
    ("ali ce", "dash.login.bad_user"), ("DUPONT Marie", "dash.login.bad_user"),
    ("alice:h.fr", "dash.login.bad_user"), ("é", "dash.login.bad_user"),
    ("a" * 260, "dash.login.bad_user"), ("", "dash.login.bad_user"),
])
def test_anything_else_is_refused_with_the_reason(typed, key):
    with pytest.raises(Refusal) as refused:
        user_id_of(typed, "h.fr")
    assert refused.value.key == key


# --- the gate -------------------------------------------------------------------------------

ROLES = Roles.load()
GATE = ROLES.permission(cap.DASHBOARD_VIEW, COORDINATION, PATIENT)


def caller(role: str | None, kind: str) -> Caller:
    return Caller("@u:h.fr", f"!{kind}:h.fr", 0, role=role, room_kind=kind)


def test_coordination_roles_hold_dashboard_view():
    assert {code for code, role in ROLES.by_code.items() if cap.DASHBOARD_VIEW in role.may} \
        == {"IDEC", "DAC", "MH"}


def test_the_dashboard_opens_to_a_coordination_role_in_any_room():
    assert permissions.check_anywhere(GATE, "@u:h.fr", [caller("IDE", PATIENT),
                                                        caller("DAC", COORDINATION)],
                                      "dash.forbidden") is None
    assert permissions.check_anywhere(GATE, "@u:h.fr", [caller("IDEC", PATIENT)],
                                      "dash.forbidden") is None


def test_a_nurse_or_a_stranger_is_refused_with_the_roles_that_may():
    nurse = permissions.check_anywhere(GATE, "@u:h.fr", [caller("IDE", PATIENT),
                                                         caller("MT", PATIENT)],
                                       "dash.forbidden")
    assert nurse is not None
    text = to_plain(nurse.text("fr"))
    assert "IDEC, DAC, MH" in text and "IDE, MT" in text
    # A coordination room's admin without a role: no power level is known outside the room.
    stranger = permissions.check_anywhere(GATE, "@u:h.fr", [caller(None, COORDINATION)],
                                          "dash.forbidden")
    assert stranger is not None and "(votre rôle : aucun)" in to_plain(stranger.text("fr"))
    assert permissions.check_anywhere(GATE, "@u:h.fr", [], "dash.forbidden") is not None


@pytest.mark.parametrize("header, default, expected", [
    ("en-GB,en;q=0.8", "fr", "en"), ("de-DE, fr;q=0.5", "en", "fr"), ("", "fr", "fr"),
    ("de", "en", "en"),
])
def test_pages_speak_the_browsers_language_french_by_default(header, default, expected):
    assert accepted(header, default) == expected


# --- configuration --------------------------------------------------------------------------

BASE = {"homeserver": "http://hs", "data_dir": "d", "database": "sqlite:////tmp/x.db",
        "data_keys": [Vault.new_key()], "accounts": [{"user_id": "@bot:h", "password": "p"}]}


def test_the_dashboard_is_off_unless_configured_and_secure_by_default(tmp_path: Path):
    assert parse(BASE, "t", tmp_path).dashboard is None
    on = parse({**BASE, "dashboard": {"listen": "127.0.0.1:8020",
                                      "public_url": "https://tableau.h.fr/"}}, "t", tmp_path)
    assert on.dashboard is not None
    assert (on.dashboard.host, on.dashboard.port) == ("127.0.0.1", 8020)
    assert on.dashboard.public_url == "https://tableau.h.fr" and on.dashboard.secure_cookies
    assert (on.dashboard.idle_minutes, on.dashboard.max_hours) == (30, 10)
    with pytest.raises(ConfigError, match="public_url"):  # an origin: no path
        parse({**BASE, "dashboard": {"listen": "127.0.0.1:8020",
                                     "public_url": "https://h.fr/tableau"}}, "t", tmp_path)


def test_room_links_go_to_matrix_to_or_the_deployments_element():
    assert room_url("!abc:h.fr", None) == "https://matrix.to/#/!abc:h.fr"
    assert room_url("!abc:h.fr", "https://element.h.fr") == "https://element.h.fr/#/room/!abc:h.fr"


def test_pages_escape_what_they_show():
    line = PatientLine("P-2026-00001", "<i>Cardio</i>", "DUPONT <script>x()</script>",
                       date(1948, 3, 12), 'https://matrix.to/#/!a:h" onclick="x', None)
    page = render("today.html", "fr", user="@a&b:h", csrf='"><b>',
                  page=today_of([line], date(2026, 12, 5)))
    assert "<script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<i>" not in page and '" onclick' not in page and '"><b>' not in page
    assert "Connecté(e) : @a&amp;b:h" in page and "né(e) le 12/03/1948" in page
    assert '<html lang="en">' in render("login.html", "en", typed="", error=None, notice=None,
                                        form_token="t", server="h")


# --- on SQLite ------------------------------------------------------------------------------

ACCOUNT = "@bot:h.fr"


@pytest_asyncio.fixture
async def store(tmp_path: Path):
    async with sqlite_store(tmp_path / "bots.db") as store:
        yield store


async def test_sessions_open_live_end_and_close(store: Store):
    life = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    now = utcnow()
    async with store.transaction(ACCOUNT) as tx:
        token = await records.open_session(tx, "@alice:h.fr", life, now)
        stale = await records.open_session(tx, "@bob:h.fr", life, now)
    async with store.transaction(ACCOUNT) as tx:
        assert await tx.session.get(DashboardSession, token) is None  # only the hash is kept
        assert await records.session_user(tx, token, life, now + timedelta(minutes=5)) \
            == "@alice:h.fr"
        assert await records.session_user(tx, new_token(), life, now) is None
    async with store.transaction(ACCOUNT) as tx:  # used at +5 min: alive at +34
        assert await records.session_user(tx, token, life, now + timedelta(minutes=34)) \
            == "@alice:h.fr"
        assert await records.session_user(tx, stale, life, now + timedelta(minutes=34)) is None
    async with store.transaction(ACCOUNT) as tx:
        assert await tx.session.get(DashboardSession, digest(stale)) is None  # and gone
        await records.close_session(tx, token)
    async with store.transaction(ACCOUNT) as tx:
        assert await records.session_user(tx, token, life, now) is None


async def test_a_login_removes_the_expired_sessions(store: Store):
    life = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    async with store.transaction(ACCOUNT) as tx:
        old = await records.open_session(tx, "@a:h.fr", life, T0)
    async with store.transaction(ACCOUNT) as tx:
        await records.open_session(tx, "@b:h.fr", life, T0 + timedelta(hours=1))
        assert await tx.session.get(DashboardSession, digest(old)) is None


async def _open_room(tx, name: str, given: str, team: list[Member], room_id: str,
                     ward: str) -> CareRoom:
    room, _ = await careteam.register_patient(
        tx, OpenRequest(make_identity(name, given, date(1948, 3, 12), "F"), team=tuple(team),
                        ward=ward), prefix="P", language="fr", requested_by="api")
    room.status, room.room_id = "open", room_id  # as the provisioner leaves it
    return room


async def test_the_today_page_reads_only_the_users_open_rooms_with_progress(store: Store):
    zone = ZoneInfo("Europe/Paris")
    templates = load_templates()
    template = templates["has-sortie-2015"]
    progress = discharge.ChecklistProgress(templates, zone)
    now = datetime(2026, 12, 5, 12, 0, tzinfo=zone)
    async with store.transaction(ACCOUNT) as tx:
        mine = await _open_room(tx, "DUPONT", "Marie", [Member("@dac:h.fr", "DAC")], "!m:h.fr",
                                "Cardiologie")
        await _open_room(tx, "MARTIN", "Paul", [Member("@dac:h.fr", "DAC")], "!p:h.fr",
                         "Gériatrie")
        await _open_room(tx, "DURAND", "Jeanne", [Member("@ide:h.fr", "IDE")], "!j:h.fr",
                         "Cardiologie")
        checklist = Checklist(template=template, zone=zone, discharge=date(2026, 12, 4),
                              admission=date(2026, 11, 28))
        checklist = checklist.answer(1, "oui", by="@dac:h.fr", at=now)
        row = ChecklistRow(account=ACCOUNT, care_room_id=mine.id, room_id="!m:h.fr",
                           template=template.name, status="active", sealed=b"", version=1,
                           language="fr", created_at=now, updated_at=now)
        tx.session.add(row)
        await tx.session.flush()
        discharge.save(tx, row, checklist)
    async with store.transaction(ACCOUNT) as tx:  # Paul's room is closed: not listed
        await tx.session.execute(update(CareRoom).where(CareRoom.room_id == "!p:h.fr")
                                 .values(status="closed"))
    async with store.reading(ACCOUNT) as tx:
        lines = await patient_lines(tx, "@dac:h.fr", progress,
                                    FollowupWorkReader(load_schedules(), zone), None, now)
        stand = await permissions.standing(tx, "@ide:h.fr")
    assert [(line.ref.startswith("P-"), line.name, line.ward) for line in lines] \
        == [(True, "DUPONT Marie", "Cardiologie")]
    p = lines[0].progress
    assert p is not None and (p.answered, p.total, p.validated) == (1, 20, False)
    assert p.discharge == date(2026, 12, 4)
    # J-1 and J0 items are overdue on J+1 (item 1 answered): numbered, with who answers them.
    overdue = {o.item: o.roles for o in p.overdue}
    assert 1 not in overdue and 17 in overdue and overdue[17] == template.item(17).roles
    assert lines[0].room_url == "https://matrix.to/#/!m:h.fr"
    assert [(c.room_id, c.room_kind, c.role) for c in stand] == [("!j:h.fr", PATIENT, "IDE")]
