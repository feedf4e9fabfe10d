"""The discharge mode and the iterative flag, recorded at every discharge (docs/CLINICAL.md §3).
Pure: words as people type them in, a `Discharge` out.

A stay that ends in a transfer to another acute ward (MCO) or in death, and an iterative stay
(dialysis, chemotherapy, radiotherapy sessions), is not an index stay of RH7/RH30.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bots.runtime.i18n import Refusal

Mode = Literal["domicile", "had", "ssr", "ehpad", "mco", "deces"]
MODES: tuple[Mode, ...] = ("domicile", "had", "ssr", "ehpad", "mco", "deces")
# Modes whose stay is not an index stay (transfer to an acute ward, death).
NOT_INDEX: frozenset[Mode] = frozenset({"mco", "deces"})
_WORDS: dict[str, Mode] = {
    "domicile": "domicile", "home": "domicile",
    "had": "had", "domicile-had": "had",
    "ssr": "ssr", "smr": "ssr",
    "ehpad": "ehpad", "nursing-home": "ehpad",
    "mco": "mco", "transfert-mco": "mco", "transfer-mco": "mco", "transfer": "mco",
    "deces": "deces", "décès": "deces", "death": "deces"}
_ITERATIVE = {"iteratif", "itératif", "iterative", "seances", "séances", "sessions"}


class ModeError(Refusal):
    """The discharge mode is missing or not one of ours."""


@dataclass(frozen=True)
class Discharge:
    mode: Mode
    iterative: bool = False

    @property
    def index_stay(self) -> bool:
        """Whether the stay counts in RH7/RH30 (in the denominator)."""
        return self.mode not in NOT_INDEX and not self.iterative


def as_mode(word: str) -> Mode | None:
    return _WORDS.get(word.strip().lower())


def is_iterative(word: str) -> bool:
    return word.strip().lower() in _ITERATIVE


def parse_discharge(words: Sequence[str]) -> tuple[Discharge, list[str]]:
    """The mode (first word) and an optional iterative flag (next word) from `words`; the words
    left over are returned (a reason, a risk level). A missing or unknown mode is refused."""
    if not words or (mode := as_mode(words[0])) is None:
        raise ModeError("mode.missing", value=words[0] if words else "",
                        modes=", ".join(_shown()))
    rest = list(words[1:])
    iterative = bool(rest) and is_iterative(rest[0])
    return Discharge(mode, iterative), rest[1:] if iterative else rest


def _shown() -> list[str]:
    return ["domicile", "had", "ssr", "ehpad", "mco", "deces"]
