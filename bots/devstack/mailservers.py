"""Real mail servers for the MSSanté bridge's tests and the dev stack: Dovecot (IMAP) and Postfix
(SMTP submission), rendered from server-config/mail/ and run as child processes under one
directory, on free loopback ports (IMAP on 127.0.0.2, see IMAP_HOST; SMTP on 127.0.0.1), with a
private CA standing in for IGC-Santé (bots/devstack/testca.py).

Dovecot offers IMAP with STARTTLS and over implicit TLS; nothing authenticates before TLS. Password
mailboxes log in with PLAIN (or LOGIN); applicative mailboxes with SASL EXTERNAL and a client
certificate of the CA (mutual TLS, as on MSSanté). When the servers are started with an OpenID
provider (`oauth`, standing in for Pro Santé Connect), personal and organisational mailboxes log in
with XOAUTH2 or OAUTHBEARER and an access token, which Dovecot checks at the provider's
introspection endpoint (RFC 7662, over TLS verified against the CA): the token must be active and
its "mailbox" claim must be the login.

Postfix accepts submission (STARTTLS and implicit TLS) from a client holding a certificate of the CA,
which may send as anyone, or from a client that logged in (SASL through Dovecot, with the same
mechanisms and accounts as IMAP, EXTERNAL aside), which may send only as its own address. It
delivers the test domains into Dovecot over LMTP, returns DSNs to the sender and bounces every
other domain: nothing leaves the machine.

Needs the Debian packages dovecot-imapd, dovecot-lmtpd and postfix (`make mail-packages`), and root:
both servers drop to their own users (dovecot, dovenull, mail, postfix), which must be able to
reach the directory.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import re
import secrets
import socket
import ssl
import string
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

from bots.common.processes import stop_group
from bots.devstack.testca import CertificateAuthority
from bots.resources import resource_dir

DOVECOT = "/usr/sbin/dovecot"
POSTFIX = "/usr/sbin/postfix"
POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
SMTP_HOST = "127.0.0.1"
# Dovecot takes a connection whose two ends have the same address for a secured one (plain-text
# login allowed without TLS): on its own loopback address, a client (whose connections come from
# 127.0.0.1) is treated as a remote one would be.
IMAP_HOST = "127.0.0.2"
# The names of the servers' certificate. The CA issues one server certificate and keeps it, whatever
# names a later call asks for: whoever else serves TLS with it (the tests' OpenID provider) asks
# for these.
SERVER_NAMES = ("localhost", SMTP_HOST, IMAP_HOST)
ADDRESS = re.compile(r"[a-z0-9!#$%&'*+=?^_`{|}~-][a-z0-9.!#$%&'*+=?^_`{|}~-]*@[a-z0-9.-]+")


class MailServersError(RuntimeError):
    pass


@dataclass(frozen=True)
class Introspection:
    """Where Dovecot checks a bearer token (RFC 7662), and the credentials it uses there."""

    url: str  # https://127.0.0.1:PORT/token/introspection, certificate of the servers' CA
    # Dovecot 2.3.19 sends them in the POST body with the token (client_secret_post).
    client_id: str
    client_secret: str = field(repr=False)


@dataclass
class MailServers:
    """Both servers, running. `directory` holds ca/, dovecot/, mail/ (the maildirs) and postfix/;
    each server's log is in its folder (dovecot.log, postfix.log)."""

    directory: Path
    domains: tuple[str, ...]
    ca: CertificateAuthority
    imap_port: int  # STARTTLS
    imaps_port: int  # implicit TLS
    submission_port: int  # STARTTLS
    smtps_port: int  # implicit TLS
    imap_host: str = IMAP_HOST
    smtp_host: str = SMTP_HOST
    oauth: Introspection | None = None
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_file

    def client_cert(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) signed by the CA, common name `name`: enough to submit mail."""
        return self.ca.client_cert(name)

    def add_mailbox(self, address: str, password: str) -> None:
        """A mailbox that logs in over IMAP with this password (replaced if it exists)."""
        _write_entry(self.directory / "dovecot" / "users", address, _ssha512(password))

    def add_app_mailbox(self, address: str) -> tuple[Path, Path]:
        """An applicative mailbox: no password, it logs in with SASL EXTERNAL and the returned
        client certificate (its common name is the address)."""
        _write_entry(self.directory / "dovecot" / "apps", address, "", "nopassword=y")
        return self.ca.client_cert(address.lower())

    def add_oauth_mailbox(self, address: str) -> None:
        """A PER/ORG mailbox: no password, no certificate; it logs in (IMAP and SMTP submission)
        with SASL XOAUTH2 or OAUTHBEARER and a bearer token whose introspection says
        `"mailbox": address` and active."""
        if self.oauth is None:
            raise MailServersError("no OpenID provider: start the servers with `oauth`")
        # Only a userdb entry (home, mail location, LMTP recipient): the oauth2 passdb logs it in.
        _write_entry(self.directory / "dovecot" / "oauth", address, "")

    def tls_context(self, client_cert: str | None = None) -> ssl.SSLContext:
        """A client context trusting the CA (TLS 1.2+), with the client certificate of that name
        if one is given."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_cert is not None:
            cert, key = self.client_cert(client_cert)
            ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def stop(self, timeout: float = 10.0) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            stop_group(proc, timeout)  # the masters stop their children


