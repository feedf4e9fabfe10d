"""The coordinator dashboard against the real Synapse: people log in with their real Matrix
password (checked by the homeserver, whose login is logged out at once), coordinators see only
their patients, nurses and strangers are refused with the reason, forms need their CSRF token,
sessions end (logout, idle, absolute), and no patient name leaves in a header or a log line.
Plain HTTP with a cookie jar; in a real browser: tests/test_dashboard_browser.py."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bots.config import ApiConfig, CareteamConfig, DashboardConfig
from bots.dashboard.login import DEVICE_NAME
from bots.devstack.homeserver import free_port
from bots.runtime.store import utcnow
from tests.careteam_helpers import INS

PATIENT_WORDS = ("DUPONT", "Marie", "MARTIN", "1948-03-12", "12/03/1948", INS)


@dataclass
class Site:
    url: str
    api: str
    token: str
    database: str
    homeserver: str
    server_name: str
    passwords: dict[str, str]  # user ID → password
    rooms: dict[str, tuple[str, str]]  # patient → (file number, room ID)

    def browser(self) -> aiohttp.ClientSession:
        # unsafe: cookies for an IP address (127.0.0.1) are kept too.
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def api_call(self, method: str, path: str, body: object) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http, http.request(
                method, f"{self.api}{path}", json=body,
                headers={"Authorization": f"Bearer {self.token}"}) as resp:
            return resp.status, await resp.json(content_type=None)

    def sql(self, statement: str, *args: object) -> None:
        with sqlite3.connect(self.database.removeprefix("sqlite:///")) as db:
            db.execute(statement, args)


SEEN_HEADERS: list[str] = []


async def form_token(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as resp:
        SEEN_HEADERS.append(str(resp.headers))
        page = await resp.text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def post(http: aiohttp.ClientSession, url: str, data: dict[str, str],
               **options: object) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    async with http.post(url, data=data, allow_redirects=False, **options) as resp:
        SEEN_HEADERS.append(str(resp.headers))
        return resp.status, await resp.text(), resp.headers


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    async with http.get(url, allow_redirects=False) as resp:
        SEEN_HEADERS.append(str(resp.headers))
        return resp.status, await resp.text(), resp.headers


async def login(site: Site, http: aiohttp.ClientSession, user: str,
                password: str) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    csrf = await form_token(http, f"{site.url}/login")
    return await post(http, f"{site.url}/login", {"csrf": csrf, "user": user,
                                                  "password": password})


async def dashboard_site(make_bot, homeserver, **dashboard: Any) -> Site:
    """A care-team bot with its API and the dashboard (`dashboard`: more of its settings); a DAC
    coordinator (coordination room), a ward nurse and a stranger; DUPONT Marie's room
    (coordinator and nurse) and MARTIN Paul's (the nurse only)."""
    token, api_port, port = secrets.token_urlsafe(32), free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    handle = await make_bot(
        bots=("careteam",),
        careteam=CareteamConfig(create_coordination_room="Coordination",
                                api=ApiConfig("127.0.0.1", api_port, token)),
        dashboard=DashboardConfig("127.0.0.1", port, url, secure_cookies=False, **dashboard))
    passwords = {}
    for who in ("coord", "nurse", "stranger"):
        password = secrets.token_urlsafe(12)
        passwords[await homeserver.register(f"{who}{secrets.token_hex(3)}", password)] = password
    coord, nurse, _ = passwords
    site = Site(url, f"http://127.0.0.1:{api_port}", token, handle.config.database, homeserver.url,
                homeserver.server_name, passwords, {})
    for _ in range(60):
        status, body = await site.api_call("POST", "/api/v1/coordination/members",
                                           {"user_id": coord, "role": "DAC"})
        if status != 503:
            break
        await asyncio.sleep(0.5)
    assert status == 200, body
    for family, given, team in (("DUPONT", "Marie", [(coord, "DAC"), (nurse, "IDE")]),
                                ("MARTIN", "Paul", [(nurse, "IDE")])):
        status, body = await site.api_call("POST", "/api/v1/patients", {
            "identity": {"family_name": family, "given_names": given,
                         "birth_date": "1948-03-12", "sex": "F" if given == "Marie" else "M",
                         **({"ins": INS} if given == "Marie" else {})},
            "ward": "Cardiologie", "team": [{"user_id": u, "role": r} for u, r in team]})
        assert status == 201, body
        site.rooms[family] = (body["ref"], body["room_id"])
    return site


