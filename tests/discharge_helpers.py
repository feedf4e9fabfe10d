"""A patient room with a care team and the discharge bot, against the real Synapse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from nio import Event, RoomMessageNotice

from bots.devstack.clinician import Clinician
from tests.careteam_helpers import INS, CareSetup, care_setup, welcomed

PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    """The ward's today (the bot's dates are Europe/Paris, the machine may be on UTC)."""
    return datetime.now(PARIS).date()


@dataclass
class Ward:
    setup: CareSetup
    room_id: str
    ref: str
    dac: Clinician  # coordinator (DAC): plans, assigns, validates
    doc: Clinician  # hospital physician (MH): may override
    nurse: Clinician  # IDE
    sec: Clinician  # medical secretary
    po: Clinician  # community pharmacist: in the team, no checklist item of their own

    @property
    def bot_id(self) -> str:
        return self.setup.bot.user_id

    async def command(self, who: Clinician, text: str, timeout: float = 30) -> RoomMessageNotice:
        """Sends a command and returns the bot's reply to it."""
        event_id = await who.send(self.room_id, text)
        return await who.reply_to(self.room_id, event_id, self.bot_id, timeout=timeout)

    async def live(self, who: Clinician, start: int = 0) -> RoomMessageNotice:
        """The bot's next live checklist message (not an edit, not a reply)."""
        def match(r: str, e: Event) -> bool:
            content = e.source.get("content", {})
            return r == self.room_id and e.sender == self.bot_id and \
                isinstance(e, RoomMessageNotice) and "m.relates_to" not in content and \
                ("Check-list de sortie" in e.body or "Discharge checklist" in e.body)
        event = await who.wait_for(match, start=start)
        assert isinstance(event, RoomMessageNotice)
        return event

    async def edit_of(self, who: Clinician, live_id: str, text: str, start: int = 0,
                      timeout: float = 30) -> dict:
        """The new content of the first edit of `live_id` whose text holds `text`."""
        def match(r: str, e: Event) -> bool:
            content = e.source.get("content", {})
            relates = content.get("m.relates_to", {})
            return r == self.room_id and e.sender == self.bot_id and \
                relates.get("rel_type") == "m.replace" and relates.get("event_id") == live_id \
                and text in content.get("m.new_content", {}).get("body", "")
        event = await who.wait_for(match, timeout=timeout, start=start)
        return event.source["content"]["m.new_content"]

    def bot_notices(self, who: Clinician, text: str) -> list[RoomMessageNotice]:
        return [e for r, e in who.timeline if r == self.room_id and e.sender == self.bot_id
                and isinstance(e, RoomMessageNotice) and text in e.body
                and e.source["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"]


async def ward(make_bot, make_clinician, admission: date | None = None,
               bots: tuple[str, ...] = ("careteam", "discharge"),
               bot: dict[str, Any] | None = None) -> Ward:
    """`bot`: more of the bots' configuration (as care_setup takes it)."""
    setup = await care_setup(make_bot, make_clinician, bots=bots, bot=bot)
    doc, nurse, sec, po = [await make_clinician() for _ in range(4)]
    team = [(setup.coordinator, "DAC"), (doc, "MH"), (nurse, "IDE"), (sec, "SEC"), (po, "PO")]
    admission = admission or today() - timedelta(days=2)
    status, created = await setup.call("POST", "/api/v1/patients", {
        "identity": {"family_name": "DUPONT", "given_names": "Marie",
                     "birth_date": "1948-03-12", "sex": "F", "ins": INS},
        "ward": "Cardiologie", "admission_date": admission.isoformat(),
        "team": [{"user_id": c.user_id, "role": r} for c, r in team]})
    assert status == 201, created
    room_id = created["room_id"]
    for member, _ in team:
        await member.wait_joined(room_id, member.user_id)
    for member, _ in team:
        # From her own briefing on, every bot message must decrypt for her (the bot has seen
        # her join); what it sent just before may not.
        await welcomed(member, room_id)
    return Ward(setup, room_id, created["ref"], setup.coordinator, doc, nurse, sec, po)
