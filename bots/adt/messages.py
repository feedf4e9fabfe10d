"""One HL7 v2.5 ADT message (IHE PAM France) read into a `Movement`, or refused with a reason.
Pure: no network, no database.

`read` never raises: whatever the bytes, the answer is a `Movement` or a `Refused`. A refusal
names the field (`PID-3`), never its value: it goes into ACKs and logs, and PID is identity.
The `hl7` library splits the message; what it raises on a malformed one is caught at its two
calls (`_parse`, `_get`) and becomes a refusal.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

import hl7
import hl7.util

from bots.adt.mapping import (
    ADMISSION_TIME_REQUIRED,
    DISCHARGE_TIME_REQUIRED,
    EVENTS,
    INS_OIDS,
    IPP_TYPE,
    QUALIFIED_STATUS,
    WITHOUT_VISIT,
    Event,
    InsKind,
    discharge_mode,
    planned,
)
from bots.common.identity import Identity, IdentityError, make_identity, parse_birth_date
from bots.episode.modes import Mode
from bots.runtime.i18n import Catalogue, Lang
from bots.runtime.notice import format_html, to_plain

# The library logs the fields it cannot unescape, values included (a name, an INS): no PID
# content goes to logs (issue 19), so its logger (named after its file) says nothing.
logging.getLogger(hl7.util.__file__).disabled = True

# Times without an offset are the hospital's wall clock (French senders rarely give one).
PARIS = ZoneInfo("Europe/Paris")
# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ].
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$")
# MLLP framing, should a caller hand it over with the message.
_FRAMING = "\x0b\x1c"
# PID-8 as the INS traits know it: F, M, or I (undetermined: HL7's U "unknown").
_SEXES = {"F": "F", "M": "M", "U": "I", "I": "I"}

Reason = Literal[
    "not_hl7", "bad_msh", "unsupported_event", "missing_segment", "missing_field",
    "missing_ins", "ins_invalid", "ins_key", "ins_mismatch", "bad_identity", "bad_date",
    "unknown_disposition", "too_large"]
# The message itself cannot be taken (AR); the others are about its content (AE). `too_large`
# is the listener's: a message beyond its size bound is refused unread.
_REJECTED: frozenset[Reason] = frozenset({"not_hl7", "bad_msh", "unsupported_event",
                                          "too_large"})


@dataclass(frozen=True)
class Refused:
    """Why a message is not taken: a machine reason and the field it is about, never a value."""
    reason: Reason
    field: str | None = None  # "PID-3", "PV1-36", a segment ("PID"); never the field's content
    control_id: str | None = None  # MSH-10 when it could be read (what the ACK answers)

    @property
    def code(self) -> Literal["AE", "AR"]:
        """The acknowledgement this refusal calls for: AR when the message cannot be taken at
        all (not HL7, bad header, unsupported event), AE when its content is wrong."""
        return "AR" if self.reason in _REJECTED else "AE"

    def text(self, texts: Catalogue, lang: Lang) -> str:
        """The human reason, plain text, from the catalogue handed in (bots/adt/texts.py)."""
        return to_plain(format_html(texts[f"adt.{self.reason}"][lang], field=self.field or ""))


@dataclass(frozen=True)
class Movement:
    """One patient movement as the feed tells it. Identity fields stay out of `repr`: a
    Movement in a log line or a traceback shows the event, never who."""
    event: Event
    control_id: str  # MSH-10: what makes a resent message the same message
    sent_at: datetime  # MSH-7, aware
    sending_application: str  # MSH-3
    sending_facility: str  # MSH-4
    msh: str = field(repr=False)  # the header as received (no patient data): what the ACK answers
    identity: Identity = field(repr=False)  # PID-5/7/8 and the INS (PID-3)
    ins_kind: InsKind = field(repr=False)
    ins_qualified: bool = field(repr=False)  # PID-32 says VALI (mapping.QUALIFIED_STATUS)
    ipp: str | None = field(default=None, repr=False)  # PID-3 with type PI: the hospital's number
    visit: str | None = field(default=None, repr=False)  # PV1-19: the stay's number (NDA)
    ward: str | None = None  # PV1-3.1: the point of care
    planned: bool | None = None  # PV1-2/PV1-4 (mapping.planned); None: the message does not say
    admitted_at: datetime | None = None  # PV1-44
    discharged_at: datetime | None = None  # PV1-45
    discharge_mode: Mode | None = None  # PV1-36 (mapping.DISPOSITIONS); None when not given
    prior_ipp: str | None = field(default=None, repr=False)  # A40: MRG-1, the merged-away number
    prior_ins: str | None = field(default=None, repr=False)  # A40: MRG-1 with the INS OIDs


class _Refuse(Exception):
    """Internal: carries a refusal out of the helpers to `read`."""

    def __init__(self, reason: Reason, where: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.where = reason, where


def read(raw: bytes | str, *, zone: ZoneInfo = PARIS) -> Movement | Refused:
    """The movement `raw` tells, or why it is refused. Never raises."""
    message = _parse(raw)
    if message is None:
        return Refused("not_hl7")
    control_id = _get(message, "MSH", 10) or None
    try:
        return _movement(message, control_id, zone)
    except _Refuse as refusal:
        return Refused(refusal.reason, refusal.where, control_id)


def header(raw: bytes | str) -> str | None:
    """The message's MSH, if it can be read: what an ACK of a refused message answers."""
    message = _parse(raw)
    msh = None if message is None else _segment(message, "MSH")
    return None if msh is None else _header(msh)


