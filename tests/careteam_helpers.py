"""Set-up shared by the care-team tests: a bot running the care-team bot with its API, and a
coordinator invited to its coordination room through the API (as `liaison register --role`)."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from nio import RoomMessageNotice

from bots.config import ApiConfig, CareteamConfig
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import free_port
from bots.devstack.patients import ins_for
from tests.conftest import BotFactory, BotHandle, ClinicianFactory

INS = ins_for("2480375123456")  # a woman born in March 1948


@dataclass
class CareSetup:
    bot: BotHandle
    api: str
    token: str
    coordinator: Clinician
    coordination_room: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None,
                   token: str | None = None) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.request(
                method, f"{self.api}{path}", json=body if raw is None else None,
                data=raw, headers=self.headers(token)) as resp:
            return resp.status, await resp.json(content_type=None)

    async def open_by_command(self, text: str) -> tuple[str, str]:
        """Sends `!patient ouvrir …` in the coordination room: (reply body, patient room ID)."""
        doc, room = self.coordinator, self.coordination_room
        event_id = await doc.send(room, f"!patient ouvrir {text}")
        reply = await doc.reply_to(room, event_id, self.bot.user_id, timeout=60)
        match = re.search(r"matrix\.to/#/(![^\"<]+)", reply.source["content"]["formatted_body"])
        return reply.body, match.group(1) if match else ""

    async def open_with(self, member: Clinician, role: str) -> str:
        """DUPONT Marie's room, opened by command with `member` in its team as `role`, once the
        member and the coordinator have their briefings: its room ID."""
        _, room_id = await self.open_by_command(f"DUPONT Marie 12/03/1948 F {member.user_id}:{role}")
        await welcomed(member, room_id)
        await welcomed(self.coordinator, room_id)
        return room_id


async def care_setup(make_bot: BotFactory, make_clinician: ClinicianFactory,
                     role: str = "DAC", bots: tuple[str, ...] = ("careteam",),
                     bot: dict[str, Any] | None = None, **careteam: Any) -> CareSetup:
    """`bot`: more of the bots' configuration (database, data_keys…); `careteam`: its section."""
    token = secrets.token_urlsafe(32)
    port = free_port()
    settings = replace(CareteamConfig(create_coordination_room="Coordination",
                                      api=ApiConfig("127.0.0.1", port, token)), **careteam)
    handle = await make_bot(bots=bots, careteam=settings, **(bot or {}))
    coordinator = await make_clinician()
    setup = CareSetup(handle, f"http://127.0.0.1:{port}", token, coordinator, "")
    for _ in range(60):
        status, body = await setup.call("POST", "/api/v1/coordination/members",
                                        {"user_id": coordinator.user_id, "role": role})
        if status != 503:
            break
        await asyncio.sleep(0.5)
    assert status == 200, body
    setup.coordination_room = body["room_id"]
    await coordinator.wait_joined(setup.coordination_room, coordinator.user_id)
    # The bot's welcome is the first message she can read (the notice of her invitation was sent
    # before she joined, so it is not hers to read): from it on, every answer must decrypt.
    await welcomed(coordinator, setup.coordination_room)
    return setup


async def welcomed(member: Clinician, room_id: str) -> RoomMessageNotice:
    """The bot's briefing to a member who just joined (decrypted, mentioning them). Matched by
    its opening word: a follow-up reminder mentioning them may come first."""
    event = await member.wait_for(
        lambda r, e: r == room_id and isinstance(e, RoomMessageNotice)
        and e.body.startswith(("Bienvenue", "Welcome"))
        and member.user_id in e.source["content"]["m.mentions"]["user_ids"], timeout=30)
    assert isinstance(event, RoomMessageNotice)
    return event
