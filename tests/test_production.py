"""The production topology's hardening, asserted through nginx against the real main process and
workers (PostgreSQL, Redis). Runs in `make test`'s second run (LIAISON_TEST_TOPOLOGY=workers)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bots.devstack.homeserver import WorkerHomeserver
from tests.conftest import TOPOLOGY, unique

pytestmark = pytest.mark.skipif(TOPOLOGY != "workers",
                                reason="the worker topology: LIAISON_TEST_TOPOLOGY=workers")


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def login(hs: WorkerHomeserver, http: aiohttp.ClientSession) -> dict[str, str]:
    localpart, password = unique("prod"), secrets.token_urlsafe(12)
    await hs.register(localpart, password)
    async with http.post(f"{hs.url}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
            "password": password}) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['access_token']}"}


async def test_registration_is_closed(homeserver, http):
    async with http.post(f"{homeserver.url}/_matrix/client/v3/register",
                         json={"username": "intruder", "password": "x" * 20}) as resp:
        assert resp.status == 403, await resp.text()


async def test_no_public_room_directory(homeserver, http):
    auth = await login(homeserver, http)
    # Asked public at creation: refused outright (the policy module); made private, then
    # published: refused too (Synapse's room_list_publication_rules).
    async with http.post(f"{homeserver.url}/_matrix/client/v3/createRoom", headers=auth,
                         json={"visibility": "public", "name": "annuaire"}) as resp:
        assert resp.status == 403, await resp.text()
    async with http.post(f"{homeserver.url}/_matrix/client/v3/createRoom", headers=auth,
                         json={"name": "annuaire"}) as resp:
        room_id = (await resp.json())["room_id"]
    listing = f"{homeserver.url}/_matrix/client/v3/directory/list/room/{room_id}"
    async with http.get(listing) as resp:
        assert (await resp.json())["visibility"] == "private"
    async with http.put(listing, headers=auth, json={"visibility": "public"}) as resp:
        assert resp.status == 403
    async with http.get(f"{homeserver.url}/_matrix/client/v3/publicRooms", headers=auth) as resp:
        assert resp.status == 200
        assert (await resp.json())["chunk"] == []
    async with http.get(f"{homeserver.url}/_matrix/client/v3/publicRooms") as resp:
        assert resp.status == 401  # not even the (empty) list without an account


async def test_new_rooms_are_encrypted(homeserver, http):
    auth = await login(homeserver, http)
    async with http.post(f"{homeserver.url}/_matrix/client/v3/createRoom", headers=auth,
                         json={"preset": "private_chat"}) as resp:
        room_id = (await resp.json())["room_id"]
    async with http.get(f"{homeserver.url}/_matrix/client/v3/rooms/{room_id}/state/"
                        "m.room.encryption", headers=auth) as resp:
        assert resp.status == 200 and (await resp.json())["algorithm"] == "m.megolm.v1.aes-sha2"


@pytest.mark.parametrize("path", ["/_matrix/federation/v1/version", "/_matrix/key/v2/server",
                                  "/_matrix/federation/v1/query/profile?user_id=@a:localhost"])
async def test_federation_is_not_served(homeserver, http, path):
    async with http.get(homeserver.url + path) as resp:
        assert resp.status == 404


async def test_url_previews_are_off(homeserver, http):
    auth = await login(homeserver, http)
    async with http.get(f"{homeserver.url}/_matrix/client/v1/media/preview_url",
                        params={"url": "https://example.org/"}, headers=auth) as resp:
        assert resp.status != 200


async def test_admin_api_only_on_the_host(homeserver, http):
    path = "/_synapse/admin/v1/server_version"
    async with http.get(homeserver.url + path) as resp:
        assert resp.status == 404
    async with http.get(homeserver.url + "/_synapse/admin/v1/register") as resp:
        assert resp.status == 404
    async with http.get(homeserver.admin_url + path) as resp:  # the main process, on loopback
        assert resp.status == 200


async def test_well_known_served(homeserver, http):
    async with http.get(f"{homeserver.url}/.well-known/matrix/client") as resp:
        assert resp.status == 200
        assert (await resp.json(content_type=None))["m.homeserver"]["base_url"] == \
            homeserver.url + "/"
    async with http.get(f"{homeserver.url}/.well-known/matrix/server") as resp:
        assert resp.status == 200 and "m.server" in await resp.json(content_type=None)


async def test_requests_reach_the_workers(homeserver, http):
    """A /sync is served by a client worker, a to-device message by the device writer, an upload
    by the media repository: each process's own access log says so."""
    auth = await login(homeserver, http)
    txn = secrets.token_hex(4)
    async with http.get(f"{homeserver.url}/_matrix/client/v3/sync", headers=auth,
                        params={"timeout": "0", "since_marker": txn}) as resp:
        assert resp.status == 200
    async with http.put(f"{homeserver.url}/_matrix/client/v3/sendToDevice/m.dummy/{txn}",
                        headers=auth, json={"messages": {}}) as resp:
        assert resp.status == 200
    async with http.post(f"{homeserver.url}/_matrix/media/v3/upload", data=b"x" * 10,
                         headers=auth | {"Content-Type": "text/plain"}) as resp:
        assert resp.status == 200, await resp.text()

    def served_by(name: str, needle: str) -> bool:
        return needle in homeserver.log_file(name).read_text()

    assert served_by("client1", txn) or served_by("client2", txn)
    assert served_by("devices1", f"sendToDevice/m.dummy/{txn}")
    assert served_by("media1", "/_matrix/media/v3/upload")
    assert not served_by("main", txn)
