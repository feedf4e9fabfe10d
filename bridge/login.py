"""The Pro Santé Connect login of a PER/ORG mailbox (`mssante.oauth`): where the IMAP watcher and
the sending worker get their XOAUTH2 access token.

A coordinator runs `!mss connexion <identifiant national>`; the provider pushes the request to
that professional's e-CPS app (CIBA) with a short code shown in the room too; this service polls
until it is approved, refused or expired, and answers in the room. The tokens are sealed in
`mss_login`, renewed with the refresh token (one renewal at a time: the provider may rotate it,
and the new one is stored before the access token is used), and renewed unasked half-way through
the refresh token's life, so a quiet mailbox does not lose its session. When the provider ends
the session, the coordination rooms are told once that a new login is needed; meanwhile the
inbox waits on the server and outbound mail stays queued: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bots.config import MssanteConfig, OAuthConfig
from bots.runtime.alone import Claims, one_at_a_time
from bots.runtime.bot import CommandContext
from bots.runtime.i18n import Lang, t
from bots.runtime.notice import notice
from bots.runtime.store import Transaction, utcnow
from bridge import records
from bridge.models import MailboxLogin
from bridge.oauth import Pending, Provider, ProviderError, Refused, Tokens

if TYPE_CHECKING:
    from bots.runtime.runtime import Runtime

log = logging.getLogger(__name__)
# A national professional identifier (RPPS-based "8…", ADELI-based "0…", …): what the provider
# takes as login_hint.
NATIONAL_ID = re.compile(r"^[0-9A-Za-z]{6,32}$")
IDLE = timedelta(minutes=5)  # the service's longest sleep with nothing to renew or poll
RETRY = timedelta(minutes=1)
STALE = datetime.min.replace(tzinfo=UTC)


class LoginNeeded(Exception):
    """No usable token: a professional must approve a new login (`!mss connexion`)."""


class Login:
    def __init__(self, settings: MssanteConfig, oauth: OAuthConfig, zone: ZoneInfo,
                 lang: Lang) -> None:
        self.settings, self.zone, self.lang = settings, zone, lang
        self.provider = Provider(oauth)
        self._tokens: Tokens | None = None
        self._retry_at = STALE  # no keep-alive renewal before (the provider did not answer)
        self._renewing = asyncio.Lock()
        self._wake = asyncio.Event()
        self.ready = asyncio.Event()  # set while there are tokens
        self._claims: Claims | None = None  # the renewal's, across processes (made at first use)

    # --- what IMAP and SMTP ask for ------------------------------------------------------------

    async def access_token(self, runtime: Runtime) -> str:
        """A fresh access token; ProviderError if it could not be renewed just now."""
        async with self._renewing:
            if self._tokens is None:
                raise LoginNeeded
            if not self._tokens.fresh(utcnow()):
                await self._renew(runtime, self._tokens)
            assert self._tokens is not None
            return self._tokens.access_token

    def refused(self, token: str) -> None:
        """A mail server refused this access token: it is renewed before the next login."""
        if self._tokens is not None and self._tokens.access_token == token:
            self._tokens = replace(self._tokens, expires_at=STALE)

    # --- the command ---------------------------------------------------------------------------

    async def connect(self, ctx: CommandContext, identifier: str) -> None:
        if not NATIONAL_ID.match(identifier):
            ctx.reply(t(ctx.lang, "mss.login.bad_id", value=identifier))
            return
        code = f"LIAISON-{secrets.randbelow(9000) + 1000}"  # shown on the phone and here
        try:
            pending = await self.provider.start(identifier, code, utcnow())
        except Refused as exc:
            log.warning("login request refused by the provider", extra={"error": exc.code})
            ctx.reply(t(ctx.lang, "mss.login.refused", code=exc.code))
            return
        except ProviderError as exc:
            log.warning("login request failed", extra={"error": str(exc)})
            ctx.reply(t(ctx.lang, "mss.login.unreachable"))
            return
        row = await self._row(ctx.tx)
        row.pending = ctx.tx.vault.seal(asdict(pending) | {
            "expires_at": pending.expires_at.isoformat(), "room_id": ctx.room_id,
            "event_id": ctx.event_id, "lang": ctx.lang}, row.bound("pending"))
        ctx.tx.after_commit.append(self._wake.set)
        ctx.reply(t(ctx.lang, "mss.login.asked", id=identifier, code=code,
                    until=self._time(pending.expires_at)))

    async def state(self, tx: Transaction) -> tuple[str, dict[str, str]]:
        """connected (by whom), pending (whose approval, until when) or needed."""
        row = await self._row(tx)
        if row.pending is not None:
            pending = tx.vault.open(row.pending, row.bound("pending"))
            return "pending", {"id": pending["login_hint"], "until": self._time(
                datetime.fromisoformat(pending["expires_at"]))}
        if row.tokens is not None:
            return "connected", {"id": Tokens.from_dict(
                tx.vault.open(row.tokens, row.bound("tokens"))).login_hint}
        return "needed", {}

    # --- the service ---------------------------------------------------------------------------

    async def run(self, runtime: Runtime) -> None:
        try:
            await self._serve(runtime)
        finally:
            if self._claims is not None:
                await self._claims.close()

    async def _serve(self, runtime: Runtime) -> None:
        async with runtime.transaction() as tx:
            # Two bridge processes starting together: the second reads what the first told.
            await one_at_a_time(tx, f"mss.login:{tx.account}")
            row = await self._row(tx)
            if row.tokens is not None:
                self._tokens = Tokens.from_dict(tx.vault.open(row.tokens, row.bound("tokens")))
                self.ready.set()
            elif row.pending is None:
                await self._tell_needed(tx, row)
        while True:
            self._wake.clear()
            async with runtime.transaction() as tx:
                row = await self._row(tx)
                pending = None if row.pending is None else \
                    tx.vault.open(row.pending, row.bound("pending"))
                stored = None if row.tokens is None else Tokens.from_dict(
                    tx.vault.open(row.tokens, row.bound("tokens")))
            if stored is not None and (self._tokens is None
                                       or stored.issued_at > self._tokens.issued_at):
                # A login approved, or a renewal, in the other bridge process (PostgreSQL).
                self._tokens = stored
                self.ready.set()
            if pending is not None:
                await self._poll(runtime, pending)
                continue
            await self._keep_alive(runtime)

    async def _keep_alive(self, runtime: Runtime) -> None:
        """Sleep until the refresh token is half-way through its life (then renew it), a login
        is asked for, or IDLE passes. A renewal the provider could not answer is tried again
        RETRY later, not at once."""
        renew_at = self._tokens.renew_at() if self._tokens is not None else None
        if renew_at is not None:
            renew_at = max(renew_at, self._retry_at)
        wait = IDLE if renew_at is None else min(IDLE, renew_at - utcnow())
        try:
            await asyncio.wait_for(self._wake.wait(), max(wait.total_seconds(), 0.0))
            return
        except TimeoutError:
            pass
        tokens = self._tokens
        if tokens is not None and renew_at is not None and utcnow() >= renew_at:
            async with self._renewing:
                if self._tokens is tokens:  # not renewed meanwhile by IMAP or SMTP
                    try:
                        await self._renew(runtime, tokens)
                    except LoginNeeded:
                        pass  # said in the rooms
                    except ProviderError as exc:
                        log.warning("keep-alive renewal failed", extra={"error": str(exc)})
                        self._retry_at = utcnow() + RETRY

    async def _poll(self, runtime: Runtime, stored: dict[str, Any]) -> None:
        """Ask the token endpoint every `interval` until the professional answers or the request
        expires; a new `!mss connexion` meanwhile replaces the request."""
        pending = Pending(stored["auth_req_id"], stored["login_hint"], stored["binding_message"],
                          stored["interval"], datetime.fromisoformat(stored["expires_at"]))
        interval = pending.interval
        outcome: Tokens | str | None = None
        while outcome is None:
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
                return  # replaced by a newer request
            except TimeoutError:
                pass
            if utcnow() >= pending.expires_at:
                outcome = "expired_token"
                break
            try:
                answer = await self.provider.poll(pending, utcnow())
            except Refused as exc:
                outcome = exc.code
            except ProviderError as exc:
                log.warning("login poll failed, trying again", extra={"error": str(exc)})
            else:
                if answer == "slow_down":
                    interval += 5
                elif isinstance(answer, Tokens):
                    outcome = answer
        # Under the renewal lock: a renewal of the old tokens cannot land over the new ones.
        async with self._renewing, runtime.transaction() as tx:
            row = await self._row(tx)
            if row.pending is None or tx.vault.open(
                    row.pending, row.bound("pending"))["auth_req_id"] != pending.auth_req_id:
                return  # replaced meanwhile
            row.pending = None
            lang = stored["lang"]
            if isinstance(outcome, Tokens):
                self._store(tx, row, outcome)
                log.info("mailbox login approved")
                answer_text = t(lang, "mss.login.done", mailbox=self.settings.mailbox,
                                id=pending.login_hint)
            else:
                log.info("mailbox login not approved", extra={"error": outcome})
                key = {"access_denied": "mss.login.denied",
                       "expired_token": "mss.login.expired"}.get(outcome, "mss.login.refused")
                answer_text = t(lang, key, code=outcome)
            tx.post(stored["room_id"], notice(answer_text, reply_to=stored["event_id"]))

    # --- tokens --------------------------------------------------------------------------------

    async def _renew(self, runtime: Runtime, tokens: Tokens) -> None:
        """One renewal at a time across the bridge processes too (two on PostgreSQL): the one
        that waited takes the tokens the other stored, rather than present a refresh token the
        provider may have rotated (refused: the session would end)."""
        if self._claims is None:
            self._claims = Claims(runtime.store)
        async with self._claims.waiting(f"mss.login:{runtime.user_id}"):
            async with runtime.transaction() as tx:
                row = await self._row(tx)
                stored = None if row.tokens is None else Tokens.from_dict(
                    tx.vault.open(row.tokens, row.bound("tokens")))
            if stored is None:  # ended meanwhile (told in the rooms by whoever saw it end)
                self._tokens = None
                self.ready.clear()
                raise LoginNeeded
            if stored.issued_at > tokens.issued_at:  # renewed (or a new login) meanwhile
                self._tokens = stored
                self._wake.set()
                return
            await self._refresh(runtime, tokens)

    async def _refresh(self, runtime: Runtime, tokens: Tokens) -> None:
        try:
            renewed = await self.provider.refresh(tokens, utcnow())
        except Refused as exc:
            log.warning("mailbox session ended by the provider", extra={"error": exc.code})
            async with runtime.transaction() as tx:
                row = await self._row(tx)
                row.tokens, self._tokens = None, None
                self.ready.clear()
                await self._tell_needed(tx, row)
            raise LoginNeeded from exc
        self._tokens = renewed  # the old refresh token may be dead already: keep the new one
        async with runtime.transaction() as tx:
            self._store(tx, await self._row(tx), renewed)
        log.info("mailbox access token renewed")

    def _store(self, tx: Transaction, row: MailboxLogin, tokens: Tokens) -> None:
        row.tokens, row.told, row.updated_at = \
            tx.vault.seal(tokens.to_dict(), row.bound("tokens")), False, utcnow()
        self._tokens = tokens
        self.ready.set()
        self._wake.set()  # the keep-alive's next renewal moved

    async def _tell_needed(self, tx: Transaction, row: MailboxLogin) -> None:
        if row.told:
            return
        row.told = True
        for room_id in await records.coordination(tx, self.settings.careteam_account):
            tx.post(room_id, notice(t(self.lang, "mss.login.needed",
                                      mailbox=self.settings.mailbox)))

    async def _row(self, tx: Transaction) -> MailboxLogin:
        row = await tx.session.get(MailboxLogin, tx.account)
        if row is None:
            row = MailboxLogin(account=tx.account, told=False, updated_at=utcnow())
            tx.session.add(row)
        return row

    def _time(self, when: datetime) -> str:
        return when.astimezone(self.zone).strftime("%H:%M")
