"""Prometheus metrics of the bots and the bridge (served by bots/monitoring.py).

Labels are fixed names only (a bot, a command's name, an outcome, a job kind): never a room, a
user, an event or anything typed by someone, so nothing about a patient or a team leaves this way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from bots.runtime.commands import Invocation, Rejection
from bots.runtime.models import OutboxMessage

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

COMMANDS = Counter("liaison_commands", "Commands handled, by bot, command and outcome (ok, "
                   "refused: bad syntax or unknown, forbidden, untrusted device, failed: the "
                   "handler raised and is retried)", ["bot", "command", "outcome"])
ANSWER_LATENCY = Histogram(
    "liaison_answer_latency_seconds", "From a command's origin_server_ts to its first answer "
    "sent (accepted by the homeserver)", ["bot"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300))
OUTBOX_PENDING = Gauge("liaison_outbox_pending", "Messages decided and not yet sent")
OUTBOX_OLDEST = Gauge("liaison_outbox_oldest_pending_seconds",
                      "Age of the oldest message not yet sent (0: none)")
SCHEDULER_LATENESS = Histogram(
    "liaison_scheduler_lateness_seconds", "How long after its due time a scheduled job ran",
    ["kind"], buckets=(0.1, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400))

UNKNOWN = "?"  # a command nobody declared: its name is the user's text, not a label
BUILTIN = "builtin"
_ANSWER_WAIT_MAX = 10_000  # commands waiting for their answer to be sent, at most (memory)


def command_bot(runtime: Runtime, name: str) -> str:
    return next((bot.name for bot in runtime.bots if any(c.name == name for c in bot.commands)),
                BUILTIN)


def command_handled(runtime: Runtime, parsed: Invocation | Rejection | None,
                    outcome: str, event: dict[str, object]) -> None:
    """Count a command (once its transaction is over) and start its answer's clock."""
    command = parsed.command if parsed is not None else None
    name = command.name if command is not None else UNKNOWN
    bot = command_bot(runtime, name) if command is not None else BUILTIN
    COMMANDS.labels(bot, name, outcome).inc()
    ts = event.get("origin_server_ts")
    if outcome != "failed" and isinstance(ts, int | float):
        runtime.answers.started(str(event["event_id"]), bot, ts / 1000)


class AnswerClock:
    """Commands whose first answer is not sent yet: when each was sent by its author."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[str, float]] = {}

    def started(self, event_id: str, bot: str, origin_ts: float) -> None:
        if len(self._waiting) >= _ANSWER_WAIT_MAX:  # answers never sent (room gone): forget
            self._waiting.pop(next(iter(self._waiting)))
        self._waiting[event_id] = (bot, origin_ts)

    def sent(self, row: OutboxMessage, _event_id: str) -> None:
        """Sender.on_sent: the first answer to a command observes its latency."""
        waiting = self._waiting.pop(row.cause_event_id, None) if row.cause_event_id else None
        if waiting is not None:
            bot, origin_ts = waiting
            ANSWER_LATENCY.labels(bot).observe(max(0.0, time.time() - origin_ts))
