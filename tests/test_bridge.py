"""The MSSanté bridge against the real Dovecot and Postfix (TLS, client certificates) and a real
Synapse with E2EE clients: mail into the right room (by reference, INS, thread, triage), files
that decrypt, quarantine, read receipts; mail out of the room, threaded, refused outside the
trust space, queued while the server is down and sent once; no loss, no duplicate on restart;
an ORG mailbox logging in with Pro Santé Connect tokens (XOAUTH2)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import secrets
import sqlite3
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from nio import RoomMessageNotice
from sqlalchemy import select

from bots.devstack.homeserver import free_port
from bridge import bot, imap, sending, sources
from bridge.inbound import parse
from bridge.models import InboundRow, MailboxLogin, MailboxState, OutboundRow
from bridge.receiving import Receiving
from bridge.xdm import Document, build_package
from tests.bridge_helpers import Relay, app_mailbox_settings, bridged, mail
from tests.careteam_helpers import INS
from tests.element_helpers import run_element_client
from tests.mail_helpers import wait_for_mail

PDF = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 200 + b"%%EOF\n"
WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def with_files(msg, *, xdm_ins: str | None = None):
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="lettre.pdf")
    if xdm_ins:
        msg.add_attachment(build_package(
            [Document("Compte rendu opératoire", "CRO.PDF", "application/pdf", PDF)],
            xdm_ins, "Dr Morel", WHEN, "Logiciel du cabinet"),
            maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    return msg


async def test_mail_reaches_the_right_room_or_triage_or_quarantine(
        make_bot, make_clinician, mail_servers, tmp_path):
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path)
    nurse, coord = b.nurse, b.setup.coordinator

    # (2) The reference in the subject: the letter and its PDF, encrypted, in the room.
    b.deliver(with_files(mail(f"Dr Anne Morel <{b.gp}>", f"Sortie de Mme D. [{b.reference}]",
                              "Bonjour,\n<b>traitement</b> modifié.\n")))
    head = await b.posted(nurse, b.room_id, "Courrier MSSanté de Dr Anne Morel")
    assert head.decrypted and "traitement" in head.body and "lettre.pdf" in head.body
    assert "&lt;b&gt;traitement" in head.source["content"]["formatted_body"]
    pdf = await nurse.wait_for(lambda r, e: r == b.room_id and e.sender == b.bridge.user_id
                               and e.source["content"].get("body") == "lettre.pdf")
    assert await nurse.download(pdf.source["content"]) == PDF

    # A reference guessed from the file numbers (without the room's tag, or with a wrong one)
    # reaches no room but triage; its sender gets the very receipt a mail that found its room
    # gets (nothing tells which references exist). No receipt outside the trust space, whatever
    # address the mail gives for it.
    gp = b.gp_inbox()
    asks = {"Disposition_Notification_To": b.gp}
    for n, subject in enumerate((f"Accès [{b.reference}]", f"Deviné [{b.ref}]",
                                 f"Deviné [{b.ref}-AAAAAAAA]")):
        b.deliver(mail(b.gp, subject, f"Essai {n}.\n", **asks))
        await b.posted(*((nurse, b.room_id) if n == 0 else (coord, b.coordination)), subject)
    receipts = await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "lecture"],
                                       count=3)
    assert len({_receipt_text(r) for r in receipts}) == 1, [_receipt_text(r) for r in receipts]
    elsewhere = mail(b.gp, f"Ailleurs [{b.reference}]", Sender="robot@untrusted.test",
                     Disposition_Notification_To="robot@untrusted.test")
    b.deliver(elsewhere)  # the envelope sender (Return-Path) too: an MDN would be asked for
    await b.posted(nurse, b.room_id, "Ailleurs")
    async with b.bridge.runtime.transaction() as tx:
        row = await tx.session.scalar(select(InboundRow).where(
            InboundRow.message_id == elsewhere["Message-ID"]))
        assert row is not None and row.state == "posted"
        assert parse(tx.vault.open_bytes(row.raw, row.bound("raw"))).return_path == "robot@untrusted.test"
        assert await tx.session.scalar(select(OutboundRow.id).where(
            OutboundRow.key == f"receipt:{row.id}")) is None

    # (3) No reference, but the patient's INS in an IHE XDM package: unpacked, by title.
    b.deliver(with_files(mail(b.gp, "Compte rendu"), xdm_ins=INS))
    xdm = await b.posted(nurse, b.room_id, "Compte rendu opératoire")
    assert "CRO.PDF" in xdm.body
    cro = await nurse.wait_for(lambda r, e: r == b.room_id and e.source["content"].get(
        "body") == "CRO.PDF")
    assert await nurse.download(cro.source["content"]) == PDF

    # (4) Nobody recognised: triage in the coordination room, then filed by a coordinator.
    b.deliver(mail(b.gp, "Question sur un patient", "Le patient de la chambre 12 ?\n"))
    triage = await b.posted(coord, b.coordination, "Question sur un patient")
    number = triage.body.split("n°")[1].split(" ")[0]
    event_id = await coord.send(b.coordination, f"!mss router {number} {b.ref}")
    assert "rangé dans" in (await coord.reply_to(b.coordination, event_id,
                                                 b.bridge.user_id)).body
    await b.posted(nurse, b.room_id, "Le patient de la chambre 12")

    # Quarantine, reported with the reason; the bridge goes on with the next mail.
    b.deliver(mail("intrus@untrusted.test", f"Hors espace [{b.reference}]"))
    await b.posted(coord, b.coordination, "pas dans l'espace de confiance")
    broken = (b"From: " + b.gp.encode() + b"\r\nSubject: casse\r\nMessage-ID: <x1@operator.test>"
              b"\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
              b"Content-Type: text/plain\r\n\r\njamais ferme\r\n")
    await asyncio.to_thread(b.append, broken)
    await b.posted(coord, b.coordination, "message mal formé")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", b"\0" * (80 * 1024 * 1024))
    hostile = mail(b.gp, f"Archive [{b.reference}]")
    hostile.add_attachment(bomb.getvalue(), maintype="application", subtype="zip",
                           filename="IHE_XDM.ZIP")
    b.deliver(hostile)
    await b.posted(coord, b.coordination, "bombe de décompression")
    huge = mail(b.gp, f"Scanner [{b.reference}]")  # 30 MB: above the 25 MB limit, never downloaded
    huge.add_attachment(b"\0" * (30 * 1024 * 1024), maintype="application",
                        subtype="octet-stream", filename="scanner.bin")
    await asyncio.to_thread(b.append, huge.as_bytes())
    await b.posted(coord, b.coordination, "message trop gros")
    b.deliver(mail(b.gp, f"Après la quarantaine [{b.reference}]"))
    await b.posted(nurse, b.room_id, "Après la quarantaine")
    asked = await coord.send(b.coordination, "!mss etat")
    status = (await coord.reply_to(b.coordination, asked, b.bridge.user_id)).body
    assert "connectée par son certificat" in status and "en quarantaine : 4" in status

    # The bridge answers its own commands only: not the care-team bot's, not `!aide` twice.
    others = [await nurse.send(b.room_id, text) for text in ("!equipe liste", "!aide")]
    for event_id in others:
        await nurse.reply_to(b.room_id, event_id, b.setup.bot.user_id)
    mine = await nurse.send(b.room_id, "!mss repondre sans message auquel répondre")
    assert "Répondez" in (await nurse.reply_to(b.room_id, mine, b.bridge.user_id)).body
    await asyncio.sleep(2)
    assert all(nurse.replies_to(b.room_id, e, b.bridge.user_id) == [] for e in others)
    assert nurse.replies_to(b.room_id, mine, b.setup.bot.user_id) == []  # and the reverse

    # Nothing deleted: bridged mail in the processed folder, the rest in quarantine.
    for _ in range(100):
        if not await asyncio.to_thread(b.folder, "INBOX"):
            break
        await asyncio.sleep(0.3)
    assert len(await asyncio.to_thread(b.folder, "Liaison/Quarantaine")) == 4
    assert len(await asyncio.to_thread(b.folder, "Liaison/Traités")) == 8
    assert await asyncio.to_thread(b.folder, "INBOX") == []


async def letter_mails(b, expected: int) -> int:
    """How many mails with documents the bridge recorded as sent from the patient room."""
    path = b.setup.bot.config.database.removeprefix("sqlite:///")
    for _ in range(50):
        with sqlite3.connect(path) as db:
            (count,) = db.execute("SELECT count(*) FROM episode_letter_mails WHERE room_id = ?",
                                  (b.room_id,)).fetchone()
        if count >= expected:
            break
        await asyncio.sleep(0.2)
    return count


async def test_mail_out_threaded_both_ways_queued_while_down_and_never_twice(
        make_bot, make_clinician, mail_servers, tmp_path):
    # The bridge starts with its SMTP server unreachable: what it is asked to send waits.
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path, smtp_port=free_port())
    nurse = b.nurse
    command = await nurse.send(b.room_id, f"!mss envoyer {b.gp} Sortie de Mme D.\n"
                                          "Bonjour,\nsortie prévue demain.")
    assert "en cours d'envoi" in (await nurse.reply_to(b.room_id, command,
                                                       b.bridge.user_id)).body
    refused = await nurse.send(b.room_id, "!mss envoyer x@untrusted.test Test\ntexte")
    assert "hors de l'espace de confiance" in (await nurse.reply_to(
        b.room_id, refused, b.bridge.user_id)).body
    denied = await b.kine.send(b.room_id, f"!mss envoyer {b.gp} Test\ntexte")
    assert "pas le droit" in (await b.kine.reply_to(b.room_id, denied, b.bridge.user_id)).body
    await _until(lambda: _outbound_error(b), "a first attempt against the closed port")

    # Restarted with the server reachable: the queued mail leaves once.
    await b.bridge.stop()
    mss = b.bridge.config.mssante
    assert mss is not None
    b.bridge.config = replace(b.bridge.config, mssante=replace(
        mss, smtp=replace(mss.smtp, port=b.servers.submission_port)))
    await b.bridge.start()
    await b.reaction(nurse, command, "📤")
    gp = b.gp_inbox()
    (sent,) = await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "Sortie de Mme D."])
    assert sent["Subject"] == f"[{b.reference}] Sortie de Mme D."
    assert sent["X-MSS-NIL"] and "sortie prévue demain" in sent.get_body().get_content()
    await asyncio.sleep(2)
    assert len(await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "Sortie de Mme D."])) == 1

    # The GP answers without the reference: the thread brings it back to the room, with a
    # read receipt asked for; the bridge sends it once the mail is in the room.
    answer = mail(b.gp, "Re: Sortie", "Bien reçu, je la vois jeudi.\n",
                  In_Reply_To=sent["Message-ID"], References=sent["Message-ID"],
                  Disposition_Notification_To=b.gp)
    b.deliver(answer)
    shown = await b.posted(nurse, b.room_id, "je la vois jeudi")
    (mdn,) = await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "lecture"])
    assert mdn.get_content_type() == "multipart/report"
    assert answer["Message-ID"] in mdn.as_string()

    # The room answers the GP's mail as a Matrix reply: threaded on the GP's side.
    reply = await nurse.send(b.room_id, "!mss repondre Merci, noté.", **{"m.relates_to": {
        "m.in_reply_to": {"event_id": shown.event_id}}})
    await b.reaction(nurse, reply, "📤")
    (back,) = await asyncio.to_thread(wait_for_mail, gp, ["BODY", "Merci"])
    assert back["In-Reply-To"] == answer["Message-ID"]
    assert back["Subject"] == f"[{b.reference}] Re: Sortie"
    assert not list(back.iter_attachments())

    # Or in the mail's thread, where a file was put: the file goes with the answer.
    in_thread = {"m.relates_to": {"rel_type": "m.thread", "event_id": shown.event_id}}
    await nurse.send_file(b.room_id, "bilan.pdf", PDF, "application/pdf", **in_thread)
    threaded = await nurse.send(b.room_id, "!mss repondre Voici le bilan.", **in_thread)
    await b.reaction(nurse, threaded, "📤")
    (with_file,) = await asyncio.to_thread(wait_for_mail, gp, ["BODY", "Voici le bilan"])
    assert with_file["In-Reply-To"] == answer["Message-ID"]
    assert [(a.get_filename(), a.get_content()) for a in with_file.iter_attachments()] == [
        ("bilan.pdf", PDF)]

    # From a thread: its files go with the mail, packaged as IHE XDM with the patient's INS.
    root = await nurse.send_file(b.room_id, "ordonnance.pdf", PDF, "application/pdf")
    await nurse.send_file(b.room_id, "plaie.png", b"\x89PNG\r\n\x1a\n" + b"0" * 500,
                          "image/png", **{"m.relates_to": {"rel_type": "m.thread",
                                                          "event_id": root}})
    packaged = await nurse.send(b.room_id, f"!mss envoyer xdm {b.gp} Ordonnance de sortie\n"
                                "Ci-joint.", **{"m.relates_to": {"rel_type": "m.thread",
                                                                 "event_id": root}})
    await b.reaction(nurse, packaged, "📤")
    (xdm,) = await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "Ordonnance de sortie"])
    assert xdm["Subject"] == (f"XDM/1.0/DDM+[{b.reference}] Ordonnance de sortie DUPONT Marie "
                              "12/03/1948")
    assert xdm["X-MSS-INS"] == "N"  # not checked against the national service
    read = parse(xdm.as_bytes())
    assert read.package is not None and read.package.ins == INS
    assert {(f.filename, f.data[:4]) for f in read.package.documents} == {
        ("ordonnance.pdf", b"%PDF"), ("plaie.png", b"\x89PNG")}
    # The mails that carried documents are recorded for the discharge bot (the lettre de
    # liaison may be one of them); the text-only ones are not.
    assert await letter_mails(b, 2) == 2

    # A mail to a mailbox that does not exist: the server's DSN comes back onto the command.
    lost = await nurse.send(b.room_id, "!mss envoyer personne@operator.test Test\ntexte")
    await b.reaction(nurse, lost, "⚠️")
    await b.posted(nurse, b.room_id, "n'a pas pu être remis")

    # The bridge restarted, a copy of a mail put back in the inbox: never posted twice.
    await b.bridge.stop()
    await b.bridge.start()
    raw = answer.as_bytes(policy=email.policy.SMTP)
    await asyncio.to_thread(b.append, raw)
    await _until(lambda: _inbox_empty(b), "the copy moved out of the inbox")
    await asyncio.sleep(1)
    copies = [e for r, e in nurse.timeline if r == b.room_id and e.sender == b.bridge.user_id
              and "je la vois jeudi" in getattr(e, "body", "")]
    assert len(copies) == 1
    assert email.message_from_bytes(raw)["Message-ID"] == answer["Message-ID"]


def _receipt_text(mdn) -> tuple[str, str]:
    """What a receipt says, less what names the mail it is about."""
    human, notification = mdn.get_payload()[:2]
    return human.get_content(), next(line for line in str(notification).splitlines()
                                     if line.startswith("Disposition:"))


async def _until(check, what: str, timeout: float = 45) -> None:
    for _ in range(int(timeout / 0.3)):
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def _more(psc, renewals: int) -> bool:
    return psc.grants()["refresh_token"] > renewals


async def _outbound_error(b) -> bool:
    async with b.bridge.runtime.transaction() as tx:
        return bool(await tx.session.scalar(select(OutboundRow.last_error)))


async def _inbox_empty(b) -> bool:
    return not await asyncio.to_thread(b.folder, "INBOX")


async def test_a_mail_stored_when_the_bridge_stops_is_posted_once_after_a_restart(
        make_bot, make_clinician, mail_servers, tmp_path, monkeypatch):
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path)
    # The bridge stops between storing the mail and posting it (as if killed there).
    stored = asyncio.Event()
    real_process = Receiving.process

    async def stop_before_posting(self, runtime):
        async with runtime.transaction() as tx:
            if await tx.session.scalar(select(InboundRow.id)):
                stored.set()
                return
        await real_process(self, runtime)

    monkeypatch.setattr(Receiving, "process", stop_before_posting)
    b.deliver(mail(b.gp, f"Pendant l'arrêt [{b.reference}]"))
    await asyncio.wait_for(stored.wait(), 45)
    await b.bridge.stop()
    assert await asyncio.to_thread(b.folder, "INBOX"), "still in the inbox: not yet posted"
    monkeypatch.setattr(Receiving, "process", real_process)
    await b.bridge.start()
    await b.posted(b.nurse, b.room_id, "Pendant l'arrêt")
    await _until(lambda: _inbox_empty(b), "the mail moved once posted")
    await b.bridge.stop()
    await b.bridge.start()
    await asyncio.sleep(3)
    assert len([e for r, e in b.nurse.timeline if r == b.room_id and "Pendant l'arrêt"
                in getattr(e, "body", "")]) == 1

    # A mail our own code fails on is quarantined and reported; the next one still comes.
    async def failing(self, tx, mail, room_id):
        raise RuntimeError("a bug on this mail")

    real_post = Receiving.post
    monkeypatch.setattr(Receiving, "post", failing)
    b.deliver(mail(b.gp, f"Fait planter [{b.reference}]"))
    await b.posted(b.setup.coordinator, b.coordination, "erreur du pont")
    monkeypatch.setattr(Receiving, "post", real_post)
    b.deliver(mail(b.gp, f"Après l'erreur [{b.reference}]"))
    await b.posted(b.nurse, b.room_id, "Après l'erreur")


async def test_a_hostile_mail_or_subject_is_set_aside_and_the_bridge_goes_on(
        make_bot, make_clinician, mail_servers, tmp_path, monkeypatch, caplog):
    """Review issue 13: headers the email package raises on, headers too long to parse, a CR or
    U+2028 in a subject (received, typed or inherited by an answer), a mail our own code fails
    to build: each set aside with its reason, and the next mail, in or out, still goes."""
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path)
    coord, nurse, gp = b.setup.coordinator, b.nurse, b.gp.encode()
    for n, sender in enumerate((b'"', b"=?utf-8?q?Dr=0DMorel?= <" + gp + b">",
                                b"(" * 5000 + gp)):
        await asyncio.to_thread(b.append, b"From: " + sender + (
            f"\r\nSubject: Hostile {n}\r\nMessage-ID: <hostile{n}.{secrets.token_hex(4)}"
            "@operator.test>\r\n\r\ntexte\r\n").encode())
    await asyncio.to_thread(b.append, b"From: " + gp + b"\r\nSubject: " +
                            b"=?utf-8?q?ab?= " * 6000 + b"\r\n\r\ntexte\r\n")
    for n in range(3):
        assert "message mal formé" in (await b.posted(coord, b.coordination,
                                                      f"Hostile {n}")).body
    await b.posted(coord, b.coordination, "en-têtes trop longs")
    b.deliver(mail(b.gp, f"Après les hostiles [{b.reference}]"))
    await b.posted(nurse, b.room_id, "Après les hostiles")

    # A CR and a line separator, encoded in a subject: shown on one line, and the answer that
    # inherits the subject leaves.
    await asyncio.to_thread(b.append, b"From: Dr Morel <" + gp + b">\r\nSubject: =?utf-8?q?"
                            b"Ligne_un=E2=80=A8Ligne=0Ddeux?= [" + b.reference.encode() + b"]\r\n"
                            b"Message-ID: <cr." + secrets.token_hex(4).encode() +
                            b"@operator.test>\r\n\r\nBonjour\r\n")
    shown = await b.posted(nurse, b.room_id, f"Ligne un Ligne deux [{b.reference}]")
    answer = await nurse.send(b.room_id, "!mss repondre Bien note, merci.", **{
        "m.relates_to": {"m.in_reply_to": {"event_id": shown.event_id}}})
    await b.reaction(nurse, answer, "📤")
    inbox = b.gp_inbox()
    (back,) = await asyncio.to_thread(wait_for_mail, inbox, ["BODY", "Bien note"])
    assert back["Subject"] == f"[{b.reference}] Re: Ligne un Ligne deux [{b.reference}]"

    # Typed in `!mss envoyer`: sent on one line.
    typed = await nurse.send(b.room_id, f"!mss envoyer {b.gp} Objet\rpiege\u2028ici\x85fin\v!\n"
                                        "Texte.")
    await b.reaction(nurse, typed, "📤")
    (sent,) = await asyncio.to_thread(wait_for_mail, inbox, ["SUBJECT", "piege"])
    assert sent["Subject"] == f"[{b.reference}] Objet piege ici fin !"

    # A mail our own code fails to build: failed with the reason, the next one leaves.
    real_compose = sending.compose

    def failing(out, **kwargs):
        if "Casse" in out.subject:
            raise RuntimeError("a bug on this mail")
        return real_compose(out, **kwargs)

    monkeypatch.setattr(sending, "compose", failing)
    broken = await nurse.send(b.room_id, f"!mss envoyer {b.gp} Casse\nTexte.")
    await b.reaction(nurse, broken, "⚠️")
    assert "RuntimeError" in (await b.posted(nurse, b.room_id, "n'a pas pu le préparer")).body
    after = await nurse.send(b.room_id, f"!mss envoyer {b.gp} Apres la casse\nTexte.")
    await b.reaction(nurse, after, "📤")
    async with b.bridge.runtime.transaction() as tx:
        states = dict((await tx.session.execute(select(InboundRow.reason, InboundRow.state)
                                                 .where(InboundRow.reason.is_not(None)))).all())
        assert states == {"broken_mime": "quarantined", "oversize_headers": "quarantined"}
        failed = await tx.session.scalar(select(OutboundRow).where(OutboundRow.key == broken))
        assert (failed.state, failed.last_error) == ("failed", "internal: RuntimeError")
    # Logged by kind and place, not by message: one may quote the mail, patient data included.
    failures = [r for r in caplog.records if r.name.startswith("bridge.") and r.levelname ==
                "ERROR"]
    assert failures and all(r.exc_info is None and "a bug" not in str(vars(r))
                            for r in failures)


async def test_the_bridge_stops_promptly_when_its_imap_server_stops_answering(
        make_bot, make_clinician, mail_servers, tmp_path):
    """A server that no longer answers (hung, or cut off with no reset) while the watcher
    idles: stopping waits a few seconds for it, not the 60 s of an IMAP command's timeout
    (once to end the IDLE, once more to log out)."""
    async with Relay(mail_servers.imap_host, mail_servers.imap_port) as relay:
        b = await bridged(make_bot, make_clinician, mail_servers, tmp_path,
                          imap_port=relay.port)
        b.deliver(mail(b.gp, f"Avant [{b.reference}]"))
        await b.posted(b.nurse, b.room_id, "Avant")
        await _until(lambda: _inbox_empty(b), "the mail moved once posted")
        await asyncio.sleep(1)  # the watcher back in IDLE
        relay.freeze()
        started = time.monotonic()
        await b.bridge.stop()
        assert time.monotonic() - started < imap.CLOSE_WAIT * 2 + 3


async def test_a_mailbox_closed_while_it_connects_leaves_no_connection_open(mail_servers):
    """The watcher cancelled (a stopping bridge, the IMAP lock lost) while its connect runs on in
    a thread: the close that follows comes first, and the connection made after it is logged out
    there and then, not left logged in and unused until the server's timeout."""
    settings = app_mailbox_settings(mail_servers)
    async with Relay(mail_servers.imap_host, mail_servers.imap_port) as relay:
        settings = replace(settings, imap=replace(settings.imap, port=relay.port))
        mailbox = imap.Mailbox(settings)

        def through(n: int):  # the connections open through the relay, polled by _until
            async def check() -> bool:
                return relay.connections == n
            return check

        relay.freeze()  # the server slow to greet: the connect waits in its thread
        connecting = asyncio.ensure_future(
            asyncio.to_thread(mailbox.connect, closes=mailbox.closes))
        await _until(through(1), "connecting")
        await asyncio.to_thread(mailbox.close)  # nothing to close yet
        relay.thaw()
        with pytest.raises(ConnectionAbortedError):
            await connecting
        assert mailbox.client is None
        await _until(through(0), "the late connection closed")
        # The mailbox still connects afterwards, as the watcher's next round does.
        assert await asyncio.to_thread(mailbox.connect, closes=mailbox.closes) > 0
        assert mailbox.client is not None and relay.connections == 1
        await asyncio.to_thread(mailbox.close)
        await _until(through(0), "logged out")


