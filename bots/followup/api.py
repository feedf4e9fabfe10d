"""`POST /api/v1/patients/{ref}/discharge`: a hospital system reports a discharge (its mode and
whether the stay was iterative); it is recorded for the indicator and, for the modes the schedule
follows, the RH30 plan starts in the patient's room. A risk level given raises the episode's
level (never lowers it, like a score). Mounted on the care-team bot's provisioning API by the
runtime (`Bot.api_routes`: its token, body validation against schemas/api/discharge.schema.json,
and errors); this bot sees that API as `ApiHost` (bots/common/api.py)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bots.common.api import ApiError, ApiHost
from bots.common.render import when
from bots.episode import records as episode
from bots.episode.modes import Discharge
from bots.episode.risk import with_score
from bots.followup import records
from bots.followup.models import FollowupPlan
from bots.followup.records import PlanExists
from bots.followup.schedule import as_conditions
from bots.runtime.i18n import t
from bots.runtime.notice import to_plain
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.followup.bot import Followup
    from bots.runtime.bot import ApiRoute

PATH = "/api/v1/patients/{ref}/discharge"


def routes(bot: Followup) -> list[ApiRoute]:
    async def discharge(api: ApiHost, request: web.Request) -> web.Response:
        lang = api.lang(request)
        payload = await api.body(request, "discharge")
        room = await api.room(request.match_info["ref"])
        if room.status != "open" or room.room_id is None:
            raise ApiError(409, "episode_closed", to_plain(t(lang, "team.room_closed")))
        day = date.fromisoformat(payload["discharged_on"])
        if day > bot.today():
            raise ApiError(422, "future_discharge", to_plain(
                t(lang, "followup.future", day=when(lang, day))))
        discharge = Discharge(payload["mode"], payload.get("iterative", False))
        async with api.runtime.transaction() as tx:
            try:
                if await records.plan_of(tx, room.room_id) is None and "risk" in payload:
                    current = await episode.risk_of(tx, room.id)
                    level = with_score(current, payload["risk"], "api")
                    if level != current:
                        await episode.set_risk(tx, room.id, level)
                row = await bot.start(tx, api.runtime, room, day, discharge,
                                      tuple(payload.get("conditions", ())), "api",
                                      room.language, utcnow())  # type: ignore[arg-type]
                created = True
            except PlanExists:
                row = await records.plan_of(tx, room.room_id)
                assert row is not None
                if (row.discharged_on, row.mode, row.iterative) != (
                        day, discharge.mode, discharge.iterative):
                    raise ApiError(409, "followup_exists", to_plain(t(
                        lang, "followup.exists_other", day=when(lang, row.discharged_on)))
                    ) from None
                created = False
            body = await _plan(bot, tx, row, room.ref or "", created)
        return web.json_response(body, status=201 if created else 200)

    return [("POST", PATH, discharge)]


async def _plan(bot: Followup, tx: Transaction, row: FollowupPlan, ref: str,
                created: bool) -> dict[str, Any]:
    schedule = bot.schedules[row.schedule]
    steps = []
    for step in await records.steps(tx, row):
        template = schedule.step(step.step)
        if template is not None:
            steps.append({"id": step.step, "day": step.day.isoformat(), "state": step.state,
                          "roles": list(template.roles), "label": template.label(row.language)})
    return {"ref": ref, "room_id": row.room_id, "status": row.status,
            "discharged_on": row.discharged_on.isoformat(), "mode": row.mode,
            "iterative": row.iterative, "risk": row.risk,
            "conditions": list(as_conditions(row.conditions)), "created": created,
            "steps": steps}
