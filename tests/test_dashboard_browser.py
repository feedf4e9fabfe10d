"""The coordinator dashboard in a real browser (issue 18): Debian's Chromium driven by
Playwright (explicit executable path: `make browser-packages`, no browser download), against the
real Synapse and bots. A coordinator logs in and sees only her patients; a checklist item ticked
in the room by a real E2EE client changes the page at the next reload; a table exports as CSV
without identity; the page works from the keyboard and prints without its controls; a nurse and
a stranger are refused; forged forms (another origin, a tampered token) are refused; an idle
session ends. Screenshots of every page are left in test-artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from bots.config import DashboardConfig
from bots.dashboard.today import week_of
from bots.devstack.homeserver import free_port
from tests.discharge_helpers import today, ward
from tests.test_dashboard import dashboard_site, users

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboard"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


async def log_in(page: Page, url: str, user: str, password: str) -> int:
    """The login form filled and sent as a person would; the answer's status."""
    await page.goto(f"{url}/login")
    await page.get_by_label("Identifiant").fill(user)
    await page.get_by_label("Mot de passe").fill(password)
    async with page.expect_response(lambda r: r.url.endswith("/login")
                                    and r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_load_state()
    return (await answer.value).status


@asynccontextmanager
async def other_site(target: str) -> AsyncIterator[str]:
    """A page of another origin (same host, another port: same site for the cookie) holding a
    form that posts to the dashboard's logout."""
    async def page(_request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=(
            f'<!doctype html><form method="post" action="{target}/logout">'
            '<input type="hidden" name="csrf" value="guessed">'
            '<button type="submit">Gagner un prix</button></form>'))
    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_a_coordinator_follows_a_checklist_exports_it_and_forged_forms_fail(
        make_bot, make_clinician):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    w = await ward(make_bot, make_clinician, bot={"dashboard": DashboardConfig(
        "127.0.0.1", port, url, secure_cookies=False)})
    async with chromium() as browser:
        context = await browser.new_context(locale="fr-FR", accept_downloads=True)
        page = await context.new_page()
        await page.goto(url)
        assert page.url == f"{url}/login"
        assert await page.locator("a.sso").count() == 0  # this homeserver has no SSO
        await shot(page, "01-login")
        assert await log_in(page, url, w.dac.user_id, w.dac.password) == 303
        assert page.url == f"{url}/"
        text = await page.inner_text("main")
        assert "DUPONT Marie" in text and w.ref in text and "pas de checklist" in text
        assert "Aucune sortie prévue cette semaine" in text
        link = page.get_by_role("link", name=f"Ouvrir le salon {w.ref}").first
        assert await link.get_attribute("href") == f"https://matrix.to/#/{w.room_id}"
        await shot(page, "02-today-no-checklist")

        # The discharge planned in the room (a real E2EE command): this week's list has it.
        sunday = week_of(today())[1]
        mark = len(w.nurse.timeline)
        await w.dac.send(w.room_id, f"!sortie prevoir {sunday:%d/%m/%Y}")
        live = await w.live(w.nurse, start=mark)
        assert f"sortie prévue le {sunday:%d/%m/%Y}" in live.body
        await page.reload()
        week = await page.inner_text("#discharges")
        assert w.ref in week and f"{sunday:%d/%m/%Y}" in week and "0/20 items" in week
        await shot(page, "03-today-planned")

        # A nurse ticks an item in the room: the next reload shows it.
        reply = await w.command(w.nurse, "!sortie oui 18")
        assert reply.body.startswith("✅ 18."), reply.body
        await page.reload()
        assert "1/20 items" in await page.inner_text("#discharges")
        assert "1/20 items renseignés" in await page.inner_text("#patients")
        await shot(page, "04-today-ticked")

        # The week's table as CSV: the file number, never the patient; never cached.
        async with page.expect_download() as started:
            await page.get_by_role("link", name=re.compile("Exporter « Sorties prévues")).click()
        download = await started.value
        assert download.suggested_filename.startswith("today-discharges-")
        data = Path(await download.path()).read_text()
        assert data.startswith("ref,ward,room,discharge_planned,items_answered")
        assert w.ref in data and sunday.isoformat() in data and ",1,20,0" in data
        assert "DUPONT" not in data and "Marie" not in data and "1948" not in data
        answer = await context.request.get(f"{url}/today/discharges.csv")
        assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"].startswith("text/csv")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "today-discharges.csv").write_text(data)

        # From the keyboard: the skip link first, then into the page to the room's link.
        await page.reload()
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        await page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.textContent") \
                    == f"Ouvrir le salon {w.ref}":
                break
        else:
            raise AssertionError("the room's link is not reachable with Tab")
        assert await page.evaluate(
            "getComputedStyle(document.activeElement).outlineStyle") == "solid"
        await shot(page, "05-today-keyboard")

        # Printed: the tables without the bar's logout, the exports and the section links.
        await page.emulate_media(media="print")
        assert not await page.locator("form.logout").is_visible()
        assert not await page.locator(".export").first.is_visible()
        assert await page.locator("table").first.is_visible()
        await page.pdf(path=ARTIFACTS / "06-today-print.pdf")
        await page.emulate_media(media="screen")

        # A tampered token on the logout form (page script is forbidden: the test edits the DOM).
        await page.locator("form.logout input[name=csrf]").evaluate("e => e.value = 'forged'")
        async with page.expect_response(lambda r: r.url.endswith("/logout")) as answer:
            await page.get_by_role("button", name="Se déconnecter").click()
        assert (await answer.value).status == 403
        assert "ne vient pas de cette page" in await page.inner_text("main")
        await shot(page, "07-forged-token")

        # A form on another origin of the same host: the cookie goes along (same site), the
        # Origin check refuses it.
        async with other_site(url) as evil:
            await page.goto(evil)
            async with page.expect_response(lambda r: r.url.endswith("/logout")) as answer:
                await page.get_by_role("button", name="Gagner un prix").click()
            assert (await answer.value).status == 403
            await shot(page, "08-forged-origin")
        await page.goto(url)
        assert page.url == f"{url}/" and "DUPONT Marie" in await page.inner_text("main")

        # The real logout form works.
        await page.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url(re.compile(r"/login\?session=closed$"))
        assert "Vous êtes déconnecté(e)" in await page.inner_text("main")
        await page.goto(url)
        assert page.url == f"{url}/login"
        await context.close()


async def test_only_coordinators_get_in_and_an_idle_session_ends(make_bot, homeserver):
    idle = timedelta(seconds=6)
    site = await dashboard_site(make_bot, homeserver,
                                idle_minutes=idle.total_seconds() / 60)
    coord, nurse, stranger = users(site)
    async with chromium() as browser:
        for who, name in ((nurse, "09-refused-nurse"), (stranger, "10-refused-stranger")):
            context = await browser.new_context(locale="fr-FR")
            page = await context.new_page()
            assert await log_in(page, site.url, who, site.passwords[who]) == 403
            text = await page.inner_text("main")
            assert "Accès refusé" in text and "rôles de coordination" in text
            assert "DUPONT" not in text and "MARTIN" not in text
            await shot(page, name)
            await page.goto(site.url)
            assert page.url == f"{site.url}/login"  # no session was opened
            await context.close()

        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        assert await log_in(page, site.url, coord, site.passwords[coord]) == 303
        text = await page.inner_text("main")
        marie_ref, _ = site.rooms["DUPONT"]
        paul_ref, _ = site.rooms["MARTIN"]
        assert "DUPONT Marie" in text and marie_ref in text
        assert "MARTIN" not in text and paul_ref not in text
        await shot(page, "11-today-own-patients")
        await asyncio.sleep(idle.total_seconds() + 1)
        await page.reload()
        assert page.url == f"{site.url}/login?session=ended"
        assert "Votre session a pris fin" in await page.inner_text("main")
        await shot(page, "12-session-ended")
        await context.close()
