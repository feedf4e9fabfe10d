"""Which of the feed's rows the applier takes next. Pure.

A patient's rows are applied in the order they arrived (`id`). A row that cannot be applied yet
(a discharge before its admission) is `waiting` and holds the patient's later rows back, except
the ones it waits for: a discharge that came before its admission lets that admission pass, and
is tried again once a later row of the patient has been applied. Rows of different patients
never wait for each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ADMISSIONS = frozenset({"A01", "A04", "A05"})
# What a waiting row of each event waits for: the patient's room, which an admission opens.
# A cancellation (A11, A13) or an identity update (A08) behind a waiting row is about the room
# that admission will open: it waits with it.
WAITS_FOR: dict[str, frozenset[str]] = {"A03": ADMISSIONS, "A02": ADMISSIONS,
                                        "A11": ADMISSIONS, "A13": ADMISSIONS,
                                        "A08": ADMISSIONS}
# A merge (A40) is about two patients, neither's room to come: it waits for nothing and is
# never held back.
UNHELD = frozenset({"A40"})


@dataclass(frozen=True)
class Pending:
    """A row not yet applied: `stored` (never tried, or due again) or `waiting`."""
    id: int
    patient: str | None  # the INS's blind index
    event: str | None
    state: str


def next_rows(rows: Iterable[Pending]) -> list[Pending]:
    """The row each patient may apply now, at most one per patient, in arrival order."""
    by_patient: dict[object, list[Pending]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        # A row without a patient is nobody's neighbour: its own queue.
        key = row.patient if row.patient is not None else ("row", row.id)
        by_patient.setdefault(key, []).append(row)
    chosen = []
    for queue in by_patient.values():
        waiting: list[Pending] = []
        for row in queue:
            # Behind a waiting row the patient has no room yet: a row that needs one would
            # wait too, for the same admission.
            if row.state == "waiting" or (waiting and (row.event or "") in WAITS_FOR):
                waiting.append(row)
                continue
            if row.event in UNHELD or all(
                    row.event in WAITS_FOR.get(w.event or "", frozenset()) for w in waiting):
                chosen.append(row)
            break
    return sorted(chosen, key=lambda r: r.id)
