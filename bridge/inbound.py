"""A received mail, read for a room: who sent it, about what, its text made safe, its files (an
XDM package unpacked into its documents). Pure: the raw bytes in, an `InboundMail` out, or
`Unreadable` with the reason the mail goes to quarantine (never lost, never half-posted).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import message_from_bytes, policy
from email.errors import HeaderDefect, MessageDefect
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape

import nh3

from bridge.cleaning import file_name, one_line
from bridge.xdm import Document, Package, Unreadable, ZipLimits, is_package, read_package

# What a room may show of an HTML mail: structure and emphasis, links; never scripts, styles,
# images (remote images are trackers; inline ones come as files) or forms.
ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "ul", "ol", "li", "blockquote",
                "pre", "code", "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3",
                "h4", "h5", "h6", "a", "hr", "span", "div", "sub", "sup"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
_ID = re.compile(r"<[^<>\s]+>")
# The header section (everything before the first empty line) a mail may have, and one header
# field of it (folded lines included). Real mail, with its trace headers and DKIM signatures,
# stays under 16 KiB in all; Python's header parser is quadratic in a field's length (an 800 kB
# subject took 15 s, a 62 kB display name 2 s), so beyond these the mail is not parsed.
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_FIELD = 16 * 1024
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"\n(?![ \t])")


@dataclass(frozen=True)
class Limits:
    max_message: int = 25 * 1024 * 1024  # the patient space's cap (BRIEF §5); operators vary
    max_attachments: int = 50
    # Bytes of files one mail may bring once decoded and unpacked (they are sealed into the
    # outbox in one transaction); its XDM package counts against it.
    max_unpacked: int = 50 * 1024 * 1024
    zip: ZipLimits = field(default_factory=ZipLimits)


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    digest: str  # content_digest: the Message-ID of a mail without one (the row keeps it keyed)
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


def header_section(raw: bytes) -> bytes:
    """The mail's headers: up to its first empty line (all of it if there is none)."""
    end = _END_OF_HEADERS.search(raw)
    return raw[:end.start()] if end else raw


def check_headers(raw: bytes) -> None:
    """Refuse, before any parsing, headers too long to parse in reasonable time."""
    head = header_section(raw)
    if len(head) > MAX_HEADER_BYTES:
        raise Unreadable("oversize_headers", f"{len(head)} bytes of headers")
    longest = max(map(len, _FIELD_START.split(head)))
    if longest > MAX_HEADER_FIELD:
        raise Unreadable("oversize_headers", f"a header field of {longest} bytes")


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_ID.findall(value or ""))


def fallback_message_id(digest: str) -> str:
    """The Message-ID a mail without a usable one is known by: its content's."""
    return f"<{digest}@liaison.invalid>"


def stored_message_id(raw: bytes, digest: str) -> str:
    """The Message-ID a mail is stored under: its own, else `fallback_message_id(digest)`."""
    try:  # compat32 reads headers as they are: linear, and raises on nothing we know of
        found = message_ids(str(BytesHeaderParser(policy=policy.compat32).parsebytes(
            header_section(raw)).get("Message-ID", "")))
    except Exception:  # noqa: BLE001 - any header the parser chokes on: the content decides
        found = ()
    first = next(iter(found), "")
    return first if first and len(first) <= 250 else fallback_message_id(digest)


def single_address(msg: Message, header: str) -> tuple[str, str] | None:
    """The one address of an address header (display name cleaned, address lowercase); None if
    there is none, several, or the header cannot be read (hostile quoting, an encoded CR,
    thousands of nested comments all make the email package raise)."""
    try:
        raw = msg.get(header)
        if raw is None:
            return None
        found = [(name, addr) for name, addr in getaddresses([str(raw)]) if "@" in addr]
    except Exception:  # noqa: BLE001 - whatever a hostile header makes the parser raise
        return None
    if len(found) != 1 or one_line(found[0][1]) != found[0][1]:
        return None
    return one_line(found[0][0]), found[0][1].lower()


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


_SUBTYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,30}")


def _filename(part: Message, n: int) -> str:
    # The fallback's extension comes from the sender's Content-Type: a token, or none at all
    # (`/\x1b` would put a control character into the name shown in the room).
    subtype = part.get_content_subtype()
    extension = "txt" if subtype == "plain" else subtype if _SUBTYPE.fullmatch(subtype) else "bin"
    return file_name(part.get_filename() or "", f"piece-{n}.{extension}")


