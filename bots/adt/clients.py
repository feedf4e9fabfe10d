"""Who may send ADT messages: the listener's TLS context and its allow-list (docs/ADT.md).

A client is let in when it connects from one of the configured networks and, when certificates
are listed, shows one of them (its subject or its SHA-256 fingerprint). The TLS handshake has
already checked that certificate against `client_ca`; this only says which of the CA's
certificates may send. Nothing here reads a message.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl

from cryptography import x509

from bots.config import AdtConfig, AdtTlsConfig, ConfigError


def server_context(tls: AdtTlsConfig) -> ssl.SSLContext:
    """TLS 1.2 at least; with `client_ca`, a client without a certificate it signed fails the
    handshake."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(tls.certificate), str(tls.key))
    except OSError as exc:  # ssl.SSLError included; neither names the file
        raise ConfigError(f"adt/tls: certificate {tls.certificate} or key {tls.key}: "
                          f"{exc.strerror or exc}") from None
    if tls.client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(tls.client_ca))
        except OSError as exc:
            raise ConfigError(f"adt/tls/client_ca {tls.client_ca}: {exc.strerror or exc}") \
                from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def refusal(config: AdtConfig, address: str, certificate: bytes | None) -> str | None:
    """Why the client at `address` (showing `certificate`, DER, or none) may not send; None
    when it may."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d
    if not any(ip in network for network in config.networks):
        return "address"
    if not (config.subjects or config.fingerprints):
        return None
    if certificate is None:
        return "certificate"
    if hashlib.sha256(certificate).hexdigest() in config.fingerprints:
        return None
    subject = x509.load_der_x509_certificate(certificate).subject.rfc4514_string()
    return None if subject in config.subjects else "certificate"
