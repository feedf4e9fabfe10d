"""A care-team bot, the MSSanté bridge on its own account (same database and keys), the real
Dovecot and Postfix, a patient room with its team, and a GP's mailbox in the trust space."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from imapclient import IMAPClient
from nio import Event, RoomMessageNotice

from bots.config import MailServerConfig, MssanteConfig, OAuthConfig
from bots.devstack.clinician import Clinician
from bots.devstack.mailservers import MailServers, imap, login
from bots.runtime.vault import Vault
from bridge import records
from tests.careteam_helpers import INS, CareSetup, care_setup, welcomed
from tests.conftest import BotHandle
from tests.mail_helpers import new_mailbox, send
from tests.psc_helpers import Psc

TRUST_LIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
  <Domaine><Nom>operator.test</Nom></Domaine>
  <Domaine><Nom>hopital.test</Nom></Domaine>
</ListeBlanche>"""


@dataclass
class Bridged:
    setup: CareSetup
    bridge: BotHandle
    servers: MailServers
    mailbox: str  # the bridge's mailbox (applicative, or ORG with a Pro Santé Connect login)
    gp: str  # a GP's mailbox, in the trust space
    gp_password: str
    room_id: str
    ref: str  # the room's file number, as the care team knows it
    reference: str  # with its tag, as the room's mail carries it: what routes a mail there
    nurse: Clinician  # IDE: may send mail
    kine: Clinician  # KINE: may not

    @property
    def coordination(self) -> str:
        return self.setup.coordination_room

    def deliver(self, msg: EmailMessage) -> None:
        """Into the bridge's mailbox, through Postfix."""
        if "To" not in msg:
            msg["To"] = self.mailbox
        send(self.servers, msg)

    def gp_inbox(self) -> IMAPClient:
        return login(self.servers, self.gp, self.gp_password)

    def own_mailbox(self) -> IMAPClient:
        """The bridge's applicative mailbox, logged in with its certificate (SASL EXTERNAL)."""
        client = imap(self.servers, client_cert=self.mailbox)
        client._imap.authenticate("EXTERNAL", lambda _: b"")
        return client

    def folder(self, name: str) -> list[int]:
        client = self.own_mailbox()
        try:
            client.select_folder(name, readonly=True)
            return list(client.search(["ALL"]))
        finally:
            client.logout()

    def restore(self, folder: str) -> None:
        """Every mail of `folder` copied back into the inbox (a restored backup, say)."""
        client = self.own_mailbox()
        try:
            client.select_folder(folder)
            client.copy(client.search(["ALL"]), "INBOX")
        finally:
            client.logout()

    def kick(self) -> None:
        """The server drops the bridge's IMAP connection (a restart, a network cut)."""
        conf = self.servers.directory / "dovecot" / "dovecot.conf"
        for _ in range(100):  # 68: not connected (yet): the bridge is between two connections
            done = subprocess.run(["doveadm", "-c", str(conf), "kick", self.mailbox],
                                  capture_output=True)
            if done.returncode != 68:
                done.check_returncode()
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.mailbox} never connected")

    def new_uidvalidity(self, value: int) -> None:
        """What a server does when it rebuilds a folder: every UID changes meaning."""
        conf = self.servers.directory / "dovecot" / "dovecot.conf"
        subprocess.run(["doveadm", "-c", str(conf), "mailbox", "update", "-u", self.mailbox,
                        "--uid-validity", str(value), "INBOX"], check=True, capture_output=True)

    def append(self, raw: bytes) -> None:
        """Straight into the inbox, as a server stores what it does not check."""
        client = self.own_mailbox()
        try:
            client.append("INBOX", raw)
        finally:
            client.logout()

    async def posted(self, who: Clinician, room_id: str, text: str,
                     start: int = 0) -> RoomMessageNotice:
        """The bridge's notice holding `text`."""
        event = await who.wait_for(lambda r, e: r == room_id and e.sender == self.bridge.user_id
                                   and isinstance(e, RoomMessageNotice) and text in e.body,
                                   timeout=45, start=start)
        assert isinstance(event, RoomMessageNotice)
        return event

    async def reaction(self, who: Clinician, event_id: str, key: str) -> Event:
        def match(r: str, e: Event) -> bool:
            relates = e.source.get("content", {}).get("m.relates_to", {})
            return r == self.room_id and e.sender == self.bridge.user_id and \
                relates.get("event_id") == event_id and relates.get("key") == key
        return await who.wait_for(match, timeout=45)


def app_mailbox_settings(servers: MailServers) -> MssanteConfig:
    """A new applicative mailbox on the test mail servers, its certificate its login."""
    address = f"bal-{secrets.token_hex(4)}@operator.test"
    cert, key = servers.add_app_mailbox(address)

    def server(host: str, port: int) -> MailServerConfig:
        return MailServerConfig(host, port, "starttls", servers.ca_file, cert, key)

    return MssanteConfig(mailbox=address, careteam_account="",
                         imap=server(servers.imap_host, servers.imap_port),
                         smtp=server(servers.smtp_host, servers.submission_port), trust_list="")


