"""The bots an account can run, by the name used in the configuration (`accounts[].bots`).

A bot's code is imported when an account runs it, in its factory below: a process holds only
its own bots (`liaison bots` none of the bridge's mail libraries, `liaison bridge` none of the
care-team bots; several MiB resident each).
"""

from __future__ import annotations

from collections.abc import Callable

from bots.config import Config
from bots.runtime.bot import Bot
from bridge import COMMAND_WORDS as MSSANTE_WORDS


def _careteam(config: Config) -> Bot:
    from bots.careteam.bot import careteam

    return careteam(config)


def _discharge(config: Config) -> Bot:
    from bots.discharge.bot import discharge

    return discharge(config)


def _followup(config: Config) -> Bot:
    # The follow-up reads the validated checklists through the discharge bot's code.
    from bots.discharge.bot import checklists_at_discharge
    from bots.followup.bot import followup

    return followup(config, checklists_at_discharge(config))


def _mssante(config: Config) -> Bot:
    from bridge.bot import mssante

    return mssante(config)


BOTS: dict[str, Callable[[Config], Bot]] = {
    "careteam": _careteam,
    "discharge": _discharge,
    "followup": _followup,
    "mssante": _mssante,  # the MSSanté bridge: run by `liaison bridge`, on an account of its own
}
# Bots that run in the bridge's process (`liaison bridge`), not in `liaison bots`.
BRIDGE_BOTS = frozenset({"mssante"})
# The first words of the bridge's commands, left to it by the bots in the rooms it shares.
COMPANION_WORDS = frozenset(MSSANTE_WORDS)
# Bots that work in another bot's rooms, with its roles: both run on the same account.
REQUIRES: dict[str, tuple[str, ...]] = {"discharge": ("careteam",), "followup": ("careteam",)}
