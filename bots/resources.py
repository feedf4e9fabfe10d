"""Where the repository-level folders (server-config/, schemas/) are, installed or not."""

from __future__ import annotations

import sys
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """`server-config` or `schemas`: from the source tree (editable install, checkout) or, for a
    plain `pip install .`, from the data files installed under `<prefix>/share/liaison/`."""
    candidates = [_SOURCE_ROOT / name, Path(sys.prefix) / "share" / "liaison" / name]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(f"{name}/ not found (looked in {', '.join(map(str, candidates))})")
