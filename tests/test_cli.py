"""The `liaison` command as a user runs it: up, status, register, Ctrl-C, up again."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from bots.homeserver import free_port
from tests.clients import Clinician

LIAISON = [sys.executable, "-m", "bots.cli"]


def liaison(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIAISON, *args], capture_output=True, text=True, timeout=60)


async def wait_up(data_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"liaison up exited: {proc.stdout.read()}"
        done = liaison("status", "--json", "--data-dir", str(data_dir))
        if done.returncode == 0:
            report = json.loads(done.stdout)
            if report["bots"] and all(b.get("cross_signed") for b in report["bots"]):
                return report
        await asyncio.sleep(1)
    raise AssertionError("the dev stack did not come up")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    return proc.wait(60)


async def test_dev_stack_up_register_status_and_restart(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()
    up = [*LIAISON, "up", "--data-dir", str(data_dir), "--port", str(port),
          "--api-port", str(free_port())]
    proc = subprocess.Popen(up, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        report = await wait_up(data_dir, proc)
        assert report["homeserver_url"] == f"http://127.0.0.1:{port}"
        assert report["server_name"] == "localhost"
        assert report["bot_user_ids"] == ["@liaison:localhost"]
        device_id = report["bots"][0]["device_id"]

        reg = liaison("register", "alice", "--password", "motdepasse", "--role", "dac",
                      "--data-dir", str(data_dir))
        assert reg.returncode == 0 and "@alice:localhost" in reg.stdout, reg.stderr
        assert "Invited to the coordination room" in reg.stdout and "as DAC" in reg.stdout
        coordination = reg.stdout.split("coordination room ")[1].split(" ")[0]
        alice = Clinician(report["homeserver_url"], "@alice:localhost", "motdepasse",
                          tmp_path / "alice", key_file=tmp_path / "alice.xsign")
        await alice.login()
        try:
            room_id = await alice.create_room(invite=["@liaison:localhost"])
            await alice.wait_joined(room_id, "@liaison:localhost")
            reply = await alice.reply_to(room_id, await alice.send(room_id, "!ping"),
                                         "@liaison:localhost")
            assert reply.body.startswith("pong")
            # Within a minute of `up`, a newcomer with a role opens a patient room.
            await alice.wait_joined(coordination, "@alice:localhost")
            await alice.wait_for(lambda r, e: r == coordination and "Bienvenue" in
                                 getattr(e, "body", ""))
            opened = await alice.reply_to(coordination, await alice.send(
                coordination, "!patient ouvrir DUPONT Marie 12/03/1948 F"), "@liaison:localhost")
            assert "Salon patient ouvert" in opened.body
        finally:
            await alice.close()
    finally:
        code = stop(proc)
    output = proc.stdout.read()
    assert code == 0, output
    assert "Liaison dev stack" in output and f"http://127.0.0.1:{port}" in output
    assert "liaison register alice --role" in output  # how to get an account for Element
    assert "Traceback" not in output
    down = liaison("status", "--json", "--data-dir", str(data_dir))
    assert down.returncode == 1 and json.loads(down.stdout)["up"] is False

    proc = subprocess.Popen(up, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        again = await wait_up(data_dir, proc)
        assert again["bots"][0]["device_id"] == device_id, "same bot device, no new login"
        bob = liaison("register", "bob", "--role", "IDE", "--data-dir", str(data_dir))
        assert bob.returncode == 0, bob.stderr
        assert f"coordination room {coordination} " in bob.stdout, "the same room, not a new one"
        wrong = liaison("register", "carol", "--role", "CHEF", "--data-dir", str(data_dir))
        assert wrong.returncode == 1 and "CHEF" in wrong.stderr
    finally:
        assert stop(proc) == 0


def test_register_without_a_running_stack_says_so(tmp_path: Path):
    done = liaison("register", "bob", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "not running" in done.stderr


def test_bots_with_a_bad_config_names_the_key(tmp_path: Path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("homeserver: ftp://x\ndata_dir: d\ndatabase: sqlite:///d.db\naccounts: []\n")
    done = liaison("bots", "--config", str(cfg))
    assert done.returncode == 2
    assert "homeserver: 'ftp://x' does not match" in done.stderr
    assert "accounts: [] should be non-empty" in done.stderr