async def test_a_new_uidvalidity_or_a_dropped_connection_loses_and_repeats_nothing(
        make_bot, make_clinician, mail_servers, tmp_path, caplog):
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path)
    b.deliver(mail(b.gp, f"Avant [{b.reference}]"))
    await b.posted(b.nurse, b.room_id, "Avant")
    await _until(lambda: _inbox_empty(b), "the mail moved once posted")
    await b.bridge.stop()
    # Meanwhile the server rebuilt the folder: new UIDVALIDITY, the old mail back in it, and a
    # new one.
    await asyncio.to_thread(b.restore, "Liaison/Traités")
    await asyncio.to_thread(b.new_uidvalidity, 4242)
    b.deliver(mail(b.gp, f"Après [{b.reference}]"))
    await b.bridge.start()
    await b.posted(b.nurse, b.room_id, "Après")
    await _until(lambda: _inbox_empty(b), "both out of the inbox")
    async with b.bridge.runtime.transaction() as tx:
        assert await tx.session.scalar(select(MailboxState.uidvalidity)) == 4242
    assert len([e for r, e in b.nurse.timeline if r == b.room_id and "Avant"
                in getattr(e, "body", "")]) == 1

    # The server drops the connection: the bridge connects again and goes on.
    await asyncio.to_thread(b.kick)
    b.deliver(mail(b.gp, f"Après la coupure [{b.reference}]"))
    await b.posted(b.nurse, b.room_id, "Après la coupure")
    assert any(r.getMessage() == "mailbox connection lost, reconnecting" for r in caplog.records)


