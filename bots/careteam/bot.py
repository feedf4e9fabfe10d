"""The care-team bot: patient rooms, their teams and roles, the newcomer's briefing.

Commands record what should happen (records.py) in the transaction that claims the command; the
provisioner carries it out on Matrix and answers. Reading commands answer at once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from bots.careteam import records, render, texts
from bots.careteam.provisioner import EXPIRE_JOB, Provisioner
from bots.careteam.requests import Member, OpenRequest, RequestError, parse_open, role_code
from bots.common import capabilities as cap
from bots.common import permissions
from bots.common import records as care_rooms
from bots.common.identity import Identity, IdentityError, may_replace
from bots.common.models import COORDINATION, PATIENT, CareRoom
from bots.common.render import room_link
from bots.common.roles import Roles
from bots.config import Config, WardConfig
from bots.runtime.alone import one_at_a_time
from bots.runtime.bot import Bot, CommandContext, JoinContext
from bots.runtime.builtin import confirm_identity
from bots.runtime.commands import Arg, Caller, Command, as_user_id, described
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, notice
from bots.runtime.store import Transaction

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

# Who asked for a room the hospital's feed opened (`care_rooms.requested_by`).
ADT_REQUESTER = "adt"


class CareTeam:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.careteam
        self.roles = Roles.load(self.settings.roles_file)
        self.provisioner = Provisioner(config, self.roles)

    # --- who may do what -------------------------------------------------------------------

    async def accepts_invite(self, tx: Transaction, room_id: str, inviter: str) -> bool:
        """A room in its records, or asked by someone who may manage a coordination room's team."""
        if await care_rooms.room_by_id(tx, room_id) is not None:
            return True
        for room in await care_rooms.coordination_rooms(tx):
            kind, role = await care_rooms.role_in(tx, room.room_id or "", inviter)
            if role and self.roles.may(Caller(inviter, room.room_id or "", 0, role, kind),
                                       cap.TEAM_MANAGE):
                return True
        return False

    # --- commands --------------------------------------------------------------------------

    async def open_patient(self, ctx: CommandContext, identity: str) -> None:
        try:
            req = parse_open(identity, self.roles, date.today())
        except IdentityError as exc:
            ctx.reply(t(ctx.lang, "open.identity_error", why=texts.identity_error(ctx.lang, exc)))
            return
        except RequestError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        if ctx.caller.role and ctx.sender not in {m.user_id for m in req.team}:
            # Whoever opens the room is in its team, with their coordination role.
            req = replace(req, team=(*req.team, Member(ctx.sender, ctx.caller.role)))
        try:
            room, created = await records.register_patient(
                ctx.tx, req, prefix=self.settings.ref_prefix, language=ctx.lang,
                requested_by=ctx.sender, origin_room_id=ctx.room_id,
                cause_event_id=ctx.event_id)
        except care_rooms.IdentityConflict as exc:
            ctx.reply(t(ctx.lang, "patient.conflict", ref=exc.ref))
            return
        if created:
            ctx.tx.after_commit.append(self.provisioner.wake)  # it answers once the room exists
        elif room.room_id is None:
            ctx.reply(t(ctx.lang, "patient.in_progress", ref=room.ref))
        else:
            ctx.reply(t(ctx.lang, "patient.exists", link=room_link(room.room_id),
                        name=room.ref))

    async def admit(self, tx: Transaction, identity: Identity, ward: WardConfig,
                    admitted_on: date | None, qualified: bool) -> CareRoom:
        """The room of a patient the hospital's feed admits (bots/adt/): found, or asked for with
        the ward's default team, as `!patient ouvrir` asks for it; the provisioner creates it
        once `tx` commits (its identity card is the room's first message) and says so in the
        ward's coordination room, if it has one."""
        req = OpenRequest(identity, team=tuple(Member(user, role) for user, role in ward.team),
                          ward=ward.name, admission_date=admitted_on, qualified=qualified)
        room, created = await records.register_patient(
            tx, req, prefix=self.settings.ref_prefix, language=self.config.language,
            requested_by=ADT_REQUESTER, origin_room_id=await self._ward_room(tx, ward))
        if created:
            tx.after_commit.append(self.provisioner.wake)
        return room

    async def _ward_room(self, tx: Transaction, ward: WardConfig) -> str | None:
        """The ward's coordination room: an ID, or the name of one the bot created
        (`create_coordination_room`, whose ID no configuration can know); None if not made."""
        named = ward.coordination_room
        if named is None or named.startswith("!"):
            return named
        return next((r.room_id for r in await care_rooms.coordination_rooms(tx)
                     if r.name == named and r.room_id is not None), None)

    async def identity_updated(self, tx: Transaction, room: CareRoom, identity: Identity,
                               qualified: bool) -> bool:
        """Traits the hospital's feed updates (A08, bots/adt/): sealed again in the room's row
        with its blind indexes (the birth place kept if the feed has none), and the card posted
        again in the room, the roles that may see the identity mentioned (a room still being
        created gets the new card as its first message). False when nothing changed; raises
        `LessTrusted` when a qualified identity would be replaced by one that is not."""
        file = care_rooms.PatientFile.open(tx, room)
        new = replace(identity, birth_place=identity.birth_place or file.identity.birth_place)
        if not may_replace(file.qualified, qualified):
            if new == file.identity:
                return False  # the same traits, less trusted: nothing to say
            raise care_rooms.LessTrusted
        changed = new != file.identity
        if changed or qualified != file.qualified:  # the same traits, now qualified: kept so
            room.sealed = care_rooms.PatientFile(new, file.admission_date, qualified).seal(
                tx, room.bound("sealed"))
        if not changed:
            return False
        room.ins_index = tx.vault.index(new.ins) if new.ins else None
        room.traits_index = tx.vault.index(new.traits_key())
        if room.status == "open" and room.room_id:
            lang: Lang = room.language  # type: ignore[assignment]
            who = await care_rooms.members_with(tx, room.id, [
                code for code, role in self.roles.by_code.items()
                if cap.PATIENT_IDENTITY in role.may])
            tx.post(room.room_id, notice(t(lang, "patient.identity_updated",
                                           card=self.card(tx, room, lang)), mentions=who))
        return True

    async def _care_room(self, ctx: CommandContext) -> CareRoom | None:
        return ctx.found(await care_rooms.room_by_id(ctx.tx, ctx.room_id), "patient.not_here")

    async def show_identity(self, ctx: CommandContext) -> None:
        room = await self._care_room(ctx)
        if room is not None:
            ctx.reply(self.card(ctx.tx, room, ctx.lang))

    def card(self, tx: Transaction, room: CareRoom, lang: Lang) -> Html:
        file = care_rooms.PatientFile.open(tx, room)
        return render.card(lang, ref=room.ref or "", identity=file.identity,
                             admission=file.admission_date, ward=room.ward, status=room.status)

    async def close_episode(self, ctx: CommandContext) -> None:
        room = await self._care_room(ctx)
        if room is None:
            return
        if room.status != "open":
            ctx.reply(t(ctx.lang, "patient.already_closed"))
            return
        room.status, room.requested_by, room.cause_event_id = "closing", ctx.sender, ctx.event_id
        room.language = ctx.lang
        ctx.tx.after_commit.append(self.provisioner.wake)

    async def add_member(self, ctx: CommandContext, member: str, role: str) -> None:
        room = await self._open_room(ctx)
        if room is None:
            return
        outcome = await records.ask_member(
            ctx.tx, room, Member(member, role), requested_by=ctx.sender,
            cause_event_id=ctx.event_id, language=ctx.lang)
        if outcome == "unchanged":
            ctx.reply(t(ctx.lang, "team.unchanged", user=member,
                        role=render.role_label(ctx.lang, self.roles, role)))
            return
        ctx.tx.after_commit.append(self.provisioner.wake)

    async def remove_member(self, ctx: CommandContext, member: str) -> None:
        room = await self._open_room(ctx)
        if room is None:
            return
        if member == ctx.runtime.user_id:
            ctx.reply(t(ctx.lang, "team.not_self"))
        elif await records.ask_removal(ctx.tx, room, member, requested_by=ctx.sender,
                                       cause_event_id=ctx.event_id, language=ctx.lang):
            ctx.tx.after_commit.append(self.provisioner.wake)
        else:
            ctx.reply(t(ctx.lang, "team.not_member", user=member))

    async def _open_room(self, ctx: CommandContext) -> CareRoom | None:
        room = await self._care_room(ctx)
        if room is not None and room.status != "open":
            ctx.reply(t(ctx.lang, "team.room_closed"))
            return None
        return room

    async def list_team(self, ctx: CommandContext) -> None:
        room = await self._care_room(ctx)
        if room is not None:
            ctx.reply(await self.team_html(ctx.runtime, ctx.tx, room, ctx.lang))

    async def team_html(self, runtime: Runtime, tx: Transaction, room: CareRoom,
                        lang: Lang) -> Html:
        return render.team_list(lang, self.roles, await self.team_lines(runtime, tx, room))

    async def team_lines(self, runtime: Runtime, tx: Transaction,
                         room: CareRoom) -> list[render.TeamLine]:
        """The recorded team with what the room says of each member, then anyone else in the
        room (invited by a coordinator from Element, say) without a role."""
        matrix = runtime.client.rooms.get(room.room_id or "")
        present = dict(matrix.users) if matrix else {}
        lines = []
        for m in await care_rooms.team(tx, room):
            user = present.pop(m.user_id, None)
            state = "pending" if not m.applied else \
                "left" if user is None else "invited" if user.invited else "joined"
            lines.append(render.TeamLine(m.user_id, m.role, state))
        for user_id, user in present.items():
            if user_id != runtime.user_id:
                lines.append(render.TeamLine(user_id, None,
                                               "invited" if user.invited else "joined"))
        return lines

    async def list_roles(self, ctx: CommandContext) -> None:
        ctx.reply(render.roles_list(ctx.lang, self.roles))

    # --- someone joined --------------------------------------------------------------------

    async def on_join(self, ctx: JoinContext) -> None:
        room = await care_rooms.room_by_id(ctx.tx, ctx.room_id)
        if room is None or ctx.user_id in (ctx.runtime.user_id, *self.settings.companions):
            return
        lang: Lang = room.language  # type: ignore[assignment]
        row = await care_rooms.member(ctx.tx, room, ctx.user_id)
        code = row.role if row and row.desired == "present" else None
        role = render.role_label(lang, self.roles, code)
        if room.kind == COORDINATION:
            ctx.post(t(lang, "coordination.welcome", user=ctx.user_id, role=role),
                     mentions=[ctx.user_id])
            return
        if code is None:
            # Invited from Element, not through the bot: no keys (key_recipients), no identity;
            # the team is told, and decides.
            ctx.post(t(lang, "patient.outsider_joined", user=ctx.user_id))
            return
        # They cannot read anything sent before they joined: tell them again what they need,
        # the identity only if their role may see it.
        found = self.roles.get(code)
        may_see = found is not None and cap.PATIENT_IDENTITY in found.may
        ctx.post(t(lang, "patient.welcome", user=ctx.user_id, role=role,
                   card=self.card(ctx.tx, room, lang) if may_see else t(
                       lang, "patient.no_identity_role"),
                   team=await self.team_html(ctx.runtime, ctx.tx, room, lang)),
                 mentions=[ctx.user_id])

    async def key_recipients(self, runtime: Runtime, room_id: str) -> set[str] | None:
        """Who may get the keys of what the bot sends in a room: in a patient room its care
        team and companions, in a coordination room its members; on allowed servers only.
        None (no limit) in rooms that are not the bot's."""
        async with runtime.transaction() as tx:
            room = await care_rooms.room_by_id(tx, room_id)
            if room is None:
                return None
            if room.kind == PATIENT:
                users = {m.user_id for m in await care_rooms.team(tx, room)}
                users.update(self.settings.companions)
            else:
                matrix = runtime.client.rooms.get(room_id)
                users = set(matrix.users) if matrix else set()
        allowed = set(self.config.allowed_servers)
        return {u for u in users if u.partition(":")[2] in allowed}

    # --- start -----------------------------------------------------------------------------

    async def declare_rooms(self, runtime: Runtime) -> None:
        """Coordination rooms from the configuration, and the dev stack's own one. Two bots
        processes starting together declare them one after the other: the second finds them."""
        async with runtime.transaction() as tx:
            await one_at_a_time(tx, f"careteam.declare:{tx.account}")
            for room_id in self.settings.coordination_rooms:
                await records.register_coordination_room(
                    tx, room_id=room_id, name=None, language=self.config.language)
            if self.settings.create_coordination_room and not \
                    await care_rooms.coordination_rooms(tx):
                await records.register_coordination_room(
                    tx, room_id=None, name=self.settings.create_coordination_room,
                    language=self.config.language)

    async def serve(self, runtime: Runtime) -> None:
        await self.declare_rooms(runtime)
        await self.provisioner.run(runtime)

    def commands(self) -> list[Command]:
        def role_arg(raw: str) -> str:
            return role_code(raw, self.roles)

        managed = (PATIENT, COORDINATION)
        managers = self.roles.permission(cap.TEAM_MANAGE, *managed)
        member = Arg("member", "label.member", as_user_id)
        return [
            described("patient ouvrir", "patient open", "patient.open.help", self.open_patient,
                      Arg("identity", "patient.label.identity", rest=True),
                      permission=self.roles.permission(cap.PATIENT_OPEN, COORDINATION)),
            described("patient identite", "patient identity", "patient.identity.help",
                      self.show_identity,
                      permission=self.roles.permission(cap.PATIENT_IDENTITY, PATIENT),
                      aliases=("patient identité",)),
            described("patient clore", "patient close", "patient.close.help",
                      self.close_episode,
                      permission=self.roles.permission(cap.PATIENT_CLOSE, PATIENT),
                      aliases=("patient sortie-definitive", "patient sortie-définitive")),
            described("equipe ajouter", "team add", "team.add.help", self.add_member, member,
                      Arg("role", "team.label.role", role_arg), permission=managers,
                      aliases=("équipe ajouter",)),
            described("equipe retirer", "team remove", "team.remove.help", self.remove_member,
                      member, permission=managers, aliases=("équipe retirer",)),
            described("equipe liste", "team list", "team.list.help", self.list_team,
                      permission=self.roles.permission(cap.TEAM_VIEW, *managed),
                      aliases=("équipe liste",)),
            described("equipe roles", "team roles", "team.roles.help", self.list_roles,
                      aliases=("équipe rôles",)),
            confirm_identity(managers),
        ]


def careteam(config: Config, bot: CareTeam | None = None) -> Bot:
    """`bot`: built by the composition when another bot's code needs this one's (bots/registry.py)."""
    bot = bot or CareTeam(config)
    services = [bot.serve]
    if config.careteam.api is not None:
        from bots.careteam.api import serve_api

        services.append(lambda runtime: serve_api(runtime, bot))
    return Bot("careteam", commands=bot.commands(), texts=texts.CATALOGUES,
               on_join=bot.on_join,
               resolve_caller=permissions.resolver(), accepts_invite=bot.accepts_invite,
               services=services, key_recipients=bot.key_recipients,
               jobs={EXPIRE_JOB: bot.provisioner.expire_job})

