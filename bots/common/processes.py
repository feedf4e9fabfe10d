"""Child processes the dev stack and the tests' servers start (Synapse, Dovecot, Postfix)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to a child's whole process group (a server and the workers it started), SIGKILL
    if it is still there after `timeout`."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