async def test_mail_arriving_while_the_watcher_is_busy_is_as_fast_as_the_first(
        make_bot, make_clinician, mail_servers, tmp_path):
    # The periodic recheck far away: a mail whose IDLE notice the watcher missed would wait
    # for it, well past the bound.
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path, recheck_seconds=300)
    bound = 20.0  # seconds from delivery to the room (under a second when idle)
    n = 0

    async def send(*gaps: float) -> None:
        """Mails delivered `gaps` seconds apart; each must reach the room within the bound."""
        nonlocal n
        sent = []
        for gap in (0.0, *gaps):
            await asyncio.sleep(gap)
            n += 1
            await asyncio.to_thread(b.deliver, mail(b.gp, f"Courrier {n} [{b.reference}]",
                                                    f"Numéro {n:03d}.\n"))
            sent.append((n, time.monotonic()))
        for number, at in sent:
            await b.nurse.wait_for(
                lambda r, e, k=number: r == b.room_id and isinstance(e, RoomMessageNotice)
                and f"Numéro {k:03d}." in e.body, timeout=max(0.1, at + bound - time.monotonic()))

    for _ in range(3):  # pairs, the second while the first is fetched, posted or moved
        await send(1.2)
        await send(0.5)
    await send(0.3, 0.3, 0.3, 0.3)  # a burst


