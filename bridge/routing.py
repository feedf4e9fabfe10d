"""Which patient room a received mail belongs to (issue order): (1) it answers a mail the bridge
sent, (2) the subject carries the room's tagged reference `[P-2026-00042-K7QF2M4X]`, (3) its XDM
package names the patient's INS, (4) none: the coordination room's triage list. Pure: the edge
looks each key up and `decide` takes the first that found a room.

The file number alone is guessable (`P-2026-00001`, `-00002`…): anyone in the trust space could
write into any room. The tag is a keyed hash of the room (the vault's blind-index key, so nothing
new is stored), written in every subject the bridge sends: only who got a mail from the room
knows it. A reference without its right tag is not a route (triage)."""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.inbound import InboundMail

TAG_CHARS = 8  # base32: 40 bits, out of reach of guessing one mail at a time
REF = re.compile(rf"\[([A-Z]{{1,4}}-\d{{4}}-\d{{5}})-([A-Z2-7]{{{TAG_CHARS}}})\]", re.IGNORECASE)
Rule = Literal["thread", "ref", "ins", "triage"]


@dataclass(frozen=True)
class Keys:
    thread_ids: tuple[str, ...]  # Message-IDs this mail answers, nearest first
    ref: str | None
    tag: str | None  # with the reference: to be checked against the room it names
    ins: str | None


def keys(mail: InboundMail) -> Keys:
    found = REF.search(mail.subject)
    return Keys(mail.thread_ids, found[1].upper() if found else None,
                found[2].upper() if found else None, mail.package.ins if mail.package else None)


def typed_ref(text: str) -> str:
    """The file number a coordinator names in `!mss router`: bare, or pasted from a subject
    with its tag and brackets (the coordinator chose the room: the tag proves nothing more)."""
    found = re.search(r"[A-Z]{1,4}-\d{4}-\d{5}", text, re.IGNORECASE)
    return found[0].upper() if found else text.upper()


def tag(index: str) -> str:
    """A room's tag from its blind index (hex HMAC-SHA256)."""
    return base64.b32encode(bytes.fromhex(index)).decode()[:TAG_CHARS]


def tagged(ref: str, index: str) -> str:
    """The reference the room's mail carries in its subject."""
    return f"{ref}-{tag(index)}"


def genuine(found: str, indexes: Sequence[str]) -> bool:
    """The tag read in a subject is the room's (under any data key: one written before a key
    rotation still counts)."""
    return any(hmac.compare_digest(found.upper(), tag(i)) for i in indexes)


@dataclass(frozen=True)
class Route:
    rule: Rule
    room_id: str | None  # None: triage


def decide(found: Sequence[tuple[Rule, str | None]]) -> Route:
    """`found`: each rule in order with the room it found (None: nothing)."""
    return next((Route(rule, room) for rule, room in found if room), Route("triage", None))