class Relay:
    """A TCP relay to a server that can stop passing bytes, both ways (`freeze`, until `thaw`):
    a server that hangs, or a network cut with no reset, as the client sees it. TLS goes through
    untouched. `connections`: how many are open through it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.target = host, port
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.connections = 0
        self._pipes: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._connection, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _connection(self, client_r: asyncio.StreamReader,
                          client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.target)
        self.connections += 1
        pipes = {asyncio.create_task(self._copy(client_r, server_w)),
                 asyncio.create_task(self._copy(server_r, client_w))}
        self._pipes |= pipes
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.connections -= 1
            for writer in (client_w, server_w):
                writer.close()

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()  # frozen: held, never passed on
            writer.write(data)
            await writer.drain()


def mail(sender: str, subject: str, text: str = "Bonjour,\nvoici le courrier.\n",
         **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = sender, subject
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@{sender.split('@')[1]}>"
    msg["Date"] = formatdate()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    return msg


async def bridged(make_bot: Any, make_clinician: Any, servers: MailServers, tmp_path: Path, *,
                  smtp_port: int | None = None, imap_port: int | None = None, others: tuple[tuple[str, str], ...] = (),
                  psc: Psc | None = None, **overrides: Any) -> Bridged:
    """`smtp_port`: where the bridge sends (default: Postfix's submission port), `imap_port`
    where it reads (default: Dovecot's); `others`:
    more team members (user ID, role) that join by themselves (an Element client); `psc`: the
    mailbox is an ORG one that logs in with this provider's tokens (XOAUTH2), not an
    applicative one with its certificate; `overrides`: `mssante` settings of the test's own (the
    watcher's periodic look at the inbox besides IDLE is short by default: tests that do not time
    it run faster)."""
    key, database = Vault.new_key(), f"sqlite:///{tmp_path}/shared.db"
    mailbox = f"dac.{secrets.token_hex(4)}@hopital.test"
    oauth = None
    if psc is None:
        cert, cert_key = servers.add_app_mailbox(mailbox)
    else:
        servers.add_oauth_mailbox(mailbox)
        cert, cert_key = None, None
        oauth = OAuthConfig(psc.issuer, psc.client_id, psc.client_secret, ca_file=psc.ca_file)
    trust = tmp_path / "liste-blanche.xml"
    trust.write_bytes(TRUST_LIST)
    crl = tmp_path / "ac-serveurs.crl"  # the servers' certificates checked for revocation
    crl.write_bytes(servers.ca.crl().public_bytes(Encoding.DER))
    gp, gp_password = new_mailbox(servers, "operator.test", "dr.morel")

    def server(host: str, port: int) -> MailServerConfig:
        return MailServerConfig(host, port, "starttls", servers.ca_file, cert, cert_key)

    settings = MssanteConfig(
        mailbox=mailbox, careteam_account="", imap=server(servers.imap_host, imap_port or servers.imap_port),
        smtp=server(servers.smtp_host, smtp_port or servers.submission_port),
        trust_list=str(trust), oauth=oauth, crls=(str(crl),), **{"recheck_seconds": 5, **overrides})
    shared = {"database": database, "data_keys": (key,)}
    bridge = await make_bot(start=False, bots=("mssante",), mssante=settings, **shared)
    setup = await care_setup(make_bot, make_clinician, bot=shared,
                             companions=(bridge.user_id,))
    bridge.config = replace(bridge.config, mssante=replace(
        settings, careteam_account=setup.bot.user_id), careteam=setup.bot.config.careteam)
    await bridge.start()
    nurse, doc, kine = [await make_clinician() for _ in range(3)]
    team = [(setup.coordinator, "DAC"), (nurse, "IDE"), (doc, "MH"), (kine, "KINE")]
    status, created = await setup.call("POST", "/api/v1/patients", {
        "identity": {"family_name": "DUPONT", "given_names": "Marie",
                     "birth_date": "1948-03-12", "sex": "F", "ins": INS},
        "ward": "Cardiologie", "team": [*({"user_id": c.user_id, "role": r} for c, r in team),
                                        *({"user_id": u, "role": r} for u, r in others)]})
    assert status == 201, created
    room_id = created["room_id"]
    for member, _ in team:
        await member.wait_joined(room_id, member.user_id)
        await welcomed(member, room_id)
    for room in (room_id, setup.coordination_room):
        await _joined(bridge, room)
    return Bridged(setup, bridge, servers, mailbox, gp, gp_password, room_id, created["ref"],
                   records.reference(Vault([key]), created["ref"], room_id), nurse, kine)


async def _joined(bridge: BotHandle, room_id: str) -> None:
    for _ in range(150):
        room = bridge.runtime.client.rooms.get(room_id) if bridge.runtime else None
        if room is not None and bridge.user_id in room.users:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the bridge did not join {room_id}")
