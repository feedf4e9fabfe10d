"""Container health checks (compose.yaml) with nothing but Python: `python -m bots.healthcheck
URL` for a bots process's /health/ready, `--synapse FILE` for a Synapse process, whose port is
read from its own configuration (homeserver.yaml's listeners or a worker's worker_listeners).
Exit 0 when it answers 200, 1 otherwise."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml


def synapse_health_url(config_file: Path) -> str:
    raw = yaml.safe_load(Path(config_file).read_text()) or {}
    for listener in raw.get("worker_listeners") or raw.get("listeners") or []:
        if listener.get("type") == "http" and listener.get("port"):
            return f"http://127.0.0.1:{listener['port']}/health"
    raise ValueError(f"{config_file}: no HTTP listener")


def healthy(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own URL
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots.healthcheck", description=__doc__)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("url", nargs="?")
    target.add_argument("--synapse", type=Path, help="a Synapse or worker configuration file")
    args = parser.parse_args(argv)
    try:
        url = args.url or synapse_health_url(args.synapse)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy(url) else 1


if __name__ == "__main__":
    sys.exit(main())
