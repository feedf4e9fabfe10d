"""Rate limiting: the bot waits out M_LIMIT_EXCEEDED (retry_after_ms) and drops nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bots.devstack.homeserver import DevHomeserver, free_port


@pytest_asyncio.fixture(scope="module")
async def homeserver(tmp_path_factory) -> AsyncIterator[DevHomeserver]:
    """Overrides the session's homeserver for this module: messages are rate-limited."""
    hs = DevHomeserver(tmp_path_factory.mktemp("strict"), port=free_port(), relaxed_rate_limits=True,
                       message_rate=(2.0, 3))
    await hs.start()
    yield hs
    hs.stop()


async def exempt_from_rate_limit(hs: DevHomeserver, user_id: str) -> None:
    """Only the bot is limited: the clinician is exempted through Synapse's admin API."""
    await hs.register("admin", "admin-pw", admin=True)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{hs.url}/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "admin"},
                "password": "admin-pw"}) as resp:
            token = (await resp.json())["access_token"]
        async with http.post(f"{hs.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
                             json={"messages_per_second": 0, "burst_count": 0},
                             headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200, await resp.text()


async def test_bot_waits_out_rate_limits_and_answers_everything(
        homeserver, make_bot, make_clinician, caplog: pytest.LogCaptureFixture):
    bot = await make_bot()
    doc = await make_clinician()
    await exempt_from_rate_limit(homeserver, doc.user_id)
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    caplog.set_level(logging.WARNING, logger="nio")
    sent = [await doc.send(room_id, f"!ping {i}") for i in range(15)]
    for event_id in sent:
        await doc.reply_to(room_id, event_id, bot.user_id, timeout=60)
    await asyncio.sleep(1)
    assert all(len(doc.replies_to(room_id, e, bot.user_id)) == 1 for e in sent)
    assert any("429" in r.getMessage() for r in caplog.records), \
        "the homeserver should have rate-limited the bot"
