"""The MSSanté bridge under load: mail in through Postfix and Dovecot into encrypted patient rooms,
and mail out of the rooms through Postfix, on real servers, against the bare mail path.

    python -m bench.bridge [--mails 1000] [--rate 10] [--rooms 20] [--out 500] [--concurrency 4]
    python -m bench.bridge --mails 100 --out 50 --rate 10 --rooms 5 --no-doc     (quick: ~3 min)
    make bench

All real, on this machine: one Synapse (bench.lib.harness.BenchHomeserver), Dovecot and Postfix
(bots.devstack.mailservers: TLS, a private CA standing in for IGC-Santé), the care-team bot in its own
process with its provisioning API and the bridge as its companion (bench/run_liaison.py,
`bots: [careteam]`), the bridge in another process (`bots: [mssante]`, run_bots(bridge=True), as
`liaison bridge`), both on one SQLite database with the same data key. One E2EE clinician
(bots.devstack.clinician.Clinician, cross-signed) in the benchmark's process.

Setup: `--rooms` patient rooms opened through the API (fictitious patients with valid INS, the
clinician as IDEC); the clinician and the bridge join them all; one warm-up mail per room.

Inbound: `--mails` mails submitted to Postfix (STARTTLS, a client certificate of the CA) at a
steady `--rate` a second, open loop (mail i is due at start + i / rate, whatever became of the
earlier ones), to rooms round-robin, subject "… in#i [P-…]": a third plain text, a third with a
`--pdf-kb` PDF, a third with an IHE_XDM.ZIP (bridge.xdm.build_package, the room's patient's INS,
the same PDF inside). Each mail goes to two mailboxes in one SMTP transaction: the bridge's
applicative mailbox, and a watch mailbox read by a bare imapclient IDLE watcher (the baseline:
when the same mail became visible over IMAP). Delivery time = when the SMTP submission returned.
The bridge's latency: delivery → the clinician's sync hands over its notice, decrypted (also: →
the last file of the mail). Mails/s into rooms: notices over the time from the first to the last.

Outbound: `--out` `!mss envoyer <GP> … out#i` commands from the clinician, rooms round-robin,
closed loop with `--concurrency` in flight, each from just before the command's `room_send` to
the moment an IDLE watcher on the GP's mailbox sees the mail. Baseline: the same number of mails,
composed by bridge.outbound.compose as the bridge composes them, submitted straight to Postfix
with aiosmtplib (the bridge's certificate), same concurrency, timed to the same watcher.

Also: the bridge process's peak RSS (VmHWM) and CPU, where a mail's time goes (the shared
database's time stamps: stored, routed, sent), targets met or not. Everything stops by itself
(`--timeout`) and is cleaned up; the figures are printed and written to docs/PERFORMANCE.md
(section "MSSanté bridge: 1,000 mails in, 500 out").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import psutil
from nio import Event, MegolmEvent, RoomMessageNotice, SyncResponse

from bench.lib import REPO, api, harness, report, tables
from bots.devstack.clinician import Clinician
from bots.devstack.mailservers import MailServers, login, start_mail_servers
from bots.runtime.vault import Vault
from bridge import records
from bridge.outbound import Outgoing, compose
from bridge.xdm import Document, build_package

SECTION = "## MSSanté bridge: 1,000 mails in, 500 out"
TARGET_P50_S = 2.0  # inbound p50, delivery → room event
TARGET_RATE = 10.0  # mails/s sustained into the rooms…
KEEP_UP = 0.95  # …measured as at least this share of it (the first and last mails blur a rate)
TARGET_MB = 200  # the bridge process's peak RSS, 10^6 bytes

DOMAINS = ("hopital.test", "operator.test")
MAILBOX = "dac.bench@hopital.test"  # the bridge's applicative mailbox (certificate, no password)
WATCH = "veille.bench@hopital.test"  # the inbound baseline's mailbox
GP = "dr.morel@operator.test"  # writes to the bridge, and receives its mail
GP_NAME = "Dr Anne Morel"
GP_CERT = "messagerie.operator.test"  # the client certificate the GP's software submits with
TRUST_LIST = """<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
  <Domaine><Nom>hopital.test</Nom></Domaine>
  <Domaine><Nom>operator.test</Nom></Domaine>
