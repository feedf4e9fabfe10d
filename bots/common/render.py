"""Rendering helpers the bots share: a date or time as a room shows it, a link to a room. Pure."""

from __future__ import annotations

import urllib.parse
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bots.runtime.i18n import Lang


def room_link(room_id: str) -> str:
    return f"https://matrix.to/#/{urllib.parse.quote(room_id, safe='!:')}"


def when(lang: Lang, value: datetime | date, zone: ZoneInfo | None = None) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(zone) if zone else value
        return local.strftime("%d/%m %H:%M") if lang == "fr" else local.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%d/%m/%Y") if lang == "fr" else value.isoformat()
