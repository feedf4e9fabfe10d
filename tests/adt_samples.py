"""ADT messages built like the samples in tests/data/adt/ (IHE PAM France), with the event,
control ID, patient, ward, dates and discharge disposition a test needs: dates relative to today
stay valid whenever the tests run. The builder is bots/devstack/adt_messages.py, shared with the
benchmark (bench/adt.py); its default patient is tests.careteam_helpers.INS's."""

from __future__ import annotations

from bots.devstack.adt_messages import INS, PARIS, message
from tests.careteam_helpers import INS as CARETEAM_INS

assert INS == CARETEAM_INS  # the samples' patient is the care-team tests' patient
__all__ = ["PARIS", "message"]
