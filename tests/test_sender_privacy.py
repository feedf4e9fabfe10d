"""What the homeserver can see of what the bots send, against the real Synapse (security review,
issue 13): nothing is posted in a room without encryption, uploads carry no file name."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
import pytest_asyncio
from nio import RoomCreateResponse

from bots.devstack.homeserver import DevHomeserver, free_port
from bots.runtime.notice import attachment
from bots.synapseconf import Process
from tests.conftest import BOTS, unique


class PlainHomeserver(DevHomeserver):
    """A homeserver that leaves new rooms unencrypted unless asked (Synapse's default; ours
    encrypts them all), as one with rooms made before that setting would have them."""

    def render(self) -> list[Process]:
        processes = super().render()
        text = self.config_path.read_text()
        assert "encryption_enabled_by_default_for_room_type: all" in text
        self.config_path.write_text(text.replace(
            "encryption_enabled_by_default_for_room_type: all",
            "encryption_enabled_by_default_for_room_type: off"))
        return processes


@pytest_asyncio.fixture(scope="module")
async def homeserver(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevHomeserver]:
    hs = PlainHomeserver(tmp_path_factory.mktemp("synapse-plain"), port=free_port(),
                         relaxed_rate_limits=True, bots=BOTS)
    await hs.start()
    yield hs
    hs.stop()


async def test_a_declared_coordination_room_without_encryption_gets_no_patient_content(
        make_bot, make_clinician):
    handle = await make_bot(bots=("careteam",), start=False)
    doc, nurse = await make_clinician(), await make_clinician()
    resp = await doc.client.room_create(name="coordination en clair", invite=[handle.user_id])
    assert isinstance(resp, RoomCreateResponse), resp
    room = resp.room_id
    handle.config = replace(handle.config, careteam=replace(
        handle.config.careteam, coordination_rooms=(room,)))
    await handle.start()
    await doc.wait_joined(room, handle.user_id)

    # Its admin opens a patient room from there (in clear, as the room is): done, not answered.
    event_id = await doc.send(room, f"!patient ouvrir DUPONT Marie 12/03/1948 F {nurse.user_id}:IDE")
    db = handle.config.database.removeprefix("sqlite:///")
    for _ in range(150):
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT state, last_error FROM outbox WHERE room_id = ? AND "
                                "cause_event_id = ?", (room, event_id)).fetchall()
        if rows and all(state != "pending" for state, _ in rows):
            break
        await asyncio.sleep(0.2)
    assert rows and all(r == ("failed", "not sent: the room is not end-to-end encrypted")
                        for r in rows), rows
    await asyncio.sleep(2)  # what the bot might still post would be here by now
    said = [e for r, e in doc.timeline if r == room and e.sender == handle.user_id
            and e.source["type"] == "m.room.message"]
    assert [e.source["content"]["body"] for e in said] == [
        "Ce salon n'est pas chiffré de bout en bout : je n'y envoie aucun message. "
        "Un administrateur du salon doit activer le chiffrement."]
    assert "DUPONT" not in json.dumps([e.source for e in said])


async def test_uploads_carry_no_file_name(homeserver, make_bot, make_clinician):
    bot = await make_bot()
    doc = await make_clinician()
    room = await doc.create_room(invite=[bot.user_id])
    await doc.wait_joined(room, bot.user_id)
    assert bot.runtime is not None
    async with bot.runtime.transaction() as tx:
        tx.post(room, attachment("DUPONT_Marie_1948-03-12.pdf", b"%PDF-1.4 compte rendu",
                                 "application/pdf"))
    event = await doc.wait_for(lambda r, e: r == room and e.sender == bot.user_id
                               and e.source["content"].get("msgtype") == "m.file")
    content = event.source["content"]
    assert content["filename"] == "DUPONT_Marie_1948-03-12.pdf"  # in the encrypted event only
    assert await doc.download(content) == b"%PDF-1.4 compte rendu"

    # The media as Synapse knows it (admin API: its media table).
    admin, password = unique("admin"), secrets.token_urlsafe(12)
    await homeserver.register(admin, password, admin=True)
    server, media_id = content["file"]["url"].removeprefix("mxc://").split("/", 1)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{homeserver.url}/_matrix/client/v3/login", json={
                "type": "m.login.password", "password": password,
                "identifier": {"type": "m.id.user", "user": admin}}) as resp:
            token = (await resp.json())["access_token"]
        async with http.get(f"{homeserver.url}/_synapse/admin/v1/media/{server}/{media_id}",
                            headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200, await resp.text()
            media = await resp.json()
    assert media["media_info"]["media_id"] == media_id
    assert media["media_info"]["upload_name"] is None, media
    assert "DUPONT" not in json.dumps(media)