def _header(msh: hl7.Segment) -> str:
    """MSH rebuilt from the fields an ACK uses, with the standard delimiters: whatever the
    sender's delimiters or a malformed MSH-9, `create_ack` then has what it reads."""
    def value(number: int, comp: int = 1) -> str:
        return escape(_get(msh, "MSH", number, comp=comp))
    fields = [value(3), value(4), value(5), value(6), value(7), "",
              f"{value(9)}^{value(9, 2)}", value(10), value(11), value(12)]
    return "MSH|^~\\&|" + "|".join(fields)


def escape(text: str) -> str:
    """`text` for a field with the standard delimiters (HL7 §2.7.4). Not the library's
    `escape`: it also writes every non-ASCII character as its code point in hex, unreadable
    in a French text and no byte of UTF-8 or 8859-1 beyond U+00FF."""
    names = {"\\": "E", "|": "F", "~": "R", "^": "S", "&": "T"}
    return "".join(f"\\{names[c]}\\" if c in names else " " if c in "\r\n" else c
                   for c in text)


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        # UTF-8 first; PAM FR senders often use ISO 8859-1 (MSH-18 "8859/1"), which any byte
        # decodes as, so a non-UTF-8 message is read that way.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = raw
    # Segments end with CR; files and some senders use LF or CRLF.
    return text.strip(_FRAMING).replace("\r\n", "\r").replace("\n", "\r")


def _parse(raw: bytes | str) -> hl7.Message | None:
    text = _decode(raw).strip()
    if not text.startswith("MSH") or len(text) < 8 or text[3].isalnum() or text[3].isspace():
        return None
    try:
        message = hl7.parse(text)
    except Exception:  # the library's errors on malformed input are many (ValueError,
        return None    # IndexError, AssertionError…): all mean "not an HL7 message we can read"
    return message if isinstance(message, hl7.Message) else None


def _segment(message: hl7.Message, name: str) -> hl7.Segment | None:
    for segment in message:
        try:
            if str(segment[0][0]) == name:
                return segment
        except IndexError:
            continue
    return None


