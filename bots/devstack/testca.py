"""A private certificate authority for the dev stack's and the tests' mail servers.

It stands in for IGC-Santé: it signs the servers' certificate (localhost, 127.0.0.1) and the client
certificates an applicative mailbox or a sending system authenticates with (mutual TLS). Everything
is PEM under one directory and kept there, so a restart of the dev stack reuses the same CA. Not for
production: the keys are unencrypted files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=825)
CRL_VALIDITY = datetime.timedelta(days=30)  # rewritten at every start of the servers


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())  # fast to make, accepted by Dovecot and Postfix


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]", "_", name)


@dataclass
class CertificateAuthority:
    """`directory/ca.pem` (the CA), `ca-crl.pem` (the CA then its CRL: Dovecot requires a CRL when
    it checks client certificates), and one `<name>.pem` / `<name>.key` pair per issued
    certificate."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        key_file = self.directory / "ca.key"
        if key_file.exists() and self.cert_file.exists():
            self._key = serialization.load_pem_private_key(key_file.read_bytes(), None)
            self._cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        else:
            self._key, self._cert = _new_ca()
            _write_key(key_file, self._key)
            self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_with_crl_file(self) -> Path:
        return self.directory / "ca-crl.pem"

    def write_crl(self) -> Path:
        """An empty CRL, appended to the CA certificate (the form Dovecot's ssl_ca reads)."""
        self.ca_with_crl_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM)
                                          + self.crl().public_bytes(serialization.Encoding.PEM))
        return self.ca_with_crl_file

    def crl(self, revoked: tuple[Path, ...] = (),
            validity: datetime.timedelta = CRL_VALIDITY) -> x509.CertificateRevocationList:
        """The CA's CRL listing the certificates of these PEM files as revoked; a negative
        `validity` makes one already out of date."""
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self._cert.subject)
                   .last_update(min(_now(), _now() + validity) - datetime.timedelta(minutes=5))
                   .next_update(_now() + validity))
        for path in revoked:
            serial = x509.load_pem_x509_certificate(path.read_bytes()).serial_number
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(_now() - datetime.timedelta(minutes=1)).build())
        return builder.sign(self._key, hashes.SHA256())

    def server_cert(self, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> tuple[Path, Path]:
        """The servers' certificate (made once): a TLS client checks it against `cert_file`."""
        return self._issue("server", hosts[0], _server_extensions(hosts))

    def client_cert(self, name: str) -> tuple[Path, Path]:
        """A client certificate whose common name is `name` (for an applicative mailbox: its
        address, which Dovecot takes as the login). Made once per name, then reused."""
        return self._issue(f"client-{_safe(name)}", name, _client_extensions(name))

    def _issue(self, stem: str, common_name: str,
               extensions: list[x509.ExtensionType]) -> tuple[Path, Path]:
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        if cert_path.exists() and key_path.exists():
            return cert_path, key_path
        key = _new_key()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self._cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(_now() - datetime.timedelta(minutes=5))
                   .not_valid_after(_now() + VALIDITY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self._key.public_key()), critical=False))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path


def _new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Liaison test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Liaison test CA")])
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _server_extensions(hosts: tuple[str, ...]) -> list[x509.ExtensionType]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return [x509.SubjectAlternativeName(names),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])]


def _client_extensions(name: str) -> list[x509.ExtensionType]:
    extensions: list[x509.ExtensionType] = [
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])]
    if "@" in name:
        extensions.append(x509.SubjectAlternativeName([x509.RFC822Name(name)]))
    return extensions
