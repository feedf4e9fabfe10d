"""TLS for the mail servers: 1.2 at least, the server's certificate checked against the configured
CA (IGC-Santé in production), its name and, with CRLs (bridge/revocation.py), its revocation; the
mailbox's client certificate when configured."""

from __future__ import annotations

import ssl
from pathlib import Path

from bots.config import MailServerConfig


def context(server: MailServerConfig, crls: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(
        cafile=str(server.ca_file) if server.ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if crls is not None:  # only a file loads CRLs (cadata takes certificates only)
        ctx.load_verify_locations(cafile=str(crls))
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if server.client_cert is not None:
        ctx.load_cert_chain(str(server.client_cert),
                            str(server.client_key) if server.client_key else None)
    return ctx
