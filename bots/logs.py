"""Structured logs: one JSON object a line, with the fields passed as `extra=`.

Message bodies never go to the logs: the runtime logs event IDs, room IDs and command names only,
and libraries that may log event contents (nio at DEBUG) are held at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def failure(exc: BaseException) -> str:
    """An exception's kind and where it was raised, without its message: about hostile input
    (a mail), the message may quote what it choked on, patient data included."""
    frames = traceback.extract_tb(exc.__traceback__)
    return exc.__class__.__name__ + (
        f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "")


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("nio", "peewee", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
