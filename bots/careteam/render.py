"""The care-team bot's messages, built from texts.py. Pure: values in, escaped HTML out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bots.common.identity import Identity
from bots.common.roles import Roles
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, format_html, join


@dataclass(frozen=True)
class TeamLine:
    user_id: str
    role: str | None
    state: str  # pending | invited | joined | left


def _date(lang: Lang, value: date | None) -> str:
    if value is None:
        return t(lang, "patient.unknown")
    return value.strftime("%d/%m/%Y") if lang == "fr" else value.isoformat()


def card(lang: Lang, *, ref: str, identity: Identity, admission: date | None, ward: str | None,
         status: str) -> Html:
    unknown = t(lang, "patient.unknown")
    return t(lang, "patient.card", ref=ref, family=identity.family_name,
             given=identity.given_names, birth=_date(lang, identity.birth_date),
             sex=t(lang, f"patient.sex.{identity.sex}"), ins=identity.ins_display() or unknown,
             place=identity.birth_place or unknown, ward=ward or unknown,
             admission=_date(lang, admission), status=t(lang, f"patient.status.{status}"))


def role_label(lang: Lang, roles: Roles, code: str | None) -> str:
    role = roles.get(code)
    return f"{role.label(lang)} ({role.code})" if role else t(lang, "patient.no_role")


def team_list(lang: Lang, roles: Roles, lines: Sequence[TeamLine]) -> Html:
    items = [format_html("<li>{line}</li>", line=t(
        lang, "team.line", user=line.user_id, role=role_label(lang, roles, line.role),
        state=t(lang, f"team.state.{line.state}"))) for line in lines]
    return format_html("{title}<ul>{items}</ul>", title=t(lang, "team.title"), items=join(items))


def team_inline(lines: Sequence[TeamLine]) -> str:
    return ", ".join(f"{line.user_id} ({line.role or '?'})" for line in lines) or "—"


def roles_list(lang: Lang, roles: Roles) -> Html:
    items = [format_html("<li><code>{code}</code> — {label} : {may}</li>", code=r.code,
                         label=r.label(lang), may=", ".join(sorted(r.may)) or "—")
             for r in roles.by_code.values()]
    return t(lang, "team.roles", items=join(items))