def _get(where: hl7.Message | hl7.Segment | None, name: str, number: int, rep: int = 1,
         comp: int = 1, sub: int = 1) -> str:
    """Field `number` (1-based, as the standard counts) of segment `name`, unescaped, stripped;
    "" when absent or unreadable."""
    segment = _segment(where, name) if isinstance(where, hl7.Message) else where
    if segment is None:
        return ""
    try:
        value = segment.extract_field(1, number, rep, comp, sub)
    except Exception:  # the library raises IndexError, and others on odd escapes: "absent"
        return ""
    return str(value).strip()


def _repetitions(segment: hl7.Segment, number: int) -> int:
    try:
        found = segment(number) if number < len(segment) else None
    except Exception:
        return 0
    return len(found) if isinstance(found, hl7.Field) else int(found is not None)


def _time(text: str, where: str, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    match = _DTM.match(text)
    if match is None:
        raise _Refuse("bad_date", where)
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        moment = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                          int(minute or 0), int(second or 0))
        if offset is None:
            return moment.replace(tzinfo=zone)
        sign = -1 if offset[0] == "-" else 1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return moment.replace(tzinfo=timezone(sign * delta))
    except ValueError:  # day 31 in April, offset beyond a day: not a time
        raise _Refuse("bad_date", where) from None


def _movement(message: hl7.Message, control_id: str | None, zone: ZoneInfo) -> Movement:
    msh = _segment(message, "MSH")
    if msh is None or control_id is None:
        raise _Refuse("bad_msh", "MSH-10")
    if _get(msh, "MSH", 9, comp=1) != "ADT":
        raise _Refuse("unsupported_event", "MSH-9")
    event = _event(_get(msh, "MSH", 9, comp=2))
    try:
        sent_at = _time(_get(msh, "MSH", 7), "MSH-7", zone)
    except _Refuse:
        raise _Refuse("bad_msh", "MSH-7") from None
    if sent_at is None:
        raise _Refuse("bad_msh", "MSH-7")
    pid = _segment(message, "PID")
    if pid is None:
        raise _Refuse("missing_segment", "PID")
    ins, kind, ipp = _identifiers(pid)
    identity = _identity(pid, ins, sent_at.date())
    qualified = any(_get(pid, "PID", 32, rep=r) == QUALIFIED_STATUS
                    for r in range(1, _repetitions(pid, 32) + 1))
    found = Movement(
        event=event, control_id=control_id, sent_at=sent_at,
        sending_application=_get(msh, "MSH", 3), sending_facility=_get(msh, "MSH", 4),
        msh=_header(msh), identity=identity, ins_kind=kind, ins_qualified=qualified, ipp=ipp)
    pv1 = _segment(message, "PV1")
    if pv1 is None and event not in WITHOUT_VISIT:
        raise _Refuse("missing_segment", "PV1")
    if pv1 is not None:
        found = _visit(found, pv1, zone)
    if event == "A40":
        found = _prior(found, message)
    return found


def _prior(found: Movement, message: hl7.Message) -> Movement:
    """A40: the merged-away patient's identifiers (MRG-1): its INS when one has the NIR or NIA
    OID, and the first other one as its IPP (PAM FR sends the IPP)."""
    mrg = _segment(message, "MRG")
    if mrg is None:
        raise _Refuse("missing_segment", "MRG")
    ins = ipp = None
    for rep in range(1, _repetitions(mrg, 1) + 1):
        value = _get(mrg, "MRG", 1, rep=rep, comp=1)
        if _get(mrg, "MRG", 1, rep=rep, comp=4, sub=2) in INS_OIDS:
            ins = ins or value or None
        else:
            ipp = ipp or value or None
    if ins is None and ipp is None:
        raise _Refuse("missing_field", "MRG-1")
    return replace(found, prior_ins=ins, prior_ipp=ipp)


def _event(code: str) -> Event:
    for event in EVENTS:
        if code == event:
            return event
    raise _Refuse("unsupported_event", "MSH-9")


