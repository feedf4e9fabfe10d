"""The peer: matrix-reminder-bot 0.4.0 (matrix-nio + APScheduler, one SQLite row per reminder),
installed from PyPI into its own virtualenv so its pins cannot disturb the project's.

It has no `e2e` extra of its own: it requires `matrix-nio[e2e]`, so E2EE comes with it. Its
configuration is a YAML file (see matrix_reminder_bot/config.py); it logs in with a password at every
start, under the device ID given in the file, and answers `!remindme <time>; <text>` with an
m.notice "OK, I will remind you on <date>!" (not a reply: no m.relates_to), after writing the row.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

VERSION = "0.4.0"
VENV = Path(__file__).resolve().parent / ".venv-peer"
_MARKER = VENV / f".installed-matrix-reminder-bot-{VERSION}"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(timeout: float = 600) -> Path:
    """Create bench/.venv-peer and install matrix-reminder-bot there, once. Returns its python."""
    if _MARKER.exists() and python().exists():
        return python()
    base = shutil.which("python3.11") or sys.executable
    print(f"[bench] installing matrix-reminder-bot=={VERSION} into {VENV} ...", flush=True)
    if not python().exists():
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=timeout)
    pip = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"matrix-reminder-bot=={VERSION}"], check=True, timeout=timeout,
                   stderr=subprocess.DEVNULL)
    _MARKER.touch()
    return python()


def write_config(folder: Path, *, homeserver: str, user_id: str, password: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "command_prefix": "!",
        "matrix": {
            "user_id": user_id, "user_password": password, "device_id": "REMINDERBENCH",
            "device_name": "matrix-reminder-bot", "homeserver_url": homeserver,
        },
        "storage": {"database": f"sqlite://{folder / 'reminders.db'}",
                    "store_path": str(folder / "store")},
        "reminders": {"timezone": "Europe/Paris"},
        "allowlist": {"enabled": False, "regexes": []},
        "blocklist": {"enabled": False, "regexes": []},
        "logging": {"level": "WARNING", "console_logging": {"enabled": True},
                    "file_logging": {"enabled": False}},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def command(config: Path) -> list[str]:
    return [str(python()), "-m", "matrix_reminder_bot.main", str(config)]
