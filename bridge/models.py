"""The bridge's tables. Rows are the truth: a mail is stored (sealed) before anything else, posted
to a room in one transaction with its state, moved on IMAP only once its room event is sent; an
outbound mail waits in its row until the server accepted it. A crash loses nothing and a replay
posts or sends nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bots.runtime.models import ID, Base, identifier, moment
from bots.runtime.vault import Vault
from bridge.inbound import content_digest, fallback_message_id


class MailboxState(Base):
    """How far the bridge has read a folder: UIDs are only meaningful with their UIDVALIDITY."""

    __tablename__ = "mss_mailbox"
    account: Mapped[str] = identifier(primary_key=True)
    folder: Mapped[str] = identifier(primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)


class InboundRow(Base):
    """A received mail. `state`: received | posted (in its room) | triage (in the coordination
    room, waiting for `!mss router`) | quarantined | report (a DSN/MDN about one of ours).
    `moved`: the IMAP move to the processed or quarantine folder is done. `raw` (sealed): the
    mail as received."""

    __tablename__ = "mss_inbound"
    __table_args__ = (UniqueConstraint("account", "message_id", "digest"),)
    sealed_by = ("account", "message_id", "digest")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier(index=True)
    message_id: Mapped[str] = identifier(index=True)
    # Blind index (HMAC under the data key) of the content's SHA-256, so that it says nothing
    # of the mail; `oversize:…` for a mail too big to download. Before 2026-12 the SHA-256 in
    # clear: still matched, and rewritten by `liaison rekey`.
    digest: Mapped[str] = mapped_column(String(64))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(16))  # thread | ref | ins | triage
    room_id: Mapped[str | None] = identifier()
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # The room message that shows the mail (a reply to it answers the mail) and the last one
    # posted for it (once sent, the mail may leave the inbox).
    head_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    last_outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    moved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    received_at: Mapped[datetime] = moment()


def rekeyed_digest(row: InboundRow, raw: bytes, vault: Vault) -> dict[str, str]:
    """The mail's dedupe digest under the vault's first key (key rotation; a digest stored
    before digests were keyed is converted too), and the Message-ID, when it stands for it."""
    digest = vault.index(content_digest(raw))
    message_id = fallback_message_id(digest) \
        if row.message_id == fallback_message_id(row.digest) else row.message_id
    return {"digest": digest, "message_id": message_id}


class OutboundRow(Base):
    """A mail to send. `kind`: mail | receipt (an MDN). `key`: what asked for it (the Matrix
    event, or the inbound mail for a receipt): one key, one mail, however often it is retried.
    `state`: queued | sent | failed (5xx: permanent, shown in the room). `content` (sealed):
    recipients, subject, text, threading. `report`: the last delivery/read report."""

    __tablename__ = "mss_outbound"
    __table_args__ = (UniqueConstraint("account", "key"),)
    sealed_by = ("account", "key")
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    account: Mapped[str] = identifier(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = identifier()
    room_id: Mapped[str | None] = identifier()
    event_id: Mapped[str | None] = identifier()  # the Matrix message it shows on
    message_id: Mapped[str] = identifier(index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = moment()
    last_error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = moment()
    sent_at: Mapped[datetime | None] = moment()


class MailboxLogin(Base):
    """The Pro Santé Connect login of a PER/ORG mailbox (`mssante.oauth`). `tokens` (sealed):
    the access and refresh tokens; `pending` (sealed): a login waiting for a professional's
    approval, with the room that asked; `told`: the coordination rooms know a login is needed
    (said once, not at every restart)."""

    __tablename__ = "mss_login"
    sealed_by = ("account",)
    account: Mapped[str] = identifier(primary_key=True)
    tokens: Mapped[bytes | None] = mapped_column(LargeBinary)
    pending: Mapped[bytes | None] = mapped_column(LargeBinary)
    told: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = moment()
