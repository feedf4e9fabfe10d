"""The `adt` bot: the hospital's movements applied in the bots process (applier.py), on the
care-team bot's account, through the care-team and follow-up bots' code that the composition
hands in (bots/registry.py). No command of its own: it says what it did in the rooms. Its
endpoint on the provisioning API takes FHIR Bundles (bots/adt/api.py)."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from bots.adt.api import routes
from bots.adt.applier import Applier
from bots.adt.texts import APPLIER, TEXTS
from bots.common.roles import Roles
from bots.config import Config, ConfigError, WardConfig
from bots.episode.movements import Episodes
from bots.runtime.bot import Bot


def wards(config: Config) -> dict[str, WardConfig]:
    """`adt.wards` with each member's role as its code in the roles file; an unknown role is a
    configuration error (found at start, not at the first admission)."""
    roles = Roles.load(config.careteam.roles_file)
    checked = {}
    for code, ward in config.adt_wards.items():
        team = []
        for user, raw in ward.team:
            role = roles.get(raw)
            if role is None:
                raise ConfigError(f"adt/wards/{code}: unknown role {raw!r} for {user}; known: "
                                  f"{', '.join(roles.by_code)}")
            team.append((user, role.code))
        checked[code] = replace(ward, team=tuple(team))
    return checked


def adt(config: Config, episodes: Episodes) -> Bot:
    applier = Applier(wards(config), episodes, ZoneInfo(config.timezone))
    return Bot("adt", texts=(TEXTS, APPLIER), services=[applier.serve], api_routes=routes())
