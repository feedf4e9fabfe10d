"""A mail the room sends: built from the Matrix event that asked for it, so a retry always sends
the very same mail (Message-ID, Date and boundaries derive from the event). Pure.

Threading: In-Reply-To / References of the mail answered. Subject: the room's pseudonymous
reference and its tag first (`[P-2026-00042-K7QF2M4X] …`, bridge.routing), so the answer comes
back to the room. With an IHE XDM
package (BRIEF §5): the documents zipped with METADATA.XML naming the patient's INS, the
MSSanté subject form `XDM/1.0/DDM+<title> <NOM> <prénom> <birth date>` and the `X-MSS-*` headers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from bridge.cleaning import file_name, header_text
from bridge.trustlist import TrustList
from bridge.xdm import XDM_NAME, Document, build_package


@dataclass(frozen=True)
class Patient:
    """Who an XDM package is about (it travels inside the trust space only)."""

    ins: str
    qualified: bool  # an INS checked against the national service (X-MSS-INS: O)
    family_name: str
    given_names: str
    birth_date: date


@dataclass(frozen=True)
class Outgoing:
    event_id: str  # the Matrix event that asked for it
    sent_at: datetime  # that event's time (aware)
    mailbox: str  # our address
    to: tuple[str, ...]
    ref: str  # the room's pseudonymous reference, tagged
    subject: str
    text: str
    files: tuple[Document, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    patient: Patient | None = None  # set: the files go as an IHE XDM package
    author: str = ""  # the clinician who sent it (XDM authorPerson)


def message_id_for(event_id: str, mailbox: str) -> str:
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:40]
    return f"<{digest}@{mailbox.rpartition('@')[2]}>"


def untrusted(addresses: Sequence[str], trust: TrustList) -> list[str]:
    return [a for a in addresses if not trust.allows(a)]


def subject_of(out: Outgoing) -> str:
    """One line whatever was typed or inherited (a CR, U+2028… would break the header)."""
    subject = f"[{out.ref}] {out.subject}"
    if out.patient is not None:
        p = out.patient
        subject = f"XDM/1.0/DDM+{subject} {p.family_name} {p.given_names} " \
                  f"{p.birth_date:%d/%m/%Y}"
    return header_text(subject)


_MIMETYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+", re.ASCII)
# A Message-ID as RFC 5322 writes it (printable ASCII), with no encoded word: those in the
# References of a mail answered come from its sender.
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")


def _safe(doc: Document, n: int) -> Document:
    """A room's file as it may go into headers and a zip: its name and title one line (the
    name without directories), its type a plain `type/subtype`."""
    name = header_text(file_name(doc.filename, f"document-{n}"))
    mimetype = doc.mimetype if _MIMETYPE.fullmatch(doc.mimetype) else "application/octet-stream"
    return replace(doc, title=header_text(doc.title) or name, filename=name, mimetype=mimetype)


def _thread_ids(ids: Sequence[str]) -> list[str]:
    return [i for i in dict.fromkeys(ids) if _MESSAGE_ID.fullmatch(i) and "=?" not in i]


# CRLF for SMTP; headers folded only past RFC 5322's 998 characters: Python folds the MSSanté
# subject form before its first word, which readers then show with a leading space.
POLICY = policy.SMTP.clone(max_line_length=998)


def compose(out: Outgoing, *, product: str) -> EmailMessage:
    message_id = message_id_for(out.event_id, out.mailbox)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = out.mailbox
    msg["To"] = ", ".join(out.to)
    msg["Subject"] = subject_of(out)
    msg["Date"] = format_datetime(out.sent_at)
    msg["Message-ID"] = message_id
    if out.in_reply_to and _thread_ids([out.in_reply_to]):
        msg["In-Reply-To"] = out.in_reply_to
        msg["References"] = " ".join(_thread_ids((*out.references, out.in_reply_to)))
    msg["X-MSS-NIL"] = product  # the software's reference, on every mail
    # A lone surrogate (JSON allows one) has no UTF-8 form: replaced rather than refused.
    msg.set_content(out.text.encode("utf-8", "replace").decode(), charset="utf-8")
    files = tuple(_safe(doc, n) for n, doc in enumerate(out.files, 1))
    if out.patient is not None and files:
        msg["X-MSS-INS"] = "O" if out.patient.qualified else "N"
        cda = [d for d in files if d.mimetype in ("text/xml", "application/xml")
               and d.filename.lower().endswith(".xml")]
        if cda:
            msg["X-MSS-CODECDA"] = ",".join(d.title for d in cda)[:200]
        package = build_package(files, out.patient.ins, out.author or out.mailbox, out.sent_at,
                                product)
        # The PDF copies travel beside the package, for readers without an XDM viewer.
        files = (*[d for d in files if d.mimetype == "application/pdf"],
                 Document(XDM_NAME, XDM_NAME, "application/zip", package))
    for doc in files:
        maintype, _, subtype = doc.mimetype.partition("/")
        msg.add_attachment(doc.data, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=doc.filename)
    # Fixed boundaries: the same event gives the same bytes, however often it is retried.
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_liaison_{message_id.strip('<>').split('@')[0][:24]}_{n}")
    return msg
