"""A received mail, read for a room: who sent it, about what, its text made safe, its files (an
XDM package unpacked into its documents). Pure: the raw bytes in, an `InboundMail` out, or
`Unreadable` with the reason the mail goes to quarantine (never lost, never half-posted).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.errors import HeaderDefect, MessageDefect
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape

import nh3

from bridge.xdm import Document, Package, Unreadable, ZipLimits, is_package, read_package

# What a room may show of an HTML mail: structure and emphasis, links; never scripts, styles,
# images (remote images are trackers; inline ones come as files) or forms.
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "blockquote",
                "pre", "code", "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3",
                "h4", "h5", "h6", "a", "hr", "span", "div", "sub", "sup"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Limits:
    max_message: int = 25 * 1024 * 1024  # the patient space's cap (BRIEF §5); operators vary
    max_attachments: int = 50
    zip: ZipLimits = field(default_factory=ZipLimits)


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    digest: str  # sha256 of the raw bytes: dedupe when the Message-ID is missing or reused
    sender: str  # address, lowercase
    sender_name: str
    return_path: str | None
    subject: str
    date: datetime | None
    text: str
    html: str | None  # cleaned
    files: tuple[Document, ...]
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    mdn_to: str | None = None  # Disposition-Notification-To: a read receipt is asked for
    package: Package | None = None  # the XDM package, if one came

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The mails this one answers, nearest first."""
        return tuple(dict.fromkeys((*self.in_reply_to, *reversed(self.references))))


# Headers a server adds on the way: a copy of the same mail delivered again differs only there.
_TRACE = (b"received:", b"return-path:", b"delivered-to:", b"x-original-to:")


def content_digest(raw: bytes) -> str:
    """SHA-256 of the mail without its trace headers: the same mail stored twice (a second
    delivery, a folder re-synced) has the same digest; a different mail reusing a Message-ID
    does not."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    kept, skipping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the previous header
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(_TRACE)
        if not skipping:
            kept.append(line)
    return hashlib.sha256(b"".join(kept) + sep + body).hexdigest()


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_ID.findall(value or ""))


def single_address(msg: Message, header: str) -> tuple[str, str] | None:
    raw = msg.get(header)
    if raw is None:
        return None
    found = [(name, addr) for name, addr in getaddresses([str(raw)]) if "@" in addr]
    return (found[0][0], found[0][1].lower()) if len(found) == 1 else None


def _defects(msg: Message) -> list[MessageDefect]:
    """Structural defects (broken boundaries, bad base64…): every one sends the mail to
    quarantine. Header defects are tolerated: real mail is full of them."""
    return [d for part in msg.walk() for d in part.defects if not isinstance(d, HeaderDefect)]


def _text(part: Message) -> str:
    """A text part decoded strictly: an unknown or lying charset is a reason for quarantine."""
    payload = part.get_payload(decode=True)
    charset = part.get_content_charset() or "us-ascii"
    try:
        return (payload or b"").decode(charset).replace("\r\n", "\n")
    except (LookupError, UnicodeDecodeError) as exc:
        raise Unreadable("charset", f"{charset}: {exc.__class__.__name__}") from None


def clean_html(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def html_to_text(html: str) -> str:
    text = nh3.clean(re.sub(r"(?i)<br\s*/?>|</p>|</li>|</tr>|</h\d>", "\n", html), tags=set())
    return re.sub(r"\n{3,}", "\n\n", unescape(text)).strip()


def _filename(part: Message, n: int) -> str:
    name = part.get_filename() or ""
    name = re.sub(r"[\x00-\x1f/\\]", "_", name).strip(". ")[:120]
    if name:
        return name
    subtype = part.get_content_subtype()
    return f"piece-{n}.{'txt' if subtype == 'plain' else subtype}"


def parse(raw: bytes, limits: Limits = Limits()) -> InboundMail:
    if len(raw) > limits.max_message:
        raise Unreadable("oversize", f"{len(raw)} bytes")
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    defects = _defects(msg)
    if defects:
        raise Unreadable("broken_mime", defects[0].__class__.__name__)
    sender = single_address(msg, "From")
    if sender is None:
        raise Unreadable("broken_mime", "no single From address")
    try:
        date = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    except (TypeError, ValueError):
        date = None
    digest = content_digest(raw)
    message_id = next(iter(message_ids(msg.get("Message-ID"))), "")
    if not message_id or len(message_id) > 250:  # none, or too long to index: the content's
        message_id = f"<{digest}@liaison.invalid>"

    body = msg.get_body(preferencelist=("plain", "html"))
    html_part = msg.get_body(preferencelist=("html",))
    text = _text(body) if body is not None else ""
    html = clean_html(_text(html_part)) if html_part is not None else None
    if body is not None and body.get_content_subtype() == "html":
        text = html_to_text(html or "")
    files, package = [], None
    bodies = {id(body), id(html_part)}
    for n, part in enumerate((p for p in msg.walk() if not p.is_multipart()
                              and id(p) not in bodies), 1):
        if n > limits.max_attachments:
            raise Unreadable("oversize", f"more than {limits.max_attachments} attachments")
        data = part.get_payload(decode=True) or b""
        name = _filename(part, n)
        if is_package(name, data):
            package = read_package(data, limits.zip)
            files.extend(package.documents)
        else:
            files.append(Document(name, name, part.get_content_type(), data))
    mdn = single_address(msg, "Disposition-Notification-To")
    return_path = single_address(msg, "Return-Path")
    return InboundMail(
        message_id=message_id, digest=digest, sender=sender[1], sender_name=sender[0],
        return_path=return_path[1] if return_path else None,
        subject=str(msg.get("Subject") or ""), date=date, text=text, html=html,
        files=tuple(files), in_reply_to=message_ids(msg.get("In-Reply-To")),
        references=message_ids(msg.get("References")), mdn_to=mdn[1] if mdn else None,
        package=package)
