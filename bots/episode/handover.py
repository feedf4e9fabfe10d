"""The validated discharge checklist as the RH30 follow-up reads it: the admission date and each
item's answer (conditions at discharge, the review of a readmission). The discharge bot reads it
from its records (bots/discharge/records.py, `HandedOver`); the composition (bots/registry.py)
gives that reader to the follow-up bot, which imports no other bot. Pure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from bots.runtime.store import Transaction


@dataclass(frozen=True)
class ItemAnswer:
    id: int
    label_fr: str
    label_en: str | None
    answer: str | None  # oui | non | na, None: unanswered
    comment: str | None
    followup_condition: str | None  # holds for the RH30 plan when answered "oui"

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" and self.label_en else self.label_fr


@dataclass(frozen=True)
class ValidatedChecklist:
    admission: date | None
    items: tuple[ItemAnswer, ...]


# The checklist validated for a care room (its latest hand-over), or None.
ChecklistReader = Callable[[Transaction, int], Awaitable[ValidatedChecklist | None]]
