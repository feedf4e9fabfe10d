"""What the ADT applier says in rooms (HTML through the runtime's texts). Pure: the rows' event,
control ID, sender and reason, never a field's value or anything of the patient."""

from __future__ import annotations

from collections.abc import Sequence

from bots.adt.models import AdtMessage
from bots.adt.texts import APPLIER, TEXTS
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, join


def reason(lang: Lang, why: str, field: str | None) -> Html:
    """Why a row was set aside: the intake's refusals and the applier's own reasons alike (a
    reason this version has no text for, written by a newer intake, is named as it is)."""
    if f"adt.{why}" not in TEXTS and f"adt.{why}" not in APPLIER:
        return t(lang, "adt.other_reason", reason=why, field=field or "—")
    return t(lang, f"adt.{why}", field=field or "")


def quarantined(lang: Lang, rows: Sequence[AdtMessage]) -> Html:
    return t(lang, "adt.quarantine", items=join([
        t(lang, "adt.quarantine.item", event=row.event or "?", control_id=row.control_id,
          sender=row.sender, reason=reason(lang, row.reason or "failed", row.field))
        for row in rows]))
