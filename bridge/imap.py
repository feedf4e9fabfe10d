"""The mailbox over IMAP (imapclient: synchronous, so it runs in a thread of its own).

One connection: STARTTLS or implicit TLS (never plain text), login by password, by the client
certificate (SASL EXTERNAL) or by a Pro Santé Connect token (SASL XOAUTH2), the folder selected
with its UIDVALIDITY. IDLE is checked in short slices so that the async side can wake it (a mail
to move) and is restarted well before the 30 minutes of RFC 2177.

A server tells of new mail once (`* n EXISTS`), in the answer to whatever command runs when it
comes: mail that arrives while the watcher fetches, stores or moves is announced then, not in the
next IDLE. So such a notice, kept by imaplib, ends the wait at once; a search answers it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from bots.config import MssanteConfig
from bridge.tls import context

TIMEOUT = 60.0  # seconds a single IMAP command may take before the connection is dropped
# Seconds closing waits for the server (the IDLE thread's DONE, then LOGOUT) before it drops the
# connection: a server that hung or was cut off without a reset must not hold a stopping bridge
# for TIMEOUT, twice.
CLOSE_WAIT = 5.0
MailboxError = (IMAPClientError, OSError)  # what a connection can fail with: reconnect


@dataclass(frozen=True)
class Fetched:
    uid: int
    size: int
    raw: bytes | None  # None: bigger than the limit, not downloaded


class Mailbox:
    def __init__(self, settings: MssanteConfig) -> None:
        self.settings = settings
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        # IDLE runs in a thread that a stopping bridge cannot interrupt: closing waits for it
        # (a one-second slice once woken, then DONE's answer) instead of talking over it, for
        # CLOSE_WAIT at most.
        self._idling = threading.Lock()
        # `client` handed over between a connect still running in its thread and a close.
        self._handover = threading.Lock()
        self.closes = 0  # close() calls so far

    def connect(self, token: str | None = None, crls: Path | None = None, *,
                closes: int | None = None) -> int:
        """Connect (the server's certificate checked against the CRLs if given), log in (with
        the access token if given), make the bridge's folders, select the inbox; its
        UIDVALIDITY. `closes`: `self.closes` when the caller asked for it. A caller cancelled
        meanwhile closes the mailbox while this goes on in its thread: the new connection is then
        logged out here, not left open and unused until the server's own timeout."""
        closes = self.closes if closes is None else closes
        server = self.settings.imap
        ctx = context(server, crls)
        implicit = server.security == "tls"
        client = IMAPClient(server.host, port=server.port, ssl=implicit, ssl_context=ctx,
                            timeout=TIMEOUT)
        if not implicit:
            client.starttls(ctx)
        if token is not None:  # a PER/ORG mailbox (mssante.oauth)
            client.oauth2_login(server.username or self.settings.mailbox, token)
        elif server.password is not None:
            client.login(server.username or self.settings.mailbox, server.password)
        else:  # the applicative mailbox: its certificate is its identity
            client._imap.authenticate("EXTERNAL", lambda _: (server.username or "").encode())
        for folder in (self.settings.processed_folder, self.settings.quarantine_folder):
            if not client.folder_exists(folder):
                client.create_folder(folder)
        selected = client.select_folder(self.settings.folder)
        with self._handover:
            if self.closes == closes:
                self.client = client
                self.uidvalidity = int(selected[b"UIDVALIDITY"])
                return self.uidvalidity
        self._log_out(client)
        raise ConnectionAbortedError("the mailbox was closed while it connected")

    def close(self) -> None:
        with self._handover:
            self.closes += 1
            client, self.client = self.client, None
        if client is not None:
            self._log_out(client)

    def _log_out(self, client: IMAPClient) -> None:
        """Log out, within CLOSE_WAIT; past it (no answer to DONE or LOGOUT), the connection is
        dropped, which also ends a read the IDLE thread still waits on."""
        if self._idling.acquire(timeout=CLOSE_WAIT):
            try:
                client.socket().settimeout(CLOSE_WAIT)
                client.logout()
                return
            except (*MailboxError, AttributeError):
                pass
            finally:
                self._idling.release()
        with suppress(*MailboxError, AttributeError):
            client.socket().shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
        with suppress(*MailboxError, AttributeError):
            client.shutdown()

    @property
    def _c(self) -> IMAPClient:
        assert self.client is not None, "not connected"
        return self.client

    def uids_after(self, uid: int) -> list[int]:
        self._c._imap.untagged_responses.pop("EXISTS", None)  # what this search answers
        return sorted(u for u in self._c.search(["UID", f"{uid + 1}:*"]) if u > uid)

    def fetch(self, uids: list[int], max_size: int, batch_bytes: int) -> Iterator[list[Fetched]]:
        """The mails, in batches of at most `batch_bytes` (one FETCH each: a busy inbox costs a
        round trip per batch, not two per mail); one above `max_size` is not downloaded. Mail
        gone meanwhile is left out."""
        if not uids:
            return
        sizes = {uid: int(data[b"RFC822.SIZE"])
                 for uid, data in self._c.fetch(uids, ["RFC822.SIZE"]).items()}
        batch: list[int] = []
        total = 0
        for uid in sorted(sizes):
            if sizes[uid] > max_size:
                yield [Fetched(uid, sizes[uid], None)]
                continue
            if batch and total + sizes[uid] > batch_bytes:
                yield self._bodies(batch, sizes)
                batch, total = [], 0
            batch.append(uid)
            total += sizes[uid]
        if batch:
            yield self._bodies(batch, sizes)

    def _bodies(self, uids: list[int], sizes: dict[int, int]) -> list[Fetched]:
        found = self._c.fetch(uids, ["BODY.PEEK[]"])
        return [Fetched(uid, sizes[uid], bytes(found[uid][b"BODY[]"])) for uid in uids
                if uid in found]

    def find(self, message_id: str) -> int | None:
        uids = self._c.search(["HEADER", "Message-ID", message_id])
        return min(uids) if uids else None

    def move(self, uids: list[int], folder: str) -> None:
        if not uids:
            return
        if self._c.has_capability("MOVE"):
            self._c.move(uids, folder)
        else:
            self._c.copy(uids, folder)
            self._c.delete_messages(uids)
            self._c.uid_expunge(uids)

    def idle(self, seconds: float, wake: threading.Event) -> bool:
        """Wait for new mail up to `seconds`, or until `wake` is set. True if mail came."""
        client = self._c
        if client._imap.untagged_responses.get("EXISTS"):  # told since the last search
            return True
        with self._idling:
            return self._idle(client, seconds, wake)

    @staticmethod
    def _idle(client: IMAPClient, seconds: float, wake: threading.Event) -> bool:
        client.idle()
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not wake.is_set():
                for response in client.idle_check(timeout=1):
                    if len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
                        return True
            return False
        finally:
            client.idle_done()
