"""The operator's server certificates checked for revocation (CRLs, fail closed) by the bridge's
own IMAP and SMTP clients, against the real Dovecot and Postfix."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from bots.config import MssanteConfig
from bots.devstack.mailservers import MailServers
from bots.devstack.testca import CertificateAuthority
from bridge.imap import Mailbox
from bridge.revocation import CrlUnavailable, Revocation
from bridge.tls import context
from tests.bridge_helpers import app_mailbox_settings
from tests.mail_helpers import message


async def _imap(settings: MssanteConfig, crls: Path) -> None:
    mailbox = Mailbox(settings)
    try:
        await asyncio.to_thread(mailbox.connect, None, crls)
    finally:
        await asyncio.to_thread(mailbox.close)


async def _smtp(settings: MssanteConfig, crls: Path) -> None:
    server = settings.smtp
    await aiosmtplib.send(message(settings.mailbox, settings.mailbox), hostname=server.host,
                          port=server.port, start_tls=True, tls_context=context(server, crls),
                          timeout=15)


async def test_a_revoked_server_certificate_or_a_missing_or_stale_crl_is_refused(
        mail_servers: MailServers, tmp_path: Path) -> None:
    settings = app_mailbox_settings(mail_servers)
    ca = mail_servers.ca
    server_cert, _ = ca.server_cert()  # the servers' own, already made
    source = tmp_path / "igc-sante.crl"
    crls = Revocation((str(source),), refresh_minutes=0, path=tmp_path / "crls.pem")

    # The CA's CRL, as published (DER), without the servers' certificate: both connect.
    source.write_bytes(ca.crl().public_bytes(Encoding.DER))
    await _imap(settings, await crls.current())
    await _smtp(settings, await crls.current())

    # Revoked: re-read without a restart, and refused by both.
    source.write_bytes(ca.crl((server_cert,)).public_bytes(Encoding.PEM))
    with pytest.raises(OSError, match="certificate revoked"):
        await _imap(settings, await crls.current())
    with pytest.raises((aiosmtplib.SMTPException, OSError), match="certificate revoked"):
        await _smtp(settings, await crls.current())

    # A broken download keeps the last good CRL (still revoked here).
    source.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(OSError, match="certificate revoked"):
        await _imap(settings, await crls.current())

    # Fail closed: an out-of-date CRL, a forged one (same CA name, another key), none for the
    # servers' CA.
    forged = CertificateAuthority(tmp_path / "forger").crl()
    for crl, refusal in ((ca.crl(validity=-timedelta(days=1)), "CRL has expired"),
                         (forged, "CRL signature failure"),
                         (_crl_of("Autre AC"), "unable to get certificate CRL")):
        path = tmp_path / f"{secrets.token_hex(4)}.crl"
        path.write_bytes(crl.public_bytes(Encoding.DER))
        with pytest.raises(OSError, match=refusal):
            await _imap(settings, await Revocation((str(path),), 60,
                                                   path.with_suffix(".pem")).current())

    # No good copy yet: no connection can be checked; retried like a network failure.
    with pytest.raises(CrlUnavailable):
        await Revocation((str(tmp_path / "missing.crl"),), 60, tmp_path / "m.pem").current()


def _crl_of(issuer: str) -> x509.CertificateRevocationList:
    now = datetime.now(UTC)
    return (x509.CertificateRevocationListBuilder()
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .last_update(now).next_update(now + timedelta(days=1))
            .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
