"""What a merge of two patients (ADT A40) does to their rooms (bots/adt/merge.py). Pure."""

from __future__ import annotations

from bots.adt.merge import NO_ROOM, Side, action, by_hand


def test_the_prior_patients_room_is_taken_over_or_pointed_to_the_survivors():
    assert action(NO_ROOM, Side(True)) == action(NO_ROOM, NO_ROOM) == "alias_only"
    assert action(Side(True, followup=True), NO_ROOM) == "take_over"
    assert action(Side(True), Side(True)) == "point"


def test_what_is_open_in_the_prior_room_is_left_to_a_person_when_both_rooms_stay():
    both = Side(True, followup=True, checklist=True)
    assert by_hand(both, both) == ["two_followups", "two_checklists"]
    assert by_hand(both, Side(True)) == ["followup_left", "checklist_left"]
    assert by_hand(Side(True), both) == []  # the survivor's room keeps its own
    assert by_hand(both, NO_ROOM) == []  # taken over: the room and all it holds are the survivor's
