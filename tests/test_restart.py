"""Restarts: of the bot (same device, nothing answered twice, nothing lost) and of Synapse."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from bots.registry import BOTS
from bots.runtime.bot import Bot, CommandContext
from bots.runtime.commands import described
from bots.runtime.crosssigning import cross_signed_devices, query_keys
from bots.runtime.notice import format_html
from tests.test_e2ee_commands import open_room


async def test_restart_keeps_device_and_never_answers_twice(make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    first = await doc.send(room_id, "!ping avant")
    await doc.reply_to(room_id, first, bot.user_id)
    device_id = bot.runtime.client.device_id
    await bot.stop()

    down = await doc.send(room_id, "!ping pendant")  # sent while the bot is down
    await bot.start()
    assert bot.runtime.client.device_id == device_id, "a restart must reuse the device"
    reply = await doc.reply_to(room_id, down, bot.user_id)
    assert reply.body == "pong pendant"
    after = await doc.send(room_id, "!ping après")
    await doc.reply_to(room_id, after, bot.user_id)
    await asyncio.sleep(1)
    for event_id in (first, down, after):
        assert len(doc.replies_to(room_id, event_id, bot.user_id)) == 1, "answered once only"


async def test_many_commands_while_down_are_all_answered(make_bot, make_clinician):
    """More commands than one sync's timeline holds: the runtime pages back (limited timeline)."""
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    await bot.stop()
    sent = [await doc.send(room_id, f"!ping {i}") for i in range(60)]
    await bot.start()
    for event_id in sent:
        await doc.reply_to(room_id, event_id, bot.user_id, timeout=60)
    await asyncio.sleep(1)
    assert all(len(doc.replies_to(room_id, e, bot.user_id)) == 1 for e in sent)


@pytest.fixture
def slow_bot(monkeypatch: pytest.MonkeyPatch):
    """A bot whose `!lent` command blocks until released, to crash the process mid-command."""
    entered, release, runs = asyncio.Event(), asyncio.Event(), []

    async def slow(ctx: CommandContext) -> None:
        runs.append(ctx.event_id)
        entered.set()
        await release.wait()
        ctx.reply(format_html("fini"))

    monkeypatch.setitem(BOTS, "slow", lambda config: Bot(
        "slow", commands=[described("lent", "slow", "test.help.slow", slow)],
        texts=({"test.help.slow": {"fr": "test", "en": "test"}},)))
    return entered, release, runs


async def test_crash_mid_command_is_handled_on_next_start(make_bot, make_clinician, slow_bot):
    entered, release, runs = slow_bot
    bot = await make_bot(bots=("slow",))
    doc = await make_clinician()
    room_id = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room_id, bot.user_id)
    event_id = await doc.send(room_id, "!lent")
    await asyncio.wait_for(entered.wait(), 30)
    # Crash: the task dies mid-transaction, with no clean shutdown.
    bot._task.cancel()
    await asyncio.gather(bot._task, return_exceptions=True)
    await bot.runtime.client.close()
    await bot.store.close()
    release.set()
    await bot.start()
    reply = await doc.reply_to(room_id, event_id, bot.user_id)
    assert reply.body == "fini"
    await asyncio.sleep(1)
    assert len(doc.replies_to(room_id, event_id, bot.user_id)) == 1
    assert runs.count(event_id) == 2  # started twice, committed once


async def test_synapse_restart_while_bot_runs(homeserver, make_bot, make_clinician):
    bot, doc, room_id = await open_room(make_bot, make_clinician)
    await doc.reply_to(room_id, await doc.send(room_id, "!ping 1"), bot.user_id)
    homeserver.stop()
    await asyncio.sleep(2)  # the bot's sync fails meanwhile and backs off
    await homeserver.start()
    event_id = await doc.send(room_id, "!ping 2")
    reply = await doc.reply_to(room_id, event_id, bot.user_id, timeout=90)
    assert reply.body == "pong 2"


async def test_invite_from_disallowed_server_is_refused(make_bot, make_clinician):
    bot = await make_bot(allowed_servers=("hopital.example",))
    doc = await make_clinician()
    resp = await doc.client.room_create(name="hors réseau", invite=[bot.user_id])
    room_id = resp.room_id
    for _ in range(100):
        state = await doc.client.room_get_state_event(room_id, "m.room.member", bot.user_id)
        if state.content.get("membership") == "leave":
            break
        await asyncio.sleep(0.2)
    assert state.content.get("membership") == "leave", "the invite must be rejected"
    assert room_id not in bot.runtime.client.rooms


@asynccontextmanager
async def failing_keys_upload(upstream: str, failures: int) -> AsyncIterator[tuple[str, list[int]]]:
    """A reverse proxy in front of the homeserver whose first `failures` device-key uploads get
    a 502, as from a load balancer while Synapse restarts; everything else passes through."""
    statuses: list[int] = []

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.endswith("/keys/upload") and len(statuses) < failures:
            statuses.append(502)
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        if request.path.endswith("/keys/upload"):
            statuses.append(200)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, upstream + request.path_qs, data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read(),
                                content_type=resp.content_type)

    app = web.Application(client_max_size=2**24)
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", statuses
    finally:
        await runner.cleanup()


async def test_a_failed_device_keys_upload_at_start_is_tried_again(
        homeserver, make_bot, make_clinician, caplog: pytest.LogCaptureFixture):
    """The start goes on once the homeserver takes the keys: cross-signed, answering (it used to
    fail on "device keys not uploaded", the upload's own error unsaid)."""
    caplog.set_level(logging.WARNING, logger="bots.runtime.runtime")
    async with failing_keys_upload(homeserver.url, failures=2) as (url, statuses):
        bot = await make_bot(homeserver=url)
        assert statuses[:3] == [502, 502, 200]
        retries = [r for r in caplog.records if r.getMessage() == "device keys upload failed, "
                   "retrying"]
        assert len(retries) == 2 and "502" in retries[0].error  # type: ignore[attr-defined]
        doc = await make_clinician()
        devices = cross_signed_devices(await query_keys(doc.client, [bot.user_id]), bot.user_id)
        assert devices == {bot.runtime.client.device_id: True}
        room_id = await doc.create_room(invite=[bot.user_id])
        await doc.wait_joined(room_id, bot.user_id)
        event_id = await doc.send(room_id, "!ping clés")
        reply = await doc.reply_to(room_id, event_id, bot.user_id)
        assert reply.body == "pong clés" and reply.decrypted
