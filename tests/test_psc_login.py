"""Pro Santé Connect as Synapse's SSO (server-config/conf.d/sso.yaml.tmpl), for real: Synapse
rendered with the PSC stand-in's endpoints (tests/js/psc_provider.mjs) sends the professional to
its login and consent pages, takes them back with a login token, and makes their account from
the PSC claims: the national number as the Matrix ID, the profession in the display name. Then
they talk to a bot like any clinician."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import DevHomeserver, free_port
from bots.devstack.testca import CertificateAuthority
from bots.synapse_modules.psc import DEFAULT_PROFESSION, profession
from bots.synapse_modules.settings import PscLogin
from tests.conftest import BOT_PREFIX
from tests.psc_helpers import Psc, discovery, start_psc

IDP = "oidc-psc"  # Synapse prefixes the idp_id of its single `oidc_config` provider
NATIONAL_ID = "899700218896"  # 8 + RPPS
CLAIMS = {"SubjectNameID": NATIONAL_ID, "preferred_username": NATIONAL_ID,
          "given_name": "MARIE", "family_name": "CURIE",
          "SubjectRefPro": {"codeCivilite": "MME", "exercices": [
              {"codeProfession": "10", "codeCategorieProfessionnelle": "C"}]}}
CLIENT_URL = "https://element.chu.example/"  # where Element would take the login token


@pytest.fixture(scope="module")
def provider() -> Iterator[Psc]:
    """A provider of this module's own (no mail servers needed)."""
    directory = Path(tempfile.mkdtemp(prefix="liaison-psc-sso-"))
    psc = start_psc(directory / "psc", CertificateAuthority(directory / "ca"))
    yield psc
    psc.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture(scope="module")
async def homeserver(tmp_path_factory: pytest.TempPathFactory,
                     provider: Psc) -> AsyncIterator[DevHomeserver]:
    """Overrides the session's homeserver for this module: PSC is its SSO."""
    port = free_port()
    secret = secrets.token_urlsafe(24)
    provider.add_client("synapse", secret, f"http://127.0.0.1:{port}/_synapse/client/oidc/callback")
    meta = discovery(provider.issuer, provider.ca_file)
    hs = DevHomeserver(tmp_path_factory.mktemp("sso"), port=port, relaxed_rate_limits=True,
                       bots=(f"@{BOT_PREFIX}*:localhost",), psc=PscLogin(
                           provider.issuer, "synapse", secret, meta["authorization_endpoint"],
                           meta["token_endpoint"], meta["userinfo_endpoint"], meta["jwks_uri"]))
    # Synapse's HTTP client trusts the system's CAs (OpenSSL's default paths, which this
    # variable replaces): the stand-in's certificate comes from the test CA.
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(provider.ca_file)
    try:
        await hs.start()
    finally:
        if saved is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = saved
    yield hs
    hs.stop()


def browser(provider: Psc) -> aiohttp.ClientSession:
    """Cookies on 127.0.0.1 (the provider's interaction, Synapse's OIDC session) are kept."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(
            cafile=str(provider.ca_file))))


async def submit_form(http: aiohttp.ClientSession, page: aiohttp.ClientResponse,
                      **fields: str) -> aiohttp.ClientResponse:
    """Posts the page's form (the provider's login or consent), following the redirects."""
    action = re.search(r'<form[^>]*action="([^"]+)"', await page.text())
    assert action, await page.text()
    return await http.post(page.url.join(URL(action.group(1))), data=fields)


async def sso_login(hs: DevHomeserver, provider: Psc, national_id: str) -> str:
    """What Element and the professional do: the login token Synapse hands back."""
    async with browser(provider) as http:
        start = f"{hs.url}/_matrix/client/v3/login/sso/redirect/{IDP}"
        async with http.get(start, params={"redirectUrl": CLIENT_URL},
                            allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            authorize = resp.headers["Location"]
            # Synapse's session cookie is Secure: browsers send it back to http://127.0.0.1 (a
            # secure context for them), aiohttp does not unless told.
            http.cookie_jar.update_cookies(
                {"oidc_session": resp.cookies["oidc_session"].value}, URL(hs.url))
        login_page = await http.get(authorize)
        consent_page = await submit_form(http, login_page, prompt="login", login=national_id,
                                         password="e-CPS")
        done = await submit_form(http, consent_page, prompt="consent")
        # Back on Synapse, which asks to confirm the way back to the client (not whitelisted).
        assert done.url.path.startswith("/_synapse/client/oidc/callback"), done.url
        token = re.search(r"loginToken=([\w.-]+)", await done.text())
        assert token, await done.text()
        return token.group(1)


def test_profession_label_from_psc_claims() -> None:
    claims = {"SubjectRefPro": {"exercices": [{"codeProfession": "60"}]}}
    assert profession(claims) == "Infirmier"
    for odd in ({}, {"SubjectRefPro": "x"}, {"SubjectRefPro": {"exercices": []}},
                {"SubjectRefPro": {"exercices": [{"codeProfession": 10}]}}):
        assert profession(odd) == DEFAULT_PROFESSION


async def test_synapse_offers_psc_and_sends_to_its_authorization_endpoint(
        homeserver: DevHomeserver, provider: Psc) -> None:
    async with browser(provider) as http:
        async with http.get(f"{homeserver.url}/_matrix/client/v3/login") as resp:
            flows = (await resp.json())["flows"]
        sso = next(f for f in flows if f["type"] == "m.login.sso")
        assert {"id": IDP, "name": "Pro Santé Connect"}.items() <= sso["identity_providers"][0].items()
        async with http.get(f"{homeserver.url}/_matrix/client/v3/login/sso/redirect/{IDP}",
                            params={"redirectUrl": CLIENT_URL}, allow_redirects=False) as resp:
            location = urlsplit(resp.headers["Location"])
    meta = discovery(provider.issuer, provider.ca_file)
    assert f"{location.scheme}://{location.netloc}{location.path}" == meta["authorization_endpoint"]
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["scope"] == "openid scope_all" and query["client_id"] == "synapse"
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == f"{homeserver.url}/_synapse/client/oidc/callback"


async def test_a_professional_logs_in_with_psc_and_talks_to_the_bot(
        homeserver: DevHomeserver, provider: Psc, make_bot, tmp_path: Path) -> None:
    provider.add_account(NATIONAL_ID, claims=CLAIMS)
    token = await sso_login(homeserver, provider, NATIONAL_ID)
    user_id = f"@ps-{NATIONAL_ID}:{homeserver.server_name}"
    doc = Clinician(homeserver.url, user_id, "", tmp_path / "doc", key_file=tmp_path / "doc.xsign")
    try:
        await doc.login(token=token)  # cross-signed too: no password needed the first time
        profile = await doc.client.get_displayname(user_id)
        assert profile.displayname == "Marie CURIE (Médecin)"
        bot = await make_bot()
        room_id = await doc.create_room(invite=[bot.user_id])
        await doc.wait_joined(room_id, bot.user_id)
        reply = await doc.reply_to(room_id, await doc.send(room_id, "!ping sso"), bot.user_id)
        assert "sso" in reply.body
    finally:
        await doc.close()
