"""Building the bots' messages: HTML from trusted templates with every value escaped.

Templates are written by us (HTML); values come from users or patients and are always escaped.
The plain `body` is the same text without tags, so both forms always say the same thing.
"""

from __future__ import annotations

import html
import re
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
