"""What a bot is to the runtime: its commands and their texts, its scheduled-job handlers, what
it does when someone joins a room or reacts to a message, how it knows a caller's role, and the services it runs beside the sync loop.

Handlers receive a context whose `tx` is the transaction that also records the event (or job) as
handled: whatever they write or post commits with it, or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from bots.runtime.commands import Caller, Command
from bots.runtime.i18n import Catalogue, Lang, t
from bots.runtime.notice import Html, notice
from bots.runtime.store import Store, Transaction

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

T = TypeVar("T")


class Answering:
    """What a command's and a reaction's contexts share: the caller, their room, and `reply`,
    which answers in the handler's transaction under the event `answered` names."""

    tx: Transaction
    caller: Caller
    event_id: str
    lang: Lang

    @property
    def room_id(self) -> str:
        return self.caller.room_id

    @property
    def sender(self) -> str:
        return self.caller.user_id

    @property
    def answered(self) -> str:
        return self.event_id

    def reply(self, markup: Html, *, mentions: list[str] | None = None) -> None:
        self.tx.post(self.room_id, notice(markup, mentions=mentions, reply_to=self.answered),
                     cause_event_id=self.event_id)

    def found(self, row: T | None, missing: str) -> T | None:
        """`row` (what the command works on, looked up), or None once the reply says `missing`
        (a text key)."""
        if row is None:
            self.reply(t(self.lang, missing))
        return row


@dataclass
class CommandContext(Answering):
    runtime: Runtime
    tx: Transaction
    caller: Caller
    event_id: str
    lang: Lang
    replying_to: str | None = None  # the event the command answers (Matrix reply or thread)


@dataclass
class JobContext:
    runtime: Runtime
    tx: Transaction
    kind: str
    key: str
    due_at: datetime
    late: bool
    payload: dict[str, Any]
    now: datetime  # the time it fires at (tests pass their own clock to run_due)


@dataclass
class JoinContext:
    """Someone joined a room the bot is in (handled once per join event)."""

    runtime: Runtime
    tx: Transaction
    room_id: str
    user_id: str
    event_id: str

    def post(self, markup: Html, *, mentions: list[str] | None = None) -> None:
        self.tx.post(self.room_id, notice(markup, mentions=mentions),
                     cause_event_id=self.event_id)


@dataclass
class ReactionContext(Answering):
    """Someone reacted to a message (handled once per reaction event). The caller's standing is
    resolved as for a command, and `reply` answers under the reacted-to message."""

    runtime: Runtime
    tx: Transaction
    caller: Caller
    event_id: str
    key: str  # the emoji, e.g. "✅"
    reacts_to: str  # the event reacted to
    lang: Lang
    # False for a reaction sent in clear (Element Web's): only `Bot.clear_reactions` bots get it.
    encrypted: bool = True

    @property
    def answered(self) -> str:
        return self.reacts_to


@dataclass(frozen=True)
class Seen:
    """A room message the runtime saw in a sync, as usage counts need it: who, when, whether
    it was one of this account's commands. Never its content."""

    room_id: str
    event_id: str
    sender: str
    ts: int  # origin_server_ts, milliseconds
    command: bool


JobHandler = Callable[[JobContext], Awaitable[None]]
JoinHandler = Callable[[JoinContext], Awaitable[None]]
ReactionHandler = Callable[[ReactionContext], Awaitable[None]]
# Whether the bot was asked into a room (room ID, inviter) by someone its records allow.
InviteFilter = Callable[[Transaction, str, str], Awaitable[bool]]
# Fills in what the runtime cannot know (the caller's role, the kind of room), in the command's
# transaction, before its permission is checked.
CallerResolver = Callable[[Transaction, Caller], Awaitable[Caller]]
# Records what a sync's room messages were (usage aggregates), in its own transaction; its
# failure is logged and never holds up the commands.
Observer = Callable[[Transaction, list[Seen]], Awaitable[None]]
# Long-running tasks started once the runtime is ready (workers, an HTTP API); cancelled at stop.
Service = Callable[["Runtime"], Awaitable[None]]
# An endpoint a bot adds to the provisioning API (served by the care-team bot, which gives the
# handler itself first: its token check, body validation and errors): method, path, handler.
ApiRoute = tuple[str, str, Callable[[Any, web.Request], Awaitable[web.StreamResponse]]]


@dataclass
class Bot:
    name: str
    commands: list[Command] = field(default_factory=list)
    # The bot's texts (fr/en), registered by the runtime that runs it: its commands' help and
    # argument labels, its replies.
    texts: tuple[Catalogue, ...] = ()
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    on_join: JoinHandler | None = None
    on_reaction: ReactionHandler | None = None
    resolve_caller: CallerResolver | None = None
    accepts_invite: InviteFilter | None = None
    services: list[Service] = field(default_factory=list)
    api_routes: list[ApiRoute] = field(default_factory=list)
    # Gets reactions sent in clear too (Element Web never encrypts them), with no device to
    # judge: a bot that sets it may only tick a checklist item with them, and records so.
    clear_reactions: bool = False
    # Works in rooms another bot runs (the MSSanté bridge): only its own commands are answered.
    companion: bool = False
    observe: Observer | None = None
    # Sets the bot's own gauges from the database before each /metrics scrape
    # (bots/monitoring.py), given the process's accounts that run it.
    gauges: Callable[[Store, list[str]], Awaitable[None]] | None = None
    # Who of a room's members may get the keys of what the account sends there (None: all).
    key_recipients: Callable[[Runtime, str], Awaitable[Collection[str] | None]] | None = None
