"""The MSSanté bridge as a bot of the runtime (`bots: [mssante]` on an account of its own, run by
`liaison bridge`): the mailbox watcher, the sending worker and, for a PER/ORG mailbox, its Pro
Santé Connect login are its services, with the trust list's watch; `!mss envoyer`, `!mss repondre` (patient rooms), `!mss
router`, `!mss etat` and `!mss connexion` (coordination room) its commands. It works in
the care-team bot's rooms (`mssante.careteam_account`), which invites it there
(`careteam.companions`); who may do what comes from that bot's teams and roles."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bots.common import capabilities as cap
from bots.common import permissions
from bots.common.models import COORDINATION, PATIENT
from bots.common.roles import Roles
from bots.config import Config, ConfigError
from bots.runtime.alone import run_alone
from bots.runtime.bot import Bot, CommandContext
from bots.runtime.commands import Arg, Command, Permission, as_int, described
from bots.runtime.i18n import t
from bots.runtime.notice import notice
from bots.runtime.store import utcnow
from bridge import records, sources, texts
from bridge.inbound import parse
from bridge.login import Login
from bridge.metrics import queue_gauges
from bridge.models import InboundRow, OutboundRow
from bridge.receiving import Receiving
from bridge.revocation import Revocation
from bridge.routing import typed_ref
from bridge.sending import Sending
from bridge.sources import trust_source
from bridge.xdm import Unreadable

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

TRUST_CHECK_SECONDS = 300.0  # how often the trust list's age is looked at (re-read if due)


class Bridge:
    def __init__(self, config: Config) -> None:
        if config.mssante is None:
            raise ConfigError("the mssante bot needs an `mssante:` section")
        self.settings = config.mssante
        self.roles = Roles.load(config.careteam.roles_file)
        zone, lang = ZoneInfo(config.timezone), config.language
        self.lang = lang
        self.trust = trust_source(self.settings.trust_list,
                                  self.settings.trust_list_refresh_minutes)
        oauth = self.settings.oauth
        self.login = Login(self.settings, oauth, zone,
                           lang) if oauth else None  # type: ignore[arg-type]
        revocation = Revocation(self.settings.crls, self.settings.crl_refresh_minutes,
                                config.data_dir / "mssante-crls.pem") \
            if self.settings.crls else None
        self.sending = Sending(self.settings, self.trust, self.login, revocation, zone,
                               lang)  # type: ignore[arg-type]
        self.receiving = Receiving(self.settings, self.trust, self.sending, zone,
                                   lang)  # type: ignore[arg-type]

    async def route(self, ctx: CommandContext, number: int, ref: str) -> None:
        row = await ctx.tx.session.get(InboundRow, number)
        if row is None or row.account != ctx.tx.account or row.state != "triage":
            ctx.reply(t(ctx.lang, "mss.no_triage", id=number))
            return
        room = await records.by_ref(ctx.tx, self.settings.careteam_account, typed_ref(ref))
        if room is None or room.room_id is None:
            ctx.reply(t(ctx.lang, "mss.no_room", ref=ref))
            return
        try:
            mail = await asyncio.to_thread(
                parse, ctx.tx.vault.open_bytes(row.raw, row.bound("raw")), self.receiving.limits)
        except Unreadable:  # it was read once already: the same bytes read the same way
            ctx.reply(t(ctx.lang, "mss.no_triage", id=number))
            return
        row.rule = "manual"
        await self.receiving.post(ctx.tx, row, mail, room.room_id)
        ctx.reply(t(ctx.lang, "mss.routed", id=number, ref=room.ref))

    async def watch_trust_list(self, runtime: Runtime) -> None:
        """The trust list re-read on its period even when no mail comes; once it has not been
        refreshed for `sources.STALE_AFTER` (the last good one still in use), the coordination
        rooms are told, once per outage: by one bridge process (two on PostgreSQL, the other
        reads the list when its mail needs it and takes the watch over if this one dies,
        bots/runtime/alone.py)."""
        await run_alone(runtime.store, f"trust-watch:{runtime.user_id}",
                        lambda: self._watch_trust_list(runtime))

    async def _watch_trust_list(self, runtime: Runtime) -> None:
        told = False
        while True:
            try:
                await self.trust.current()
            except sources.ERRORS:  # none good yet: the watcher and the worker wait and say so
                pass
            if self.trust.stale and not told:
                async with runtime.transaction() as tx:
                    for room_id in await records.coordination(tx, self.settings.careteam_account):
                        tx.post(room_id, notice(t(self.lang, "mss.trust_stale", hours=round(
                            sources.STALE_AFTER / 3600))))
            told = self.trust.stale
            await asyncio.sleep(TRUST_CHECK_SECONDS)

    async def status(self, ctx: CommandContext) -> None:
        """How the mailbox logs in, and what waits: to send, to file, in quarantine."""
        if self.login is not None:
            state, values = await self.login.state(ctx.tx)
            login = t(ctx.lang, f"mss.state.{state}", **values)
        else:
            login = t(ctx.lang, "mss.state.password" if self.settings.imap.password
                      else "mss.state.certificate")
        account = ctx.tx.account
        queued = (await ctx.tx.session.execute(
            select(func.count(), func.count(OutboundRow.last_error)).where(
                OutboundRow.account == account, OutboundRow.state == "queued"))).one()
        inbound: dict[str, int] = dict((await ctx.tx.session.execute(
            select(InboundRow.state, func.count()).where(
                InboundRow.account == account, InboundRow.state.in_(("triage", "quarantined")),
                InboundRow.received_at >= utcnow() - timedelta(days=7))
            .group_by(InboundRow.state))).all())  # type: ignore[arg-type]
        ctx.reply(t(ctx.lang, "mss.status", mailbox=self.settings.mailbox, login=login,
                    queued=queued[0], retrying=queued[1], triage=inbound.get("triage", 0),
                    quarantined=inbound.get("quarantined", 0)))

    def commands(self) -> list[Command]:
        send_roles = set(self.settings.send_roles)
        sender = Permission(f"mss.send@{PATIENT}", lambda c: (
            c.room_kind == PATIENT and (c.role or "") in send_roles),
            roles=tuple(self.settings.send_roles), room_kinds=(PATIENT,))
        router = self.roles.permission(cap.PATIENT_OPEN, COORDINATION)
        cmd = partial(described, permission=sender)
        return [
            cmd("mss envoyer", "mail send", "mss.help.send", self.sending.send,
                Arg("content", "mss.label.content", rest=True)),
            cmd("mss repondre", "mail reply", "mss.help.reply", self.sending.reply,
                Arg("text", "label.text", rest=True), aliases=("mss répondre",)),
            cmd("mss router", "mail route", "mss.help.route", self.route,
                Arg("number", "mss.label.number", as_int), Arg("ref", "mss.label.ref"),
                permission=router),
            cmd("mss etat", "mail status", "mss.help.status", self.status, permission=router,
                aliases=("mss état",)),
        ] + ([cmd("mss connexion", "mail login", "mss.help.connect", self.login.connect,
                  Arg("identifier", "mss.label.identifier"), permission=router)]
            if self.login else [])


def mssante(config: Config) -> Bot:
    bridge = Bridge(config)
    return Bot("mssante", commands=bridge.commands(), texts=(texts.TEXTS,),
               resolve_caller=permissions.resolver(bridge.settings.careteam_account),
               services=[bridge.receiving.run, bridge.sending.run, bridge.watch_trust_list,
                         *([bridge.login.run] if bridge.login else [])], companion=True,
               gauges=queue_gauges)
