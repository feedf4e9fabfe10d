"""The ADT intake over the network (bots/adt/listener.py, `liaison adt`): a real MLLP client built
with the same `hl7` library, over TCP (and TLS with client certificates), against the listener on
a free loopback port and a migrated database (SQLite; PostgreSQL where marked). The last test
kills the process mid-stream (`kill -9`) and restarts it: nothing lost, nothing stored twice."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import hl7
import pytest
import pytest_asyncio
import yaml
from hl7.mllp import open_hl7_connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text

from bots import healthcheck
from bots.adt.clients import refusal
from bots.adt.listener import Listener
from bots.adt.models import AdtMessage
from bots.config import AdtConfig, AdtTlsConfig
from bots.devstack.homeserver import free_port
from bots.devstack.testca import CertificateAuthority
from bots.logs import JsonFormatter
from bots.runtime.store import Store, migrate
from bots.runtime.vault import Vault
from tests.conftest import examples
from tests.migrated import sqlite_at_head

DATA = Path(__file__).parent / "data" / "adt"
A01 = (DATA / "a01_admission.hl7").read_bytes()
CARE = "@care:localhost"
LOOPBACK = AdtConfig(careteam_account=CARE, listen=("127.0.0.1", 0))
# What the samples say of the patient: none of it may reach a log line.
PID_VALUES = ("DUPONT", "MARIE", "248037512345658", "19480315", "123456", "NDA0001")


def numbered(control_id: str, raw: bytes = A01) -> bytes:
    """The admission sample under another MSH-10: another message of the same sender."""
    return raw.replace(b"|MSG0001|", f"|{control_id}|".encode())


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_at_head(tmp_path / "bots.db")
    url = request.getfixturevalue("pg_database")
    migrate(url)
    return url


@pytest_asyncio.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    store = Store(db_url, Vault([Vault.new_key()]))
    async with store.engine.begin() as conn:  # PostgreSQL's database is the session's
        await conn.execute(delete(AdtMessage))
    yield store
    await store.close()


Start = Callable[..., Awaitable[Listener]]


@pytest_asyncio.fixture
async def start(store: Store) -> AsyncIterator[Start]:
    """Start a listener on a free loopback port, with LOOPBACK's settings changed as asked."""
    started: list[Listener] = []

    async def factory(**changes: object) -> Listener:
        listener = Listener(store, replace(LOOPBACK, **changes))  # type: ignore[arg-type]
        await listener.start()
        started.append(listener)
        return listener

    yield factory
    for listener in started:
        await listener.stop()


@pytest_asyncio.fixture
async def listener(start: Start) -> Listener:
    return await start()


class Client:
    """An MLLP sender as the hospital's would be: one connection, a message, its ACK."""

    def __init__(self, reader: hl7.mllp.HL7StreamReader,
                 writer: hl7.mllp.HL7StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, **options: object) -> Client:
        # The ACKs carry French texts (ERR-8) in UTF-8, as the samples' bytes are.
        reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8",
                                                   **options)
        return cls(reader, writer)

    def write(self, raw: bytes) -> None:
        self.writer.writeblock(raw)

    async def ack(self) -> hl7.Message:
        return await asyncio.wait_for(self.reader.readmessage(), 10)

    async def send(self, raw: bytes) -> hl7.Message:
        self.write(raw)
        await self.writer.drain()
        return await self.ack()

    async def closed(self) -> bool:
        """Whether the listener closed the connection without answering more."""
        try:
            return await asyncio.wait_for(self.reader.read(1), 10) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


async def send_one(port: int, raw: bytes, **options: object) -> hl7.Message:
    client = await Client.connect(port, **options)
    try:
        return await client.send(raw)
    finally:
        client.close()


def code(answer: hl7.Message) -> str:
    return str(answer.segment("MSA")(1))


def answered_id(answer: hl7.Message) -> str:
    return str(answer.segment("MSA")(2))


def err(answer: hl7.Message, number: int) -> str:
    return str(answer.extract_field("ERR", 1, number))


async def rows(store: Store) -> list[AdtMessage]:
    async with store.transaction(CARE) as tx:
        return list((await tx.session.scalars(select(AdtMessage).order_by(AdtMessage.id))).all())


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_aa_once_stored_and_a_resent_message_acknowledged_again_stored_once(
        store: Store, listener: Listener) -> None:
    first = await send_one(listener.port, A01)
    assert (code(first), answered_id(first)) == ("AA", "MSG0001")
    [row] = await rows(store)  # committed before the AA went out
    assert (row.sender, row.control_id, row.event, row.state) == (
        "GAM^CHU-EXEMPLE", "MSG0001", "A01", "stored")
    again = await send_one(listener.port, A01)
    assert (code(again), answered_id(again)) == ("AA", "MSG0001")
    assert len(await rows(store)) == 1
    # The ACK answers the sender: MSH-5/6 are its MSH-3/4.
    msh = first.segment("MSH")
    assert (str(msh(5)), str(msh(6)), str(msh(9)(1)(1))) == ("GAM", "CHU-EXEMPLE", "ACK")


