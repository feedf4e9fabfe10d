"""Inbound: the mailbox watched over IMAP, each mail stored, then posted to its room, to triage or
to quarantine, then moved out of the inbox.

At-least-once with dedupe (BRIEF §5): a new mail is first stored, sealed, in the transaction that
also advances the folder's last UID (a crash re-reads it; a copy already stored is a duplicate,
never posted again). It is then read and routed in the transaction that writes its room messages
to the outbox. Only once the last of them is sent (its event ID known) is it moved on IMAP to the
processed or quarantine folder. Nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from imapclient.exceptions import LoginError
from sqlalchemy import select, update

from bots.config import MssanteConfig
from bots.logs import failure
from bots.runtime.alone import run_alone
from bots.runtime.backoff import Backoff
from bots.runtime.i18n import Lang
from bots.runtime.models import OutboxMessage
from bots.runtime.store import Transaction, utcnow
from bridge import records
from bridge.imap import Fetched, Mailbox, MailboxError
from bridge.inbound import (
    InboundMail,
    Limits,
    check_headers,
    content_digest,
    facts,
    lenient,
    parse,
    stored_message_id,
)
from bridge.login import LoginNeeded
from bridge.models import InboundRow, MailboxState
from bridge.oauth import ProviderError
from bridge.receipts import receipt, report_of, wants_receipt
from bridge.render import mail_messages, quarantine_notice, triage_notice
from bridge.routing import Rule, decide, keys
from bridge.sending import Sending
from bridge.sources import TrustSource
from bridge.trustlist import TrustList
from bridge.xdm import Unreadable

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)
DONE = ("posted", "triage", "quarantined", "report")  # states whose mail may leave the inbox
FETCH_BYTES = 8 * 1024 * 1024  # mail downloaded per FETCH: fewer round trips, bounded memory


class Receiving:
    def __init__(self, settings: MssanteConfig, trust: TrustSource, sending: Sending,
                 zone: ZoneInfo, lang: Lang) -> None:
        self.settings, self.trust, self.sending = settings, trust, sending
        self.login, self.revocation = sending.login, sending.revocation
        self.zone, self.lang = zone, lang
        self.limits = Limits(max_message=settings.max_message_mb * 1024 * 1024,
                             max_unpacked=settings.max_unpacked_mb * 1024 * 1024)
        # Set from the event loop (a room message sent, a mail routed by hand) to end an IDLE
        # early: the IMAP thread then moves what is done.
        self.wake = threading.Event()

    # --- the service -----------------------------------------------------------------------

    async def run(self, runtime: Runtime) -> None:
        """The watcher, in one bridge process at a time (two on PostgreSQL: the other takes
        over when this one dies, bots/runtime/alone.py)."""
        runtime.sender.on_sent.append(lambda _row, _event: self.wake.set())
        await run_alone(runtime.store, f"imap-watcher:{runtime.user_id}",
                        lambda: self._watch(runtime))

    async def _watch(self, runtime: Runtime) -> None:
        mailbox = Mailbox(self.settings)
        backoff = Backoff(first=1.0, cap=60.0)
        idle = min(self.settings.recheck_seconds, self.settings.idle_minutes * 60)
        while True:
            token = None
            try:
                if self.login is not None:
                    token = await self.login.access_token(runtime)
                crls = await self.revocation.current() if self.revocation else None
                uidvalidity = await asyncio.to_thread(mailbox.connect, token, crls,
                                                      closes=mailbox.closes)
                await self._check_validity(runtime, mailbox, uidvalidity)
                log.info("mailbox connected", extra={"folder": self.settings.folder})
                backoff.reset()
                while True:
                    self.wake.clear()
                    await self._fetch_new(runtime, mailbox)
                    await self.process(runtime)
                    await self._move_done(runtime, mailbox)
                    await asyncio.to_thread(mailbox.idle, idle, self.wake)
            except LoginNeeded:
                assert self.login is not None
                await self.login.ready.wait()  # the mail waits on the server meanwhile
                continue
            except LoginError as exc:
                if token is not None and self.login is not None:
                    self.login.refused(token)  # renewed before the next try
                log.warning("mailbox login refused", extra={"error": str(exc)})
            except (*MailboxError, ProviderError) as exc:
                log.warning("mailbox connection lost, reconnecting",
                            extra={"error": f"{exc.__class__.__name__}: {exc}"})
            finally:
                self.wake.set()  # a stopping bridge: end the IDLE slice before logging out
                await asyncio.to_thread(mailbox.close)
            await backoff.wait()

    async def _state(self, tx: Transaction, uidvalidity: int) -> MailboxState:
        state = await tx.session.get(MailboxState, (tx.account, self.settings.folder))
        if state is None:
            state = MailboxState(account=tx.account, folder=self.settings.folder,
                                 uidvalidity=uidvalidity, last_uid=0)
            tx.session.add(state)
        return state

    async def _check_validity(self, runtime: Runtime, mailbox: Mailbox, uidvalidity: int) -> None:
        """A new UIDVALIDITY makes every stored UID meaningless: the folder is read again from
        the start and what is already stored is known by its Message-ID (and content)."""
        async with runtime.transaction() as tx:
            state = await self._state(tx, uidvalidity)
            if state.uidvalidity != uidvalidity:
                log.warning("UIDVALIDITY changed: reading the folder again",
                            extra={"old": state.uidvalidity, "new": uidvalidity})
                state.uidvalidity, state.last_uid = uidvalidity, 0

    async def _fetch_new(self, runtime: Runtime, mailbox: Mailbox) -> None:
        async with runtime.transaction() as tx:
            last = (await self._state(tx, mailbox.uidvalidity)).last_uid
        uids = await asyncio.to_thread(mailbox.uids_after, last)
        batches = mailbox.fetch(uids, self.limits.max_message, FETCH_BYTES)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            duplicates = await self._store(runtime, mailbox.uidvalidity, batch)
            # Already bridged from an earlier copy: out of the inbox, not posted again.
            await asyncio.to_thread(mailbox.move, duplicates, self.settings.processed_folder)

    async def _store(self, runtime: Runtime, uidvalidity: int, batch: list[Fetched]) -> list[int]:
        """Store the mails and advance the folder's last UID, in one transaction. The UIDs of
        the copies of mails already stored."""
        duplicates = []
        async with runtime.transaction() as tx:
            state = await self._state(tx, uidvalidity)
            state.last_uid = max(state.last_uid, *(f.uid for f in batch))
            for fetched in batch:
                raw = fetched.raw or b""
                if fetched.raw is not None:
                    # Keyed (blind index): the stored digest says nothing of the content. Rows
                    # stored before kept the plain SHA-256, and rows of older keys theirs: a
                    # copy is looked for under each.
                    plain = content_digest(raw)
                    digests = [*tx.vault.indexes(plain), plain]
                else:
                    digests = [f"oversize:{uidvalidity}:{fetched.uid}"]
                digest = digests[0]
                message_id = stored_message_id(raw, digest)
                found = await tx.session.scalar(select(InboundRow.id).where(
                    InboundRow.account == tx.account,
                    InboundRow.message_id.in_({stored_message_id(raw, d) for d in digests}),
                    InboundRow.digest.in_(digests)).limit(1))
                if found is not None:
                    duplicates.append(fetched.uid)
                    continue
                row = InboundRow(
                    account=tx.account, message_id=message_id, digest=digest,
                    uidvalidity=uidvalidity, uid=fetched.uid,
                    state="received" if fetched.raw is not None else "quarantined",
                    reason=None if fetched.raw is not None else "oversize",
                    raw=tx.vault.seal_bytes(raw, InboundRow.bind("raw", tx.account, message_id,
                                                                 digest)),
                    moved=False, received_at=utcnow())
                tx.session.add(row)
                if fetched.raw is None:  # not downloaded: reported from what IMAP said
                    await tx.session.flush()
                    await self._report_quarantine(tx, row, None)
        return duplicates

    # --- reading and routing ---------------------------------------------------------------

    async def process(self, runtime: Runtime) -> None:
        """Route every stored mail not yet handled, each in its own transaction: whatever one
        mail makes our code raise, it is quarantined and reported, and the next one goes on."""
        async with runtime.transaction() as tx:
            ids = (await tx.session.scalars(select(InboundRow.id).where(
                InboundRow.account == tx.account, InboundRow.state == "received")
                .order_by(InboundRow.id))).all()
        for row_id in ids:
            try:
                async with runtime.transaction() as tx:
                    row = await tx.session.get(InboundRow, row_id)
                    if row is not None and row.state == "received":
                        await self.handle(tx, row)
            except Exception as exc:  # noqa: BLE001 - one mail our code fails on stops no other
                log.error("mail could not be handled: quarantined", extra={
                    "mail": row_id, "error": failure(exc)})
                await self._quarantine_failed(runtime, row_id)

    async def _quarantine_failed(self, runtime: Runtime, row_id: int) -> None:
        """Quarantine a mail `handle` failed on. Total: the report falls back to no facts of
        the mail at all; if even that fails (the database down), the mail stays `received`
        and is tried again at the next round, the bridge going on meanwhile."""
        for with_facts in (True, False):
            try:
                async with runtime.transaction() as tx:
                    row = await tx.session.get(InboundRow, row_id)
                    if row is not None and row.state == "received":
                        row.state, row.reason = "quarantined", "internal_error"
                        await self._report_quarantine(
                            tx, row, tx.vault.open_bytes(row.raw, row.bound("raw")) if with_facts else None)
                return
            except Exception as exc:  # noqa: BLE001 - see above
                log.error("quarantined mail could not be reported", extra={
                    "mail": row_id, "with_facts": with_facts, "error": failure(exc)})

    async def handle(self, tx: Transaction, row: InboundRow) -> None:
        raw = tx.vault.open_bytes(row.raw, row.bound("raw"))
        trust = await self.trust.current()
        try:
            check_headers(raw)  # before anything parses them
            # Parsing is CPU-bound (hundreds of ms for a big mail): off the event loop.
            report = await asyncio.to_thread(report_of, raw)
            if report is not None and await self.sending.on_report(tx, report):
                row.state = "report"
                return
            mail = await asyncio.to_thread(parse, raw, self.limits)
        except Unreadable as exc:
            row.state, row.reason = "quarantined", exc.reason
            log.info("mail quarantined", extra={"mail": row.id, "reason": exc.reason})
            await self._report_quarantine(tx, row, raw)
            headers = await asyncio.to_thread(lenient, raw, row.message_id)
            if headers is not None and trust.allows(headers.sender):
                self._receipt(tx, row, headers, trust, error=("QUARANTINE", exc.reason))
            return
        if not trust.allows(mail.sender):  # and no receipt: nothing leaves the trust space
            row.state, row.reason = "quarantined", "untrusted"
            log.info("mail quarantined", extra={"mail": row.id, "reason": "untrusted"})
            await self._report_quarantine(tx, row, raw)
            return
        route = decide(await self._candidates(tx, mail))
        row.rule = route.rule
        # The same receipt whether the mail found its room or waits in triage: the sender
        # learns nothing of which references or patients exist.
        self._receipt(tx, row, mail, trust)
        if route.room_id is None:
            row.state = "triage"
            for room_id in await records.coordination(tx, self.settings.careteam_account):
                row.last_outbox_id = await _posted(tx, tx.post(
                    room_id, triage_notice(row.id, mail, self.zone, self.lang)))
            return
        await self.post(tx, row, mail, route.room_id)

    async def _candidates(self, tx: Transaction, mail: InboundMail) -> list[tuple[Rule, str | None]]:
        k = keys(mail)
        account = self.settings.careteam_account
        by_ref = await records.by_tagged_ref(tx, account, k.ref, k.tag) \
            if k.ref and k.tag else None
        by_ins = await records.by_ins(tx, account, k.ins) if k.ins else None
        return [("thread", await records.by_thread(tx, k.thread_ids)),
                ("ref", by_ref.room_id if by_ref else None),
                ("ins", by_ins.room_id if by_ins else None)]

    async def post(self, tx: Transaction, row: InboundRow, mail: InboundMail,
                   room_id: str) -> None:
        """The mail in its room: a notice, then its files (encrypted uploads by the sender)."""
        row.state, row.room_id = "posted", room_id
        posted = [tx.post(room_id, content) for content in mail_messages(mail, self.zone,
                                                                          self.lang)]
        row.head_outbox_id = await _posted(tx, posted[0])
        row.last_outbox_id = await _posted(tx, posted[-1])
        log.info("mail posted", extra={"mail": row.id, "rule": row.rule, "room_id": room_id,
                                       "files": len(mail.files)})

    async def _report_quarantine(self, tx: Transaction, row: InboundRow,
                                 raw: bytes | None) -> None:
        sender, subject = await asyncio.to_thread(facts, raw)
        for room_id in await records.coordination(tx, self.settings.careteam_account):
            row.last_outbox_id = await _posted(tx, tx.post(room_id, quarantine_notice(
                row.id, row.reason or "broken_mime", sender, subject,
                self.settings.quarantine_folder, self.lang)))

    def _receipt(self, tx: Transaction, row: InboundRow, mail: InboundMail, trust: TrustList,
                 error: tuple[str, str] | None = None) -> None:
        """The read receipt the sender asked for, once the mail is in its room or triage (or
        with the error disposition when it could not be integrated); never outside the trust
        space, whatever address the mail names."""
        if not wants_receipt(mail) or not trust.allows(mail.mdn_to or ""):
            return
        message_id = f"<mdn-{row.id}-{row.digest[:16]}@{self.settings.mailbox.split('@')[1]}>"
        self.sending.queue_raw(tx, f"receipt:{row.id}", mail.mdn_to or "", receipt(
            mail, mailbox=self.settings.mailbox, message_id=message_id,
            product=self.settings.product, error=error).as_bytes(), message_id)

    # --- leaving the inbox -----------------------------------------------------------------

    async def _move_done(self, runtime: Runtime, mailbox: Mailbox) -> None:
        """Every mail whose room messages are all sent leaves the inbox: one MOVE per folder."""
        async with runtime.transaction() as tx:
            ready = (await tx.session.execute(
                select(InboundRow.id, InboundRow.uidvalidity, InboundRow.uid,
                       InboundRow.message_id, InboundRow.state)
                .outerjoin(OutboxMessage, OutboxMessage.id == InboundRow.last_outbox_id)
                .where(InboundRow.account == tx.account, InboundRow.moved.is_(False),
                       InboundRow.state.in_(DONE),
                       (InboundRow.last_outbox_id.is_(None))
                       | OutboxMessage.event_id.is_not(None)))).all()
        if not ready:
            return
        by_folder: dict[str, list[int]] = {}
        for _, uidvalidity, uid, message_id, state in ready:
            if uidvalidity != mailbox.uidvalidity:  # stored before a re-sync: found again
                uid = await asyncio.to_thread(mailbox.find, message_id)
            if uid is not None:
                folder = self.settings.quarantine_folder if state == "quarantined" \
                    else self.settings.processed_folder
                by_folder.setdefault(folder, []).append(uid)
        for folder, uids in by_folder.items():
            await asyncio.to_thread(mailbox.move, uids, folder)
        async with runtime.transaction() as tx:
            await tx.session.execute(update(InboundRow).where(
                InboundRow.id.in_([row[0] for row in ready])).values(moved=True))


async def _posted(tx: Transaction, message: OutboxMessage) -> int:
    await tx.session.flush()  # the outbox row's ID
    return message.id

