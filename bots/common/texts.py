"""Texts of the shared code (fr first, en)."""

from __future__ import annotations

from bots.runtime.i18n import Lang

TEXTS: dict[str, dict[Lang, str]] = {
    "date.bad": {
        "fr": "Date « {value} » incomprise : JJ/MM/AAAA, JJ/MM, AAAA-MM-JJ, demain ou J+n.",
        "en": "Date \u201c{value}\u201d not understood: DD/MM/YYYY, DD/MM, YYYY-MM-DD, tomorrow "
              "or J+n.",
    },
}
