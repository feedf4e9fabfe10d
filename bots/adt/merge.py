"""What a merge of two patients (ADT A40) does to their rooms, and what it leaves to a person.
Pure; the applier (applier.py) looks the rooms up and carries it out.

The prior patient's INS points to the survivor's from then on (an alias: later messages that
still name the prior patient are applied to the survivor). Their rooms:
- the prior patient has no room of ours: nothing more;
- only the prior patient has one: it becomes the survivor's (identity sealed again, card posted
  again), as if the hospital had updated the identity;
- both have one: neither is deleted nor emptied; each is told of the other (the prior one
  pointed to the survivor's), and what a room holds once (the follow-up plan, the discharge
  checklist) is not moved: what is open in the prior room is listed to do by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["alias_only", "take_over", "point"]
# What is left to a person: a follow-up or checklist open in both rooms, or only in the prior.
ByHand = Literal["two_followups", "two_checklists", "followup_left", "checklist_left"]


@dataclass(frozen=True)
class Side:
    """One patient's room as the merge sees it: whether there is one, and what is open in it
    (a follow-up plan running or frozen, a discharge checklist not validated)."""
    room: bool
    followup: bool = False
    checklist: bool = False


NO_ROOM = Side(False)


def action(prior: Side, survivor: Side) -> Action:
    if not prior.room:
        return "alias_only"
    return "point" if survivor.room else "take_over"


def by_hand(prior: Side, survivor: Side) -> list[ByHand]:
    """What the merge cannot do itself, when both rooms stay (`point`)."""
    if action(prior, survivor) != "point":
        return []
    left: list[ByHand] = []
    if prior.followup:
        left.append("two_followups" if survivor.followup else "followup_left")
    if prior.checklist:
        left.append("two_checklists" if survivor.checklist else "checklist_left")
    return left