def imap(servers: MailServers, *, implicit: bool = False,
         client_cert: str | None = None) -> IMAPClient:
    """Connected over TLS (STARTTLS, or implicit TLS), not logged in."""
    ctx = servers.tls_context(client_cert)
    port = servers.imaps_port if implicit else servers.imap_port
    client = IMAPClient(servers.imap_host, port=port, ssl=implicit, ssl_context=ctx, timeout=15)
    if not implicit:
        client.starttls(ctx)
    return client


def login(servers: MailServers, address: str, password: str) -> IMAPClient:
    client = imap(servers)
    client.login(address, password)
    return client


def start_mail_servers(directory: Path, domains: list[str] | tuple[str, ...],
                       timeout: float = 30.0, oauth: Introspection | None = None) -> MailServers:
    """Render the configuration under `directory`, start Dovecot then Postfix, and return once all
    four ports answer (the implicit-TLS ones after a TLS handshake with a client certificate).
    With `oauth`, Dovecot also accepts bearer tokens and checks them there; the provider must
    serve TLS with a certificate of the servers' CA (`directory`/ca, names SERVER_NAMES).
    Mailboxes, mail, queue and CA are kept across restarts in the same directory; the ports are
    new each time."""
    directory = Path(directory).resolve()
    if not (os.access(DOVECOT, os.X_OK) and os.access(POSTFIX_MASTER, os.X_OK)):
        raise MailServersError("Dovecot or Postfix is not installed: run `make mail-packages`")
    if os.geteuid() != 0:
        raise MailServersError("the mail servers start as root (they drop to their own users)")
    _check_reachable(directory)
    servers = MailServers(directory, tuple(d.lower() for d in domains),
                          CertificateAuthority(directory / "ca"),
                          _free_port(IMAP_HOST), _free_port(IMAP_HOST),
                          _free_port(SMTP_HOST), _free_port(SMTP_HOST), oauth=oauth)
    _render(servers)
    try:
        servers._procs.append(_start_dovecot(directory / "dovecot"))
        servers._procs.append(_start_postfix(directory / "postfix"))
        _wait_ready(servers, timeout)
    except BaseException:
        servers.stop()
        raise
    return servers


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _render(servers: MailServers) -> None:
    """Directories with the owners the servers' users need, then the configuration files."""
    top = servers.directory
    dovecot, postfix, mail = top / "dovecot", top / "postfix", top / "mail"
    for folder in (top, dovecot, postfix, postfix / "conf", postfix / "spool"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    mail_user = pwd.getpwnam("mail")
    mail.mkdir(exist_ok=True)
    os.chown(mail, mail_user.pw_uid, mail_user.pw_gid)
    mail.chmod(0o700)
    for name in ("users", "apps", "oauth"):  # read by Dovecot's auth process (user dovecot)
        _private_dir(dovecot / name)
    server_cert, server_key = servers.ca.server_cert(SERVER_NAMES)
    values = {
        "run_dir": str(dovecot / "run"), "state_dir": str(dovecot / "state"),
        "log_file": str(dovecot / "dovecot.log"),
        "server_cert": str(server_cert), "server_key": str(server_key),
        "ca_file": str(servers.ca.cert_file), "ca_with_crl": str(servers.ca.write_crl()),
        "users_dir": str(dovecot / "users"), "apps_dir": str(dovecot / "apps"),
        "oauth_dir": str(dovecot / "oauth"), "oauth_conf": str(dovecot / "oauth.conf"),
        "oauth2_args": str(dovecot / "oauth2.conf.ext"),
        "auth_socket": str(dovecot / "run" / "auth-postfix"),
        "imap_host": IMAP_HOST, "mail_dir": str(mail), "mail_uid": str(mail_user.pw_uid),
        "mail_gid": str(mail_user.pw_gid), "first_domain": servers.domains[0],
        "imap_port": str(servers.imap_port), "imaps_port": str(servers.imaps_port),
        "submission_port": str(servers.submission_port), "smtps_port": str(servers.smtps_port),
        "domains": " ".join(servers.domains), "queue_dir": str(postfix / "spool"),
        "data_dir": str(postfix / "data"), "lmtp_socket": str(dovecot / "run" / "lmtp"),
        "postfix_dir": str(postfix),
    }
    templates = resource_dir("server-config") / "mail"
    _write_template(templates / "dovecot.conf.tmpl", dovecot / "dovecot.conf", values)
    _render_oauth(servers.oauth, templates, values)
    postfix_values = values | {"log_file": str(postfix / "postfix.log"),
                               "sender_logins": str(postfix / "conf" / "sender_logins.regexp")}
    # The queue is not below conf/: `postfix check` wants root's.
    for name in ("main.cf", "master.cf", "sender_logins.regexp"):
        _write_template(templates / f"{name}.tmpl", postfix / "conf" / name, postfix_values)


def _render_oauth(oauth: Introspection | None, templates: Path, values: dict[str, str]) -> None:
    """Dovecot's oauth2 passdb goes in a file dovecot.conf includes if it exists: without a
    provider there is none, and XOAUTH2 and OAUTHBEARER are not offered."""
    conf, args = Path(values["oauth_conf"]), Path(values["oauth2_args"])
    if oauth is None:
        conf.unlink(missing_ok=True)
        args.unlink(missing_ok=True)
        return
    _write_template(templates / "dovecot-oauth.conf.tmpl", conf, values)
    _write_template(templates / "dovecot-oauth2.conf.ext.tmpl", args,
                    values | {"introspection_url": oauth.url, "client_id": oauth.client_id,
                              "client_secret": oauth.client_secret},
                    private=True)  # it holds the client secret


def _write_template(template: Path, target: Path, values: dict[str, str],
                    private: bool = False) -> None:
    """Render `template` into `target`: mode 0644, or root:dovecot 0640 if `private` (set before
    the content is written)."""
    target.touch()
    if private:
        _private_file(target)
    else:
        target.chmod(0o644)
    target.write_text(string.Template(template.read_text()).substitute(values))
    # Postfix waits (0.3 s at a time, seconds in all) while its configuration files look like
    # they are still being written, i.e. modified this very second: date them a little back.
    past = time.time() - 5
    os.utime(target, (past, past))


def _start_dovecot(folder: Path) -> subprocess.Popen[bytes]:
    conf = str(folder / "dovecot.conf")
    # doveconf parses the whole file: a template error shows here with its line, not as a crash.
    _run([DOVECOT, "-c", conf, "-n"], "Dovecot's configuration")
    return _spawn([DOVECOT, "-F", "-c", conf], folder / "stdout.log")


def _start_postfix(folder: Path) -> subprocess.Popen[bytes]:
    # `postfix check` creates the queue directories with their owners; the master then runs in
    # the foreground (without -w it does not fork), so it is our child like Dovecot.
    conf = str(folder / "conf")
    _run([POSTFIX, "-c", conf, "check"], "Postfix's configuration")
    return _spawn([POSTFIX_MASTER, "-c", conf], folder / "stdout.log")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or "fatal" in result.stderr:
        raise MailServersError(f"{what} is refused: {result.stderr.strip() or result.stdout}")


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_ready(servers: MailServers, timeout: float) -> None:
    ctx = servers.tls_context(client_cert="liaison-probe")
    ports = [(IMAP_HOST, servers.imap_port, False), (IMAP_HOST, servers.imaps_port, True),
             (SMTP_HOST, servers.submission_port, False), (SMTP_HOST, servers.smtps_port, True)]
    deadline = time.monotonic() + timeout
    for host, port, implicit in ports:
        while not _greets(host, port, ctx if implicit else None):
            for proc in servers._procs:
                if proc.poll() is not None:
                    raise MailServersError(f"{proc.args[0]} exited with {proc.returncode}; see "
                                           f"the logs under {servers.directory}")
            if time.monotonic() > deadline:
                raise MailServersError(f"nothing answers on port {port} after {timeout:.0f} s; "
                                       f"see the logs under {servers.directory}")
            time.sleep(0.05)


def _greets(host: str, port: int, ctx: ssl.SSLContext | None) -> bool:
    """Does the server send its greeting (after the TLS handshake on an implicit-TLS port)?"""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            if ctx is None:
                return bool(sock.recv(64))
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                return bool(tls.recv(64))
    except (OSError, ssl.SSLError):
        return False


def _check_reachable(directory: Path) -> None:
    """The servers' own users (dovecot, mail, postfix) must be able to walk down to `directory`:
    pytest's tmp_path (/tmp/pytest-of-root, mode 0700) does not do."""
    for folder in [directory, *directory.parents]:
        if folder.exists() and not folder.stat().st_mode & 0o001:
            raise MailServersError(f"{folder} is not searchable by other users (mode "
                                   f"{folder.stat().st_mode & 0o777:o}); the mail servers' users "
                                   "could not reach their files below it")


def _ssha512(password: str) -> str:
    """Dovecot's {SSHA512}: base64(SHA-512(password + salt) + salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def _private_dir(path: Path) -> None:
    """root:dovecot 0750: Dovecot's auth process reads the mailboxes' files, nobody else."""
    path.mkdir(exist_ok=True)
    os.chown(path, 0, grp.getgrnam("dovecot").gr_gid)
    path.chmod(0o750)


def _private_file(path: Path) -> None:
    """root:dovecot 0640: Dovecot's auth process reads it, nobody else."""
    os.chown(path, 0, grp.getgrnam("dovecot").gr_gid)
    path.chmod(0o640)


def _write_entry(folder: Path, address: str, password: str, extra: str = "") -> None:
    """The mailbox's passwd-file, `folder/<domain>/<local part>`, one line
    (user:password:uid:gid:gecos:home:shell:extra), written beside and renamed into place."""
    address = address.lower()
    if not ADDRESS.fullmatch(address):
        raise ValueError(f"not a mailbox address: {address!r}")
    local, domain = address.split("@")
    _private_dir(folder / domain)
    target = folder / domain / local
    tmp = target.with_name(f".{local}.tmp")
    tmp.write_text(f"{address}:{password}::::::{extra}\n")
    _private_file(tmp)
    tmp.replace(target)
