"""What a report says besides its figures: the machine, the versions, the command line, and
where it is written (a section of docs/PERFORMANCE.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import psutil

from bench.lib import REPO


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    ram = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} CPUs ({model}), {ram:.1f} GiB RAM, {platform.system()} {platform.release()}"


def versions(peer_python: Path | None) -> dict[str, str]:
    found = {name: version(name) for name in
             ("matrix-synapse", "matrix-nio", "vodozemac", "SQLAlchemy", "aiosqlite")}
    found["python"] = platform.python_version()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, timeout=10,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bots"], cwd=REPO,
                               timeout=10, capture_output=True, text=True).stdout.strip()
        found["code"] = head + (" with uncommitted changes under bots/" if dirty else "")
    if peer_python is not None:
        out = subprocess.run(
            [str(peer_python), "-c", "import importlib.metadata as m; "
             "print(m.version('matrix-reminder-bot'), m.version('matrix-nio'))"],
            capture_output=True, text=True, timeout=60)
        if out.returncode == 0:
            bot, nio = out.stdout.split()
            found["peer"] = f"matrix-reminder-bot {bot} (matrix-nio {nio})"
    return found


def shown_argv() -> list[str]:
    """The command line, without where the figures were written."""
    shown, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith("--doc="):
            skip = False
            continue
        skip = arg == "--doc"
        if not skip:
            shown.append(arg)
    return shown


def rerun(name: str, when: str, extra: str = "") -> str:
    """The report's last line: how to run the benchmark `bench.<name>` again."""
    return (f"Rerun: `make bench` ({when}) or `python -m bench.{name}`; "
            f"`python -m bench.{name} --help` lists the knobs{extra}.")


def arguments(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of `python -m bench.<name>`, described by the first paragraph of its `doc`."""
    return argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.split("\n\n")[0])


def write_doc(path: Path, section: str, heading: str) -> None:
    """Replace the section under `heading` (or append it), leaving the others as they are."""
    text = path.read_text() if path.exists() else (
        "# Performance\n\nFigures measured on this project's own benchmarks (bench/).\n\n")
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
