"""The real Dovecot and Postfix for the MSSanté bridge's tests, and the OpenID provider standing in
for Pro Santé Connect that checks their PER/ORG mailboxes' tokens: all three started once per test
session (`mail_servers` and `psc` fixtures), plus small clients (imapclient, smtplib, aiosmtplib)
to drive the servers."""

from __future__ import annotations

import email
import email.policy
import secrets
import shutil
import smtplib
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import aiosmtplib
import pytest
from imapclient import IMAPClient

from bots.devstack.mailservers import MailServers, start_mail_servers
from bots.devstack.testca import CertificateAuthority
from tests.psc_helpers import Psc, start_psc

# The trust list's domains and one outside it; all three are delivered locally.
DOMAINS = ("operator.test", "hopital.test", "untrusted.test")
SENDER_CERT = "messagerie.hopital.test"  # the client certificate tests submit mail with

_running: list[MailServers] = []
_psc: list[Psc] = []


def _shared() -> MailServers:
    """One pair of servers (and one provider) per test process, even if the fixture is both in
    conftest and imported into a test module (two fixture definitions would otherwise start two
    pairs)."""
    if not _running:
        # Not pytest's tmp_path: /tmp/pytest-of-root is mode 0700 and the servers' own users
        # (dovecot, mail, postfix) must reach their files.
        directory = Path(tempfile.mkdtemp(prefix="liaison-mail-"))
        directory.chmod(0o755)
        try:
            # The provider first: Dovecot is told where its introspection endpoint is, and
            # trusts its certificate because it comes from the servers' own CA.
            _psc.append(start_psc(directory / "psc", CertificateAuthority(directory / "ca")))
            _running.append(start_mail_servers(directory, DOMAINS,
                                               oauth=_psc[0].introspection))
        except BaseException:
            _stop_all()
            shutil.rmtree(directory, ignore_errors=True)
            raise
    return _running[0]


def shared_psc() -> Psc:
    """The provider the shared servers check tokens with (starting them if needed)."""
    _shared()
    return _psc[0]


def _stop_all() -> None:
    while _running:
        _running.pop().stop()
    while _psc:
        _psc.pop().stop()


@pytest.fixture(scope="session")
def mail_servers() -> Iterator[MailServers]:
    servers = _shared()
    yield servers
    _stop_all()
    shutil.rmtree(servers.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def psc(mail_servers: MailServers) -> Psc:
    """Pro Santé Connect's stand-in; stopped with the servers (`mail_servers`)."""
    return shared_psc()


def new_mailbox(servers: MailServers, domain: str = "hopital.test",
                prefix: str = "dr") -> tuple[str, str]:
    """A fresh password mailbox: (address, password)."""
    address = f"{prefix}.{secrets.token_hex(4)}@{domain}"
    password = secrets.token_urlsafe(12)
    servers.add_mailbox(address, password)
    return address, password


def new_oauth_mailbox(servers: MailServers, psc: Psc, domain: str = "hopital.test",
                      prefix: str = "dr") -> tuple[str, str]:
    """A fresh PER mailbox and the professional whose PSC tokens open it: (address, national id);
    the national id is the login_hint of the CIBA flow (psc_helpers.token_for)."""
    address = f"{prefix}.{secrets.token_hex(4)}@{domain}"
    national_id = f"8997{secrets.randbelow(10**8):08d}"  # RPPS-like, 12 digits
    servers.add_oauth_mailbox(address)
    psc.add_account(national_id, address)
    return address, national_id


def message(sender: str, recipient: str, subject: str = "Compte rendu") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@{sender.split('@')[1]}>"
    msg.set_content("Bonjour,\nvoici le compte rendu.\n")
    return msg


def send(servers: MailServers, msg: EmailMessage, *, client_cert: str | None = SENDER_CERT,
         implicit: bool = False) -> None:
    """Submit through Postfix (STARTTLS, or implicit TLS) with a client certificate of the CA."""
    ctx = servers.tls_context(client_cert)
    if implicit:
        with smtplib.SMTP_SSL(servers.smtp_host, servers.smtps_port, context=ctx,
                              timeout=15) as smtp:
            smtp.send_message(msg)
        return
    with smtplib.SMTP(servers.smtp_host, servers.submission_port, timeout=15) as smtp:
        smtp.starttls(context=ctx)
        smtp.send_message(msg)


async def send_with_token(servers: MailServers, msg: EmailMessage, address: str,
                          access_token: str, *, implicit: bool = False) -> None:
    """Submit through Postfix as a PER/ORG mailbox does: TLS without a client certificate, then
    SASL XOAUTH2 with its access token (aiosmtplib, as the bridge)."""
    async def token() -> str:
        return access_token

    await aiosmtplib.send(msg, hostname=servers.smtp_host,
                          port=servers.smtps_port if implicit else servers.submission_port,
                          use_tls=implicit, start_tls=not implicit,
                          tls_context=servers.tls_context(), username=address,
                          oauth_token_generator=token, timeout=15)


def wait_for_mail(client: IMAPClient, criteria: list[str | bytes] | None = None,
                  timeout: float = 20.0, folder: str = "INBOX",
                  count: int = 1) -> list[EmailMessage]:
    """The messages of `folder` matching `criteria` (IMAP SEARCH), once there are `count`."""
    client.select_folder(folder, readonly=True)
    deadline = time.monotonic() + timeout
    while True:
        uids = client.search(criteria or ["ALL"])
        if len(uids) >= count:
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            return [cast(EmailMessage, email.message_from_bytes(fetched[uid][b"BODY[]"],
                                                                policy=email.policy.default))
                    for uid in uids]
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail matching {criteria} in {folder} after {timeout:.0f} s")
        time.sleep(0.1)
        client.noop()
