"""Outbound: a room's mail, queued by a command and sent over SMTP submission by a worker.

`!mss envoyer <adresse> [objet]` (the text on the following lines), or `!mss repondre <texte>` as a
Matrix reply to a bridged mail or in its thread (with the thread's files), writes a
`mss_outbound` row in the command's transaction: the recipients are checked against the trust
list first, the caller's role against `send_roles`. The worker sends queued rows; the Message-ID
derives from the command's event and the content is fixed in the row, so a retry sends the very
same mail. A 4xx or a lost connection is retried with backoff (across restarts); a 5xx is a
permanent failure shown in the room. Delivery and read reports that come back are shown on the
command's message as reactions.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import select

from bots.common.records import PatientFile
from bots.config import MssanteConfig
from bots.episode.records import letter_mail_sent
from bots.logs import failure
from bots.runtime.alone import run_alone
from bots.runtime.bot import CommandContext
from bots.runtime.i18n import Lang, t
from bots.runtime.media import MediaError, event_content, room_file, thread_events
from bots.runtime.models import OutboxMessage
from bots.runtime.notice import Html, notice
from bots.runtime.store import Transaction, as_utc, utcnow
from bridge import records
from bridge.cleaning import one_line
from bridge.inbound import header_section, message_ids, single_address
from bridge.login import Login, LoginNeeded
from bridge.models import InboundRow, OutboundRow
from bridge.oauth import ProviderError
from bridge.outbound import Outgoing, Patient, compose, message_id_for, untrusted
from bridge.receipts import Report
from bridge.render import subject_of
from bridge.revocation import Revocation
from bridge.sources import TrustSource
from bridge.tls import context
from bridge.xdm import Document

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)
# What a health mailbox's address looks like (ASCII): nothing a header could be made of.
_ADDRESS = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
MAX_BACKOFF = timedelta(hours=1)
# The longest the worker sleeps between looks at the queue: mail queued by a command in the other
# bridge process (two on PostgreSQL) wakes nothing here.
OTHER_PROCESS_POLL = 10.0
# How a report shows on the message that sent the mail.
REPORT_KEYS = {"delivered": "📬", "relayed": "📬", "expanded": "📬", "displayed": "👁",
               "processed": "👁", "delayed": "⏳", "failed": "⚠️", "error": "⚠️",
               "deleted": "⚠️"}


def retry_delay(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** max(attempts - 1, 0)))


def due_in_order(queued: list[tuple[int, datetime, str | None]],
                 now: datetime) -> list[tuple[int, str | None]]:
    """Which queued mails (ID, next attempt, room; oldest first) to try now, in that order: a
    room's mail leaves in the order it was written (BRIEF §5: order kept within a thread), so
    one waiting for its retry holds its room's later ones. Read receipts (no room) never wait."""
    waiting: set[str] = set()
    due = []
    for row_id, at, room_id in queued:
        if room_id is not None and room_id in waiting:
            continue
        if at <= now:
            due.append((row_id, room_id))
        elif room_id is not None:
            waiting.add(room_id)
    return due


