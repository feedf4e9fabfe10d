"""Optional timing probes for the benchmark's bot processes (`python -m bench.roundtrip --trace`).

With BENCH_TRACE_FILE set, echo_floor and run_liaison wrap a few coroutines (nio's sync handling
and room_send; for Liaison, each stage of the runtime's loop and sender) and, on exit, write every
call as (name, start, end, key) to that file. Times are time.perf_counter(), i.e. CLOCK_MONOTONIC
on Linux: the same clock in every process, so the benchmark lines them up with its own stamps.
Without the variable nothing is wrapped.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPANS: list[tuple[str, float, float, Any]] = []
INSTANTS: list[tuple[str, float]] = []


def enabled() -> bool:
    return bool(os.environ.get("BENCH_TRACE_FILE"))


def _wrap(owner: type, attr: str, name: str,
          key: Callable[..., Any] | None = None) -> None:
    original = getattr(owner, attr, None)
    if original is None:  # renamed or gone in this version of the code: no probe, no crash
        return

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            end = time.perf_counter()
            try:
                label = key(*args, **kwargs) if key else None
            except Exception:  # a probe must never break the bot
                label = None
            SPANS.append((name, start, end, label))

    setattr(owner, attr, wrapper)


def _timeline_ids(_client: Any, response: Any) -> list[str] | None:
    from nio import SyncResponse

    if not isinstance(response, SyncResponse):
        return None
    return [ev.event_id for info in response.rooms.join.values()
            for ev in info.timeline.events]


def _replied_to(*args: Any, **kwargs: Any) -> str | None:
    content = kwargs.get("content") or args[3]
    return content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")


def install_nio() -> None:
    """What every nio bot does: parse and validate a response, handle a sync response (decrypt,
    crypto store), send a message."""
    # nio imported here, not with this module: the bots process must load it as `liaison bots`
    # does, after bots/runtime/__init__.py (bench/run_liaison.py imports this module first).
    from nio import AsyncClient

    _wrap(AsyncClient, "create_matrix_response", "nio.parse_response",
          lambda *args, **kwargs: (kwargs.get("response_class") or args[1]).__name__)
    _wrap(AsyncClient, "receive_response", "nio.receive_response", _timeline_ids)
    _wrap(AsyncClient, "room_send", "nio.room_send", _replied_to)


def install_liaison() -> None:
    from bots.careteam.bot import CareTeam
    from bots.runtime.client import Client
    from bots.runtime.runtime import Runtime
    from bots.runtime.sender import Sender
    from bots.runtime.store import Store
    from bots.runtime.trust import DeviceTrust

    for attr in ("_after_sync", "_crypto_housekeeping", "_handle_invites",
                 "_retry_undecryptable", "_process_inbox"):
        _wrap(Runtime, attr, f"runtime.{attr}")
    _wrap(Runtime, "_handle", "runtime._handle", lambda _self, row: row.event_id)
    _wrap(Sender, "_send", "sender._send", lambda _self, row: row.cause_event_id)
    _wrap(Sender, "_deliver", "sender._deliver", lambda _self, row: row.room_id)
    _wrap(Client, "share_group_session", "client.share_group_session")
    _wrap(CareTeam, "key_recipients", "careteam.key_recipients")
    _wrap(DeviceTrust, "ensure", "trust.ensure")
    for attr in ("record_sync", "pending_outbox", "outbox_done"):
        _wrap(Store, attr, f"store.{attr}")
    _wrap(Store, "inbox", "store.inbox", lambda _self, _account, state: state)

    # The moment the handler's transaction hands its messages to the sender: Sender.wake (the
    # sender then reads the outbox) or Sender.enqueue (the committed rows themselves).
    for attr in ("wake", "enqueue"):
        if hasattr(Sender, attr):
            _instant(Sender, attr, "sender.handoff")


def _instant(owner: type, attr: str, name: str) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        INSTANTS.append((name, time.perf_counter()))
        return original(*args, **kwargs)

    setattr(owner, attr, wrapper)


def dump() -> None:
    path = os.environ.get("BENCH_TRACE_FILE")
    if path:
        Path(path).write_text(json.dumps({"spans": SPANS, "instants": INSTANTS}))