async def test_a_trust_list_not_refreshed_for_a_day_is_kept_and_said_loudly(
        make_bot, make_clinician, mail_servers, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sources, "STALE_AFTER", 3.0)  # a day, in seconds
    monkeypatch.setattr(bot, "TRUST_CHECK_SECONDS", 0.5)
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path,
                      trust_list_refresh_minutes=0)  # re-read at every use
    coord = b.setup.coordinator
    await asyncio.sleep(4)  # refreshed all along: nothing to say
    assert not [e for r, e in coord.timeline if r == b.coordination
                and "liste blanche" in getattr(e, "body", "")]
    (tmp_path / "liste-blanche.xml").write_bytes(b"<ListeBlanche><Domaine>")  # broken downloads
    told = await b.posted(coord, b.coordination, "La liste blanche MSSanté n'a pas pu")
    assert any(r.levelname == "ERROR" and r.getMessage().startswith("trust list not refreshed")
               for r in caplog.records)
    # The last good list is still the one in use: the GP's mail still reaches the room.
    b.deliver(mail(b.gp, f"Malgré tout [{b.reference}]"))
    await b.posted(b.nurse, b.room_id, "Malgré tout")
    await asyncio.sleep(2)  # told once
    assert [e.event_id for r, e in coord.timeline if r == b.coordination
            and "liste blanche" in getattr(e, "body", "")] == [told.event_id]


