"""TLS for the mail servers: 1.2 at least, the server's certificate checked against the configured
CA (IGC-Santé in production) and its name, the mailbox's client certificate when configured."""

from __future__ import annotations

import ssl

from bots.config import MailServerConfig


def context(server: MailServerConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(
        cafile=str(server.ca_file) if server.ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if server.client_cert is not None:
        ctx.load_cert_chain(str(server.client_cert),
                            str(server.client_key) if server.client_key else None)
    return ctx
