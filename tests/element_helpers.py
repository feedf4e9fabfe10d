"""The Element-stack test client (matrix-js-sdk with its Rust crypto, tests/js), run by tests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

CLIENT = Path(__file__).parent / "js" / "element_client.mjs"


async def run_element_client(params: dict) -> dict:
    proc = await asyncio.create_subprocess_exec(
        "node", str(CLIENT), "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(
        proc.communicate(json.dumps(params).encode()), params["timeout_s"] + 15)
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    assert lines, f"no result from the Element client; stderr:\n{stderr.decode()[-3000:]}"
    return json.loads(lines[-1])
