"""The readmission-risk level: one value per patient episode, shared by the discharge checklist
and the follow-up (docs/CLINICAL.md §4). Pure.

A LACE or HOSPITAL score sets it, the highest class wins; set by hand it may go up freely, down
only by a physician with a reason. While it is unknown both bots treat the patient as high risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bots.runtime.commands import ArgError
from bots.runtime.i18n import Refusal

Risk = Literal["faible", "intermediaire", "eleve"]
RISKS: tuple[Risk, ...] = ("faible", "intermediaire", "eleve")
UNKNOWN_AS: Risk = "eleve"  # how an unknown level is treated (escalation included)
Source = Literal["score", "hand", "lowered"]


class RiskError(Refusal):
    """A change of level that is not allowed (a lowering without a physician or a reason)."""


@dataclass(frozen=True)
class Level:
    risk: Risk
    source: Source
    by: str
    reason: str | None = None


def rank(risk: Risk) -> int:
    return RISKS.index(risk)


def effective(level: Level | None) -> Risk:
    return level.risk if level is not None else UNKNOWN_AS


def with_score(current: Level | None, risk: Risk, by: str) -> Level:
    """A score's class: it sets the level, or raises it; it never lowers it."""
    if current is not None and rank(current.risk) >= rank(risk):
        return current
    return Level(risk, "score", by)


def by_hand(current: Level | None, risk: Risk, by: str, *, physician: bool,
            reason: str | None = None) -> Level:
    """A level set by hand: the first one, or a higher one, by anyone allowed to plan; a lower
    one only by a physician who says why."""
    reason = " ".join(reason.split()) if reason else None
    if current is None or rank(risk) >= rank(current.risk):
        return Level(risk, "hand", by, reason)
    if not physician:
        raise RiskError("risk.lower_physician", level=current.risk)
    if not reason:
        raise RiskError("risk.lower_reason", level=current.risk)
    return Level(risk, "lowered", by, reason)


def plan_level(plan: Risk, level: Level | None) -> Risk | None:
    """The follow-up plan's new level after the episode's changed, or None to keep it: a
    higher level re-plans at once; a lower one only when it was set by hand (a score never
    silently lowers the plan)."""
    new = effective(level)
    if new == plan:
        return None
    if rank(new) > rank(plan) or (level is not None and level.source != "score"):
        return new
    return None


def as_risk(raw: str) -> Risk:
    """A risk level as people type it (fr or en, with or without accents)."""
    value = raw.lower().replace("é", "e").replace("è", "e")
    value = {"high": "eleve", "low": "faible", "intermediate": "intermediaire",
             "moyen": "intermediaire", "modere": "intermediaire"}.get(value, value)
    if value not in RISKS:
        raise ArgError("risk.bad", value=raw)
    return value  # type: ignore[return-value]
