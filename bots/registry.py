"""The bots an account can run, by the name used in the configuration (`accounts[].bots`)."""

from __future__ import annotations

from collections.abc import Callable

from bots.careteam.bot import careteam
from bots.config import Config
from bots.runtime.bot import Bot

BOTS: dict[str, Callable[[Config], Bot]] = {
    "careteam": careteam,
}
