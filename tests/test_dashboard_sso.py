"""Dashboard login through the homeserver's SSO (Pro Santé Connect through Synapse's OIDC), in
Debian's Chromium: the login page offers it when the homeserver does; the redirect flow brings a
login token back, exchanged (m.login.token) and logged out at once; the role gate applies; a way
back with a forged state is refused."""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import Page

from bots.config import DashboardConfig
from bots.dashboard.login import DEVICE_NAME
from bots.devstack.homeserver import DevHomeserver, free_port
from tests.careteam_helpers import care_setup
from tests.psc_helpers import Psc
from tests.test_dashboard_browser import chromium, shot
from tests.test_psc_login import (  # noqa: F401  (fixtures: PSC is this homeserver's SSO)
    CLAIMS,
    NATIONAL_ID,
    homeserver,
    provider,
    sso_login,
)


async def sso_round(page: Page, url: str) -> None:
    """From the dashboard's login page through the provider's pages and Synapse's confirmation
    back to the dashboard, as the professional clicks."""
    await page.goto(f"{url}/login")
    await page.get_by_role("link", name=re.compile("authentification unique")).click()
    for _ in range(8):
        await page.wait_for_load_state()
        if page.url.startswith(url):
            return
        if await page.locator("input[name=login]").count():
            await page.fill("input[name=login]", NATIONAL_ID)
            await page.fill("input[name=password]", "e-CPS")
        back = page.locator("a[href*='loginToken']")
        if await back.count():
            await back.first.click()
        else:
            await page.locator("button[type=submit], input[type=submit]").first.click()
    raise AssertionError(f"the SSO flow did not come back: {page.url}")


async def test_a_coordinator_logs_in_with_psc(homeserver: DevHomeserver,  # noqa: F811
                                            provider: Psc, make_bot, make_clinician):  # noqa: F811
    provider.add_account(NATIONAL_ID, claims=CLAIMS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    setup = await care_setup(make_bot, make_clinician, bot={"dashboard": DashboardConfig(
        "127.0.0.1", port, url, secure_cookies=False)})
    user_id = f"@ps-{NATIONAL_ID}:{homeserver.server_name}"
    async with chromium() as browser:
        context = await browser.new_context(locale="fr-FR", ignore_https_errors=True)
        page = await context.new_page()
        # Not yet in any team: the homeserver says who it is, the gate refuses.
        await sso_round(page, url)
        assert "Accès refusé" in await page.inner_text("main"), await page.content()
        await shot(page, "13-sso-refused")

        status, body = await setup.call("POST", "/api/v1/coordination/members",
                                        {"user_id": user_id, "role": "DAC"})
        assert status == 200, body
        await sso_round(page, url)
        await page.wait_for_url(f"{url}/")
        assert "Aujourd'hui" in await page.inner_text("main")
        assert user_id in await page.inner_text("header")
        await shot(page, "14-sso-today")

        # A way back that this browser did not start: refused.
        await context.clear_cookies()
        answer = await page.goto(f"{url}/login/sso/back?state=forged&loginToken=stolen")
        assert answer is not None and answer.status == 403
        await context.close()

    # The dashboard kept no login of theirs: the devices its two logins made are gone.
    token = await sso_login(homeserver, provider, NATIONAL_ID)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{homeserver.url}/_matrix/client/v3/login", json={
                "type": "m.login.token", "token": token}) as resp:
            mine = (await resp.json())["access_token"]
        auth = {"Authorization": f"Bearer {mine}"}
        async with http.get(f"{homeserver.url}/_matrix/client/v3/devices", headers=auth) as resp:
            devices = (await resp.json())["devices"]
        assert devices and not [d for d in devices if d.get("display_name") == DEVICE_NAME]
        async with http.post(f"{homeserver.url}/_matrix/client/v3/logout", headers=auth):
            pass
