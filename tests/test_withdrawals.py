"""What the hospital's cancellations undo in a follow-up (bots/episode/withdrawals.py). Pure."""

from __future__ import annotations

from datetime import date

from bots.episode.withdrawals import (
    ALREADY,
    NONE,
    WITHDRAW,
    admission_withdrawal,
    after_withdrawal,
    by_hand,
    discharge_withdrawal,
)

DAY = date(2026, 3, 2)


def test_a_cancelled_discharge_withdraws_the_plan_once():
    assert discharge_withdrawal("active", DAY, None, 0) == WITHDRAW
    assert discharge_withdrawal("not_followed", DAY, DAY, 0) == WITHDRAW
    assert discharge_withdrawal("cancelled", DAY, DAY, 0) == ALREADY  # the same A13 again
    assert discharge_withdrawal(None, None, DAY, 0) == NONE


def test_a_cancelled_discharge_leaves_to_a_person_what_it_cannot_undo_alone():
    assert discharge_withdrawal("active", DAY, date(2026, 3, 1), 0) == by_hand("other_discharge")
    assert discharge_withdrawal("frozen", DAY, None, 1) == by_hand("returns_recorded")


def test_a_cancelled_admission_withdraws_only_what_the_feed_recorded_and_nobody_judged():
    assert admission_withdrawal("adt", False, "adt") == WITHDRAW
    assert admission_withdrawal(None, False, "adt") == NONE
    assert admission_withdrawal("@idec:x", False, "adt") == by_hand("recorded_by_hand")
    assert admission_withdrawal("adt", True, "adt") == by_hand("judged")


def test_a_withdrawn_readmission_resumes_the_plan_only_when_no_other_return_is_left():
    assert after_withdrawal("frozen", []) == "resume"
    assert after_withdrawal("frozen", [DAY]) == "stays_frozen"  # and the room is told
    assert after_withdrawal("active", []) == "unchanged"  # resumed by hand already
    assert after_withdrawal("deceased", []) == "unchanged"
