"""Who may do what, in one place: the one lookup of a caller's role (and kind of room) in the
care-team bot's records, used by every bot and the bridge, and the one check that commands and
reactions go through, whose refusal names the roles that may (as mautrix-python's
`CommandHandler.get_permission_error` does). A page outside any room (the dashboard) asks the
same check of the user's standing in each of their rooms (`standing`, `check_anywhere`), and
finds the patient rooms it shows them here (`patient_rooms`).

The permission itself is declared next to its command (`Roles.permission(capability, kinds)`,
capabilities in bots/common/capabilities.py); the runtime checks commands with `check` before
their handler runs, and a bot that acts on reactions calls the same `check`.
"""

from __future__ import annotations

from dataclasses import replace

from bots.common import records
from bots.common.models import CareRoom
from bots.runtime.bot import CallerResolver
from bots.runtime.commands import Caller, Permission
from bots.runtime.i18n import Lang, Refusal, t
from bots.runtime.notice import Html, format_html
from bots.runtime.store import Transaction


async def resolve(tx: Transaction, caller: Caller, account: str | None = None) -> Caller:
    """The caller with their role and the kind of room, from the care-team bot's records
    (`account`: that bot's, when another account asks; the transaction's by default)."""
    kind, role = await records.role_in(tx, caller.room_id, caller.user_id, account)
    return replace(caller, room_kind=kind, role=role)


def resolver(account: str | None = None) -> CallerResolver:
    """`resolve` as a bot's `resolve_caller`."""
    async def resolve_caller(tx: Transaction, caller: Caller) -> Caller:
        return await resolve(tx, caller, account)
    return resolve_caller


class Forbidden(Refusal):
    """A refusal whose text (`key`, with `{needed}`) ends with what would have been needed."""

    def __init__(self, key: str, permission: Permission, caller: Caller,
                 **values: object) -> None:
        super().__init__(key, **values)
        self.permission, self.caller = permission, caller

    def needed(self, lang: Lang) -> Html:
        p, caller = self.permission, self.caller
        if p.room_kinds and caller.room_kind not in p.room_kinds:
            kinds = ", ".join(str(t(lang, f"perm.kind.{k}")) for k in p.room_kinds)
            return format_html(" {text}", text=t(lang, "perm.room_kinds", kinds=kinds))
        if p.roles:
            role = caller.role or t(lang, "perm.no_role")
            return format_html(" {text}", text=t(lang, "perm.roles", roles=", ".join(p.roles),
                                                 role=role))
        return Html("")

    def text(self, lang: Lang) -> Html:
        return t(lang, self.key, needed=self.needed(lang), **self.values)


async def standing(tx: Transaction, user_id: str, account: str | None = None) -> list[Caller]:
    """The user as a caller in each open room whose team has them, with their role there. No
    power level: outside the room it is not known, so the room-admin fallback
    (`roles.ADMIN_POWER`) never applies here."""
    return [Caller(user_id, room_id, 0, role=role, room_kind=kind)
            for room_id, kind, role in await records.standings(tx, user_id, account)]


# A patient room's statuses in which its team still sees it from the dashboard: a closed room
# keeps its team (read only) and its patient's identity until the retention ends.
SEEN_FROM_DASHBOARD = ("open", "closing", "closed")


async def patient_rooms(tx: Transaction, user_id: str) -> list[CareRoom]:
    """The patient rooms a person may see on the dashboard: those whose team has them (asked
    present), open or closed — never expired ones, nor another team's, coordinator or not."""
    return await records.patient_rooms_of(tx, user_id, SEEN_FROM_DASHBOARD)


def check_anywhere(permission: Permission, user_id: str, callers: list[Caller],
                   key: str, **values: object) -> Forbidden | None:
    """None when the permission holds in at least one of the user's rooms (`callers`, from
    `standing`); otherwise the refusal, naming the roles that may and the roles the user holds."""
    if any(permission.allows(caller) for caller in callers):
        return None
    held = ", ".join(sorted({c.role for c in callers if c.role})) or None
    # Any kind of room would do: the refusal is about the roles only.
    return Forbidden(key, replace(permission, room_kinds=()), Caller(user_id, "", 0, role=held),
                     **values)


def check(permission: Permission, caller: Caller, key: str = "cmd.forbidden",
          **values: object) -> Forbidden | None:
    """None when the caller may; otherwise the refusal to answer (`key` says what was refused,
    e.g. `cmd.forbidden` with the command's `usage`)."""
    return None if permission.allows(caller) else Forbidden(key, permission, caller, **values)
