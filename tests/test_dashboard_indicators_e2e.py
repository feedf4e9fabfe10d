"""The Indicators page against the real Synapse: clinicians (real E2EE clients) talk in a
patient room and send a bot command; the coordinator logs in and sees the counts, the first
human answer's delay and the CSV; the bot restarts (its sync replayed) and nothing is counted
twice."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from datetime import UTC, datetime

from bots.config import ApiConfig, CareteamConfig, DashboardConfig, StructureConfig
from bots.devstack.homeserver import free_port
from tests.test_dashboard import Site, get, login

MONTH = datetime.now(UTC).strftime("%Y-%m")


def usage_row(page: str) -> list[str]:
    """The usage table's all-wards row of this month, as the cells' texts."""
    section = page.split('id="usage-title"', 1)[1].split("</section>", 1)[0]
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        if cells[:2] == [MONTH, "tous"]:
            return cells
    raise AssertionError(section)


async def test_messages_and_commands_show_on_the_indicators_page(make_bot, make_clinician,
                                                                  homeserver):
    token, api_port, port = secrets.token_urlsafe(32), free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    nurse_part = f"ide{secrets.token_hex(4)}"
    # The coordinator by their server, the nurse named by a practice (the member wins).
    structures = (StructureConfig("CHU Test", "750712184",
                                  servers=frozenset({homeserver.server_name})),
                  StructureConfig("Cabinet du Port", members=frozenset(
                      {f"@{nurse_part}:{homeserver.server_name}"})))
    handle = await make_bot(
        bots=("careteam",),
        careteam=CareteamConfig(create_coordination_room="Coordination",
                                api=ApiConfig("127.0.0.1", api_port, token)),
        dashboard=DashboardConfig("127.0.0.1", port, url, secure_cookies=False),
        structures=structures)
    coord, nurse = await make_clinician(), await make_clinician(nurse_part)
    site = Site(url, f"http://127.0.0.1:{api_port}", token, handle.config.database,
                homeserver.url, homeserver.server_name,
                {coord.user_id: coord.password, nurse.user_id: nurse.password}, {})
    for _ in range(60):
        status, body = await site.api_call("POST", "/api/v1/coordination/members",
                                           {"user_id": coord.user_id, "role": "DAC"})
        if status != 503:
            break
        await asyncio.sleep(0.5)
    assert status == 200, body
    status, body = await site.api_call("POST", "/api/v1/patients", {
        "identity": {"family_name": "DUPONT", "given_names": "Marie",
                     "birth_date": "1948-03-12", "sex": "F"},
        "ward": "Cardiologie",
        "team": [{"user_id": coord.user_id, "role": "DAC"},
                 {"user_id": nurse.user_id, "role": "IDE"}]})
    assert status == 201, body
    room = body["room_id"]
    for who in (coord, nurse):
        await who.wait_joined(room, who.user_id, timeout=60)
    await nurse.wait_joined(room, coord.user_id, timeout=60)

    await nurse.send(room, "Bonjour, la sortie est-elle confirmée ?")
    await nurse.send(room, "(deuxième ligne)")
    await coord.send(room, "Oui, demain matin.")
    command = await nurse.send(room, "!aide")
    await nurse.reply_to(room, command, handle.user_id, timeout=60)  # the bot synced past them

    async with site.browser() as http:
        assert (await login(site, http, coord.user_id, coord.password))[0] == 303
        status, page, headers = await get(http, f"{url}/indicateurs")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert "Usage des salons patients" in page and "DUPONT" not in page
        # month, ward, opened, messages, commands, active, median (min), mails in, out
        cells = usage_row(page)
        assert cells[2:6] == ["1", "4", "1", "2"], cells
        assert cells[6] != "—"  # the coordinator answered the nurse
        status, body, headers = await get(http, f"{url}/indicateurs/usage.csv")
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(body)))
        mine = next(r for r in rows if r["month"] == MONTH and r["ward"] == "tous")
        assert (mine["messages"], mine["commands"], mine["active_professionals"]) \
            == ("4", "1", "2")
        status, svg, headers = await get(http, f"{url}/indicateurs/usage.svg")
        assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
        assert "<svg" in svg
        professionals = page.split('id="professionals-title"', 1)[1].split("</section>")[0]
        assert ">DAC<" in professionals and ">IDE<" in professionals
        status, body, _ = await get(http, f"{url}/indicateurs/professionals.csv")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert {(r["role"], r["structure"], r["finess"]) for r in rows} == {
            ("DAC", "CHU Test", "750712184"), ("IDE", "Cabinet du Port", "")}

        # A restart replays the last sync (its token is saved at most every 30 s): no double.
        await handle.stop()
        await handle.start()
        again = await coord.send(room, "!aide")
        await coord.reply_to(room, again, handle.user_id, timeout=60)
        status, page, _ = await get(http, f"{url}/indicateurs")  # the session outlived it
        assert status == 200
        assert usage_row(page)[2:6] == ["1", "5", "2", "2"]