def parse(raw: bytes, limits: Limits = Limits()) -> InboundMail:
    """The mail read, or `Unreadable`: never another exception, whatever the bytes (the email
    package raises IndexError, ValueError, RecursionError… on hostile headers). CPU-bound: the
    bridge runs it in a worker thread."""
    if len(raw) > limits.max_message:
        raise Unreadable("oversize", f"{len(raw)} bytes")
    check_headers(raw)
    try:
        return _parse(raw, limits)
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - a mail the email package chokes on is malformed
        raise Unreadable("broken_mime", exc.__class__.__name__) from None


def _parse(raw: bytes, limits: Limits) -> InboundMail:
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
    except Exception:  # noqa: BLE001 - a date that cannot be read is shown as unknown
        date = None
    digest = content_digest(raw)
    message_id = next(iter(message_ids(msg.get("Message-ID"))), "")
    if not message_id or len(message_id) > 250:  # none, or too long to index: the content's
        message_id = fallback_message_id(digest)

    body = msg.get_body(preferencelist=("plain", "html"))
    html_part = msg.get_body(preferencelist=("html",))
    text = _text(body) if body is not None else ""
    html = clean_html(_text(html_part)) if html_part is not None else None
    if body is not None and body.get_content_subtype() == "html":
        text = html_to_text(html or "")
    files: list[Document] = []
    package: Package | None = None
    unpacked = 0
    bodies = {id(body), id(html_part)}
    for n, part in enumerate((p for p in msg.walk() if not p.is_multipart()
                              and id(p) not in bodies), 1):
        if n > limits.max_attachments:
            raise Unreadable("oversize", f"more than {limits.max_attachments} attachments")
        data = part.get_payload(decode=True) or b""
        name = _filename(part, n)
        if is_package(name, data):
            if package is not None:  # one patient per message (BRIEF §5)
                raise Unreadable("several_xdm", "more than one IHE XDM package")
            budget = limits.max_unpacked - unpacked  # the package unpacks within what is left
            package = read_package(data, replace(limits.zip, max_total=min(
                limits.zip.max_total, max(budget, 0))))
            files.extend(package.documents)
            unpacked += sum(len(d.data) for d in package.documents)
        else:
            files.append(Document(name, name, part.get_content_type(), data))
            unpacked += len(data)
        if unpacked > limits.max_unpacked:
            raise Unreadable("oversize", f"more than {limits.max_unpacked} bytes of files")
    mdn = single_address(msg, "Disposition-Notification-To")
    return_path = single_address(msg, "Return-Path")
    return InboundMail(
        message_id=message_id, digest=digest, sender=sender[1], sender_name=sender[0],
        return_path=return_path[1] if return_path else None,
        subject=one_line(str(msg.get("Subject") or "")), date=date, text=text, html=html,
        files=tuple(files), in_reply_to=message_ids(msg.get("In-Reply-To")),
        references=message_ids(msg.get("References")), mdn_to=mdn[1] if mdn else None,
        package=package)


# --- what a mail that cannot be read still says --------------------------------------------

def _headers(raw: bytes | None) -> Message | None:
    """The headers of a mail as far as they can be read (it may be broken: quarantined); none
    beyond the bound that makes parsing them slow."""
    head = header_section(raw or b"")
    if not head or len(head) > MAX_HEADER_BYTES:
        return None
    try:
        return BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n")
    except Exception:  # noqa: BLE001 - a mail broken enough to be quarantined
        return None


def _header(headers: Message, name: str) -> str | None:
    """One header's value on one line; None if absent or unreadable (the default policy parses
    a header when it is read, and raises on hostile ones)."""
    try:
        return one_line(str(headers.get(name) or "")) or None
    except Exception:  # noqa: BLE001 - a hostile header tells nothing
        return None


def facts(raw: bytes | None) -> tuple[str | None, str | None]:
    """Sender and subject of a quarantined mail for its report, as far as they can be read."""
    headers = _headers(raw)
    if headers is None:
        return None, None
    return _header(headers, "From"), _header(headers, "Subject")


def lenient(raw: bytes, message_id: str) -> InboundMail | None:
    """What a mail that could not be read says of itself, enough for an error receipt."""
    headers = _headers(raw)
    sender = single_address(headers, "From") if headers is not None else None
    if headers is None or sender is None:
        return None
    mdn, path = (single_address(headers, h) for h in ("Disposition-Notification-To",
                                                       "Return-Path"))
    return InboundMail(
        message_id=message_id, digest="", sender=sender[1], sender_name=sender[0],
        return_path=path[1] if path else None, subject=_header(headers, "Subject") or "",
        date=None, text="", html=None, files=(), mdn_to=mdn[1] if mdn else None)
