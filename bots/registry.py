"""The bots an account can run, by the name used in the configuration (`accounts[].bots`)."""

from __future__ import annotations

from collections.abc import Callable

from bots.careteam.bot import careteam
from bots.config import Config
from bots.discharge.bot import discharge
from bots.followup.bot import followup
from bots.runtime.bot import Bot

BOTS: dict[str, Callable[[Config], Bot]] = {
    "careteam": careteam,
    "discharge": discharge,
    "followup": followup,
}
# Bots that work in another bot's rooms, with its roles: both run on the same account.
REQUIRES: dict[str, tuple[str, ...]] = {"discharge": ("careteam",), "followup": ("careteam",)}
