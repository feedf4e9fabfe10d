"""The order the ADT applier takes rows in (bots/adt/order.py): per patient, in arrival order;
a waiting row holds its patient's later rows back except the admission it waits for."""

from __future__ import annotations

from bots.adt.order import Pending, next_rows


def rows(*specs: tuple[str, str, str]) -> list[Pending]:
    """(patient, event, state) in arrival order, numbered from 1."""
    return [Pending(n, patient, event, state) for n, (patient, event, state)
            in enumerate(specs, start=1)]


def ids(pending: list[Pending]) -> list[int]:
    return [row.id for row in next_rows(pending)]


def test_one_row_per_patient_the_oldest_and_patients_do_not_wait_for_each_other():
    assert ids(rows(("p", "A01", "stored"), ("q", "A01", "stored"),
                    ("p", "A03", "stored"))) == [1, 2]
    assert ids(list(reversed(rows(("p", "A01", "stored"), ("p", "A03", "stored"))))) == [1]


def test_a_discharge_waiting_for_its_admission_lets_the_admission_pass():
    assert ids(rows(("p", "A03", "waiting"), ("p", "A01", "stored"))) == [2]
    assert ids(rows(("p", "A02", "waiting"), ("p", "A03", "waiting"),
                    ("p", "A04", "stored"))) == [3]


def test_a_waiting_row_holds_back_what_it_does_not_wait_for():
    assert ids(rows(("p", "A03", "waiting"), ("p", "A03", "stored"))) == []
    assert ids(rows(("p", "A02", "waiting"), ("p", "A05", "stored"))) == [2]
    # A stored row goes first, even a discharge before its admission: tried, it will wait.
    assert ids(rows(("p", "A03", "stored"), ("p", "A01", "stored"))) == [1]


def test_rows_that_need_the_room_too_wait_with_the_waiting_one_for_the_admission():
    # A second discharge (or a transfer) behind a waiting one would wait for the same
    # admission: the admission passes them all, then they are tried in order.
    assert ids(rows(("p", "A03", "waiting"), ("p", "A03", "stored"),
                    ("p", "A02", "stored"), ("p", "A01", "stored"))) == [4]


def test_a_cancellation_or_an_update_behind_a_waiting_row_waits_with_it_for_the_admission():
    assert ids(rows(("p", "A03", "waiting"), ("p", "A13", "stored"),
                    ("p", "A11", "stored"), ("p", "A08", "stored"), ("p", "A01", "stored"))) == [5]
    assert ids(rows(("p", "A03", "stored"), ("p", "A13", "stored"))) == [1]


def test_what_is_only_listed_for_a_person_neither_waits_nor_is_held_back():
    assert ids(rows(("p", "A03", "waiting"), ("p", "A40", "stored"),
                    ("p", "A01", "stored"))) == [2]
    assert ids(rows(("p", "A40", "stored"), ("p", "A01", "stored"))) == [1]


def test_only_waiting_rows_left_means_nothing_to_do_and_rows_without_patient_stand_alone():
    assert ids(rows(("p", "A03", "waiting"))) == []
    assert ids([Pending(1, None, "A01", "stored"), Pending(2, None, "A03", "stored")]) == [1, 2]
