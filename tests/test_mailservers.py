"""The mail servers the MSSanté bridge is tested against (bots/devstack/mailservers.py): a real Dovecot and
a real Postfix, TLS required, client certificates of the test CA checked, and PER/ORG mailboxes
logging in with access tokens of the Pro Santé Connect stand-in (tests/psc_helpers.py), obtained
by the real CIBA flow and checked by Dovecot at the provider's introspection endpoint."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from bots.devstack.mailservers import MailServers, imap, login
from bots.devstack.testca import CertificateAuthority
from bots.runtime.store import utcnow
from bridge.oauth import Provider, ProviderError, Refused
from tests.mail_helpers import (
    SENDER_CERT,
    message,
    new_mailbox,
    new_oauth_mailbox,
    send,
    send_with_token,
    wait_for_mail,
)
from tests.psc_helpers import CIBA, SCOPE, Psc, ciba_poll, client_of, token_for


def _external(client: IMAPClient, address: str) -> None:
    """SASL EXTERNAL as the bridge does it: the authorization identity is the mailbox."""
    client.sasl_login("EXTERNAL", lambda _challenge: address.encode())


def _oauth_login(client: IMAPClient, mechanism: str, address: str, token: str) -> None:
    if mechanism == "XOAUTH2":
        client.oauth2_login(address, token)
    else:
        client.oauthbearer_login(address, token)


def _foreign_context(tmp_path: Path, servers: MailServers) -> ssl.SSLContext:
    """A client certificate for the right name, but from another CA."""
    cert, key = CertificateAuthority(tmp_path / "rogue-ca").client_cert("bal@operator.test")
    ctx = servers.tls_context()
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def test_imap_login_without_tls_is_refused(mail_servers: MailServers) -> None:
    address, password = new_mailbox(mail_servers)
    client = IMAPClient(mail_servers.imap_host, port=mail_servers.imap_port, ssl=False,
                        timeout=15)
    assert b"LOGINDISABLED" in client.capabilities()
    with pytest.raises(LoginError, match="Plaintext authentication disallowed"):
        client.login(address, password)
    client.shutdown()


def test_imap_over_implicit_tls(mail_servers: MailServers) -> None:
    address, password = new_mailbox(mail_servers)
    client = imap(mail_servers, implicit=True)
    client.login(address, password)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("server", ["imaps", "smtps"])
def test_tls_before_1_2_is_refused(mail_servers: MailServers, server: str) -> None:
    host = mail_servers.imap_host if server == "imaps" else mail_servers.smtp_host
    port = mail_servers.imaps_port if server == "imaps" else mail_servers.smtps_port
    ctx = mail_servers.tls_context(SENDER_CERT)
    ctx.minimum_version, ctx.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that the refusal is the server's, not ours
    with socket.create_connection((host, port), timeout=15) as sock:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(sock, server_hostname=host).close()
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    with socket.create_connection((host, port), timeout=15) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_starttls_login_and_idle_wakes_on_new_mail(mail_servers: MailServers) -> None:
    address, password = new_mailbox(mail_servers)
    client = login(mail_servers, address, password)
    client.select_folder("INBOX")
    client.idle()
    try:
        send(mail_servers, message("secretariat@hopital.test", address))
        responses = client.idle_check(timeout=15)
    finally:
        client.idle_done()
    assert any(response[1] == b"EXISTS" for response in responses), responses
    client.logout()


def test_app_mailbox_needs_a_client_certificate_of_the_ca(
        mail_servers: MailServers, tmp_path: Path) -> None:
    address = "bal-liaison@operator.test"
    mail_servers.add_app_mailbox(address)

    client = imap(mail_servers)  # TLS, no client certificate
    with pytest.raises(IMAPClientError):
        _external(client, address)
    with pytest.raises(LoginError):  # and there is no password to guess
        client.login(address, "")
    client.shutdown()

    port = mail_servers.imap_port
    client = IMAPClient(mail_servers.imap_host, port=port, ssl=False, timeout=15)
    with pytest.raises(IMAPClientError):  # dropped after the handshake, or refused
        client.starttls(_foreign_context(tmp_path, mail_servers))
        _external(client, address)
    client.shutdown()

    client = imap(mail_servers, client_cert="someone-else@operator.test")  # the CA's, not its own
    with pytest.raises(IMAPClientError):
        _external(client, address)
    client.shutdown()

    for implicit in (False, True):
        client = imap(mail_servers, implicit=implicit, client_cert=address)
        _external(client, address)
        for folder in ("Liaison/Traités", "Liaison/Quarantaine"):
            if not client.folder_exists(folder):
                client.create_folder(folder)
        assert client.select_folder("INBOX")[b"UIDVALIDITY"]
        client.logout()


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_submitted_mail_reaches_the_mailbox_intact(
        mail_servers: MailServers, implicit: bool) -> None:
    address, password = new_mailbox(mail_servers, "operator.test")
    sent = message("dr.martin@hopital.test", address, "XDM/1.0/DDM+Compte rendu DUPONT Marie")
    send(mail_servers, sent, implicit=implicit)
    client = login(mail_servers, address, password)
    [received] = wait_for_mail(client)
    assert received["Message-ID"] == sent["Message-ID"]
    assert received["Subject"] == sent["Subject"]
    assert received.get_content().replace("\r\n", "\n") == sent.get_content()
    client.logout()


async def test_aiosmtplib_as_the_bridge_sends(mail_servers: MailServers) -> None:
    address, password = new_mailbox(mail_servers, "untrusted.test")
    sent = message("bal-liaison@operator.test", address)
    await aiosmtplib.send(sent, hostname=mail_servers.smtp_host,
                          port=mail_servers.submission_port, start_tls=True,
                          tls_context=mail_servers.tls_context("bal-liaison@operator.test"),
                          timeout=15)
    client = login(mail_servers, address, password)
    assert wait_for_mail(client)[0]["Message-ID"] == sent["Message-ID"]
    client.logout()


def test_submission_needs_tls_and_a_certificate_of_the_ca_or_a_login(
        mail_servers: MailServers, tmp_path: Path) -> None:
    address, password = new_mailbox(mail_servers)
    host, port = mail_servers.smtp_host, mail_servers.submission_port
    with smtplib.SMTP(host, port, timeout=15) as smtp:  # no TLS at all
        with pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS"):
            smtp.send_message(message("intrus@hopital.test", address))
    # TLS, but neither a certificate of the CA (none, or another CA's) nor a SASL login: the
    # session goes on (SASL clients have no certificate) and the relay restrictions refuse.
    for ctx in (mail_servers.tls_context(), _foreign_context(tmp_path, mail_servers)):
        with smtplib.SMTP(host, port, timeout=15) as smtp:
            smtp.starttls(context=ctx)
            with pytest.raises(smtplib.SMTPRecipientsRefused, match="Access denied"):
                smtp.send_message(message("intrus@hopital.test", address))
    with pytest.raises((smtplib.SMTPException, ssl.SSLError, OSError)):
        send(mail_servers, message("intrus@hopital.test", address), client_cert=None,
             implicit=True)
    # Nothing got through: a later, legitimate mail is the only one in the box.
    legitimate = message("dr.martin@hopital.test", address)
    send(mail_servers, legitimate)
    client = login(mail_servers, address, password)
    assert [m["Message-ID"] for m in wait_for_mail(client)] == [legitimate["Message-ID"]]
    client.logout()


@pytest.mark.parametrize(("mechanism", "implicit"),
                         [("XOAUTH2", False), ("OAUTHBEARER", True)],
                         ids=["xoauth2-starttls", "oauthbearer-implicit-tls"])
async def test_psc_mailbox_logs_in_over_imap_with_a_ciba_token(
        mail_servers: MailServers, psc: Psc, mechanism: str, implicit: bool) -> None:
    address, national_id = new_oauth_mailbox(mail_servers, psc)
    tokens = await token_for(psc, national_id)
    client = imap(mail_servers, implicit=implicit)
    assert f"AUTH={mechanism}".encode() in client.capabilities()
    _oauth_login(client, mechanism, address, tokens.access_token)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()


async def test_imap_refuses_a_token_that_does_not_open_the_mailbox(
        mail_servers: MailServers, psc: Psc) -> None:
    address, national_id = new_oauth_mailbox(mail_servers, psc)
    _, other_id = new_oauth_mailbox(mail_servers, psc)
    token = (await token_for(psc, national_id)).access_token
    others = (await token_for(psc, other_id)).access_token  # active, but for the other mailbox
    for mechanism in ("XOAUTH2", "OAUTHBEARER"):
        for wrong in ("garbage", token[::-1], others):
            client = imap(mail_servers)
            with pytest.raises(LoginError):
                _oauth_login(client, mechanism, address, wrong)
            client.shutdown()

    client = IMAPClient(mail_servers.imap_host, port=mail_servers.imap_port, ssl=False,
                        timeout=15)
    with pytest.raises(LoginError, match="PRIVACYREQUIRED"):
        client.oauth2_login(address, token)  # a good token, but no TLS
    client.shutdown()

    client = imap(mail_servers)
    client.oauth2_login(address, token)
    client.logout()
    psc.revoke(national_id)  # Dovecot asks the provider at every login: refused at once
    client = imap(mail_servers)
    with pytest.raises(LoginError):
        client.oauth2_login(address, token)
    client.shutdown()


async def test_psc_mailbox_submits_only_as_its_own_address(
        mail_servers: MailServers, psc: Psc) -> None:
    address, national_id = new_oauth_mailbox(mail_servers, psc)
    recipient, password = new_mailbox(mail_servers, "operator.test")
    token = (await token_for(psc, national_id)).access_token

    with smtplib.SMTP(mail_servers.smtp_host, mail_servers.submission_port, timeout=15) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")  # no login before TLS
        smtp.starttls(context=mail_servers.tls_context())
        smtp.ehlo()
        assert {"XOAUTH2", "OAUTHBEARER"} <= set(smtp.esmtp_features["auth"].split())

    forged = message("dr.martin@hopital.test", recipient)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused, match="not owned by user"):
        await send_with_token(mail_servers, forged, address, token)
    sent = message(address, recipient)
    await send_with_token(mail_servers, sent, address, token)
    client = login(mail_servers, recipient, password)
    assert [m["Message-ID"] for m in wait_for_mail(client)] == [sent["Message-ID"]]
    client.logout()


async def test_refreshed_token_works_and_the_used_refresh_token_no_longer_does(
        mail_servers: MailServers, psc: Psc) -> None:
    address, national_id = new_oauth_mailbox(mail_servers, psc)
    issued = psc.grants()
    psc.set_ttl(access=1)
    try:
        first = await token_for(psc, national_id)
    finally:
        psc.set_ttl(access=120)
    await asyncio.sleep(2.1)
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):  # expired: introspected inactive
        await send_with_token(mail_servers, message(address, address), address,
                              first.access_token)

    client = client_of(psc)
    second = await client.refresh(first, utcnow())
    assert second.refresh_token != first.refresh_token  # rotated at every refresh
    sent = message(address, address)
    await send_with_token(mail_servers, sent, address, second.access_token, implicit=True)
    inbox = imap(mail_servers)
    inbox.oauth2_login(address, second.access_token)
    assert [m["Message-ID"] for m in wait_for_mail(inbox)] == [sent["Message-ID"]]
    inbox.logout()

    with pytest.raises(Refused) as used:
        await client.refresh(first, utcnow())
    assert used.value.code == "invalid_grant"
    # oidc-provider takes the reuse of a used refresh token for a theft and ends the whole grant:
    # the current refresh token goes too, and the user must approve a new CIBA request.
    with pytest.raises(Refused, match="invalid_grant"):
        await client.refresh(second, utcnow())
    now = psc.grants()
    assert now[CIBA] - issued.get(CIBA, 0) == 1
    assert now["refresh_token"] - issued.get("refresh_token", 0) == 1


async def test_the_client_refuses_a_discovery_document_of_another_issuer(psc: Psc) -> None:
    # The same provider reached under another name of its certificate: its document names the
    # issuer it is, not the one configured; nothing is asked of it.
    other = replace(client_of(psc).settings, issuer=psc.issuer.replace("127.0.0.1", "localhost"))
    asked = psc.grants()
    with pytest.raises(ProviderError, match="not the configured"):
        await Provider(other).start("899700012345", "LIAISON-1", utcnow())
    assert psc.pending() == [] and psc.grants() == asked
    with pytest.raises(Refused, match="unknown_user_id"):  # under its own name: asked
        await client_of(psc).start("899700012345", "LIAISON-2", utcnow())


async def test_ciba_request_the_user_refuses_or_for_an_unknown_professional(
        mail_servers: MailServers, psc: Psc) -> None:
    _, national_id = new_oauth_mailbox(mail_servers, psc)
    client = client_of(psc)
    started = await client.start(national_id, "LIAISON-42", utcnow())
    assert started.interval == 1
    assert {"login_hint": national_id, "binding_message": "LIAISON-42",
            "scope": SCOPE} in psc.pending()
    assert await client.poll(started, utcnow()) == "pending"
    await asyncio.to_thread(psc.deny, national_id)
    with pytest.raises(Refused) as denied:
        await ciba_poll(client, started)
    assert denied.value.code == "access_denied"
    assert all(request["login_hint"] != national_id for request in psc.pending())

    with pytest.raises(Refused) as unknown:
        await client.start("000000000000", "LIAISON-42", utcnow())
    assert unknown.value.code == "unknown_user_id"


def test_mail_to_an_outside_domain_never_leaves_and_comes_back_as_a_dsn(
        mail_servers: MailServers) -> None:
    sender, password = new_mailbox(mail_servers)
    sent = message(sender, "quelquun@example.org")
    send(mail_servers, sent)
    client = login(mail_servers, sender, password)
    [dsn] = wait_for_mail(client)
    _assert_dsn(dsn, "quelquun@example.org", sent["Message-ID"])
    client.logout()


def test_mail_to_an_unknown_mailbox_comes_back_as_a_dsn(mail_servers: MailServers) -> None:
    sender, password = new_mailbox(mail_servers, "hopital.test")
    sent = message(sender, "personne@operator.test")
    send(mail_servers, sent, client_cert=SENDER_CERT)
    client = login(mail_servers, sender, password)
    [dsn] = wait_for_mail(client)
    _assert_dsn(dsn, "personne@operator.test", sent["Message-ID"])
    client.logout()


def _assert_dsn(dsn: EmailMessage, recipient: str, message_id: str) -> None:
    """An RFC 3464 report: failed, for this recipient, carrying the original's headers."""
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    raw = dsn.as_string()
    assert f"Final-Recipient: rfc822; {recipient}" in raw
    assert "Action: failed" in raw
    assert message_id in raw