def users(site: Site) -> tuple[str, str, str]:
    coord, nurse, stranger = site.passwords
    return coord, nurse, stranger


def assert_no_store_and_strict(headers) -> None:
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script allowed at all
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def set_cookies(headers) -> list[str]:
    return headers.getall("Set-Cookie", [])


async def test_a_coordinator_logs_in_sees_her_patients_only_and_logs_out(
        make_bot, homeserver, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    SEEN_HEADERS.clear()
    site = await dashboard_site(make_bot, homeserver)
    coord, _, _ = users(site)
    async with site.browser() as http:
        status, _, headers = await get(http, f"{site.url}/")
        assert status == 303 and headers["Location"] == "/login"
        status, page, headers = await get(http, f"{site.url}/login")
        assert status == 200 and '<html lang="fr">' in page and 'for="password"' in page
        assert 'href="#main"' in page  # the skip link
        assert_no_store_and_strict(headers)
        login_cookie = next(c for c in set_cookies(headers) if c.startswith("liaison-login="))
        assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie

        status, page, headers = await login(site, http, coord, "not her password")
        assert status == 401 and "Identifiant ou mot de passe incorrect" in page
        assert not any(c.startswith("liaison=") for c in set_cookies(headers))

        # Forms without the token, with a forged one, or posted from another origin.
        url = f"{site.url}/login"
        password = site.passwords[coord]
        status, page, _ = await post(http, url, {"user": coord, "password": password})
        assert status == 403 and "rechargez la page" in page
        status, _, _ = await post(http, url, {"csrf": "forged" * 7, "user": coord,
                                              "password": password})
        assert status == 403
        csrf = await form_token(http, url)
        status, _, _ = await post(http, url, {"csrf": csrf, "user": coord, "password": password},
                                  headers={"Origin": "http://evil.example"})
        assert status == 403

        status, _, headers = await login(site, http, coord.split(":")[0][1:], password)
        assert status == 303 and headers["Location"] == "/"
        session = next(c for c in set_cookies(headers) if c.startswith("liaison="))
        assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
        assert "Max-Age" not in session and "expires" not in session.lower()  # ends with the browser

        status, page, headers = await get(http, f"{site.url}/")
        assert status == 200
        assert_no_store_and_strict(headers)
        marie_ref, marie_room = site.rooms["DUPONT"]
        paul_ref, paul_room = site.rooms["MARTIN"]
        assert "DUPONT Marie" in page and marie_ref in page and "Cardiologie" in page
        assert f'href="https://matrix.to/#/{marie_room}"' in page
        assert "MARTIN" not in page and paul_ref not in page and paul_room not in page
        assert "pas de checklist" in page

        # The dashboard kept no login of hers: the device it made is gone.
        async with http.post(f"{site.homeserver}/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": coord},
                "password": password}) as resp:
            mine = (await resp.json())["access_token"]
        async with http.get(f"{site.homeserver}/_matrix/client/v3/devices",
                            headers={"Authorization": f"Bearer {mine}"}) as resp:
            devices = (await resp.json())["devices"]
        assert not [d for d in devices if d.get("display_name") == DEVICE_NAME]

        # Logout needs the session's token.
        status, _, _ = await post(http, f"{site.url}/logout", {})
        assert status == 403
        status, _, _ = await post(http, f"{site.url}/logout", {"csrf": csrf})  # the login form's
        assert status == 403
        status, _, _ = await get(http, f"{site.url}/")
        assert status == 200
        cookie = http.cookie_jar.filter_cookies(URL(site.url))["liaison"].value
        logout_csrf = await form_token(http, f"{site.url}/")
        status, _, headers = await post(http, f"{site.url}/logout", {"csrf": logout_csrf})
        assert status == 303 and headers["Location"] == "/login?session=closed"
        status, _, headers = await get(http, f"{site.url}/")
        assert status == 303 and headers["Location"] == "/login"
    async with site.browser() as http:  # the old cookie, replayed: ended on the server
        http.cookie_jar.update_cookies({"liaison": cookie}, URL(site.url))
        status, _, headers = await get(http, f"{site.url}/")
        assert status == 303 and headers["Location"] == "/login?session=ended"

        # Idle for longer than 30 minutes, then in use for longer than 10 hours: back to login.
        for column, ago in (("seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=11))):
            status, _, _ = await login(site, http, coord, password)
            assert status == 303
            assert (await get(http, f"{site.url}/"))[0] == 200
            site.sql(f"UPDATE dashboard_sessions SET {column} = ?",  # noqa: S608 - our two names
                     (utcnow() - ago).isoformat(sep=" "))
            status, _, headers = await get(http, f"{site.url}/")
            assert status == 303 and headers["Location"] == "/login?session=ended"
            status, page, _ = await get(http, f"{site.url}/login?session=ended")
            assert "Votre session a pris fin" in page

    for text in SEEN_HEADERS:
        assert not any(word in text for word in PATIENT_WORDS), text
    for record in caplog.records:
        line = json.dumps(vars(record), default=str, ensure_ascii=False)
        assert not any(word in line for word in PATIENT_WORDS), line
        assert password not in line


async def test_nurses_strangers_and_hostile_requests_are_refused_with_the_reason(
        make_bot, homeserver, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    site = await dashboard_site(make_bot, homeserver)
    coord, nurse, stranger = users(site)
    async with site.browser() as http:
        status, page, headers = await login(site, http, nurse, site.passwords[nurse])
        assert status == 403 and "Accès refusé" in page
        assert "IDEC, DAC, MH" in page and "votre rôle : IDE" in page
        assert not any(c.startswith("liaison=") for c in set_cookies(headers))
        assert "DUPONT" not in page and "MARTIN" not in page
        status, page, _ = await login(site, http, stranger, site.passwords[stranger])
        assert status == 403 and "votre rôle : aucun" in page
        assert (await get(http, f"{site.url}/"))[0] == 303  # no session for either

        # English when the browser asks for it.
        async with http.get(f"{site.url}/login", headers={"Accept-Language": "en-GB,en;q=0.8"}
                            ) as resp:
            assert '<html lang="en">' in await resp.text()

        # What is typed that is no user ID is refused, and never logged.
        status, page, _ = await login(site, http, "DUPONT Marie", "x")
        assert status == 400 and "Ce n'est pas un identifiant" in page

        # A few attempts a minute per person: then 429, before the homeserver is asked.
        ghost = f"@ghost{secrets.token_hex(3)}:{site.server_name}"
        for _ in range(5):
            assert (await login(site, http, ghost, "guess"))[0] == 401
        status, page, headers = await login(site, http, ghost, "guess")
        assert status == 429 and "Trop de tentatives" in page and int(headers["Retry-After"]) > 0

        # Malformed requests: a 4xx page saying why, the service still answering.
        csrf = await form_token(http, f"{site.url}/login")
        status, _, _ = await post(http, f"{site.url}/login",
                                  {"csrf": csrf, "user": "x" * 40_000, "password": "p"})
        assert status == 413
        body = aiohttp.FormData()
        body.add_field("csrf", csrf)
        body.add_field("user", b"\x00", filename="user.bin")
        status, page, _ = await post(http, f"{site.url}/login", body)
        assert status == 400 and "user" in page
        status, _, headers = await get(http, f"{site.url}/nothing-here")
        assert status == 404
        assert_no_store_and_strict(headers)
        async with http.put(f"{site.url}/") as resp:
            assert resp.status == 405
        status, _, _ = await login(site, http, coord, site.passwords[coord])
        assert status == 303  # still up, and the coordinator gets in

    # The gate is asked again at every page: a coordinator taken out of her only team is out.
    password = secrets.token_urlsafe(12)
    idec = await homeserver.register(f"idec{secrets.token_hex(3)}", password)
    ref = site.rooms["DUPONT"][0]
    status, body = await site.api_call("POST", f"/api/v1/patients/{ref}/team",
                                       {"add": [{"user_id": idec, "role": "IDEC"}]})
    assert status == 200, body
    async with site.browser() as http:
        assert (await login(site, http, idec, password))[0] == 303
        status, page, _ = await get(http, f"{site.url}/")
        assert status == 200 and "DUPONT Marie" in page
        status, body = await site.api_call("POST", f"/api/v1/patients/{ref}/team",
                                           {"remove": [idec]})
        assert status == 200, body
        status, page, _ = await get(http, f"{site.url}/")
        assert status == 403 and "votre rôle : aucun" in page and "DUPONT" not in page
        assert 'action="/logout"' in page
    for record in caplog.records:
        line = json.dumps(vars(record), default=str, ensure_ascii=False)
        assert not any(word in line for word in PATIENT_WORDS), line
