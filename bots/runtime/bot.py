"""What a bot is to the runtime: its commands and its scheduled-job handlers.

Handlers receive a context whose `tx` is the transaction that also records the event (or job) as
handled: whatever they write or post commits with it, or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bots.runtime.commands import Caller, Command
from bots.runtime.i18n import Lang
from bots.runtime.notice import Html, notice
from bots.runtime.store import Transaction

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime


@dataclass
class CommandContext:
    runtime: Runtime
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

    def reply(self, markup: Html, *, mentions: list[str] | None = None) -> None:
        self.tx.post(self.room_id, notice(markup, mentions=mentions, reply_to=self.event_id),
                     cause_event_id=self.event_id)


@dataclass
class JobContext:
    runtime: Runtime
    tx: Transaction
    kind: str
    key: str
    due_at: datetime
    late: bool
    payload: dict[str, Any]


JobHandler = Callable[[JobContext], Awaitable[None]]


@dataclass
class Bot:
    name: str
    commands: list[Command] = field(default_factory=list)
    jobs: dict[str, JobHandler] = field(default_factory=dict)
