"""Read receipts (MDN, RFC 8098) the bridge sends for mail it bridged, and the delivery and read
reports (DSN RFC 3464, MDN) that come back for mail it sent. Pure."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

from bridge.inbound import InboundMail, message_ids


def wants_receipt(mail: InboundMail) -> bool:
    """A receipt is asked for, and to the sender itself: no automatic MDN when
    Disposition-Notification-To differs from Return-Path (BRIEF §5, anti-loop rule)."""
    return mail.mdn_to is not None and mail.mdn_to == mail.return_path


def receipt(mail: InboundMail, *, mailbox: str, message_id: str, product: str,
            error: tuple[str, str] | None = None) -> MIMEMultipart:
    """The MDN for `mail`: processed, or processed/Error with a code and label when the mail
    could not be integrated."""
    assert mail.mdn_to is not None
    disposition = "automatic-action/MDN-sent-automatically; processed"
    if error is not None:
        # The notification's fields are US-ASCII (RFC 8098): accents dropped from the label.
        label = unicodedata.normalize("NFKD", error[1]).encode("ascii", "ignore").decode()
        disposition += f"/Error: {error[0]}^{label}"
    msg = MIMEMultipart("report", report_type="disposition-notification")
    msg["From"] = mailbox
    msg["To"] = mail.mdn_to
    msg["Subject"] = f"Accusé de lecture : {mail.subject}"[:200]
    msg["Message-ID"] = message_id
    msg["Date"] = formatdate()
    msg["In-Reply-To"] = mail.message_id
    msg["References"] = mail.message_id
    msg["Auto-Submitted"] = "auto-replied"  # never answered automatically in turn
    msg["X-MSS-NIL"] = product
    human = "Le message a été intégré au dossier de coordination." if error is None \
        else f"Le message n'a pas pu être intégré : {error[1]}."
    msg.attach(MIMEText(human, "plain", "utf-8"))
    notification = MIMEBase("message", "disposition-notification")
    notification.set_payload(
        f"Reporting-UA: {product}\r\nFinal-Recipient: rfc822;{mailbox}\r\n"
        f"Original-Message-ID: {mail.message_id}\r\nDisposition: {disposition}\r\n")
    msg.attach(notification)
    return msg


@dataclass(frozen=True)
class Report:
    """A DSN or MDN about a mail the bridge sent."""

    kind: str  # "delivery" | "read"
    original: str  # the Message-ID of the mail it is about
    status: str  # delivery: failed | delayed | delivered | relayed | expanded; read: the
    # disposition type (displayed, processed, deleted…) or "error"


def report_of(raw: bytes) -> Report | None:
    """A delivery or read report about one of our mails, if `raw` is one (multipart/report)."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return None
    status, original = None, None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/disposition-notification":
            fields = _fields(part)
            original = next(iter(message_ids(fields.get("original-message-id"))), None)
            disposition = fields.get("disposition", "").rpartition(";")[2].strip()
            status = "error" if "/error" in disposition.lower() else disposition.split("/")[0]
            return Report("read", original, status or "processed") if original else None
        if ctype == "message/delivery-status":
            status = _fields(part).get("action", "failed").lower()
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            original = next(iter(message_ids(_fields(part).get("message-id"))), original)
    if status is None or original is None:
        return None
    return Report("delivery", original, status)


def _fields(part: Message) -> dict[str, str]:
    """The `Name: value` lines of a report part, first occurrence wins, names lowercase."""
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parts come parsed into header blocks
        text = "\n".join(line for p in payload for k, v in p.items() for line in [f"{k}: {v}"])
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip() and not name.startswith((" ", "\t")):
            fields.setdefault(name.strip().lower(), value.strip())
    return fields
