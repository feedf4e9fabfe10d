"""The mail servers the MSSanté bridge is tested against (bridge/mailservers.py): a real Dovecot and
a real Postfix, TLS required, client certificates of the test CA checked."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from bridge.mailservers import MailServers
from bridge.testca import CertificateAuthority
from tests.mail_helpers import SENDER_CERT, imap, login, message, new_mailbox, send, wait_for_mail


def _external(client: IMAPClient, address: str) -> None:
    """SASL EXTERNAL as the bridge does it: the authorization identity is the mailbox."""
    client.sasl_login("EXTERNAL", lambda _challenge: address.encode())


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


def test_submission_needs_tls_and_a_client_certificate_of_the_ca(
        mail_servers: MailServers, tmp_path: Path) -> None:
    address, password = new_mailbox(mail_servers)
    host, port = mail_servers.smtp_host, mail_servers.submission_port
    with smtplib.SMTP(host, port, timeout=15) as smtp:  # no TLS at all
        with pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS"):
            smtp.send_message(message("intrus@hopital.test", address))
    for ctx in (mail_servers.tls_context(), _foreign_context(tmp_path, mail_servers)):
        with pytest.raises((smtplib.SMTPException, ssl.SSLError, OSError)):
            with smtplib.SMTP(host, port, timeout=15) as smtp:
                smtp.starttls(context=ctx)
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