</ListeBlanche>
"""
PRODUCT = "Liaison/bench"
KINDS = ("text", "pdf", "xdm")  # mail i is of kind i mod 3
# Every mail carries its key ("in#42") in the subject; its files carry it in their names.
TAG = re.compile(r"\b(warm|in|out|base)#(\d+)\b")
FILE_TAG = re.compile(r"-(warm|in)-(\d+)\.pdf$", re.I)
LETTER = ("Chère consœur, cher confrère,\n\nJe vous adresse le compte rendu de la consultation "
          "de ce jour. Traitement inchangé ; contrôle biologique dans quinze jours, puis "
          "réévaluation en consultation.\n\nBien confraternellement,\n")


def key(kind: str, i: int) -> str:
    return f"{kind}#{i}"


def kind_of(i: int) -> str:
    return KINDS[i % len(KINDS)]


def fake_pdf(size: int) -> bytes:
    """A PDF-looking file of `size` bytes that does not compress (as scanned letters do not):
    deflate in the XDM zip gains nothing, and the base64 part is 4/3 of it."""
    head, tail = b"%PDF-1.4\n1 0 obj << /Length {n} >>\nstream\n", b"\nendstream\nendobj\n%%EOF\n"
    body = random.Random(size).randbytes(max(0, size - len(head) - len(tail)))
    return head.replace(b"{n}", str(len(body)).encode()) + body + tail


# --- watching mailboxes and rooms -----------------------------------------------------------------


class Watcher:
    """A bare imapclient client in IDLE on one mailbox, in a thread of its own (imapclient is
    synchronous): the least any program does to see a mail over IMAP. Each new mail is stamped
    (perf_counter, the clock of every other stamp here) with the moment IDLE announced it, and
    known by the key in its subject."""

    def __init__(self, servers: MailServers, address: str, password: str) -> None:
        self.servers, self.address, self.password = servers, address, password
        self.seen: dict[str, float] = {}  # touched on the event loop only
        self.error: BaseException | None = None
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._stop, self._ready = threading.Event(), threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch {address}", daemon=True)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        if not await asyncio.to_thread(self._ready.wait, 30) or self.error:
            raise RuntimeError(f"the IMAP watcher of {self.address} did not start: {self.error}")

    async def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 10)

    def _run(self) -> None:
        try:
            client = login(self.servers, self.address, self.password)
        except Exception as exc:  # noqa: BLE001 - reported by start()
            self.error = exc
            self._ready.set()
            return
        try:
            client.select_folder("INBOX", readonly=True)
            last = self._read(client, 0, time.perf_counter())
            self._ready.set()
            while not self._stop.is_set():
                client.idle()
                stamp = None
                try:
                    while stamp is None and not self._stop.is_set():
                        if any(len(r) >= 2 and r[1] == b"EXISTS"
                               for r in client.idle_check(timeout=1)):
                            stamp = time.perf_counter()
                finally:
                    client.idle_done()
                if stamp is not None:
                    last = self._read(client, last, stamp)
        except Exception as exc:  # noqa: BLE001 - the run then times out on what it waits for
            self.error = exc
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def _read(self, client: Any, last: int, stamp: float) -> int:
        """The subjects of the mails after UID `last`, their keys stamped `stamp`."""
        uids = [u for u in client.search(["UID", f"{last + 1}:*"]) if u > last]
        if not uids:
            return last
        for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).values():
            header = bytes(next((v for k, v in data.items() if k.startswith(b"BODY")), b""))
            found = TAG.search(header.decode("utf-8", "replace").replace("\r\n", ""))
            if found and self._loop is not None:
                self._loop.call_soon_threadsafe(self._arrived, key(found[1], int(found[2])),
                                                stamp)
        return max(uids)

    def _arrived(self, name: str, stamp: float) -> None:
        self.seen.setdefault(name, stamp)
        future = self._waiting.pop(name, None)
        if future is not None and not future.done():
            future.set_result(stamp)

    async def wait(self, name: str, timeout: float) -> float:
        if name in self.seen:
            return self.seen[name]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[name] = future
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(name, None)


class Arrivals(harness.Replies):
    """Stamps the moment the clinician's sync hands over each bridged message (attached before
    she logs in, so before her own callback; nio has decrypted it by then): the mail's notice
    (its key in the subject line), its files (the key in their names), and the bridge's answers
    to commands. What does not decrypt on arrival is kept to be tried again at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.bridge_id = ""
        self.notice: dict[str, float] = {}
        self.files: dict[str, list[float]] = {}
        self.answers: dict[str, str] = {}  # command event ID → the bridge's answer
        self.undecrypted: list[tuple[str, MegolmEvent]] = []

    async def _on_sync(self, resp: SyncResponse) -> None:
        await super()._on_sync(resp)
        now = time.perf_counter()
        for room_id, info in resp.rooms.join.items():
            for ev in info.timeline.events:
                if ev.sender == self.bridge_id:
                    self._bridged(room_id, ev, now)

    def _bridged(self, room_id: str, ev: Event, now: float) -> None:
        if isinstance(ev, MegolmEvent):
            self.undecrypted.append((room_id, ev))
            return
        content = ev.source.get("content", {})
        body = str(content.get("body", ""))
        if content.get("msgtype") in ("m.file", "m.image"):
            found = FILE_TAG.search(body)
            if found:
                self.files.setdefault(key(found[1], int(found[2])), []).append(now)
            return
        if not isinstance(ev, RoomMessageNotice):
            return
        answered = content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        if answered:
            self.answers.setdefault(answered, body)
            return
        found = TAG.search(body)
        if found:
            self.notice.setdefault(key(found[1], int(found[2])), now)

    def complete(self, name: str) -> float | None:
        """When the mail's last message (its file, or the notice alone) was in."""
        if name not in self.notice:
            return None
        files = self.files.get(name, [])
        return max([self.notice[name], *files]) if kind_of(int(name.split("#")[1])) == "text" \
            else (max(files) if files else None)


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Room:
    index: int
    room_id: str
    ref: str  # tagged, as the room's mail carries it (bridge.routing)
    ins: str


@dataclass
class Sent:
    """One mail: in (submitted to Postfix) or out (a command, or the baseline's submission).
    perf_counter stamps, and the wall clock at `t0` to place the database's time stamps."""

    name: str
    t0: float = 0.0  # the submission or the command started
    t_done: float | None = None  # in: the submission returned (delivered)
    wall: float = 0.0  # time.time() at t_done (in) or t0 (out)
    late_s: float = 0.0  # in: how late the submission started against its schedule
    t_seen: float | None = None  # out: visible in the GP's mailbox
    event_id: str | None = None
    error: str | None = None


@dataclass
class Phase:
    """What the machine did meanwhile: wall time, CPU seconds by part, the bridge's RSS."""

    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    rss_before: int = 0
    rss_max: int = 0
    other_percent: float = 0.0


@dataclass
class Results:
    args: argparse.Namespace
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0
    setup_s: dict[str, float] = field(default_factory=dict)
    warm_failures: int = 0
    inbound: list[Sent] = field(default_factory=list)
    notice: dict[str, float] = field(default_factory=dict)
    complete: dict[str, float] = field(default_factory=dict)
    imap: dict[str, float] = field(default_factory=dict)
    outbound: list[Sent] = field(default_factory=list)
    baseline: list[Sent] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)
    stages_in: dict[str, list[float]] = field(default_factory=dict)
    stages_out: dict[str, list[float]] = field(default_factory=dict)
    states: Counter[str] = field(default_factory=Counter)
    undecryptable: int = 0
    bridge_hwm_kib: int = 0
    bot_hwm_kib: int = 0
    versions: dict[str, str] = field(default_factory=dict)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server's master and its workers, the exited ones included (reaped: in
    the master's children times)."""
    with contextlib.suppress(psutil.Error):
        master = psutil.Process(pid)
        times = master.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in master.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += harness.cpu_seconds(child.pid)
        return total
    return 0.0


class MailLoad(harness.OtherLoad):
    """OtherLoad, with the mail servers' process trees counted as ours."""

    def __init__(self, pids: list[int], trees: list[int]) -> None:
        self.trees = trees
        super().__init__(pids)

    def _ours(self) -> float:
        return super()._ours() + sum(tree_cpu(pid) for pid in self.trees)


