"""The bot's account is exempt from Synapse's message rate limit, set by the runtime at start."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bots.devstack.homeserver import DevHomeserver, free_port


@pytest_asyncio.fixture(scope="module")
async def homeserver(tmp_path_factory) -> AsyncIterator[DevHomeserver]:
    """Overrides the session's homeserver for this module: Synapse's default message limit
    (0.5/s after a burst of 20); the other limits relaxed for the test's many clients."""
    hs = DevHomeserver(tmp_path_factory.mktemp("ratelimited"), port=free_port(),
                       relaxed_rate_limits=True, message_rate=(0.5, 20))
    await hs.start()
    yield hs
    hs.stop()


@pytest_asyncio.fixture(scope="module")
async def admin_token(homeserver: DevHomeserver) -> str:
    await homeserver.register("admin", "admin-pw", admin=True)
    async with aiohttp.ClientSession() as http, http.post(
            f"{homeserver.url}/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "admin"},
                "password": "admin-pw"}) as resp:
        return (await resp.json())["access_token"]


async def admin_api(hs: DevHomeserver, token: str, method: str, path: str, user_id: str,
                    body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = path.format(user=urllib.parse.quote(user_id, safe=""))
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{hs.url}/_synapse/admin{url}", json=body,
            headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


OVERRIDE = "/v1/users/{user}/override_ratelimit"


async def test_an_admin_bot_answers_sixty_commands_without_waiting(
        homeserver, admin_token, make_bot, make_clinician, caplog: pytest.LogCaptureFixture):
    bot = await make_bot(start=False)
    # As `liaison up` registers it: a server admin, which lifts its own limit at start.
    await admin_api(homeserver, admin_token, "PUT", "/v2/users/{user}", bot.user_id,
                    {"admin": True})
    await bot.start()
    doc = await make_clinician()
    await admin_api(homeserver, admin_token, "POST", OVERRIDE, doc.user_id,
                    {"messages_per_second": 0, "burst_count": 0})
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    caplog.set_level(logging.WARNING, logger="nio")
    sent = [await doc.send(room_id, f"!ping {i}") for i in range(60)]
    delays = []
    for event_id in sent:
        answer = await doc.reply_to(room_id, event_id, bot.user_id, timeout=60)
        command = next(ev for _, ev in doc.timeline if ev.event_id == event_id)
        delays.append((answer.server_timestamp - command.server_timestamp) / 1000)
    assert not [r for r in caplog.records if "429" in r.getMessage()], \
        "the homeserver rate-limited the bot"
    # Limited, the 40 answers after the burst would have come 2 s apart (the last ~80 s late).
    assert max(delays) < 15, delays


async def test_a_non_admin_bot_is_exempted_with_the_admin_token(homeserver, admin_token,
                                                                make_bot):
    bot = await make_bot(admin_token=admin_token)
    assert await admin_api(homeserver, admin_token, "GET", OVERRIDE, bot.user_id) == \
        {"messages_per_second": 0, "burst_count": 0}


async def test_a_non_admin_bot_without_a_token_says_how(homeserver, admin_token, make_bot,
                                                        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="bots.runtime.ratelimit")
    bot = await make_bot()
    assert await admin_api(homeserver, admin_token, "GET", OVERRIDE, bot.user_id) == {}
    warning = next(r for r in caplog.records if r.name == "bots.runtime.ratelimit")
    assert "admin_token_file" in warning.getMessage()
    assert "M_FORBIDDEN" in warning.error  # type: ignore[attr-defined]
