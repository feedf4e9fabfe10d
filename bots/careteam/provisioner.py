"""Carries out on Matrix what records.py recorded: creates rooms, invites and removes members,
sets power levels, closes episodes. The Matrix edge of the care-team bot.

Each piece of work is a row (a room `creating`/`closing`, a member not `applied`), so a crash or a
failed call leaves it to the next round. Calls are idempotent (an invite to someone already
invited, a kick of someone gone), and a room created just before a crash is found again by its
episode state event instead of being created twice. Permanent failures (unknown account, server
not allowed, refused by the homeserver) undo the request and are answered; nothing stays
half-created.

With two bots processes (PostgreSQL), each piece of work (a room's creation, closing or expiry,
its team's changes) is claimed while it is done (bots/runtime/alone.py, `Claims`): the other
process, which sees the same rows, leaves a held piece and looks again at its next round; a
piece whose holder died is free at once, and picked up then.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from nio import (
    ErrorResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
)
from sqlalchemy import delete, select

from bots.careteam import render, rooms
from bots.careteam.records import pending_members, pending_rooms
from bots.common.models import PATIENT, CareRoom, TeamMember
from bots.common.records import PatientFile, team
from bots.common.render import room_link
from bots.common.roles import Roles
from bots.config import Config
from bots.runtime.alone import Claims
from bots.runtime.bot import JobContext
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import Html, notice
from bots.runtime.store import Transaction, utcnow

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_EVERY = 30.0
# The same clinicians are in many teams: an account seen to exist is not asked again for a while
# (one that is deactivated meanwhile makes the invite fail, which is answered and undone).
KNOWN_USER_TTL = 300.0
EXPIRE_JOB = "careteam.expire"
PARALLEL_ROOMS = 8
# Answers that no retry can change.
PERMANENT = {"M_FORBIDDEN", "M_UNKNOWN", "M_BAD_JSON", "M_NOT_JSON", "M_INVALID_PARAM",
             "M_UNSUPPORTED_ROOM_VERSION", "M_ROOM_IN_USE", "M_NOT_FOUND"}


class Permanent(Exception):
    """A request that cannot succeed as asked; the message says why (already translated), the
    code what kind of refusal it is (the API's error code)."""

    def __init__(self, message: str, code: str = "room_creation_failed") -> None:
        super().__init__(message)
        self.code = code


class Provisioner:
    def __init__(self, config: Config, roles: Roles) -> None:
        self.config = config
        self.roles = roles
        self.runtime: Runtime | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._active: set[tuple[str, int]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(PARALLEL_ROOMS)
        self._known_users: dict[str, float] = {}  # user ID -> when seen to exist (monotonic)
        self._hidden_creator: bool | None = None  # from the server's default room version
        self._claims: Claims | None = None
        # Why a request was given up, for the API call waiting on it (read once).
        self.failures: dict[int, str] = {}

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None, "the provisioner runs once the runtime is ready"
        return self.runtime

    def wake(self) -> None:
        self._wake.set()

    async def run(self, runtime: Runtime) -> None:
        """The service: a round at start (work left by an earlier run), then on every wake."""
        self.runtime = runtime
        claims = self._claims = Claims(runtime.store)
        try:
            while True:
                self._wake.clear()
                await self._round()
                try:
                    await asyncio.wait_for(self._wake.wait(), RETRY_EVERY)
                except TimeoutError:
                    pass
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await claims.close()

    async def wait_until(self, check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
        """For the API: wait until `check()` holds (re-checked after each piece of work)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await check():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            async with self._progress:
                try:  # capped: a notification between check() and wait() is not missed long
                    await asyncio.wait_for(self._progress.wait(), min(remaining, 1.0))
                except TimeoutError:
                    pass
        return True

    async def _round(self) -> None:
        async with self.rt.transaction() as tx:
            work = [(("room", r.id), r.id) for r in await pending_rooms(tx)]
            work += [(("team", r.id), r.id) for _, r in await pending_members(tx)]
        for key, row_id in dict(work).items():
            if key in self._active:
                continue
            self._active.add(key)
            task = asyncio.create_task(self._do(key, row_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _do(self, key: tuple[str, int], row_id: int) -> None:
        try:
            assert self._claims is not None, "the provisioner runs once the runtime is ready"
            async with self._slots, self._claims.holding(f"careteam.{key[0]}:{row_id}") as held:
                if not held:
                    return  # the other bots process is at it
                if key[0] == "room":
                    await self._room(row_id)
                else:
                    await self._members(row_id)
        except Exception:
            log.exception("provisioning failed, will retry", extra={"care_room": row_id})
        finally:
            self._active.discard(key)
            async with self._progress:
                self._progress.notify_all()

    # --- rooms -----------------------------------------------------------------------------

    async def _room(self, row_id: int) -> None:
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is None:
                return
            status = row.status
        if status == "creating":
            await self._create(row_id)
        elif status == "closing":
            await self._close(row_id)
        elif status == "expiring":
            await self._expire(row_id)

    async def _create(self, row_id: int) -> None:
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is None or row.status != "creating":
                return
            members = await team(tx, row)
            # The companions (the MSSanté bridge) come in too, with no role and no power.
            invite = {**{c: 0 for c in self.config.careteam.companions},
                      **{m.user_id: self._power(m.role) for m in members}}
            lang: Lang = row.language  # type: ignore[assignment]
            episode = rooms.episode_content(row.ref, row.ward, "open") if row.ref else None
            name = row.name or rooms.room_name(
                self.config.careteam.room_name, row.ref or "",
                PatientFile.open(tx, row).identity.initials)
            retried = row.attempts > 0
            row.attempts += 1  # committed before the call: a crash after it means "look first"
        try:
            await self.check_users(sorted(invite), lang)
        except Permanent as exc:
            await self._give_up(row_id, str(exc))
            return
        async with self.rt.creating_room():
            room_id = await self._find_created(row_id) if retried and episode else None
            if room_id is None:
                creator_listed = not await self._creator_has_all_power()
                resp = await self.rt.client.room_create(**rooms.create_request(
                    bot=self.rt.user_id if creator_listed else None, name=name, invite=invite,
                    episode=episode, allowed_servers=self.config.allowed_servers))
                if not isinstance(resp, RoomCreateResponse):
                    await self._failed_call(row_id, resp)
                    return
                room_id = resp.room_id
            async with self.rt.transaction() as tx:
                row = await tx.session.get(CareRoom, row_id)
                assert row is not None
                row.room_id, row.status, row.opened_at, row.last_error = room_id, "open", utcnow(), None
                members = await team(tx, row)
                for m in members:
                    m.applied = True
                await self._announce_open(tx, row, members)
        log.info("care room created", extra={"care_room": row_id, "room_id": room_id})

    async def _announce_open(self, tx: Transaction, row: CareRoom,
                             members: list[TeamMember]) -> None:
        lang: Lang = row.language  # type: ignore[assignment]
        assert row.room_id is not None
        if row.kind == PATIENT:
            file = PatientFile.open(tx, row)
            # The room's first message; whoever joins later gets it again in their welcome.
            tx.post(row.room_id, notice(render.card(
                lang, ref=row.ref or "", identity=file.identity, admission=file.admission_date,
                ward=row.ward, status="open")))
        # Told where it was asked: the command's room (in answer to it), or the ward's
        # coordination room for a room the hospital's feed asked for (no command to answer).
        if row.origin_room_id:
            lines = [render.TeamLine(m.user_id, m.role, "invited") for m in members]
            tx.post(row.origin_room_id, notice(
                t(lang, "patient.opened", link=room_link(row.room_id),
                  name=row.ref or row.name, team=render.team_inline(lines)),
                reply_to=row.cause_event_id), cause_event_id=row.cause_event_id)

    async def _creator_has_all_power(self) -> bool:
        if self._hidden_creator is None:
            resp = await self.rt.client.send("GET", "/_matrix/client/v3/capabilities", headers={
                "Authorization": f"Bearer {self.rt.client.access_token}"})
            resp.raise_for_status()
            version = (await resp.json())["capabilities"]["m.room_versions"]["default"]
            self._hidden_creator = rooms.creator_has_all_power(version)
        return self._hidden_creator

    async def _find_created(self, row_id: int) -> str | None:
        """After a crash during creation: the room may exist. The bot's rooms not on record are
        asked for their episode state; the one with this reference is adopted if the bot made it
        and it is still protected as made (references are sequential and anyone may invite the
        bot: a room that only carries the state is someone else's, and a new one is made)."""
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            known = set((await tx.session.scalars(
                select(CareRoom.room_id).where(CareRoom.room_id.is_not(None)))).all())
            ref = row.ref if row else None
        for room_id in sorted(set(self.rt.client.rooms) - known):
            resp = await self.rt.client.room_get_state_event(room_id, rooms.EPISODE_EVENT)
            if not isinstance(resp, RoomGetStateEventResponse) or resp.content.get("ref") != ref:
                continue
            state = await self.rt.client.room_get_state(room_id)
            if not isinstance(state, RoomGetStateResponse):
                self._raise(state)
            why = rooms.not_adoptable(state.events, self.rt.user_id)
            if why is None:
                log.warning("adopting a room created before a crash",
                            extra={"care_room": row_id, "room_id": room_id})
                return room_id
            log.warning("not adopting a room that claims a pending file",
                        extra={"care_room": row_id, "room_id": room_id, "why": why})
        return None

    async def _give_up(self, row_id: int, why: str) -> None:
        """Undo a request that cannot be created: the row (identity included) goes, the
        requester is told why."""
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is None:
                return
            if row.origin_room_id:
                tx.post(row.origin_room_id, notice(
                    t(row.language, "patient.failed", why=why),  # type: ignore[arg-type]
                    reply_to=row.cause_event_id), cause_event_id=row.cause_event_id)
            await tx.session.execute(delete(TeamMember).where(TeamMember.care_room_id == row_id))
            await tx.session.delete(row)
        self.failures[row_id] = why
        log.warning("care room request given up", extra={"care_room": row_id, "why": why})

    async def _failed_call(self, row_id: int, resp: Any) -> None:
        code = getattr(resp, "status_code", None)
        why = f"{code}: {getattr(resp, 'message', resp)}"
        if code in PERMANENT:
            await self._give_up(row_id, why)
            return
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is not None:
                row.last_error = why
        log.warning("room call failed, will retry", extra={"care_room": row_id, "error": why})

    async def check_users(self, users: list[str], lang: Lang) -> None:
        """Every user on an allowed server and known to their homeserver, or Permanent."""
        allowed = set(self.config.allowed_servers)
        foreign = [u for u in users if u.split(":", 1)[1] not in allowed]
        if foreign:
            raise Permanent(t(lang, "patient.server_not_allowed", users=", ".join(foreign)),
                            code="server_not_allowed")
        now = time.monotonic()
        ask = [u for u in users
               if now - self._known_users.get(u, -KNOWN_USER_TTL) >= KNOWN_USER_TTL]
        answers = await asyncio.gather(*(self._profile_status(u) for u in ask))
        unknown = [u for u, status in zip(ask, answers, strict=True) if status == 404]
        self._known_users.update((u, now) for u in ask if u not in unknown)
        if unknown:
            raise Permanent(t(lang, "patient.unknown_users", users=", ".join(unknown)),
                            code="unknown_user")

    async def _profile_status(self, user_id: str) -> int:
        # Synapse answers 404 for an unknown user, with varying error codes: read the status.
        resp = await self.rt.client.send(
            "GET", f"/_matrix/client/v3/profile/{urllib.parse.quote(user_id)}",
            headers={"Authorization": f"Bearer {self.rt.client.access_token}"})
        async with resp:
            return resp.status

    def _power(self, role: str | None) -> int:
        found = self.roles.get(role)
        return found.power_level if found else 0

    async def _close(self, row_id: int) -> None:
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is None or row.status != "closing" or row.room_id is None:
                return
            room_id, ref, ward = row.room_id, row.ref or "", row.ward
        current = await self._power_levels(room_id)
        for event_type, content in (
                (rooms.EPISODE_EVENT, rooms.episode_content(ref, ward, "closed")),
                ("m.room.power_levels", rooms.closed_power_levels(current))):
            resp = await self.rt.client.room_put_state(room_id, event_type, content)
            if isinstance(resp, ErrorResponse):
                self._raise(resp)  # the row stays `closing`: retried, and visible if it never ends
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            assert row is not None
            row.status, row.closed_at = "closed", utcnow()
            days = self.config.careteam.retention_days
            if days is not None:
                zone = ZoneInfo(self.config.timezone)
                self.rt.scheduler.schedule(tx, EXPIRE_JOB, f"{EXPIRE_JOB}:{row.id}",
                                           row.closed_at.astimezone(zone) + timedelta(days=days),
                                           {"care_room": row.id})
            if row.cause_event_id:
                tx.post(room_id, notice(t(row.language, "patient.closed",  # type: ignore[arg-type]
                                          user=row.requested_by or "?"),
                                        reply_to=row.cause_event_id),
                        cause_event_id=row.cause_event_id)

    async def _expire(self, row_id: int) -> None:
        """The end of retention: members removed, the bot leaves, the identity is erased here
        (the sealed column and the blind indexes); the file number and team stay as a record."""
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            if row is None or row.status != "expiring" or row.room_id is None:
                return
            room_id = row.room_id
        room = self.rt.client.rooms.get(room_id)
        for user_id in sorted(room.users if room else ()):
            if user_id != self.rt.user_id:
                resp = await self.rt.client.room_kick(room_id, user_id, reason="retention")
                if isinstance(resp, ErrorResponse) and resp.status_code != "M_NOT_FOUND":
                    self._raise(resp)
        resp = await self.rt.client.room_leave(room_id)
        if isinstance(resp, ErrorResponse) and resp.status_code not in PERMANENT:
            self._raise(resp)
        async with self.rt.transaction() as tx:
            row = await tx.session.get(CareRoom, row_id)
            assert row is not None
            row.status, row.sealed, row.ins_index, row.traits_index = "expired", b"", None, None
        log.info("care room expired", extra={"care_room": row_id, "room_id": room_id})

    async def expire_job(self, ctx: JobContext) -> None:
        """The retention job: recorded here, carried out by the next round."""
        row = await ctx.tx.session.get(CareRoom, ctx.payload["care_room"])
        if row is not None and row.status == "closed":
            row.status = "expiring"
            ctx.tx.after_commit.append(self.wake)

    # --- members ---------------------------------------------------------------------------

    async def _members(self, care_room_id: int) -> None:
        """The room's pending team changes, one at a time, in the order they were asked."""
        async with self.rt.transaction() as tx:
            rows = [m for m, _ in await pending_members(tx, care_room_id)]
            work = [(m.id, m.user_id, m.desired, m.role) for m in rows]
            room = await tx.session.get(CareRoom, care_room_id)
            room_id = room.room_id if room else None
            lang: Lang = room.language if room else "fr"  # type: ignore[assignment]
        if room_id is None:
            return
        for member_id, user_id, desired, role in work:
            try:
                if desired == "present":
                    existed = await self._add(room_id, user_id, self._power(role), lang)
                    outcome = "team.role_changed" if existed else "team.added"
                else:
                    await self._remove(room_id, user_id)
                    outcome = "team.removed"
            except Permanent as exc:
                await self._member_done(member_id, None, str(exc))
                continue
            await self._member_done(member_id, outcome, None)

    async def _add(self, room_id: str, user_id: str, power: int, lang: Lang) -> bool:
        """Invite (unless already in) and set the power level; True if they were already in."""
        room = self.rt.client.rooms.get(room_id)
        already = room is not None and user_id in room.users
        if not already:
            await self.check_users([user_id], lang)
            resp = await self.rt.client.room_invite(room_id, user_id)
            if isinstance(resp, ErrorResponse) and "already in the room" not in resp.message:
                self._raise(resp)
        await self._set_power(room_id, user_id, power)
        if already:  # in the room without keys (not in the team until now): theirs from here on
            self.rt.client.reshare(room_id)
        return already

    async def _remove(self, room_id: str, user_id: str) -> None:
        room = self.rt.client.rooms.get(room_id)
        if room is not None and user_id in room.users:
            resp = await self.rt.client.room_kick(room_id, user_id)
            if isinstance(resp, ErrorResponse) and resp.status_code != "M_NOT_FOUND":
                self._raise(resp)
        await self._set_power(room_id, user_id, 0)
        if room is not None:
            # Do not wait for sync to tell: the next message must already leave them out.
            room.remove_member(user_id)
            self.rt.client.invalidate_outbound_session(room_id)

    async def _power_levels(self, room_id: str) -> dict[str, Any]:
        resp = await self.rt.client.room_get_state_event(room_id, "m.room.power_levels")
        if not isinstance(resp, RoomGetStateEventResponse):
            self._raise(resp)
        return dict(resp.content)

    async def _set_power(self, room_id: str, user_id: str, power: int) -> None:
        content = await self._power_levels(room_id)
        users = dict(content.get("users", {}))
        if users.get(user_id, 0) == power:
            return
        if power:
            users[user_id] = power
        else:
            users.pop(user_id, None)
        put = await self.rt.client.room_put_state(room_id, "m.room.power_levels",
                                                  {**content, "users": users})
        if isinstance(put, ErrorResponse):
            self._raise(put)

    @staticmethod
    def _raise(resp: Any) -> None:
        code = getattr(resp, "status_code", None)
        if code in PERMANENT:
            raise Permanent(f"{code}: {resp.message}")
        raise RuntimeError(f"{code}: {getattr(resp, 'message', resp)}")  # retried next round

    async def _member_done(self, member_id: int, outcome: str | None, error: str | None) -> None:
        async with self.rt.transaction() as tx:
            row = await tx.session.get(TeamMember, member_id)
            if row is None or row.applied:
                return
            room = await tx.session.get(CareRoom, row.care_room_id)
            assert room is not None and room.room_id is not None
            lang: Lang = row.language  # type: ignore[assignment]
            row.applied, row.last_error, row.updated_at = True, error, utcnow()
            if error is not None:
                action = "add" if row.desired == "present" else "remove"
                text: Html = t(lang, "team.failed", user=row.user_id,
                               action=t(lang, f"team.action.{action}"), why=error)
                if row.desired == "present":
                    row.desired = "absent"  # not in the team: nothing half-added
                else:
                    row.desired = "present"
            else:
                assert outcome is not None
                text = t(lang, outcome, user=row.user_id,
                         role=render.role_label(lang, self.roles, row.role))
            tx.post(room.room_id, notice(text, reply_to=row.cause_event_id),
                    cause_event_id=row.cause_event_id)
