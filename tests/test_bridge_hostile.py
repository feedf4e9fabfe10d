"""MSSanté bridge against hostile input (review issue 13): any bytes give a mail or a reason for
quarantine, never another exception, and what a quarantine report reads of a mail cannot raise
either; subjects, display names and file names come out on one line, without control or bidi
characters; any subject, text or name a room sends composes a mail whose headers nobody can
inject into; slow headers, many packages, large unpacked files are refused; the stored digest of
a mail is keyed, and mails stored before are still recognised."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bots.config import Config, MailServerConfig, MssanteConfig
from bots.rekey import rekey
from bots.runtime.store import Store
from bots.runtime.vault import Vault
from bridge import receiving as receiving_module
from bridge.cleaning import file_name, one_line
from bridge.imap import Fetched
from bridge.inbound import InboundMail, Limits, content_digest, facts, lenient, parse
from bridge.models import InboundRow
from bridge.outbound import Outgoing, Patient, compose
from bridge.receiving import Receiving
from bridge.sending import Sending
from bridge.trustlist import TrustList, parse_trust_list
from bridge.xdm import Document, Unreadable, build_package, read_package
from tests.conftest import examples
from tests.migrated import sqlite_at_head

INS = "248037512345628"  # fictitious, valid key
WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
GP = "anne.morel@medecin.operator.test"
# What must never reach a header or a room line: controls, line and paragraph separators, NEL,
# vertical tab, bidi overrides.
FORBIDDEN = set("\r\n\v\f\x00\x85\u2028\u2029\u202e\u2066")


def assert_one_line(value: str) -> None:
    assert not FORBIDDEN & set(value), repr(value)
    assert value == one_line(value), repr(value)


def raw_mail(*headers: bytes, body: bytes = b"texte\r\n") -> bytes:
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


# --- inbound: hostile headers --------------------------------------------------------------------

HOSTILE_FROM = [
    b'From: "',  # IndexError in the address parser
    b"From: =?utf-8?q?Dr=0DMorel?= <" + GP.encode() + b">",  # ValueError: a CR in a name
    b"From: " + b"(" * 5000 + GP.encode(),  # RecursionError
]


@pytest.mark.parametrize("sender", HOSTILE_FROM)
def test_headers_the_email_package_raises_on_give_a_reason_and_facts(sender):
    raw = raw_mail(sender, b"Subject: =?utf-8?q?piege=0Dici?=", b"Message-ID: <h@x.test>",
                   b"Disposition-Notification-To: " + GP.encode())
    with pytest.raises(Unreadable) as caught:
        parse(raw)
    assert caught.value.reason == "broken_mime"
    # The quarantine report reads what it can, and never raises.
    assert facts(raw) == (None, "piege ici")
    assert lenient(raw, "<h@x.test>") is None


def test_subjects_and_display_names_come_out_on_one_line():
    raw = raw_mail(b"From: =?utf-8?q?Dr=E2=80=A8Anne=C2=85Morel=E2=80=AE?= <" + GP.encode() + b">",
                   b"Subject: =?utf-8?q?Sortie=0Dde=0BMme=E2=80=A8D.=E2=80=AE?= [P-2026-00042]")
    mail = parse(raw)
    assert (mail.sender_name, mail.subject) == ("Dr Anne Morel", "Sortie de Mme D. [P-2026-00042]")
    quarantined = lenient(raw, "<x@y.test>")
    assert quarantined is not None and quarantined.subject == mail.subject


ADDRESS_HEADERS = ("From", "Reply-To", "Return-Path", "Disposition-Notification-To", "To", "Cc")
HEADERS = (*ADDRESS_HEADERS, "Subject", "Date", "Message-ID", "In-Reply-To", "References",
           "Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "MIME-Version")
PIECES = ['"', "(", ")", "<", ">", "@", ",", ";", ":", "\\", "[", "]", "=", "?", " ", "\t",
          "\r", "\n ", "\v", "\x85", "\u2028", "\u202e", "\x00", "a", "é", GP, "=?utf-8?q?a=0Db?=",
          "=?utf-8?q?=E2=80=A8?=", "=?utf-8?b?", "?=", "=?iso-8859-1?q?caf=E9?=",
          "=?utf-8?q?=C2=85?=", "multipart/mixed; boundary=B", 'filename="', "filename*=utf-8''",
          "%E2%80%AE", "%0D", "IHE_XDM.ZIP", "text/plain; charset=", "base64"]
values = st.one_of(st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
                   st.integers(0, 3000).map(lambda n: "(" * n + GP),
                   st.text(max_size=60))
header_lists = st.lists(st.tuples(st.sampled_from(HEADERS), values), max_size=10)
BODY = (b"--B\r\nContent-Type: text/plain\r\n\r\ntexte\r\n--B\r\n"
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--\r\n")


def _never_raises_but_unreadable(raw: bytes) -> None:
    try:
        mail = parse(raw)
    except Unreadable:
        pass
    else:
        assert isinstance(mail, InboundMail)
        assert_one_line(mail.subject)
        assert_one_line(mail.sender_name)
        for doc in mail.files:
            assert_one_line(doc.title)
            assert_one_line(doc.filename)
            assert "/" not in doc.filename and "\\" not in doc.filename
    sender, subject = facts(raw)
    for value in (sender or "", subject or ""):
        assert_one_line(value)
    quarantined = lenient(raw, "<x@y.test>")
    if quarantined is not None:
        assert_one_line(quarantined.subject)
        assert_one_line(quarantined.sender_name)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_give_a_mail_or_a_reason(raw):
    _never_raises_but_unreadable(raw)


@settings(max_examples=examples(400), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(header_lists, st.booleans(), st.booleans(), values)
@example([("Content-Type", "/\x1b")], True, False, "")  # once a control in a file's name
def test_adversarial_headers_give_a_mail_or_a_reason(headers, good_from, multipart, name):
    lines = [f"{n}: {v}".encode("utf-8", "surrogateescape") for n, v in headers]
    if good_from:
        lines.insert(0, f"From: Dr Morel <{GP}>".encode())
    body = b"texte\r\n"
    if multipart:
        lines.append(b"Content-Type: multipart/mixed; boundary=B")
        body = BODY.replace(b"%s", name.encode("utf-8", "surrogateescape"))
    _never_raises_but_unreadable(raw_mail(*lines, body=body))


def test_a_long_header_section_is_refused_before_it_is_parsed():
    # 80 kB of encoded words: a quadratic parse (seconds, the bot frozen) if it were read.
    raw = raw_mail(f"From: {GP}".encode(), b"Subject: " + b"=?utf-8?q?ab?= " * 5500)
    started = time.monotonic()
    with pytest.raises(Unreadable) as caught:
        parse(raw)
    assert caught.value.reason == "oversize_headers"
    assert facts(raw) == (None, None) and lenient(raw, "<x@y.test>") is None
    assert time.monotonic() - started < 0.5
    # A field folded over many lines is one field (9,000 words of a display name: seconds).
    folded = raw_mail(b"From: " + b"x\r\n " * 9000 + f"<{GP}>".encode())
    with pytest.raises(Unreadable) as caught:
        parse(folded)
    assert caught.value.reason == "oversize_headers"
    # A big body is no reason: only the headers are bounded.
    parse(raw_mail(f"From: {GP}".encode(), b"Subject: x", body=b"y" * 200_000 + b"\r\n"))


# --- inbound: packages and files -----------------------------------------------------------------

def with_attachments(*parts: tuple[bytes, str]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = GP, "Documents"
    msg.set_content("Bonjour")
    for data, name in parts:
        maintype, subtype = ("application", "zip") if name.endswith(".ZIP") else \
            ("application", "pdf")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def test_one_xdm_package_per_mail_and_a_cap_on_what_files_unpack_to():
    letter = Document("Lettre", "LETTRE.PDF", "application/pdf", PDF)
    package = build_package([letter], INS, "Dr Morel", WHEN, "Logiciel")
    assert parse(with_attachments((package, "IHE_XDM.ZIP"))).package is not None
    with pytest.raises(Unreadable) as caught:
        parse(with_attachments((package, "IHE_XDM.ZIP"), (package, "IHE_XDM.ZIP")))
    assert caught.value.reason == "several_xdm"
    small = Limits(max_unpacked=3 * len(PDF))
    assert len(parse(with_attachments(*[(PDF, f"{n}.pdf") for n in range(3)]), small).files) == 3
    for parts in ([(PDF, f"{n}.pdf") for n in range(4)],
                  [(PDF, "1.pdf"), (PDF, "2.pdf"), (PDF, "3.pdf"), (package, "IHE_XDM.ZIP")]):
        with pytest.raises(Unreadable) as caught:
            parse(with_attachments(*parts), small)
        assert caught.value.reason in ("oversize", "zip_bomb")


def test_xdm_file_names_are_cleaned_like_attachment_names():
    hostile = "rapport\u202efdp.exe\x85\t"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:  # as another product may build it
        archive.writestr(f"IHE_XDM/SUBSET01/{hostile}", PDF)
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", (
            '<SubmitObjectsRequest xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" '
            'xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>'
            '<rim:ExtrinsicObject id="d1" mimeType="application/pdf"><rim:Slot name="URI">'
            f"<rim:ValueList><rim:Value>{hostile}</rim:Value></rim:ValueList></rim:Slot>"
            '<rim:Name><rim:LocalizedString value="CR&#x2028;op&#x202E;"/></rim:Name>'
            "</rim:ExtrinsicObject></rim:RegistryObjectList></SubmitObjectsRequest>").encode())
    (doc,) = read_package(out.getvalue()).documents
    assert (doc.filename, doc.title) == ("rapport fdp.exe", "CR op")
    (attached,) = parse(with_attachments((PDF, hostile))).files
    assert attached.filename == doc.filename == file_name(hostile, "x")


# --- outbound: whatever a room types ---------------------------------------------------------------

HOSTILE = ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\v", "\f", "\x00", "\u202e", ":",
           "Bcc: x@evil.test", " ", "é", "=?utf-8?q?x=0D=0ABcc:_evil@x.test?=", "=??Q?=0D", "<",
           ">", '"', "a" * 300]
ROOM_TEXT = st.text(st.characters(codec=None), max_size=80) | st.lists(
    st.sampled_from(HOSTILE), max_size=12).map("".join)
# Message-IDs as an answered mail's References may bring them (inbound._ID's shape).
THREAD_ID = st.lists(st.sampled_from([*HOSTILE, "a@b.test", "@", "x" * 100]), max_size=6).map(
    lambda parts: "<" + "".join(parts).replace(" ", "").replace("<", "").replace(">", "") + ">")
EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "x-mss-nil", "content-type",
                    "mime-version", "content-transfer-encoding", "x-mss-ins", "x-mss-codecda",
                    "in-reply-to", "references"}


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=ROOM_TEXT, text=ROOM_TEXT, family=ROOM_TEXT, given_names=ROOM_TEXT,
       title=ROOM_TEXT, filename=ROOM_TEXT, mimetype=ROOM_TEXT | st.just("text/xml"),
       xdm=st.booleans(), answered=THREAD_ID, references=st.lists(THREAD_ID, max_size=20))
def test_any_subject_text_or_name_composes_a_mail_nobody_injects_into(
        subject, text, family, given_names, title, filename, mimetype, xdm, answered,
        references):
    patient = Patient(INS, False, family, given_names, date(1948, 3, 12)) if xdm else None
    out = Outgoing(event_id="$e:hopital.test", sent_at=WHEN, mailbox="dac@hopital.test",
                   to=(GP,), ref="P-2026-00042", subject=subject, text=text,
                   files=(Document(title, filename, mimetype, PDF),), patient=patient,
                   in_reply_to=answered, references=tuple(references))
    raw = compose(out, product="Liaison/0.1").as_bytes()
    # Every line ends in CRLF: no bare CR or LF anywhere, in headers or parts.
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    assert {k.lower() for k in parsed.keys()} <= EXPECTED_HEADERS, parsed.keys()
    back = BytesParser(policy=policy.default).parsebytes(raw)
    for part in back.walk():  # nor any header of a part spread over a line of its own
        assert {k.lower() for k in part.keys()} <= EXPECTED_HEADERS | {"content-disposition"}
    assert parsed["Subject"].startswith("XDM/1.0/DDM+[P-2026-00042]" if xdm
                                        else "[P-2026-00042]")
    read = parse(raw)  # our own reader takes it back, package included
    assert_one_line(read.subject)
    assert (read.package is not None) is xdm


# --- the receiving edge, on its database ----------------------------------------------------------

SERVER = MailServerConfig("mail.test", 993)
SETTINGS = MssanteConfig("dac@hopital.test", "@care:x", SERVER, SERVER, "liste.xml")


def receiving() -> Receiving:
    """The bridge's receiving side without its mailbox: its trust list names the GP's domain."""
    zone = ZoneInfo("Europe/Paris")
    trust = parse_trust_list(b"<ListeBlanche><Domaine><Nom>medecin.operator.test</Nom></Domaine>"
                             b"</ListeBlanche>")

    async def current() -> TrustList:
        return trust

    source = SimpleNamespace(current=current)
    return Receiving(SETTINGS, source, Sending(SETTINGS, source, None, None, zone, "fr"),  # type: ignore[arg-type]
                     zone, "fr")


async def test_a_slow_mail_is_read_off_the_event_loop(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    database = sqlite_at_head(tmp_path / "bridge.db")
    store = Store(database, Vault([Vault.new_key()]))
    # Just under the header bounds, and as slow to parse as they allow (the parser is quadratic
    # in a field's length): four fields of 16 kB. Each reader of the mail's bytes must run in a
    # worker thread, so the loop keeps serving the rooms meanwhile (checked by thread, not by
    # timing: a loaded machine makes any delay look like a blocked loop).
    words = b"x " * 8000
    raw = raw_mail(b"From: " + words + f"<{GP}>".encode(), b"To: " + words + b"<b@c.test>",
                   b"Cc: " + words + b"<b@c.test>", b"Subject: " + words)
    loop_thread = threading.get_ident()
    ran_on: dict[str, int] = {}

    def watched(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def reading(*args: Any) -> Any:
            ran_on[name] = threading.get_ident()
            return read(*args)
        return reading

    for name in ("parse", "report_of", "lenient"):
        monkeypatch.setattr(receiving_module, name, watched(name, getattr(receiving_module, name)))
    try:
        async with store.transaction("@bridge:x") as tx:
            row = InboundRow(account=tx.account, message_id="<slow@x.test>", digest="d",
                             uidvalidity=1, uid=1, state="received",
                             raw=tx.vault.seal_bytes(raw, InboundRow.bind(
                                 "raw", tx.account, "<slow@x.test>", "d")),
                             moved=False, received_at=WHEN)
            tx.session.add(row)
        async with store.transaction("@bridge:x") as tx:
            row = await tx.session.get(InboundRow, row.id)
            await receiving().handle(tx, row)
            assert row.state == "triage"
        assert "parse" in ran_on and loop_thread not in ran_on.values(), ran_on
    finally:
        await store.close()


async def test_the_stored_digest_is_keyed_and_older_rows_are_still_recognised(tmp_path: Path):
    database = sqlite_at_head(tmp_path / "bridge.db")
    old_key, new_key = Vault.new_key(), Vault.new_key()

    async def store_mails(keys: list[str], *raws: bytes) -> list[int]:
        """The UIDs `Receiving._store` finds are copies of mails already stored."""
        store = Store(database, Vault(keys))
        runtime = SimpleNamespace(transaction=lambda: store.transaction("@bridge:x"))
        try:
            return await receiving()._store(runtime, 7, [  # type: ignore[arg-type]
                Fetched(uid, len(raw), raw) for uid, raw in enumerate(raws, 1)])
        finally:
            await store.close()

    async def rows(keys: list[str]) -> list[InboundRow]:
        store = Store(database, Vault(keys))
        try:
            async with store.transaction("@bridge:x") as tx:
                return list((await tx.session.scalars(select(InboundRow))).all())
        finally:
            await store.close()

    with_id = raw_mail(f"From: {GP}".encode(), b"Message-ID: <a@x.test>", b"Subject: un")
    without_id = raw_mail(f"From: {GP}".encode(), b"Subject: sans identifiant")
    assert await store_mails([old_key], with_id) == []
    (row,) = await rows([old_key])
    plain = content_digest(with_id)
    assert plain == hashlib.sha256(with_id).hexdigest()  # no trace header to leave out
    assert row.digest == Vault([old_key]).index(plain) and plain not in row.message_id

    # Stored before digests were keyed: the SHA-256 in clear, in the digest and the Message-ID.
    legacy = content_digest(without_id)
    store = Store(database, Vault([old_key]))
    async with store.transaction("@bridge:x") as tx:
        tx.session.add(InboundRow(
            account=tx.account, message_id=f"<{legacy}@liaison.invalid>", digest=legacy,
            uidvalidity=1, uid=1, state="posted", raw=tx.vault.seal_bytes(without_id, InboundRow.bind(
                "raw", tx.account, f"<{legacy}@liaison.invalid>", legacy)),
            moved=True, received_at=WHEN))
    await store.close()

    # A new key first, the old one kept: both copies recognised, a different mail is not.
    rotating = [new_key, old_key]
    assert await store_mails(rotating, with_id, without_id, with_id + b"autre\r\n") == [1, 2]
    # `liaison rekey` rewrites the digests with the new key: the old one can go.
    await rekey(Config(homeserver="http://x", data_dir=tmp_path, database=database,
                       data_keys=tuple(rotating), language="fr", timezone="Europe/Paris",
                       allowed_servers=("x",), allow_legacy_devices=False, log_level="INFO",
                       accounts=()))
    assert legacy not in {r.digest for r in await rows([new_key])}
    assert not any(legacy in r.message_id for r in await rows([new_key]))
    assert await store_mails([new_key], with_id, without_id) == [1, 2]
