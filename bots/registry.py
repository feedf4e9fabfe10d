"""The bots an account can run, by the name used in the configuration (`accounts[].bots`), and
the composition that hands one bot's code to another.

A bot's code is imported when an account runs it, in its factory below: a process holds only
its own bots (`liaison bots` none of the bridge's mail libraries, `liaison bridge` none of the
care-team bots; several MiB resident each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from bots.config import Config
from bots.runtime.bot import Bot
from bridge import COMMAND_WORDS as MSSANTE_WORDS


def _careteam(config: Config) -> Bot:
    from bots.careteam.bot import careteam

    return _with_dashboard(config, careteam(config))


def _with_dashboard(config: Config, bot: Bot) -> Bot:
    """The care-team bot counting its patient rooms' usage (always: the dashboard turned on
    later shows the past), with the coordinator dashboard beside its API when `dashboard:` is
    configured: on its account (its records), reading the checklists through the discharge
    bot's code, the follow-ups and the RH30 figures through the follow-up bot's."""
    from bots.dashboard.usage_records import usage_observer

    bot = replace(bot, observe=usage_observer(ZoneInfo(config.timezone)))
    if config.dashboard is None:
        return bot
    from bots.dashboard.texts import TEXTS as DASHBOARD_TEXTS
    from bots.dashboard.views import dashboard_service
    from bots.discharge.bot import checklist_progress
    from bots.followup.bot import followup_work
    from bots.followup.figures import figures_reader
    from bridge.records import mail_counter

    zone = ZoneInfo(config.timezone)
    return replace(bot, texts=(*bot.texts, DASHBOARD_TEXTS), services=[
        *bot.services, dashboard_service(checklist_progress(config), followup_work(config),
                                         figures_reader(zone), mail_counter(zone))])


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
    from bots.adt.bot import adt
    from bots.careteam.bot import CareTeam, careteam
    from bots.careteam.records import find_patient
    from bots.discharge.bot import (
        checklist_progress,
        checklists_at_discharge,
        validation_withdrawal,
    )
    from bots.episode.movements import Episodes
    from bots.followup.bot import Followup, followup

    care = CareTeam(config)
    follow = Followup(config, checklists_at_discharge(config))
    shared = {
        "careteam": _with_dashboard(config, careteam(config, care)),
        "followup": followup(config, follow.checklist_at_discharge, follow),
        "adt": adt(config, Episodes(find=find_patient, open=care.admit,
                                    discharge=follow.discharged,
                                    admission=follow.readmissions.admitted,
                                    cancel_discharge=follow.discharge_cancelled,
                                    cancel_validation=validation_withdrawal(config),
                                    cancel_admission=follow.readmissions.admission_cancelled,
                                    update_identity=care.identity_updated,
                                    following=follow.following,
                                    checklists=checklist_progress(config))),
    }
    return [shared[name] if name in shared else BOTS[name](config) for name in names]