class Sending:
    def __init__(self, settings: MssanteConfig, trust: TrustSource, login: Login | None,
                 revocation: Revocation | None, zone: ZoneInfo, lang: Lang) -> None:
        self.settings, self.trust, self.login, self.revocation = settings, trust, login, revocation
        self.zone, self.lang = zone, lang
        self._wake = asyncio.Event()

    # --- commands --------------------------------------------------------------------------

    async def send(self, ctx: CommandContext, content: str) -> None:
        """`[xdm] adresse objet` then the text; in a thread (or as a reply to a file), the
        thread's files go with it, as an IHE XDM package with `xdm`."""
        first, _, body = content.partition("\n")
        words = first.split(" ", 1)
        xdm = words[0].lower() == "xdm"
        address, _, subject = (words[1] if xdm and len(words) > 1 else first).strip() \
            .partition(" ")
        if not _ADDRESS.fullmatch(address):
            ctx.reply(t(ctx.lang, "mss.bad_address", value=address))
            return
        await self._queue(ctx, [address.lower()], subject.strip(), body.strip(), None, (),
                          files_from=ctx.replying_to, xdm=xdm)

    async def reply(self, ctx: CommandContext, text: str) -> None:
        """`[xdm] text`, as a Matrix reply to a received mail's message or in its thread: the
        thread's files go with it (as an IHE XDM package with `xdm`)."""
        first, _, rest = text.strip().partition(" ")
        xdm = first.lower() == "xdm"
        text = rest if xdm else text
        original = await self._answered(ctx)
        if original is None:
            ctx.reply(t(ctx.lang, "mss.reply_to_what"))
            return
        address, subject, references = await asyncio.to_thread(
            _answering, ctx.tx.vault.open_bytes(original.raw, original.bound("raw")))
        if not _ADDRESS.fullmatch(address):
            ctx.reply(t(ctx.lang, "mss.bad_address", value=address))
            return
        await self._queue(ctx, [address], subject, text.strip(), original.message_id,
                          references, files_from=ctx.replying_to, xdm=xdm)

    async def _answered(self, ctx: CommandContext) -> InboundRow | None:
        """The bridged mail whose message the command replies to."""
        if ctx.replying_to is None:
            return None
        return await ctx.tx.session.scalar(select(InboundRow).join(
            OutboxMessage, OutboxMessage.id == InboundRow.head_outbox_id).where(
            InboundRow.account == ctx.tx.account, OutboxMessage.event_id == ctx.replying_to))

    async def _queue(self, ctx: CommandContext, to: list[str], subject: str, text: str,
                     in_reply_to: str | None, references: tuple[str, ...], *,
                     files_from: str | None = None, xdm: bool = False) -> None:
        room = await records.room(ctx.tx, self.settings.careteam_account, ctx.room_id)
        if room is None or room.ref is None:
            ctx.reply(t(ctx.lang, "mss.not_patient_room"))
            return
        if xdm and (files_from is None or PatientFile.open(ctx.tx, room).identity.ins is None):
            ctx.reply(t(ctx.lang, "mss.xdm_needs"))
            return
        if not text:
            ctx.reply(t(ctx.lang, "mss.empty"))
            return
        refused = untrusted(to, await self.trust.current())
        if refused:
            ctx.reply(t(ctx.lang, "mss.untrusted", addresses=", ".join(refused)))
            return
        now = utcnow()
        ctx.tx.session.add(OutboundRow(
            account=ctx.tx.account, kind="mail", key=ctx.event_id, room_id=ctx.room_id,
            event_id=ctx.event_id, message_id=message_id_for(ctx.event_id, self.settings.mailbox),
            content=ctx.tx.vault.seal({
                "to": to, "ref": records.reference(ctx.tx.vault, room.ref, ctx.room_id),
                "subject": subject, "text": text,
                "in_reply_to": in_reply_to, "references": list(references),
                "sent_at": now.isoformat(), "author": ctx.sender,
                "files_from": files_from, "xdm": xdm},
                OutboundRow.bind("content", ctx.tx.account, ctx.event_id)),
            state="queued", attempts=0, next_attempt_at=now, created_at=now))
        ctx.tx.after_commit.append(self._wake.set)
        ctx.reply(t(ctx.lang, "mss.queued", to=", ".join(to)))

    def queue_raw(self, tx: Transaction, key: str, to: str, raw: bytes, message_id: str) -> None:
        """A mail built elsewhere (a read receipt), sent as is."""
        now = utcnow()
        tx.session.add(OutboundRow(
            account=tx.account, kind="receipt", key=key, room_id=None, event_id=None,
            message_id=message_id, content=tx.vault.seal({
                "to": [to], "raw": base64.b64encode(raw).decode()},
                OutboundRow.bind("content", tx.account, key)),
            state="queued", attempts=0, next_attempt_at=now, created_at=now))
        tx.after_commit.append(self._wake.set)

    # --- the worker ------------------------------------------------------------------------

    async def run(self, runtime: Runtime) -> None:
        """The worker, in one bridge process at a time (two on PostgreSQL: the other takes over
        when this one dies, bots/runtime/alone.py): a mail is never sent by both."""
        await run_alone(runtime.store, f"mail-sender:{runtime.user_id}",
                        lambda: self._work(runtime))

    async def _work(self, runtime: Runtime) -> None:
        while True:
            if self.login is not None:
                await self.login.ready.wait()  # mail stays queued until a login is approved
            self._wake.clear()
            async with runtime.transaction() as tx:
                queued = [(row_id, as_utc(at), room_id) for row_id, at, room_id in (
                    await tx.session.execute(select(
                        OutboundRow.id, OutboundRow.next_attempt_at, OutboundRow.room_id)
                        .where(OutboundRow.account == tx.account, OutboundRow.state == "queued")
                        .order_by(OutboundRow.id))).all()]
            now = utcnow()
            held: set[str] = set()
            for row_id, room_id in due_in_order(queued, now):
                if room_id in held:
                    continue
                try:
                    done = await self._send_one(runtime, row_id)
                except Exception as exc:  # noqa: BLE001 - one row our code fails on stops no other
                    done = await self._give_up(runtime, row_id, exc)
                if not done and room_id is not None:
                    held.add(room_id)  # its room's later mail waits behind it
            later = [at for _, at, _ in queued if at > now]
            # At most OTHER_PROCESS_POLL: mail queued by the other bridge process (no wake here).
            wait = min((min(later) - utcnow()).total_seconds() if later else OTHER_PROCESS_POLL,
                       OTHER_PROCESS_POLL)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.5))
            except TimeoutError:
                pass

    async def _files(self, runtime: Runtime, row: OutboundRow,
                     content: dict[str, Any]) -> tuple[Document, ...]:
        """The files of the thread the command was in (or the file it replied to), as they
        were when it was sent: a file added later never joins a retry."""
        root = content.get("files_from")
        if not root or row.room_id is None:
            return ()
        client = runtime.client
        _, sent_ts, _ = await event_content(client, row.room_id, row.key)
        found = []
        for event_id in [root, *await thread_events(client, row.room_id, root)]:
            if event_id == row.key:
                continue
            file = await room_file(client, row.room_id, event_id)
            if file is not None and file.timestamp <= sent_ts:
                found.append(Document(file.name, file.name, file.mimetype, file.data))
        return tuple(found)

    async def _message(self, runtime: Runtime, row: OutboundRow,
                       content: dict[str, Any]) -> tuple[bytes, bool]:
        """The mail's bytes, and whether it carries documents."""
        if row.kind == "receipt":
            return base64.b64decode(content["raw"]), False
        patient = None
        if content.get("xdm"):
            async with runtime.transaction() as tx:
                room = await records.room(tx, self.settings.careteam_account, row.room_id or "")
                identity = PatientFile.open(tx, room).identity if room else None
            if identity is not None and identity.ins:
                # Not checked against the national INSi service here: declared unqualified.
                patient = Patient(identity.ins, False, identity.family_name,
                                  identity.given_names, identity.birth_date)
        files = await self._files(runtime, row, content)
        out = Outgoing(
            event_id=row.key, sent_at=datetime.fromisoformat(content["sent_at"]),
            mailbox=self.settings.mailbox, to=tuple(content["to"]), ref=content["ref"],
            subject=content["subject"], text=content["text"],
            files=files, in_reply_to=content["in_reply_to"],
            references=tuple(content["references"]), patient=patient, author=content["author"])
        return compose(out, product=self.settings.product).as_bytes(), bool(files)

    async def _send_one(self, runtime: Runtime, row_id: int) -> bool:
        """Try to send one queued mail; False if it is still queued (to be tried again)."""
        async with runtime.transaction() as tx:
            row = await tx.session.get(OutboundRow, row_id)
            if row is None or row.state != "queued":
                return True
            content = tx.vault.open(row.content, row.bound("content"))
        server = self.settings.smtp
        error: str | None = None
        permanent = False
        to = list(content["to"])
        token = None
        attached = False
        try:
            if self.login is not None:
                token = await self.login.access_token(runtime)
            crls = await self.revocation.current() if self.revocation else None
            data, attached = await self._message(runtime, row, content)
            await aiosmtplib.send(
                data, sender=self.settings.mailbox, recipients=to, hostname=server.host,
                port=server.port, use_tls=server.security == "tls",
                start_tls=server.security == "starttls", tls_context=context(server, crls),
                username=server.username or self.settings.mailbox
                if server.password or token else None,
                password=server.password, oauth_token_generator=_given(token) if token else None,
                timeout=60)
        except LoginNeeded:
            return False  # no attempt counted: it leaves once a login is approved
        except aiosmtplib.SMTPAuthenticationError as exc:  # the mail is fine: retried
            if token is not None and self.login is not None:
                self.login.refused(token)  # renewed before the next try
            error = f"{exc.code} {exc.message}"
        except aiosmtplib.SMTPResponseException as exc:
            error, permanent = f"{exc.code} {exc.message}", exc.code >= 500
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [e.code for e in exc.recipients]
            error = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
            permanent = all(c >= 500 for c in codes)
        except (aiosmtplib.SMTPException, OSError, TimeoutError, MediaError,
                ProviderError) as exc:
            # The server or the login provider down or unreachable, a file not fetched from the
            # homeserver: retry.
            error = f"{exc.__class__.__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a mail our code cannot build fails alone
            return await self._give_up(runtime, row_id, exc)
        async with runtime.transaction() as tx:
            row = await tx.session.get(OutboundRow, row_id)
            assert row is not None
            row.attempts += 1
            if error is None:
                row.state, row.sent_at, row.last_error = "sent", utcnow(), None
                self._show(tx, row, "📤")
                if attached and row.room_id:  # maybe the lettre de liaison: the discharge bot
                    letter_mail_sent(tx, row.room_id, row.id, row.sent_at)  # decides
                log.info("mail sent", extra={"outbound": row.id, "kind": row.kind})
            elif permanent:
                self._fail(tx, row, error, t(self.lang, "mss.refused", why=error))
            else:
                row.last_error = error
                row.next_attempt_at = utcnow() + retry_delay(row.attempts)
                log.info("mail not sent, will retry", extra={
                    "outbound": row.id, "attempts": row.attempts, "error": error})
        return error is None or permanent

    def _fail(self, tx: Transaction, row: OutboundRow, error: str, said: Html) -> None:
        """Failed for good: ⚠️ on the command and `said` in answer to it."""
        row.state, row.last_error = "failed", error
        log.warning("mail not sent, for good", extra={"outbound": row.id, "error": error})
        if row.room_id and row.event_id:
            self._show(tx, row, "⚠️")
            tx.post(row.room_id, _reply(said, row.event_id))

    async def _give_up(self, runtime: Runtime, row_id: int, exc: Exception) -> bool:
        """A row the bridge itself failed on (a mail it cannot build, a content it cannot
        open): failed with the error's kind (no content: it may hold patient data), so that
        it neither stops the worker nor blocks its room. True once recorded."""
        why = exc.__class__.__name__
        log.error("outbound mail could not be handled: failed", extra={
            "outbound": row_id, "error": failure(exc)})
        try:
            async with runtime.transaction() as tx:
                row = await tx.session.get(OutboundRow, row_id)
                if row is not None and row.state == "queued":
                    row.attempts += 1
                    self._fail(tx, row, f"internal: {why}", t(self.lang, "mss.failed", why=why))
            return True
        except Exception as again:  # noqa: BLE001 - the database itself failing: next round
            log.error("outbound mail could not be marked failed", extra={
                "outbound": row_id, "error": failure(again)})
            return False

    def _show(self, tx: Transaction, row: OutboundRow, key: str) -> None:
        if row.room_id and row.event_id:
            tx.post(row.room_id, {"m.relates_to": {"rel_type": "m.annotation",
                                                   "event_id": row.event_id, "key": key}},
                    event_type="m.reaction")

    async def on_report(self, tx: Transaction, report: Report) -> bool:
        """A DSN or MDN about one of our mails: shown on the message that sent it. False if
        the report is about no mail of ours."""
        row = await tx.session.scalar(select(OutboundRow).where(
            OutboundRow.account == tx.account, OutboundRow.message_id == report.original))
        if row is None:
            return False
        row.report = f"{report.kind}:{report.status}"[:32]
        self._show(tx, row, REPORT_KEYS.get(report.status, "ℹ️"))
        if report.status in ("failed", "error") and row.room_id and row.event_id:
            tx.post(row.room_id, _reply(t(self.lang, f"mss.report.{report.kind}_failed"),
                                        row.event_id))
        return True


def _answering(raw: bytes) -> tuple[str, str, tuple[str, ...]]:
    """Whom an answer goes to, its subject (one line) and the thread's References, from the
    headers of the mail answered (in a worker thread: long headers are slow to parse)."""
    msg = BytesHeaderParser(policy=policy.default).parsebytes(header_section(raw))
    to = single_address(msg, "Reply-To") or single_address(msg, "From")
    subject = subject_of(one_line(str(msg.get("Subject") or "")))
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    return (to[1] if to else ""), subject, message_ids(str(msg.get("References") or ""))


def _given(token: str) -> Callable[[], Awaitable[str]]:
    """The access token as aiosmtplib asks for it (a coroutine function): already fresh."""
    async def token_now() -> str:
        return token
    return token_now


def _reply(markup: Html, event_id: str) -> dict[str, Any]:
    return notice(markup, reply_to=event_id)
