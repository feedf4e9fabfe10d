"""The bots an account can run, by the name used in the configuration (`accounts[].bots`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bots.careteam.bot import careteam
from bots.config import Config
from bots.dashboard.texts import TEXTS as DASHBOARD_TEXTS
from bots.dashboard.views import dashboard_service
from bots.discharge.bot import checklist_progress, checklists_at_discharge, discharge
from bots.followup.bot import followup
from bots.runtime.bot import Bot
from bridge.bot import COMMAND_WORDS as MSSANTE_WORDS
from bridge.bot import mssante


def careteam_and_dashboard(config: Config) -> Bot:
    """The care-team bot, with the coordinator dashboard beside its API when `dashboard:` is
    configured: on its account (its records), reading the checklists through the discharge
    bot's code."""
    bot = careteam(config)
    if config.dashboard is None:
        return bot
    return replace(bot, texts=(*bot.texts, DASHBOARD_TEXTS),
                   services=[*bot.services, dashboard_service(checklist_progress(config))])


BOTS: dict[str, Callable[[Config], Bot]] = {
    "careteam": careteam_and_dashboard,
    "discharge": discharge,
    # The follow-up reads the validated checklists through the discharge bot's code.
    "followup": lambda config: followup(config, checklists_at_discharge(config)),
    "mssante": mssante,  # the MSSanté bridge: run by `liaison bridge`, on an account of its own
}
# Bots that run in the bridge's process (`liaison bridge`), not in `liaison bots`.
BRIDGE_BOTS = frozenset({"mssante"})
# The first words of the bridge's commands, left to it by the bots in the rooms it shares.
COMPANION_WORDS = frozenset(MSSANTE_WORDS)
# Bots that work in another bot's rooms, with its roles: both run on the same account.
REQUIRES: dict[str, tuple[str, ...]] = {"discharge": ("careteam",), "followup": ("careteam",)}
