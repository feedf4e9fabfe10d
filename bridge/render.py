"""A received mail as room messages: a notice that shows it (sender, subject, date, its text or
cleaned HTML, the list of its files) then one encrypted file message per document. And the
reports the coordination room gets (triage, quarantine). Pure: contents out, no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, attachment, escape, join, notice
from bridge.inbound import InboundMail
from bridge.xdm import Document

XDM_PREFIX = "XDM/1.0/DDM+"  # clients hide it (BRIEF §5)


def subject_of(subject: str) -> str:
    return subject.removeprefix(XDM_PREFIX).strip()


def _when(value: datetime | None, zone: ZoneInfo, lang: Lang) -> str:
    if value is None:
        return "?"
    local = value.astimezone(zone)
    return local.strftime("%d/%m/%Y %H:%M") if lang == "fr" else local.strftime("%Y-%m-%d %H:%M")


def _body(mail: InboundMail) -> Html:
    if mail.html:
        return Html(mail.html)  # cleaned by bridge.inbound.clean_html
    return Html(f"<p>{'<br>'.join(escape(line) for line in mail.text.strip().splitlines())}</p>")


def mail_messages(mail: InboundMail, zone: ZoneInfo, lang: Lang) -> list[dict[str, Any]]:
    files = t(lang, "mss.files", files=join([t(lang, "mss.file", title=f.title, name=f.filename)
                                             for f in mail.files])) if mail.files else ""
    head = notice(t(lang, "mss.mail", name=mail.sender_name or mail.sender,
                    address=mail.sender, date=_when(mail.date, zone, lang),
                    subject=subject_of(mail.subject), body=_body(mail), files=files))
    return [head, *(file_message(f) for f in mail.files)]


def file_message(doc: Document) -> dict[str, Any]:
    kind = "m.image" if doc.mimetype.startswith("image/") else "m.file"
    return attachment(doc.filename, doc.data, doc.mimetype, msgtype=kind)


def triage_notice(row_id: int, mail: InboundMail, zone: ZoneInfo, lang: Lang) -> dict[str, Any]:
    return notice(t(lang, "mss.triage", id=row_id, name=mail.sender_name or mail.sender,
                    address=mail.sender, subject=subject_of(mail.subject),
                    date=_when(mail.date, zone, lang)))


def quarantine_notice(row_id: int, reason: str, sender: str | None, subject: str | None,
                      folder: str, lang: Lang) -> dict[str, Any]:
    return notice(t(lang, "mss.quarantined", id=row_id, why=t(lang, f"mss.why.{reason}"),
                    sender=sender or t(lang, "mss.unknown_sender"),
                    subject=subject_of(subject or ""), folder=folder))