async def test_one_connections_messages_are_answered_in_the_order_sent(
        store: Store, listener: Listener) -> None:
    client = await Client.connect(listener.port)
    ids = [f"ORD{n:03d}" for n in range(12)]
    for control_id in ids:  # all written before any ACK is read
        client.write(numbered(control_id))
    await client.writer.drain()
    answers = [await client.ack() for _ in ids]
    client.close()
    assert [answered_id(a) for a in answers] == ids
    assert {code(a) for a in answers} == {"AA"}
    assert [r.control_id for r in await rows(store)] == ids


@pytest.mark.parametrize(("sample", "ack_code", "reason", "kept"), [
    ("bad_ins_key.hl7", "AE", "ins_key", True),
    ("no_pid.hl7", "AE", "missing_segment", True),
    ("bad_msh_no_control_id.hl7", "AR", "bad_msh", False),
    ("not_hl7.hl7", "AR", "not_hl7", False),
])
async def test_a_malformed_message_gets_its_reason_and_nothing_is_stored(
        store: Store, listener: Listener, sample: str, ack_code: str, reason: str,
        kept: bool) -> None:
    answer = await send_one(listener.port, (DATA / sample).read_bytes())
    assert code(answer) == ack_code
    assert err(answer, 5) == reason
    assert err(answer, 8)  # the human text, in French by default
    found = await rows(store)
    assert [r.state for r in found] == (["quarantined"] if kept else [])
    assert all(r.reason == reason for r in found)


async def test_the_ack_texts_are_in_the_configured_language(start: Start) -> None:
    listener = await start(language="en")
    answer = await send_one(listener.port, (DATA / "no_pid.hl7").read_bytes())
    assert err(answer, 8) == "Missing PID segment."


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_header_fields_too_long_for_their_column_are_refused_not_failed(
        store: Store, listener: Listener) -> None:
    answer = await send_one(listener.port, numbered("X" * 300))
    assert (code(answer), err(answer, 5)) == ("AR", "bad_msh")
    answer = await send_one(listener.port, numbered("NUL\x00ID"))
    assert code(answer) == "AR"
    assert await rows(store) == []


async def test_a_client_off_the_allow_list_is_closed_and_logged_by_its_address(
        store: Store, start: Start, caplog: pytest.LogCaptureFixture) -> None:
    listener = await start(networks=(ipaddress.ip_network("10.0.0.0/8"),))
    caplog.set_level(logging.INFO, logger="bots.adt.listener")
    client = await Client.connect(listener.port)
    client.write(A01)
    assert await client.closed()
    client.close()
    assert await rows(store) == []
    [refused] = [r for r in caplog.records if r.msg == "adt.client_refused"]
    assert (refused.client, refused.reason) == ("127.0.0.1", "address")  # type: ignore[attr-defined]


async def test_a_failure_gets_no_ack_and_the_listener_serves_the_next(
        store: Store, listener: Listener, caplog: pytest.LogCaptureFixture) -> None:
    """The table gone (as a database that fails would): the message is not acknowledged, the
    connection closed so the sender resends; once the table is back, the resend gets its AA."""
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE adt_messages RENAME TO adt_away"))
    client = await Client.connect(listener.port)
    client.write(A01)
    assert await client.closed()
    client.close()
    assert any(r.msg == "adt.failed" for r in caplog.records)
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE adt_away RENAME TO adt_messages"))
    assert code(await send_one(listener.port, A01)) == "AA"
    assert len(await rows(store)) == 1


async def test_a_message_beyond_the_size_bound_is_refused_and_the_next_is_taken(
        store: Store, start: Start) -> None:
    listener = await start(max_message_kib=16)
    big = A01.rstrip(b"\r\n") + b"\rNTE|1||" + b"x" * (20 * 1024) + b"\r"
    client = await Client.connect(listener.port)
    answer = await client.send(big)
    assert (code(answer), err(answer, 5)) == ("AR", "too_large")
    assert await client.closed()
    client.close()
    # A frame that never ends: refused the same way once it passes the bound, memory kept.
    client = await Client.connect(listener.port)
    client.writer.write(b"\x0bMSH|^~\\&|" + b"y" * (40 * 1024))
    assert code(await client.ack()) == "AR"
    client.close()
    assert code(await send_one(listener.port, A01)) == "AA"
    assert [r.control_id for r in await rows(store)] == ["MSG0001"]


