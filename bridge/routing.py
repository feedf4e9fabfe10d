"""Which patient room a received mail belongs to (issue order): (1) it answers a mail the bridge
sent, (2) the subject carries a patient reference `[P-2026-00042]`, (3) its XDM package names the
patient's INS, (4) none: the coordination room's triage list. Pure: the edge looks each key up
and `decide` takes the first that found a room."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.inbound import InboundMail

REF = re.compile(r"\[([A-Z]{1,4}-\d{4}-\d{5})\]")
Rule = Literal["thread", "ref", "ins", "triage"]


@dataclass(frozen=True)
class Keys:
    thread_ids: tuple[str, ...]  # Message-IDs this mail answers, nearest first
    ref: str | None
    ins: str | None


def keys(mail: InboundMail) -> Keys:
    found = REF.search(mail.subject)
    return Keys(mail.thread_ids, found[1] if found else None,
                mail.package.ins if mail.package else None)


@dataclass(frozen=True)
class Route:
    rule: Rule
    room_id: str | None  # None: triage


def decide(found: Sequence[tuple[Rule, str | None]]) -> Route:
    """`found`: each rule in order with the room it found (None: nothing)."""
    return next((Route(rule, room) for rule, room in found if room), Route("triage", None))
