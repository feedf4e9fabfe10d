"""The bots an account can run, by the name used in the configuration (`accounts[].bots`), and
the composition that hands one bot's code to another."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bots.adt.bot import adt
from bots.careteam.bot import CareTeam, careteam
from bots.careteam.records import find_patient
from bots.config import Config
from bots.discharge.bot import checklists_at_discharge, discharge
from bots.episode.movements import Episodes
from bots.followup.bot import Followup, followup
from bots.runtime.bot import Bot
from bridge.bot import COMMAND_WORDS as MSSANTE_WORDS
from bridge.bot import mssante

BOTS: dict[str, Callable[[Config], Bot]] = {
    "careteam": careteam,
    "discharge": discharge,
    # The follow-up reads the validated checklists through the discharge bot's code.
    "followup": lambda config: followup(config, checklists_at_discharge(config)),
    "mssante": mssante,  # the MSSanté bridge: run by `liaison bridge`, on an account of its own
}
# Bots built from other bots of the same account (`build`): the ADT applier works through the
# care-team and follow-up bots' code (bots/episode/movements.py).
COMPOSED = frozenset({"adt"})
# Bots that run in the bridge's process (`liaison bridge`), not in `liaison bots`.
BRIDGE_BOTS = frozenset({"mssante"})
# The first words of the bridge's commands, left to it by the bots in the rooms it shares.
COMPANION_WORDS = frozenset(MSSANTE_WORDS)
# Bots that work in another bot's rooms, with its roles: both run on the same account.
REQUIRES: dict[str, tuple[str, ...]] = {"discharge": ("careteam",), "followup": ("careteam",),
                                        "adt": ("careteam", "followup")}


def build(config: Config, names: Sequence[str]) -> list[Bot]:
    """One account's bots, in order. With `adt`, the care-team and follow-up bots are built
    once and their code is what the applier calls: an admission wakes the provisioner that runs
    (REQUIRES has put both on the account)."""
    if "adt" not in names:
        return [BOTS[name](config) for name in names]
    care = CareTeam(config)
    follow = Followup(config, checklists_at_discharge(config))
    shared = {
        "careteam": careteam(config, care),
        "followup": followup(config, follow.checklist_at_discharge, follow),
        "adt": adt(config, Episodes(find=find_patient, open=care.admit,
                                    discharge=follow.discharged,
                                    admission=follow.readmissions.admitted)),
    }
    return [shared[name] if name in shared else BOTS[name](config) for name in names]
