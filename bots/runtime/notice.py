"""Building the bots' messages: HTML from trusted templates with every value escaped.

Templates are written by us (HTML); values come from users or patients and are always escaped.
The plain `body` is the same text without tags, so both forms always say the same thing.
"""

from __future__ import annotations

import base64
import html
import re
import urllib.parse
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>|</li>|</h\d>|</tr>")


class Html(str):
    """Already-safe HTML: not escaped again when used as a value."""


def escape(value: Any) -> Html:
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def format_html(template: str, /, **values: Any) -> Html:
    return Html(template.format(**{k: escape(v) for k, v in values.items()}))


def join(parts: list[Html], sep: str = "") -> Html:
    return Html(sep.join(escape(p) for p in parts))


def to_plain(markup: str) -> str:
    text = _BREAK.sub("\n", markup)
    text = text.replace("<li>", "• ")
    return html.unescape(_TAG.sub("", text)).strip()


def pill(user_id: str) -> Html:
    """A mention as Element shows it (the user must also be listed in `m.mentions`)."""
    quoted = urllib.parse.quote(user_id, safe="@:")
    return format_html('<a href="https://matrix.to/#/{url}">{user}</a>', url=quoted, user=user_id)


def edit(markup: Html) -> dict[str, Any]:
    """A replacement (m.replace) of an earlier notice, with no new mentions. The sender fills in
    the edited event's ID (Transaction.post(refers_to=...))."""
    new = notice(markup)
    return {**new, "body": f"* {new['body']}", "formatted_body": f"* {new['formatted_body']}",
            "m.new_content": new, "m.relates_to": {"rel_type": "m.replace", "event_id": None}}


def notice(markup: Html, *, mentions: list[str] | None = None,
           reply_to: str | None = None) -> dict[str, Any]:
    """An m.notice with its HTML; `m.mentions` is always set, so no one is pinged by accident
    (intentional mentions, MSC3952)."""
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": to_plain(markup),
        "format": "org.matrix.custom.html",
        "formatted_body": str(markup),
        "m.mentions": {"user_ids": sorted(set(mentions or []))},
    }
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


# Where a file to upload waits in an outbox row (sealed like the rest); the sender uploads it,
# encrypted and without a file name, and puts the resulting `file` in its place.
UPLOAD_KEY = "fr.liaison.upload"


def attachment(name: str, data: bytes, mimetype: str, *, msgtype: str = "m.file",
               **info: Any) -> dict[str, Any]:
    """A file message (m.file, or m.image with `w`/`h` in `info`) carrying `data`, uploaded by
    the sender when it is sent."""
    return {
        "msgtype": msgtype, "body": name, "filename": name,
        "info": {"mimetype": mimetype, "size": len(data), **info},
        UPLOAD_KEY: base64.b64encode(data).decode(),
    }
