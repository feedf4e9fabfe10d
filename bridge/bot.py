"""The MSSanté bridge as a bot of the runtime (`bots: [mssante]` on an account of its own, run by
`liaison bridge`): the mailbox watcher and the sending worker are its services; `!mss envoyer`,
`!mss repondre` (patient rooms) and `!mss router` (coordination room) its commands. It works in
the care-team bot's rooms (`mssante.careteam_account`), which invites it there
(`careteam.companions`); who may do what comes from that bot's teams and roles."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from zoneinfo import ZoneInfo

from bots.careteam.roles import COORDINATION, PATIENT, Roles
from bots.config import Config, ConfigError
from bots.runtime.bot import Bot, CommandContext
from bots.runtime.commands import Arg, Caller, Command, Permission, as_int, described
from bots.runtime.i18n import t
from bots.runtime.store import Transaction
from bridge import rooms, texts  # noqa: F401 - texts: the catalogue
from bridge.inbound import parse
from bridge.models import InboundRow
from bridge.receiving import Receiving
from bridge.sending import Sending
from bridge.trust import TrustSource
from bridge.xdm import Unreadable

COMMAND_WORDS = ("mss", "mail")  # every command of the bridge starts with one of them


class Bridge:
    def __init__(self, config: Config) -> None:
        if config.mssante is None:
            raise ConfigError("the mssante bot needs an `mssante:` section")
        self.settings = config.mssante
        self.roles = Roles.load(config.careteam.roles_file)
        zone, lang = ZoneInfo(config.timezone), config.language
        self.trust = TrustSource(self.settings.trust_list,
                                 self.settings.trust_list_refresh_minutes)
        self.sending = Sending(self.settings, self.trust, zone, lang)  # type: ignore[arg-type]
        self.receiving = Receiving(self.settings, self.trust, self.sending, zone,
                                   lang)  # type: ignore[arg-type]

    async def resolve_caller(self, tx: Transaction, caller: Caller) -> Caller:
        room = await rooms.room(tx, self.settings.careteam_account, caller.room_id)
        if room is None:
            return caller
        role = await rooms.role_of(tx, room.id, caller.user_id)
        return replace(caller, room_kind=room.kind, role=role)

    async def route(self, ctx: CommandContext, numero: int, ref: str) -> None:
        row = await ctx.tx.session.get(InboundRow, numero)
        if row is None or row.account != ctx.tx.account or row.state != "triage":
            ctx.reply(t(ctx.lang, "mss.no_triage", id=numero))
            return
        room = await rooms.by_ref(ctx.tx, self.settings.careteam_account, ref.upper())
        if room is None or room.room_id is None:
            ctx.reply(t(ctx.lang, "mss.no_room", ref=ref))
            return
        try:
            mail = parse(ctx.tx.vault.open_bytes(row.raw), self.receiving.limits)
        except Unreadable:  # it was read once already: the same bytes read the same way
            ctx.reply(t(ctx.lang, "mss.no_triage", id=numero))
            return
        row.rule = "manual"
        await self.receiving.post(ctx.tx, row, mail, room.room_id)
        ctx.reply(t(ctx.lang, "mss.routed", id=numero, ref=room.ref))

    def commands(self) -> list[Command]:
        send_roles = set(self.settings.send_roles)
        sender = Permission(f"mss.send@{PATIENT}", lambda c: (
            c.room_kind == PATIENT and (c.role or "") in send_roles))
        router = self.roles.permission("patient.open", COORDINATION)
        cmd = partial(described, permission=sender)
        return [
            cmd("mss envoyer", "mail send", "mss.help.send", self.sending.send,
                Arg("contenu", "content", rest=True)),
            cmd("mss repondre", "mail reply", "mss.help.reply", self.sending.reply,
                Arg("texte", "text", rest=True), aliases=("mss répondre",)),
            cmd("mss router", "mail route", "mss.help.route", self.route,
                Arg("numero", "number", as_int), Arg("ref", "ref"), permission=router),
        ]


def mssante(config: Config) -> Bot:
    bridge = Bridge(config)
    return Bot("mssante", commands=bridge.commands(), resolve_caller=bridge.resolve_caller,
               services=[bridge.receiving.run, bridge.sending.run], companion=True)