async def test_an_unterminated_frame_then_a_close_changes_nothing(
        store: Store, listener: Listener) -> None:
    client = await Client.connect(listener.port)
    client.writer.write(b"\x0b" + A01)  # no end block: the sender died mid-message
    await client.writer.drain()
    client.close()
    assert code(await send_one(listener.port, A01)) == "AA"
    assert len(await rows(store)) == 1


async def test_connections_beyond_the_bound_are_closed_and_silent_ones_timed_out(
        store: Store, start: Start) -> None:
    listener = await start(max_connections=1, idle_timeout_seconds=1)
    first = await Client.connect(listener.port)
    assert code(await first.send(A01)) == "AA"
    second = await Client.connect(listener.port)
    second.write(numbered("SECOND1"))
    assert await second.closed()  # busy
    second.close()
    assert await first.closed()  # a second without a message: idle
    first.close()
    assert code(await send_one(listener.port, numbered("THIRD1"))) == "AA"
    assert [r.control_id for r in await rows(store)] == ["MSG0001", "THIRD1"]


def test_the_allow_list_by_network_then_subject_or_fingerprint(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    gam, other = (ssl.PEM_cert_to_DER_cert(ca.client_cert(name)[0].read_text())
                  for name in ("gam.chu.example", "other.chu.example"))
    networks = replace(LOOPBACK, networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert refusal(networks, "10.20.3.4", None) is None
    assert refusal(networks, "::ffff:10.20.3.4", None) is None  # IPv4 on a dual-stack socket
    assert refusal(networks, "10.21.0.1", gam) == "address"
    by_subject = replace(networks, subjects=("CN=gam.chu.example",))
    assert refusal(by_subject, "10.20.3.4", gam) is None
    assert refusal(by_subject, "10.20.3.4", other) == "certificate"
    assert refusal(by_subject, "10.20.3.4", None) == "certificate"
    by_fingerprint = replace(networks, fingerprints=(hashlib.sha256(other).hexdigest(),))
    assert refusal(by_fingerprint, "10.20.3.4", other) is None
    assert refusal(by_fingerprint, "10.20.3.4", gam) == "certificate"


async def test_tls_with_a_client_certificate_on_the_allow_list(
        store: Store, start: Start, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    certificate, key = ca.server_cert()
    listener = await start(
        tls=AdtTlsConfig(certificate=certificate, key=key, client_ca=ca.cert_file),
        subjects=("CN=gam.chu.example",))

    def client_context(name: str | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(ca.cert_file))
        if name is not None:
            ctx.load_cert_chain(*map(str, ca.client_cert(name)))
        return ctx

    answer = await send_one(listener.port, A01, ssl=client_context("gam.chu.example"))
    assert code(answer) == "AA"
    # Signed by the CA but not listed: closed unanswered.
    other = await Client.connect(listener.port, ssl=client_context("other.chu.example"))
    other.write(numbered("OTHER1"))
    assert await other.closed()
    other.close()
    # No certificate: the handshake fails.
    with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
        await send_one(listener.port, numbered("NOCERT1"), ssl=client_context(None))
    assert [r.control_id for r in await rows(store)] == ["MSG0001"]


async def test_no_patient_data_in_the_logs(listener: Listener,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for sample in sorted(DATA.glob("*.hl7")):
        await send_one(listener.port, sample.read_bytes())
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "adt.acknowledged" in logged and "MSG0001" in logged
    for value in PID_VALUES:
        assert value not in logged


# Hypothesis: whatever the bytes in a frame, an ACK or a closed connection; an AA only for a
# stored message; and the service goes on.
FRAMES = (st.binary(max_size=2000)
          | st.binary(max_size=600).map(lambda b: A01[:120] + b)
          | st.tuples(st.integers(0, len(A01)), st.binary(min_size=1, max_size=40)).map(
              lambda cut: A01[:cut[0]] + cut[1] + A01[cut[0]:])
          | st.text(max_size=300).map(numbered))  # any MSH-10


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(FRAMES)
async def test_any_framed_bytes_get_an_ack_or_a_close_and_the_next_message_its_aa(
        store: Store, listener: Listener, raw: bytes) -> None:
    client = await Client.connect(listener.port)
    try:
        client.writer.writeblock(raw)
        await client.writer.drain()
        try:
            answer = await asyncio.wait_for(client.reader.readblock(), 10)
        except (asyncio.IncompleteReadError, ConnectionError):
            answer = None
    finally:
        client.close()
    if answer is not None:
        try:  # the ACK comes in the message's character set
            ack = hl7.parse(answer.decode("utf-8"))
        except UnicodeDecodeError:
            ack = hl7.parse(answer.decode("latin-1"))
        assert code(ack) in {"AA", "AE", "AR"}
        if code(ack) == "AA":
            stored = {r.control_id for r in await rows(store) if r.state == "stored"}
            assert answered_id(ack) in stored
    assert code(await send_one(listener.port, A01)) == "AA"


# --- the process: `liaison adt` killed mid-stream ---------------------------------------------

def _config(tmp_path: Path, port: int, health_port: int) -> Path:
    path = tmp_path / "liaison.yaml"
    path.write_text(yaml.safe_dump({
        "homeserver": "http://127.0.0.1:1", "data_dir": str(tmp_path / "data"),
        "database": f"sqlite:///{tmp_path / 'bots.db'}", "data_keys": [Vault.new_key()],
        "accounts": [{"user_id": CARE, "password": "unused", "bots": ["careteam"]}],
        "adt": {"listen": f"127.0.0.1:{port}"},
        "metrics": {"adt_listen": f"127.0.0.1:{health_port}"}}))
    return path


def _start_process(config: Path, port: int) -> subprocess.Popen[bytes]:
    log = config.parent / "adt.log"  # a file, not a pipe: a full pipe would block the process
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "adt", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=sink,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("liaison adt did not listen")


async def _send_all(port: int, ids: list[str], acked: set[str], *, read: int) -> Client:
    """Send `ids` pipelined on one connection, as a sender with a backlog does; read `read` ACKs
    (all AA), noting them in `acked`. The connection stays open."""
    client = await Client.connect(port)
    for control_id in ids:
        client.write(numbered(control_id))
    await client.writer.drain()
    for _ in range(read):
        answer = await client.ack()
        assert code(answer) == "AA"
        acked.add(answered_id(answer))
    return client


async def _stored(tmp_path: Path) -> list[str]:
    """The control IDs in the process's database (read without its data keys: not sealed)."""
    store = Store(f"sqlite:///{tmp_path / 'bots.db'}", Vault([Vault.new_key()]))
    try:
        return [r.control_id for r in await rows(store)]
    finally:
        await store.close()


@pytest.mark.e2e  # child processes
async def test_killed_mid_stream_then_restarted_every_message_is_stored_once(
        tmp_path: Path) -> None:
    port, health_port = free_port(), free_port()
    config = _config(tmp_path, port, health_port)
    ids = [f"CRASH{n:04d}" for n in range(300)]
    acked: set[str] = set()
    proc = _start_process(config, port)
    try:
        ready = f"http://127.0.0.1:{health_port}/health/ready"
        assert await asyncio.to_thread(healthcheck.main, [ready]) == 0  # compose's check
        client = await _send_all(port, ids, acked, read=40)
        # The sender reads no more ACKs (as if lost on the way) while the intake goes on
        # storing; then the process is killed, the rest of the stream still in flight.
        for _ in range(600):  # 30 s at most
            if len(await _stored(tmp_path)) >= len(acked) + 20:
                break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        client.close()
        survived = set(await _stored(tmp_path))
        assert acked <= survived  # every AA was given after its commit
        assert len(acked) < len(survived) < len(ids)  # stored, not acknowledged: to resend
        proc = _start_process(config, port)
        resent = [i for i in ids if i not in acked]  # what the sender has no ACK for
        client = await _send_all(port, resent, acked, read=len(resent))
        client.close()
        assert acked == set(ids)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0  # a clean stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stored = await _stored(tmp_path)
    assert sorted(stored) == ids  # each once: none lost, none twice
    logged = (tmp_path / "adt.log").read_text()
    assert "adt.acknowledged" in logged
    for value in PID_VALUES:
        assert value not in logged


@pytest.mark.e2e  # a child process
def test_a_bad_tls_file_stops_the_start_saying_which(tmp_path: Path) -> None:
    config = _config(tmp_path, free_port(), free_port())
    raw = yaml.safe_load(config.read_text())
    (tmp_path / "server.pem").write_text("not a certificate")
    raw["adt"]["tls"] = {"certificate": "server.pem", "key": "missing.key"}
    config.write_text(yaml.safe_dump(raw))
    done = subprocess.run([sys.executable, "-m", "bots.cli", "adt", "--config", str(config)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert done.returncode == 2
    assert f"adt/tls: certificate {tmp_path / 'server.pem'} or key {tmp_path / 'missing.key'}" \
        in done.stderr