def _identifiers(pid: hl7.Segment) -> tuple[str, InsKind, str | None]:
    """The INS (PID-3 whose assigning authority is the NIR's or the NIA's OID), its kind, and
    the IPP. An INS that fails its checks refuses the message: a wrong INS would be another
    patient's room."""
    ins: tuple[str, InsKind] | None = None
    ipp = None
    for rep in range(1, _repetitions(pid, 3) + 1):
        value = _get(pid, "PID", 3, rep=rep, comp=1)
        oid = _get(pid, "PID", 3, rep=rep, comp=4, sub=2)
        if oid in INS_OIDS and ins is None and value:
            ins = (value, INS_OIDS[oid])
        elif _get(pid, "PID", 3, rep=rep, comp=5) == IPP_TYPE and value and ipp is None:
            ipp = value
    if ins is None:
        raise _Refuse("missing_ins", "PID-3")
    return ins[0], ins[1], ipp


def _identity(pid: hl7.Segment, ins: str, today: date) -> Identity:
    # PID-5: the birth name (type L in PAM FR) first; PID-5.3 the birth given names when sent,
    # else the first given name (PID-5.2).
    rep = next((r for r in range(1, _repetitions(pid, 5) + 1)
                if _get(pid, "PID", 5, rep=r, comp=7) == "L"), 1)
    family = _get(pid, "PID", 5, rep=rep, comp=1)
    given = _get(pid, "PID", 5, rep=rep, comp=3) or _get(pid, "PID", 5, rep=rep, comp=2)
    if not family or not given:
        raise _Refuse("missing_field", "PID-5")
    birth_text = _get(pid, "PID", 7)
    born = _time(birth_text, "PID-7", PARIS)
    if born is None:
        raise _Refuse("missing_field", "PID-7")
    if len(birth_text) < 8:  # a month or a year is not a birth date the INS traits can hold
        raise _Refuse("bad_date", "PID-7")
    try:
        birth_date = parse_birth_date(born.date().isoformat(), today)
    except IdentityError:
        raise _Refuse("bad_date", "PID-7") from None
    sex = _SEXES.get(_get(pid, "PID", 8).upper())
    if sex is None:
        raise _Refuse("missing_field" if not _get(pid, "PID", 8) else "bad_identity", "PID-8")
    try:
        return make_identity(family, given, birth_date, sex, ins=ins)
    except IdentityError as error:  # its values hold the INS or a name: only the key is kept
        raise _Refuse(*identity_reason(error.key)) from None


def identity_reason(key: str, ins_field: str = "PID-3",
                    name_field: str = "PID-5") -> tuple[Reason, str]:
    """The refusal of an IdentityError's key: the INS's field or the name's (the HL7 fields by
    default; bots/adt/fhir.py names the FHIR elements)."""
    if key == "ins.key":
        return "ins_key", ins_field
    if key.endswith("_mismatch"):
        return "ins_mismatch", ins_field
    if key.startswith("ins."):
        return "ins_invalid", ins_field
    return "bad_identity", name_field


def _visit(found: Movement, pv1: hl7.Segment, zone: ZoneInfo) -> Movement:
    admitted = _time(_get(pv1, "PV1", 44), "PV1-44", zone)
    discharged = _time(_get(pv1, "PV1", 45), "PV1-45", zone)
    if admitted is None and found.event in ADMISSION_TIME_REQUIRED:
        raise _Refuse("missing_field", "PV1-44")
    if discharged is None and found.event in DISCHARGE_TIME_REQUIRED:
        raise _Refuse("missing_field", "PV1-45")
    disposition = _get(pv1, "PV1", 36)
    mode = discharge_mode(disposition) if disposition else None
    if disposition and mode is None:
        raise _Refuse("unknown_disposition", "PV1-36")
    return replace(
        found, ward=_get(pv1, "PV1", 3, comp=1) or None, visit=_get(pv1, "PV1", 19) or None,
        planned=planned(_get(pv1, "PV1", 2), _get(pv1, "PV1", 4)),
        admitted_at=admitted, discharged_at=discharged, discharge_mode=mode)