class BridgeBench(api.ApiStack):
    """api.ApiStack gives the homeserver, the care-team bot's process with its API, registration
    and the clean-up; here the bridge (its own account and process) and the mail servers too."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.arrivals = Arrivals()
        self.replies = self.arrivals  # harness.Stack.clinician attaches it before the clinician logs in
        self.database = f"sqlite:///{self.tmp / 'shared.db'}"
        self.data_key = ""
        self.bot_id = self.bridge_id = self.bridge_password = ""
        self.bridge: harness.BotProcess | None = None
        # Not below self.tmp (mode 0700): the servers' own users must reach their files.
        self.mail_dir = Path(tempfile.mkdtemp(prefix="liaison-bench-mail-"))
        self.mail_dir.chmod(0o755)
        self.servers: MailServers | None = None
        self.watch: Watcher | None = None  # the inbound baseline's mailbox
        self.gp_inbox: Watcher | None = None  # where the outbound mail lands
        self.doc: Clinician | None = None
        self.rooms: list[Room] = []
        self.pdf = fake_pdf(args.pdf_kb * 1024)
        # TLS contexts with a client certificate, made once: the GP's software, and the
        # outbound baseline (the bridge's certificate).
        self.gp_tls: ssl.SSLContext | None = None
        self.app_tls: ssl.SSLContext | None = None

    def write_spec(self, name: str, spec: dict[str, Any]) -> Path:
        if name == "liaison":  # the care-team bot: the bridge is its companion, one database
            self.bot_id, self.data_key = spec["user_id"], spec["data_key"]
            spec = {**spec, "companions": [self.bridge_id], "database": self.database}
        return super().write_spec(name, spec)

    # --- setup -------------------------------------------------------------------------------

    async def start_bridge(self) -> harness.BotProcess:
        assert self.servers is not None
        servers = self.servers
        cert, cert_key = servers.add_app_mailbox(MAILBOX)
        self.app_tls = servers.tls_context(MAILBOX)
        trust = self.tmp / "liste-blanche.xml"
        trust.write_text(TRUST_LIST)

        def server(host: str, port: int) -> dict[str, Any]:
            return {"host": host, "port": port, "security": "starttls",
                    "ca_file": str(servers.ca_file), "client_cert": str(cert),
                    "client_key": str(cert_key)}

        spec = self.write_spec("bridge", {
            "homeserver": self.hs.url, "server_name": self.hs.server_name,
            "user_id": self.bridge_id, "password": self.bridge_password,
            "data_dir": str(self.tmp / "bridge"), "data_key": self.data_key,
            "database": self.database, "log_level": "INFO", "bots": ["mssante"], "bridge": True,
            "mssante": {"mailbox": MAILBOX, "careteam_account": self.bot_id,
                        "imap": server(servers.imap_host, servers.imap_port),
                        "smtp": server(servers.smtp_host, servers.submission_port),
                        "trust_list": str(trust), "product": PRODUCT}})
        return self.spawn("bridge", [sys.executable, "-m", "bench.run_liaison", str(spec)], REPO)

    async def setup(self, results: Results) -> None:
        args = self.args
        started = time.monotonic()
        harness.log(f"starting Synapse on {self.hs.url}, Dovecot and Postfix (data in {self.tmp}, "
            f"{self.mail_dir})")
        await self.hs.start(timeout=120)
        self.servers = await asyncio.to_thread(start_mail_servers, self.mail_dir, DOMAINS)
        self.gp_tls = self.servers.tls_context(GP_CERT)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        self.bridge_id, self.bridge_password = await self.register("mssante")
        self.bot = await self.start_bot()
        self.outbox = api.Outbox(self.tmp / "shared.db")
        await self.api_ready(self.bot)  # migrated: the bridge may now open the same database
        self.bridge = await self.start_bridge()
        self.doc = await self.clinician("idec")
        self.arrivals.bridge_id = self.bridge_id
        self.watch, self.gp_inbox = (self.watcher(WATCH), self.watcher(GP))
        for watcher in (self.watch, self.gp_inbox):
            await watcher.start()
        results.setup_s["servers, bots, bridge, clinician"] = time.monotonic() - started

        started = time.monotonic()
        harness.log(f"opening {args.rooms} patient rooms through the API")
        sem = asyncio.Semaphore(4)
        self.rooms = list(await asyncio.gather(*(self.open_room(k, sem)
                                                 for k in range(args.rooms))))
        doc = self.doc
        for room in self.rooms:
            await doc.wait_joined(room.room_id, doc.user_id, timeout=120)
        assert self.bridge is not None
        await asyncio.gather(*(harness.wait_joined(doc, r.room_id, self.bridge, self.bridge_id, 180)
                               for r in self.rooms))
        await harness.knows_devices(doc, self.bridge_id)
        results.setup_s["rooms opened, clinician and bridge joined"] = time.monotonic() - started

        started = time.monotonic()
        harness.log(f"warm-up: one mail per room ({len(self.rooms)}), at {args.rate:g}/s")
        warm = await self.deliver("warm", len(self.rooms))
        results.warm_failures = sum(1 for s in warm if s.error)
        names = [s.name for s in warm if not s.error]
        await self.until(lambda: all(self.arrivals.complete(n) is not None for n in names),
                         f"the {len(names)} warm-up mails in their rooms", 180)
        await self.quiet()
        results.setup_s["warm-up mails in their rooms, outbox empty"] = time.monotonic() - started

    def watcher(self, address: str) -> Watcher:
        assert self.servers is not None
        password = secrets.token_urlsafe(12)
        self.servers.add_mailbox(address, password)
        return Watcher(self.servers, address, password)

    async def open_room(self, k: int, sem: asyncio.Semaphore) -> Room:
        """Room k's patient (bench.lib.api.patient: a valid INS) with the clinician as IDEC."""
        assert self.http is not None and self.doc is not None
        identity = api.patient(k)
        async with sem, self.http.post(f"{self.api}/api/v1/patients",
                                       json=api.api_body(identity, [(self.doc.user_id, "IDEC")]),
                                       headers=self.headers()) as resp:
            body = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"opening room {k}: {resp.status} {body}")
        assert identity.ins is not None
        return Room(k, body["room_id"], records.reference(Vault([self.data_key]), body["ref"],
                                                       body["room_id"]), identity.ins)

    async def until(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            for process in (self.bot, self.bridge):
                if process is not None:
                    process.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done after {timeout:.0f} s: {what}")
            await asyncio.sleep(0.1)

    async def quiet(self) -> None:
        """Until no room message of either bot is pending: each phase starts on idle bots."""
        assert self.outbox is not None
        outbox = self.outbox
        await self.until(lambda: not outbox.counts()["pending"], "the outbox sent", 300)

    # --- inbound -----------------------------------------------------------------------------

    def mail(self, kind: str, i: int) -> bytes:
        """Mail i of the run (`kind`: warm or in), to room i mod rooms."""
        room = self.rooms[i % len(self.rooms)]
        msg = EmailMessage()
        msg["From"], msg["To"] = f"{GP_NAME} <{GP}>", MAILBOX
        msg["Subject"] = f"Compte rendu {key(kind, i)} [{room.ref}]"
        msg["Message-ID"] = f"<bench-{kind}-{i}.{secrets.token_hex(6)}@operator.test>"
        msg["Date"] = formatdate(localtime=True)
        msg.set_content(LETTER)
        if kind_of(i) == "pdf":
            msg.add_attachment(self.pdf, maintype="application", subtype="pdf",
                               filename=f"lettre-{kind}-{i}.pdf")
        elif kind_of(i) == "xdm":
            package = build_package(
                [Document(f"Compte rendu {i}", f"CR-{kind}-{i}.pdf", "application/pdf",
                          self.pdf)], room.ins, GP_NAME, datetime.now(UTC), "Logiciel du cabinet")
            msg.add_attachment(package, maintype="application", subtype="zip",
                               filename="IHE_XDM.ZIP")
        return msg.as_bytes()

    async def submit(self, sent: Sent, data: bytes) -> None:
        assert self.servers is not None
        sent.t0 = time.perf_counter()
        try:
            await aiosmtplib.send(data, sender=GP, recipients=[MAILBOX, WATCH],
                                  hostname=self.servers.smtp_host,
                                  port=self.servers.submission_port, start_tls=True,
                                  tls_context=self.gp_tls, timeout=60)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            sent.error = f"SMTP: {type(exc).__name__}"
            return
        sent.t_done, sent.wall = time.perf_counter(), time.time()

    async def deliver(self, kind: str, count: int) -> list[Sent]:
        """Open loop: mail i submitted at start + i / rate, each in a task of its own, however
        long the earlier ones take. Each mail is built (in a thread) before its turn."""
        rate = self.args.rate
        out = [Sent(key(kind, i)) for i in range(count)]
        tasks = []
        start = time.perf_counter() + 0.5
        for i, sent in enumerate(out):
            data = await asyncio.to_thread(self.mail, kind, i)
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent.late_s = max(0.0, time.perf_counter() - due)
            tasks.append(asyncio.create_task(self.submit(sent, data)))
        await asyncio.gather(*tasks)
        return out

    async def inbound(self, results: Results) -> None:
        args = self.args
        assert self.bridge is not None
        harness.log(f"inbound: {args.mails} mails at {args.rate:g}/s into {len(self.rooms)} rooms")
        async with self.phase(results, "in"):
            results.inbound = await self.deliver("in", args.mails)
            harness.log("  all submitted; waiting for the last ones in the rooms")
            names = [s.name for s in results.inbound if not s.error]
            with contextlib.suppress(RuntimeError):  # what did not arrive counts as failed
                await self.until(lambda: all(self.arrivals.complete(n) is not None
                                             for n in names),
                                 "every mail in its room", args.drain)
        assert self.watch is not None
        watch = self.watch.seen
        for s in results.inbound:
            if s.name in self.arrivals.notice:
                results.notice[s.name] = self.arrivals.notice[s.name]
            done = self.arrivals.complete(s.name)
            if done is not None:
                results.complete[s.name] = done
            if s.name in watch:
                results.imap[s.name] = watch[s.name]

    # --- outbound ----------------------------------------------------------------------------

    async def closed_loop(self, count: int, one: Callable[[int], Awaitable[Sent]]) -> list[Sent]:
        """`--concurrency` workers, each taking the next mail as soon as its last one is seen."""
        todo, out = iter(range(count)), []

        async def worker() -> None:
            for i in todo:
                out.append(await one(i))

        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        return sorted(out, key=lambda s: int(s.name.split("#")[1]))

    async def command(self, i: int) -> Sent:
        """`!mss envoyer` from the clinician, until the GP's mailbox shows the mail."""
        assert self.doc is not None and self.gp_inbox is not None
        room = self.rooms[i % len(self.rooms)]
        sent = Sent(key("out", i), t0=time.perf_counter(), wall=time.time())
        try:
            sent.event_id = await self.doc.send(
                room.room_id, f"!mss envoyer {GP} Lettre de liaison {sent.name}\n{LETTER}")
            sent.t_seen = await self.gp_inbox.wait(sent.name, self.args.mail_timeout)
        except AssertionError:
            sent.error = "command not sent"
        except TimeoutError:
            answer = self.arrivals.answers.get(sent.event_id or "", "")
            sent.error = "timeout" if "cours d'envoi" in answer or not answer \
                else f"refused: {answer[:60]}"
        return sent

    async def direct(self, i: int) -> Sent:
        """The same mail as the bridge would compose it, straight to Postfix with aiosmtplib."""
        assert self.servers is not None and self.gp_inbox is not None
        room = self.rooms[i % len(self.rooms)]
        sent = Sent(key("base", i), t0=time.perf_counter(), wall=time.time())
        mail = compose(Outgoing(
            event_id=f"$bench-{i}", sent_at=datetime.now(UTC), mailbox=MAILBOX, to=(GP,),
            ref=room.ref, subject=f"Lettre de liaison {sent.name}", text=LETTER,
            author=self.doc.user_id if self.doc else ""), product=PRODUCT).as_bytes()
        try:
            await aiosmtplib.send(mail, sender=MAILBOX, recipients=[GP],
                                  hostname=self.servers.smtp_host,
                                  port=self.servers.submission_port, start_tls=True,
                                  tls_context=self.app_tls, timeout=60)
            sent.t_seen = await self.gp_inbox.wait(sent.name, self.args.mail_timeout)
        except (aiosmtplib.SMTPException, OSError) as exc:
            sent.error = f"SMTP: {type(exc).__name__}"
        except TimeoutError:
            sent.error = "timeout"
        return sent

    async def outbound(self, results: Results) -> None:
        args = self.args
        await self.quiet()
        harness.log(f"outbound through the bridge: {args.out} `!mss envoyer`, {args.concurrency} in "
            "flight")
        async with self.phase(results, "out"):
            results.outbound = await self.closed_loop(args.out, self.command)
        await self.quiet()
        harness.log(f"outbound baseline: {args.out} mails straight to Postfix, {args.concurrency} in "
            "flight")
        async with self.phase(results, "base"):
            results.baseline = await self.closed_loop(args.out, self.direct)

    # --- measuring ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def phase(self, results: Results, name: str) -> AsyncIterator[None]:
        """CPU of each part, the bridge's RSS and the other processes' load while it runs."""
        assert self.bridge is not None and self.bot is not None and self.servers is not None
        trees = [p.pid for p in self.servers._procs]  # noqa: SLF001 - the masters' pids
        pids = {"synapse": self.hs.pid or 0, "bridge": self.bridge.pid, "bot": self.bot.pid,
                "bench": os.getpid()}

        def cpu() -> dict[str, float]:
            return {**{k: harness.cpu_seconds(p) for k, p in pids.items()},
                    "mail": sum(tree_cpu(p) for p in trees)}

        phase = Phase(rss_before=psutil.Process(self.bridge.pid).memory_info().rss)
        sampler = harness.RssSampler(self.bridge.pid)
        other = MailLoad(self.our_pids(), trees)
        before, started = cpu(), time.monotonic()
        sampler.start()
        try:
            yield
        finally:
            await sampler.stop()
            phase.wall_s = time.monotonic() - started
            phase.cpu_s = {k: v - before[k] for k, v in cpu().items()}
            phase.rss_max, phase.other_percent = sampler.peak, other.percent()
            results.phases[name] = phase

    def database_stages(self, results: Results) -> None:
        """Where a mail's time goes, from the time stamps both processes wrote in the shared
        database (UTC wall clock), placed against the benchmark's stamps."""
        path = self.tmp / "shared.db"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            inbound = {m[1] + "#" + m[2]: row for row in db.execute(
                "SELECT i.message_id, i.state, i.received_at, h.created_at, h.sent_at, "
                "l.sent_at FROM mss_inbound i LEFT JOIN outbox h ON h.id = i.head_outbox_id "
                "LEFT JOIN outbox l ON l.id = i.last_outbox_id")
                if (m := re.match(r"<bench-(warm|in)-(\d+)\.", row[0]))}
            outbound = {row[0]: row for row in db.execute(
                "SELECT event_id, created_at, sent_at, state FROM mss_outbound "
                "WHERE kind = 'mail'")}
        stages: dict[str, list[float]] = {}

        def add(into: dict[str, list[float]], stage: str, start: float | None,
                end: float | None) -> None:
            if start is not None and end is not None:
                into.setdefault(stage, []).append(1000 * (end - start))

        for s in results.inbound:
            row = inbound.get(s.name)
            if row is None or s.t_done is None:
                continue
            results.states[row[1]] += 1
            received, written, sent, last = (epoch(v) for v in row[2:])
            arrived = results.notice.get(s.name)
            add(stages, "stored", s.wall, received)
            add(stages, "routed", received, written)
            add(stages, "sent", written, sent)
            add(stages, "synced", sent, s.wall + arrived - s.t_done if arrived else None)
            if kind_of(int(s.name.split("#")[1])) != "text":
                add(stages, "files", sent, last)
        results.stages_in = stages
        stages = {}
        for s in results.outbound:
            row = outbound.get(s.event_id or "")
            if row is None:
                continue
            created, accepted = epoch(row[1]), epoch(row[2])
            add(stages, "queued", s.wall, created)
            add(stages, "accepted", created, accepted)
            add(stages, "visible", accepted, s.wall + s.t_seen - s.t0 if s.t_seen else None)
        results.stages_out = stages

    async def run(self) -> Results:  # type: ignore[override]
        results = Results(self.args, versions=bench_versions())
        await self.setup(results)
        await self.inbound(results)
        await self.outbound(results)
        assert self.bridge is not None and self.bot is not None
        self.bridge.check()
        results.bridge_hwm_kib = harness.vm_hwm_kib(self.bridge.pid)
        results.bot_hwm_kib = harness.vm_hwm_kib(self.bot.pid)
        assert self.doc is not None
        never: set[str] = set()
        results.undecryptable = sum(1 for room_id, ev in self.arrivals.undecrypted
                                    if harness.late_decrypt(self.doc, room_id, ev, never) is None)
        self.database_stages(results)
        results.elapsed_s = time.monotonic() - results.started
        return results

    async def close(self) -> None:
        for watcher in (self.watch, self.gp_inbox):
            if watcher is not None:
                await watcher.stop()
        try:
            await super().close()  # the clients, both bots' processes, Synapse, the temp dir
        finally:
            if self.servers is not None:
                self.servers.stop()
            if not self.args.keep:
                shutil.rmtree(self.mail_dir, ignore_errors=True)


def epoch(value: str | None) -> float | None:
    """A time stamp as SQLite holds it (UTC, without its zone) in seconds since the epoch."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def bench_versions() -> dict[str, str]:
    found = report.versions(None)
    for name in ("aiosmtplib", "imapclient"):
        found[name] = version(name)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found["dovecot"] = subprocess.run(["dovecot", "--version"], capture_output=True,
                                          text=True, timeout=10).stdout.split()[0]
        found["postfix"] = subprocess.run(["postconf", "-d", "-h", "mail_version"],
                                          capture_output=True, text=True,
                                          timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bridge"], cwd=REPO,
                               timeout=10, capture_output=True, text=True).stdout.strip()
        if dirty:
            found["code"] = found.get("code", "?") + " (uncommitted changes under bridge/)"
    return found


# --- report ---------------------------------------------------------------------------------------


def ms_of(sent: list[Sent], stamps: dict[str, float]) -> list[float]:
    """Delivery → stamp, in ms, for the mails that have both."""
    return [1000 * (stamps[s.name] - s.t_done) for s in sent
            if s.t_done is not None and s.name in stamps]


def trip_ms(sent: list[Sent]) -> list[float]:
    return [1000 * (s.t_seen - s.t0) for s in sent if s.t_seen is not None]


def stats(values: list[float]) -> list[str]:
    """n, p50, p99, mean, max."""
    if not values:
        return ["0", "-", "-", "-", "-"]
    return [str(len(values)), f"{tables.percentile(values, 50):.0f}", f"{tables.percentile(values, 99):.0f}",
            f"{statistics.fmean(values):.0f}", f"{max(values):.0f}"]


def span_rate(stamps: list[float]) -> float:
    """Events per second between the first and the last of them."""
    return (len(stamps) - 1) / (max(stamps) - min(stamps)) if len(stamps) > 1 and \
        max(stamps) > min(stamps) else float("nan")


def summary(r: Results) -> dict[str, Any]:
    delivered = [s for s in r.inbound if s.t_done is not None]
    notice, imap = ms_of(r.inbound, r.notice), ms_of(r.inbound, r.imap)
    out, base = trip_ms(r.outbound), trip_ms(r.baseline)
    out_wall, base_wall = r.phases["out"].wall_s, r.phases["base"].wall_s

    def ratio(a: list[float], b: list[float], q: int) -> float:
        return tables.percentile(a, q) / tables.percentile(b, q) if a and b else float("nan")

    s = {
        "offered": span_rate([x.t0 for x in r.inbound]),
        "delivered_rate": span_rate([x.t_done for x in delivered if x.t_done is not None]),
        "rooms_rate": span_rate(list(r.notice.values())),
        "imap_rate": span_rate(list(r.imap.values())),
        "p50_s": tables.percentile(notice, 50) / 1000 if notice else float("nan"),
        "in_p50": ratio(notice, imap, 50), "in_p99": ratio(notice, imap, 99),
        "out_p50": ratio(out, base, 50), "out_p99": ratio(out, base, 99),
        "out_rate": len(out) / out_wall if out_wall else float("nan"),
        "base_rate": len(base) / base_wall if base_wall else float("nan"),
        "max_late_s": max((x.late_s for x in r.inbound), default=0.0),
        "hwm_mb": r.bridge_hwm_kib * 1024 / 1e6,
    }
    lost = len(delivered) - len(r.notice)
    s["targets"] = [
        (f"inbound p50 delivery → notice ≤ {TARGET_P50_S:g} s, at {r.args.rate:g} mails/s "
         "offered", f"{s['p50_s']:.2f} s", s["p50_s"] <= TARGET_P50_S and lost == 0),
        (f"sustained: into rooms ≥ {KEEP_UP:.0%} of {TARGET_RATE:g} mails/s "
         f"(offered {s['offered']:.2f}/s)", f"{s['rooms_rate']:.2f} mails/s",
         s["rooms_rate"] >= KEEP_UP * TARGET_RATE and lost == 0),
        (f"bridge peak memory ≤ {TARGET_MB} MB (VmHWM, whole life)",
         f"{s['hwm_mb']:.0f} MB ({r.bridge_hwm_kib / 1024:.0f} MiB)", s["hwm_mb"] <= TARGET_MB),
    ]
    return s


IN_HEADER = ["delivered (SMTP returned) → …", "n", "p50 ms", "p99 ms", "mean ms", "max ms",
             "missing"]


def inbound_rows(r: Results) -> list[list[str]]:
    s = summary(r)
    delivered = [x for x in r.inbound if x.t_done is not None]
    with_files = [x for x in delivered if kind_of(int(x.name.split("#")[1])) != "text"]
    return [
        ["**bridge: its notice in the room** (clinician's sync, decrypted)",
         *stats(ms_of(r.inbound, r.notice)), str(len(delivered) - len(r.notice))],
        ["bridge: the mail's last file in the room (PDF and XDM mails)",
         *stats(ms_of(with_files, r.complete)),
         str(len(with_files) - sum(1 for x in with_files if x.name in r.complete))],
        ["baseline: visible over IMAP (bare IDLE watcher, same mails)",
         *stats(ms_of(r.inbound, r.imap)), str(len(delivered) - len(r.imap))],
        ["ratio notice / baseline", "", f"{s['in_p50']:.2f}×", f"{s['in_p99']:.2f}×", "", "",
         ""],
    ]


KIND_HEADER = ["kind", "n", "notice p50 / p99 ms", "last message p50 / p99 ms",
               "IMAP-visible p50 ms"]


def kind_rows(r: Results) -> list[list[str]]:
    def cell(values: list[float]) -> str:
        return f"{tables.percentile(values, 50):.0f} / {tables.percentile(values, 99):.0f}" if values else "-"

    labels = {"text": "plain text", "pdf": f"{r.args.pdf_kb} kB PDF",
              "xdm": f"IHE_XDM.ZIP ({r.args.pdf_kb} kB PDF inside)"}
    out = []
    for kind in KINDS:
        mine = [x for x in r.inbound if kind_of(int(x.name.split("#")[1])) == kind]
        imap = ms_of(mine, r.imap)
        out.append([labels[kind], str(len(mine)), cell(ms_of(mine, r.notice)),
                    cell(ms_of(mine, r.complete)),
                    f"{tables.percentile(imap, 50):.0f}" if imap else "-"])
    return out


QUARTER_HEADER = ["mails (in order of delivery)", "notice p50 ms", "baseline p50 ms", "ratio"]


def quarter_rows(r: Results) -> list[list[str]]:
    """The inbound measure by quarter: a backlog that grows shows as a rising latency."""
    out, n = [], len(r.inbound)
    for q in range(4):
        part = r.inbound[q * n // 4:(q + 1) * n // 4]
        a, b = ms_of(part, r.notice), ms_of(part, r.imap)
        out.append([f"quarter {q + 1} ({q * n // 4}–{(q + 1) * n // 4 - 1})",
                    f"{tables.percentile(a, 50):.0f}" if a else "-",
                    f"{tables.percentile(b, 50):.0f}" if b else "-",
                    f"{tables.percentile(a, 50) / tables.percentile(b, 50):.2f}×" if a and b else "-"])
    return out


RATE_HEADER = ["rate (first to last)", "mails/s"]


def rate_rows(r: Results) -> list[list[str]]:
    s = summary(r)
    return [
        ["submissions started (open-loop schedule)", f"{s['offered']:.2f}"],
        ["delivered (SMTP returned)", f"{s['delivered_rate']:.2f}"],
        ["baseline: visible over IMAP", f"{s['imap_rate']:.2f}"],
        ["**bridge: notices into the rooms**", f"{s['rooms_rate']:.2f}"],
        ["ratio into rooms / visible over IMAP",
         f"{s['rooms_rate'] / s['imap_rate']:.2f}×" if s["imap_rate"] else "-"],
    ]


STAGES_IN = [
    ("delivered → stored by the bridge (fetched over IMAP, sealed: mss_inbound.received_at)",
     "stored"),
    ("stored → routed, notice written to the outbox (outbox.created_at)", "routed"),
    ("notice written → sent (the homeserver's answer: outbox.sent_at)", "sent"),
    ("notice sent → in the clinician's sync", "synced"),
    ("notice sent → the mail's last file sent (PDF and XDM mails)", "files"),
]
STAGES_OUT = [
    ("command sent → mail queued (mss_outbound.created_at, the command's transaction)",
     "queued"),
    ("queued → accepted by Postfix (mss_outbound.sent_at)", "accepted"),
    ("accepted → visible in the GP's mailbox (IDLE watcher)", "visible"),
]
STAGE_HEADER = ["stage (wall clocks of the processes, same machine)", "n", "p50 ms", "p99 ms"]


def stage_rows(stages: dict[str, list[float]],
               labels: list[tuple[str, str]]) -> list[list[str]]:
    return [[label, *stats(stages.get(name, []))[:3]] for label, name in labels]


OUT_HEADER = ["mail out", "n", "p50 ms", "p99 ms", "mean ms", "max ms", "mails/s", "failures"]


def outbound_rows(r: Results) -> list[list[str]]:
    s = summary(r)

    def failures(sent: list[Sent]) -> str:
        c = Counter(x.error for x in sent if x.error)
        return ", ".join(f"{k} ×{v}" for k, v in c.items()) or "0"

    return [
        ["**bridge: `!mss envoyer` → visible in the GP's mailbox**", *stats(trip_ms(r.outbound)),
         f"{s['out_rate']:.2f}", failures(r.outbound)],
        ["baseline: aiosmtplib submission of the same mail → visible",
         *stats(trip_ms(r.baseline)), f"{s['base_rate']:.2f}", failures(r.baseline)],
        ["ratio bridge / baseline", "", f"{s['out_p50']:.2f}×", f"{s['out_p99']:.2f}×", "", "",
         f"{s['out_rate'] / s['base_rate']:.2f}×" if s["base_rate"] else "-", ""],
    ]


PARTS = ("synapse", "bridge", "bot", "mail", "bench")
RESOURCE_HEADER = ["", "inbound", "outbound (bridge)", "outbound (baseline)"]


def resource_rows(r: Results) -> list[list[str]]:
    phases = [r.phases[k] for k in ("in", "out", "base")]
    counts = [len(r.notice), len(trip_ms(r.outbound)), len(trip_ms(r.baseline))]

    def row(label: str, fmt: Callable[[Phase, int], str]) -> list[str]:
        return [label, *(fmt(p, n) for p, n in zip(phases, counts, strict=True))]

    return [
        row("phase wall time", lambda p, n: f"{p.wall_s:.1f} s"),
        row("CPU, % of one core: Synapse / bridge / care-team bot / Dovecot+Postfix / benchmark",
            lambda p, n: " / ".join(f"{100 * p.cpu_s.get(k, 0) / p.wall_s:.0f}" for k in PARTS)),
        row("bridge CPU per mail (its own phases)", lambda p, n:
            f"{1000 * p.cpu_s.get('bridge', 0) / n:.1f} ms" if n and p is not phases[2] else "-"),
        row("bridge RSS before / sampled max", lambda p, n:
            f"{p.rss_before / 2**20:.0f} / {p.rss_max / 2**20:.0f} MiB"),
        row("CPU of other processes on the machine", lambda p, n: f"{p.other_percent:.0f}%"),
    ]


SETUP_HEADER = ["setup step (not measured)", "wall"]


def setup_rows(r: Results) -> list[list[str]]:
    return [[step, f"{s:.1f} s"] for step, s in r.setup_s.items()]


def title(r: Results) -> str:
    a = r.args
    return (f"{a.mails} mails in at {a.rate:g}/s (a third plain text, a third with a {a.pdf_kb} "
            f"kB PDF, a third with an IHE_XDM.ZIP) into {a.rooms} encrypted patient rooms; "
            f"{a.out} mails out by `!mss envoyer`, {a.concurrency} in flight")


def notes(r: Results) -> list[str]:
    s = summary(r)
    out = [f"Bridge process peak RSS (VmHWM, whole life): {r.bridge_hwm_kib / 1024:.0f} MiB; "
           f"the care-team bot's: {r.bot_hwm_kib / 1024:.0f} MiB. The open-loop schedule slipped "
           f"by at most {1000 * s['max_late_s']:.0f} ms (the benchmark's own loop). Mails as "
           f"the bridge filed them: {dict(r.states)}. Bridge messages the clinician could not "
           f"decrypt: {r.undecryptable}."]
    failed = Counter(x.error for x in r.inbound if x.error)
    if failed or r.warm_failures:
        out.append(f"Inbound submissions that failed: {dict(failed)}; warm-up: "
                   f"{r.warm_failures}.")
    return out


def print_report(r: Results, _args: argparse.Namespace) -> None:
    s = summary(r)
    print()
    print(f"{title(r)} (run: {r.elapsed_s / 60:.1f} min)")
    for header, rows in [(IN_HEADER, inbound_rows(r)), (RATE_HEADER, rate_rows(r)),
                         (KIND_HEADER, kind_rows(r)), (QUARTER_HEADER, quarter_rows(r)),
                         (STAGE_HEADER, stage_rows(r.stages_in, STAGES_IN)),
                         (OUT_HEADER, outbound_rows(r)),
                         (STAGE_HEADER, stage_rows(r.stages_out, STAGES_OUT)),
                         (RESOURCE_HEADER, resource_rows(r)), (SETUP_HEADER, setup_rows(r))]:
        print(tables.text_table(header, [[c.replace("**", "") for c in row] for row in rows]))
        print()
    for note in notes(r):
        print(f"  {note}")
    print("Targets:")
    for name, value, ok in s["targets"]:
        print(f"  {name:78} {value:>20}  {tables.verdict(ok)}")
    print()


def markdown(r: Results, args: argparse.Namespace) -> str:
    v = r.versions
    s = summary(r)
    lines = [
        SECTION, "",
        f"Measured {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with `python -m bench.bridge"
        f"{''.join(' ' + a for a in report.shown_argv())}` (the run took {r.elapsed_s / 60:.1f} min). "
        f"{title(r)}.", "",
        f"- Machine: {report.machine()}. Synapse, Dovecot, Postfix, both Liaison processes and the "
        "clients all on it, over loopback.",
        f"- Versions: Python {v['python']}, Synapse {v['matrix-synapse']} (SQLite), Dovecot "
        f"{v.get('dovecot', '?')}, Postfix {v.get('postfix', '?')}, matrix-nio "
        f"{v['matrix-nio']} (vodozemac {v['vodozemac']}), SQLAlchemy {v['SQLAlchemy']}, "
        f"aiosqlite {v['aiosqlite']}, imapclient {v['imapclient']}, aiosmtplib "
        f"{v['aiosmtplib']}. Liaison code: commit {v.get('code', '?')}.",
        "- Setup: one Synapse (dev homeserver, relaxed rate limits); Dovecot and Postfix from "
        "bots/devstack/mailservers.py (STARTTLS, client certificates of a private CA); the care-team "
        "bot with its provisioning API and the bridge as its companion, and the bridge "
        "(`bots: [mssante]`, as `liaison bridge`), each in its own process (bench/run_liaison.py) "
        "on one SQLite database with one data key. "
        f"{args.rooms} patient rooms opened through the API (fictitious patients, valid INS; a "
        "cross-signed E2EE clinician (bots/devstack/clinician.py) as IDEC); the clinician and the bridge "
        "joined; one warm-up mail per room.",
        f"- Inbound: mails submitted to Postfix (STARTTLS, client certificate) on an open-loop "
        f"schedule, mail i at start + i/{args.rate:g} s whatever became of the earlier ones, "
        "rooms round-robin, the room's `[P-…]` reference in the subject; the XDM package "
        "(bridge.xdm.build_package) names the room's patient's INS; the PDF does not compress. "
        "Each mail goes, in one SMTP transaction, to the bridge's applicative mailbox and to a "
        "watch mailbox. Delivery = the SMTP submission returned. *Bridge*: until the "
        "clinician's sync hands over the bridge's notice of that mail, decrypted (and its last "
        "file). *Baseline*: a bare imapclient IDLE watcher on the watch mailbox, until it sees "
        "the same mail: what Postfix, LMTP and Dovecot take before any bridge can read it.",
        f"- Outbound: `!mss envoyer <GP> …` with a letter of {len(LETTER)} characters from the "
        f"clinician, rooms round-robin, closed loop with {args.concurrency} in flight, from "
        "just before the command's `room_send` until an IDLE watcher on the GP's mailbox sees "
        "the mail. *Baseline*: the same mails composed by bridge.outbound.compose, submitted "
        "straight to Postfix with aiosmtplib (the bridge's certificate, a connection per mail "
        "as the bridge does), same concurrency, same watcher.",
        "",
        tables.md_table(IN_HEADER, inbound_rows(r)), "",
        tables.md_table(RATE_HEADER, rate_rows(r)), "",
        tables.md_table(KIND_HEADER, kind_rows(r)), "",
        "By quarter of the run (a backlog that grows shows here as a rising latency):", "",
        tables.md_table(QUARTER_HEADER, quarter_rows(r)), "",
        "Where an inbound mail's time goes (p50 over the measured mails; the processes' time "
        "stamps in the shared database against the benchmark's):", "",
        tables.md_table(STAGE_HEADER, stage_rows(r.stages_in, STAGES_IN)), "",
        tables.md_table(OUT_HEADER, outbound_rows(r)), "",
        tables.md_table(STAGE_HEADER, stage_rows(r.stages_out, STAGES_OUT)), "",
        tables.md_table(RESOURCE_HEADER, resource_rows(r)), "",
        *(note + "\n" for note in notes(r)),
        *tables.targets_md(s["targets"]), "",
        tables.md_table(SETUP_HEADER, setup_rows(r)), "",
        report.rerun("bridge", "after the other benchmarks; root, with Dovecot and Postfix: "
                     "`make mail-packages`",
                     " (a quick run: `--mails 100 --out 50 --rooms 5 --no-doc`)"), "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = report.arguments("bridge", __doc__)
    parser.add_argument("--mails", type=int, default=1000, help="inbound mails measured (1000)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE,
                        help=f"inbound mails submitted a second, open loop ({TARGET_RATE:g})")
    parser.add_argument("--rooms", type=int, default=20, help="patient rooms (20)")
    parser.add_argument("--out", type=int, default=500, help="outbound mails per side (500)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="outbound mails in flight, closed loop (4)")
    parser.add_argument("--pdf-kb", type=int, default=200, help="size of the PDF, kB (200)")
    parser.add_argument("--drain", type=float, default=300,
                        help="after the last submission, wait this long for the rest (300 s)")
    parser.add_argument("--mail-timeout", type=float, default=120,
                        help="an outbound mail not seen within this many seconds fails (120)")
    harness.common_args(parser, timeout=2400)
    parser.set_defaults(trace=False)  # harness.Stack.spawn reads it: no probes in this benchmark
    args = parser.parse_args(argv)
    if args.mails < 4 or args.out < 2 or args.rate <= 0 or args.rooms < 1 \
            or not 1 <= args.concurrency <= args.rooms:
        parser.error("need --mails ≥ 4, --out ≥ 2, --rate > 0 and 1 ≤ --concurrency ≤ --rooms "
                     "(one command in flight per room)")
    return args


if __name__ == "__main__":
    sys.exit(harness.cli(parse_args, BridgeBench, print_report, markdown, SECTION, quiet=True))
