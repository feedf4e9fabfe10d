"""The `liaison` command as a user runs it: up, status, register, Ctrl-C, up again."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest
import yaml

from bots.devstack import stack as devstack
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import free_port
from bots.devstack.testca import CertificateAuthority

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


def report_adt_metrics(data_dir: Path) -> str:
    """The running stack's ADT intake /metrics URL (stack.json)."""
    return json.loads(devstack.stack_file(data_dir).read_text())["adt_metrics_url"] + "/metrics"


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    return proc.wait(60)


@pytest.mark.e2e  # `liaison up` in a child process: a real Synapse
async def test_dev_stack_up_register_status_and_restart(tmp_path: Path):
    data_dir, port, dashboard = tmp_path / "var", free_port(), free_port()
    up = [*LIAISON, "up", "--data-dir", str(data_dir), "--port", str(port),
          "--api-port", str(free_port()), "--dashboard-port", str(dashboard),
          "--adt-port", str(free_port()), "--adt-metrics-port", str(free_port())]
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
        # The dashboard is on in the dev stack: the new DAC logs in with her password.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"http://127.0.0.1:{dashboard}/login") as resp:
                csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert csrf is not None
            async with http.post(f"http://127.0.0.1:{dashboard}/login", allow_redirects=False,
                                 data={"csrf": csrf.group(1), "user": "alice",
                                       "password": "motdepasse"}) as resp:
                assert resp.status == 303 and resp.headers["Location"] == "/"
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
            # The ADT intake runs too: an admission sent with `liaison adt-send` (MLLP, the
            # hl7 library's client) is acknowledged and opens a room with the dev ward's team,
            # told in the coordination room.
            since = len(alice.timeline)
            sent = liaison("adt-send", "--sample", "admission", "--data-dir", str(data_dir))
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert "MSA|AA|DEV" in sent.stdout
            notice = await alice.wait_for(
                lambda r, e: r == coordination and "Salon patient ouvert" in
                getattr(e, "body", "") and "@idec:localhost" in getattr(e, "body", ""),
                timeout=60, start=since)
            assert "DUPONT" not in notice.body, "no identity in the coordination room"
            async with aiohttp.ClientSession() as http:
                async with http.get(report_adt_metrics(data_dir)) as resp:
                    assert 'liaison_adt_messages_total{ack="AA"} 1.0' in await resp.text()
        finally:
            await alice.close()
    finally:
        code = stop(proc)
    output = proc.stdout.read()
    assert code == 0, output
    assert "Liaison dev stack" in output and f"http://127.0.0.1:{port}" in output
    assert f"Dashboard    http://127.0.0.1:{dashboard}/" in output
    assert "adt-send --sample admission" in output  # how to feed the dev ward
    assert "liaison register alice --role" in output  # how to get an account for Element
    assert "Traceback" not in output
    assert "message rate limit lifted" in output, "the dev stack's bot is a server admin"
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

@pytest.mark.e2e  # `liaison up --mail`: a real Synapse, Dovecot and Postfix
@pytest.mark.e2e  # `liaison up` in a child process: a real Synapse
async def test_dev_stack_with_mail_runs_the_bridge_on_local_mail_servers():
    # Not tmp_path: the mail servers' own users must reach their files (pytest's is 0700).
    data_dir = Path(tempfile.mkdtemp(prefix="liaison-up-mail-"))
    data_dir.chmod(0o755)
    up = [*LIAISON, "up", "--mail", "--data-dir", str(data_dir), "--port", str(free_port()),
          "--api-port", str(free_port()), "--dashboard-port", str(free_port()),
          "--adt-port", str(free_port()), "--adt-metrics-port", str(free_port())]
    proc = subprocess.Popen(up, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        report = await wait_up(data_dir, proc)  # every account cross-signed: the bridge too
        assert report["bot_user_ids"] == ["@liaison:localhost", "@mssante:localhost"]
        reg = liaison("register", "alice", "--password", "motdepasse", "--role", "DAC",
                      "--data-dir", str(data_dir))
        assert reg.returncode == 0, reg.stderr
        coordination = reg.stdout.split("coordination room ")[1].split(" ")[0]
        alice = Clinician(report["homeserver_url"], "@alice:localhost", "motdepasse",
                          data_dir / "alice", key_file=data_dir / "alice.xsign")
        await alice.login()
        try:
            await alice.wait_joined(coordination, "@alice:localhost")
            await alice.wait_joined(coordination, "@mssante:localhost", timeout=60)
            # A GP writes with the dev CA's certificate, as the banner says: no patient named,
            # so the mail waits for triage in the coordination room.
            config = yaml.safe_load((data_dir / "liaison.yaml").read_text())["mssante"]
            cert, key = CertificateAuthority(data_dir / "mail" / "ca").client_cert(
                devstack.DEV_GP)  # the one the banner names (made once, then reused)
            ctx = ssl.create_default_context(cafile=config["imap"]["ca_file"])
            ctx.load_cert_chain(cert, key)
            msg = EmailMessage()
            msg["From"], msg["To"] = devstack.DEV_GP, devstack.DEV_MAILBOX
            msg["Subject"] = "Question"
            msg.set_content("Bonjour, une question sur un patient.")
            with smtplib.SMTP(config["smtp"]["host"], config["smtp"]["port"]) as smtp:
                smtp.starttls(context=ctx)
                smtp.send_message(msg)
            triage = await alice.wait_for(lambda r, e: r == coordination and "Courrier à classer"
                                          in getattr(e, "body", ""), timeout=60)
            assert devstack.DEV_GP in triage.body
        finally:
            await alice.close()
    finally:
        code = stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    output = proc.stdout.read()
    assert code == 0 and "MSSanté (local Dovecot and Postfix" in output, output
    assert "Traceback" not in output