async def test_element_sends_mail_through_the_bridge(homeserver, make_bot, make_clinician,
                                                     mail_servers, tmp_path):
    """Element's crypto stack (matrix-js-sdk, only devices cross-signed by their owner): the
    bridge's device is trusted, its answers decrypt, and the mail leaves."""
    localpart, password = f"element{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    element = await homeserver.register(localpart, password)
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path,
                      others=((element, "IDE"),))
    result = await run_element_client({
        "homeserver": homeserver.url, "user_id": element, "password": password,
        "room_id": b.room_id, "bot_user_id": b.bridge.user_id, "timeout_s": 90,
        "commands": [f"!mss envoyer {b.gp} Depuis Element\nBonjour depuis Element."],
        "expect": ["en cours d'envoi"]})
    assert result["errors"] == [], result["errors"]
    assert result["bot_device_signed_by_owner"] is True
    gp = b.gp_inbox()
    (sent,) = await asyncio.to_thread(wait_for_mail, gp, ["SUBJECT", "Depuis Element"])
    assert "Bonjour depuis Element" in sent.get_body().get_content()


@pytest.fixture
def short_tokens(psc):
    """Access tokens that live 30 s: within the 30 s margin at once, each use renews one."""
    psc.set_ttl(access=30)
    yield psc
    psc.set_ttl(access=120, refresh=3600)


