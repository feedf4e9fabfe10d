"""The acknowledgement of an ADT message (HL7 v2.5 original mode), built with the `hl7`
library's `create_ack`: MSH with sender and receiver swapped, MSA-1 the code, MSA-2 the
message's control ID, and for AE/AR an ERR segment saying why. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import hl7

from bots.adt.messages import Movement, Reason, Refused, escape, header
from bots.runtime.i18n import Catalogue, Lang

Code = Literal["AA", "AE", "AR"]
# What answers a message whose header cannot be read: an ACK must still go back (the sender
# waits for one), without a control ID to echo.
_NO_HEADER = "MSH|^~\\&|||||||ADT^|||2.5"
# ERR-3, HL7 table 0357: the code and its name, and our reasons that take it.
_HL7_ERRORS: tuple[tuple[str, str, tuple[Reason, ...]], ...] = (
    ("100", "Segment sequence error", ("not_hl7", "missing_segment")),
    ("101", "Required field missing", ("bad_msh", "missing_field", "missing_ins")),
    ("102", "Data type error",
     ("ins_invalid", "ins_key", "ins_mismatch", "bad_identity", "bad_date")),
    ("103", "Table value not found", ("unknown_disposition",)),
    ("201", "Unsupported event code", ("unsupported_event",)),
    # The table has no code for "too big": the receiver's own limit, hence an application error.
    ("207", "Application internal error", ("too_large",)),
)
ERROR_CODES: dict[Reason, tuple[str, str]] = {
    reason: (number, name) for number, name, reasons in _HL7_ERRORS for reason in reasons}


def ack(source: bytes | str | Movement, code: Code, reason: Refused | None = None, *,
        texts: Catalogue, lang: Lang = "fr", at: datetime | None = None,
        control_id: str | None = None) -> str:
    """The ACK of `source` (the raw message, or the Movement read from it). AE and AR carry
    `reason` in an ERR segment: where (ERR-2), the HL7 error code (ERR-3), our reason (ERR-5)
    and the human text in `lang` (ERR-8). `at` and `control_id` make the ACK reproducible;
    by default now and a fresh ID from the library."""
    if code != "AA" and reason is None:
        raise ValueError("an AE or AR says why: reason is required")
    msh = source.msh if isinstance(source, Movement) else header(source) or _NO_HEADER
    message = hl7.parse(msh)
    answer = message.create_ack(code, message_id=control_id)
    moment = (at or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")
    answer.segment("MSH").assign_field(moment, 7)
    if code != "AA" and reason is not None:
        answer.append(_err(answer, reason, texts, lang))
    return str(answer)


def _err(answer: hl7.Message, reason: Refused, texts: Catalogue, lang: Lang) -> hl7.Segment:
    err = answer.create_segment([answer.create_field(["ERR"])])
    location = [escape(part) for part in (reason.field or "").split("-")]
    if location[0]:
        err.assign_field(location[0], 2, 1, 1)
        if len(location) == 2:
            err.assign_field("1", 2, 1, 2)
            err.assign_field(location[1], 2, 1, 3)
    number, name = ERROR_CODES[reason.reason]
    err.assign_field(number, 3, 1, 1)
    err.assign_field(name, 3, 1, 2)
    err.assign_field("HL70357", 3, 1, 3)
    err.assign_field("E", 4)
    err.assign_field(reason.reason, 5, 1, 1)
    err.assign_field(escape(reason.text(texts, lang)), 8)
    return err

