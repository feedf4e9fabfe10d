"""Revocation of the operator's server certificates (BRIEF §5: the client checks validity and
revocation). The CRLs of the CA that issues them (`mssante.crls`: files or URLs, as IGC-Santé
publishes them, DER or PEM) are re-read every refresh period into one PEM file that the IMAP and
SMTP TLS contexts load, checking the server's certificate against it. Fail closed: a certificate
whose issuer has no CRL there, or whose CRL is out of date, is refused like a revoked one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from bridge.sources import Source


def crl_pem(data: bytes) -> bytes:
    """A CRL in PEM, from DER or PEM; ValueError if it is not one. Its signature is checked by
    OpenSSL against the CA, at each handshake."""
    crl = x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN") \
        else x509.load_der_x509_crl(data)
    return crl.public_bytes(Encoding.PEM)


class CrlUnavailable(OSError):
    """No good copy of a CRL yet: no TLS connection can be checked (retried like a network
    failure)."""


class Revocation:
    def __init__(self, sources: tuple[str, ...], refresh_minutes: int, path: Path) -> None:
        self.path = path
        self._sources = [Source(where, refresh_minutes, crl_pem, "CRL") for where in sources]
        self._written: bytes | None = None

    async def current(self) -> Path:
        """The CRL file, up to date (written only when a CRL changed)."""
        try:
            pem = b"".join([await source.current() for source in self._sources])
        except (OSError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CrlUnavailable(f"CRL unavailable: {exc}") from exc
        if pem != self._written:
            await asyncio.to_thread(self._write, pem)
            self._written = pem
        return self.path

    def _write(self, pem: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_bytes(pem)
        os.replace(tmp, self.path)  # a handshake in the IMAP thread never reads half a file