async def test_an_org_mailbox_logs_in_with_pro_sante_connect_and_loses_nothing_meanwhile(
        make_bot, make_clinician, mail_servers, short_tokens, tmp_path):
    """A PER/ORG mailbox: XOAUTH2 on IMAP and SMTP with tokens from the provider (CIBA, the
    professional approving on their phone), renewed, kept across a restart; when the session
    ends, mail waits on the server and in the outbox until a new login, then flows."""
    psc = short_tokens
    national_id = f"8997{secrets.randbelow(10**8):08d}"
    b = await bridged(make_bot, make_clinician, mail_servers, tmp_path, psc=psc)
    psc.add_account(national_id, b.mailbox)
    coord, nurse = b.setup.coordinator, b.nurse
    await b.posted(coord, b.coordination, "doit être reconnectée avec Pro Santé Connect")
    b.deliver(mail(b.gp, f"En attente de connexion [{b.reference}]"))

    # Refused on the phone first, then approved: the code in the room is the one on the phone.
    async def login(approve: bool, restart: bool = False) -> None:
        asked = await coord.send(b.coordination, f"!mss connexion {national_id}")
        reply = await coord.reply_to(b.coordination, asked, b.bridge.user_id)
        code = reply.body.split("code ")[1].split(" ")[0]
        assert [p["binding_message"] for p in psc.pending()
                if p["login_hint"] == national_id] == [code]
        if restart:  # the request is kept: polling resumes after a restart
            await b.bridge.stop()
            await b.bridge.start()
        if approve:
            await asyncio.to_thread(psc.approve, national_id)
        else:
            await asyncio.to_thread(psc.deny, national_id)
        answer = await coord.wait_for(lambda r, e: r == b.coordination
                                      and e.sender == b.bridge.user_id and
                                      isinstance(e, RoomMessageNotice) and
                                      ("✅ Boîte" in e.body or "❌" in e.body),
                                      timeout=45, start=coord.mark(asked))
        assert ("✅ Boîte" in answer.body) is approve, answer.body

    bad = await coord.send(b.coordination, "!mss connexion 12")
    assert "n'est pas un identifiant" in (await coord.reply_to(
        b.coordination, bad, b.bridge.user_id)).body
    await login(approve=False)
    await login(approve=True)
    await b.posted(nurse, b.room_id, "En attente de connexion")

    # Short-lived access tokens (as Pro Santé Connect's): each use renews one first, with the
    # refresh token, rotated at each use, the new one stored before the old one is dead.
    command = await nurse.send(b.room_id, f"!mss envoyer {b.gp} Par XOAUTH2\nBonjour.")
    await b.reaction(nurse, command, "📤")
    (sent,) = await asyncio.to_thread(wait_for_mail, b.gp_inbox(), ["SUBJECT", "XOAUTH2"])
    assert b.mailbox in sent["From"]
    async with b.bridge.runtime.transaction() as tx:  # stored sealed
        sealed = (await tx.session.scalar(select(MailboxLogin))).tokens
    assert b"refresh_token" not in sealed and b"access_token" not in sealed
    await b.bridge.stop()  # and kept: no new login after a restart
    await b.bridge.start()
    b.deliver(mail(b.gp, f"Après le redémarrage [{b.reference}]"))
    await b.posted(nurse, b.room_id, "Après le redémarrage")
    grants = psc.grants()
    assert grants["urn:openid:params:grant-type:ciba"] == 1 and \
        grants["refresh_token"] >= 3, grants  # IMAP, SMTP, IMAP after the restart

    # The session ends at the provider: the rooms are told once; mail in and out waits.
    psc.revoke(national_id)
    mark = len(coord.timeline)
    await asyncio.to_thread(b.kick)
    await b.posted(coord, b.coordination, "doit être reconnectée", start=mark)
    b.deliver(mail(b.gp, f"Pendant la coupure [{b.reference}]"))
    waiting = await nurse.send(b.room_id, f"!mss envoyer {b.gp} En file\nBonjour.")
    await nurse.reply_to(b.room_id, waiting, b.bridge.user_id)
    await asyncio.sleep(5)
    async with b.bridge.runtime.transaction() as tx:
        queued = await tx.session.scalar(select(OutboundRow).where(OutboundRow.key == waiting))
        assert (queued.state, queued.attempts) == ("queued", 0)
    asked = await coord.send(b.coordination, "!mss etat")
    status = (await coord.reply_to(b.coordination, asked, b.bridge.user_id)).body
    assert "connexion requise" in status and "En file d'envoi : 1 (dont 0" in status, status
    assert not [e for r, e in nurse.timeline if "Pendant la coupure" in getattr(e, "body", "")]
    await login(approve=True, restart=True)
    await b.posted(nurse, b.room_id, "Pendant la coupure")
    await b.reaction(nurse, waiting, "📤")
    assert len(await asyncio.to_thread(wait_for_mail, b.gp_inbox(), ["SUBJECT", "En file"])) == 1
    assert len([e for r, e in coord.timeline if r == b.coordination and
                "doit être reconnectée" in getattr(e, "body", "")]) == 2

    # A session that lapses when its refresh token is unused for 8 s (as a provider's idle
    # timeout): an idle bridge renews it half-way, and logs in again long after.
    psc.set_ttl(refresh=8)
    renewed = psc.grants()["refresh_token"]
    await asyncio.to_thread(b.kick)  # the next login gets tokens of that kind
    await _until(lambda: _more(psc, renewed), "the login after the kick")
    before = psc.grants()["refresh_token"]
    await asyncio.sleep(20)
    assert psc.grants()["refresh_token"] >= before + 3
    await asyncio.to_thread(b.kick)
    b.deliver(mail(b.gp, f"Après 20 s sans activité [{b.reference}]"))
    await b.posted(nurse, b.room_id, "Après 20 s sans activité")
