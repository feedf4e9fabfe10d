"""MSSanté bridge, pure: a received mail read for a room (text, cleaned HTML, files, XDM unpacked),
hostile and malformed mail refused with a reason, the trust list, read receipts and reports, the
outbound mail (deterministic, threaded, XDM) and its order, routing keys."""

from __future__ import annotations

import hashlib
import io
import random
import re
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest

from bridge.inbound import Limits, parse
from bridge.outbound import Outgoing, Patient, compose, message_id_for, untrusted
from bridge.receipts import Report, receipt, report_of, wants_receipt
from bridge.routing import decide, genuine, keys, tagged, typed_ref
from bridge.sending import due_in_order
from bridge.sources import trust_source
from bridge.trustlist import TrustListError, parse_trust_list
from bridge.xdm import Document, Unreadable, ZipLimits, build_package, ins_of, read_package
from tests.conftest import examples

INS = "248037512345628"  # fictitious, valid key
WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"
LETTER = Document("Lettre de liaison", "LETTRE.PDF", "application/pdf", PDF)
CDA = Document("CR biologie", "CRBIO.XML", "text/xml", b"<ClinicalDocument/>")


def gp_mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Dr Anne Morel <anne.morel@medecin.operator.test>"
    msg["To"] = "dac@hopital.test"
    msg["Subject"] = "Sortie de Mme D. [P-2026-00042-K7QF2M4X]"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0100"
    msg["Message-ID"] = "<gp-1@medecin.operator.test>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Bonjour,\nvoici la lettre.\n")
    return msg


def test_a_gp_mail_with_a_pdf_and_an_xdm_package():
    msg = gp_mail(In_Reply_To="<ours-1@hopital.test>",
                  References="<ours-0@hopital.test> <ours-1@hopital.test>")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="lettre.pdf")
    msg.add_attachment(build_package([LETTER, CDA], INS, "Dr Morel", WHEN, "Liaison"),
                       maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    mail = parse(msg.as_bytes())
    assert (mail.sender, mail.sender_name) == ("anne.morel@medecin.operator.test",
                                               "Dr Anne Morel")
    assert mail.message_id == "<gp-1@medecin.operator.test>"
    assert mail.text == "Bonjour,\nvoici la lettre.\n" and mail.html is None
    assert mail.date == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert [(f.title, f.mimetype) for f in mail.files] == [
        ("lettre.pdf", "application/pdf"), ("Lettre de liaison", "application/pdf"),
        ("CR biologie", "text/xml")]
    assert mail.files[1].data == PDF and mail.package is not None and mail.package.ins == INS
    routing = keys(mail)
    assert (routing.ref, routing.tag, routing.ins) == ("P-2026-00042", "K7QF2M4X", INS)
    assert routing.thread_ids == ("<ours-1@hopital.test>", "<ours-0@hopital.test>")
    assert decide([("thread", None), ("ref", "!room"), ("ins", "!other")]).rule == "ref"
    assert decide([("thread", None), ("ref", None), ("ins", None)]).room_id is None


def test_a_reference_routes_only_with_the_tag_of_its_room():
    room, other = hashlib.sha256(b"!room").hexdigest(), hashlib.sha256(b"!other").hexdigest()
    reference = tagged("P-2026-00042", room)
    assert re.fullmatch(r"P-2026-00042-[A-Z2-7]{8}", reference)
    tag = reference.rpartition("-")[2]
    mail = parse(gp_mail().as_bytes())
    for subject, found in ((f"Re: [{reference}] Sortie", ("P-2026-00042", tag)),
                           (f"re: [{reference.lower()}]", ("P-2026-00042", tag)),
                           ("Sortie [P-2026-00042]", (None, None)),  # guessed: no route
                           ("[P-2026-00042-K7QF]", (None, None))):
        k = keys(replace(mail, subject=subject))
        assert (k.ref, k.tag) == found, subject
    assert genuine(tag, [room]) and genuine(tag.lower(), [other, room])  # any data key
    assert not genuine(tag, [other]) and not genuine("AAAAAAAA", [room])


def test_a_coordinator_may_route_by_the_reference_pasted_with_its_tag():
    for typed in ("P-2026-00042", "p-2026-00042", "P-2026-00042-K7QF2M4X", "[P-2026-00042-K7QF2M4X]"):
        assert typed_ref(typed) == "P-2026-00042", typed


def test_html_mail_is_cleaned_of_scripts_styles_images_and_trackers():
    msg = gp_mail()
    msg.set_content("texte")
    msg.add_alternative(
        '<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>'
        '<p onclick="x()">Patient <b>vu</b> ce jour.</p><img src="https://track.example/p.gif">'
        '<a href="https://ans.example/doc" style="x">lien</a> <a href="javascript:alert(1)">x</a>'
        '<form><input></form></body></html>', subtype="html")
    mail = parse(msg.as_bytes())
    assert mail.text == "texte\n"
    html = mail.html or ""
    for gone in ("script", "alert", "style", "img", "track.example", "onclick", "form",
                 "input", "javascript"):
        assert gone not in html, gone
    assert "<b>vu</b>" in html and 'href="https://ans.example/doc"' in html
    only_html = gp_mail()
    only_html.set_content("<p>Bonjour<br>à demain</p><script>x</script>", subtype="html")
    assert parse(only_html.as_bytes()).text == "Bonjour\nà demain"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
     b"Content-Type: text/plain\r\n\r\nbody, never closed\r\n", "broken_mime"),
    (b"From: a@b.test\r\nContent-Type: text/plain; charset=klingon\r\n\r\nqapla'\r\n",
     "charset"),
    (b"From: a@b.test\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9\r\n", "charset"),
    (b"To: a@b.test\r\n\r\nno sender\r\n", "broken_mime"),
])
def test_malformed_mail_is_refused_with_its_reason(raw, reason):
    with pytest.raises(Unreadable) as caught:
        parse(raw)
    assert caught.value.reason == reason


def test_oversize_and_hostile_packages_are_refused():
    with pytest.raises(Unreadable) as caught:
        parse(b"From: a@b.test\r\n\r\n" + b"x" * 2000, Limits(max_message=1000))
    assert caught.value.reason == "oversize"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IHE_XDM/SUBSET01/METADATA.XML", b"\0" * (60 * 1024 * 1024))
    for data, reason in ((bomb.getvalue(), "zip_bomb"), (b"PK\x03\x04 not a zip", "bad_zip"),
                         (_zip({"README.TXT": b"x"}), "bad_xdm"),
                         (_zip({"IHE_XDM/SUBSET01/METADATA.XML": b"<x"}), "bad_xdm")):
        with pytest.raises(Unreadable) as caught:
            read_package(data)
        assert caught.value.reason == reason
    many = _zip({f"F{n}.TXT": b"x" for n in range(20)})
    with pytest.raises(Unreadable):
        read_package(many, ZipLimits(max_entries=10))
    msg = gp_mail()
    msg.add_attachment(bomb.getvalue(), maintype="application", subtype="zip",
                       filename="IHE_XDM.ZIP")
    with pytest.raises(Unreadable) as caught:
        parse(msg.as_bytes())
    assert caught.value.reason == "zip_bomb"


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_fuzzed_mime_only_ever_gives_a_mail_or_a_reason():
    msg = gp_mail()
    msg.add_attachment(build_package([LETTER], INS, "Dr Morel", WHEN, "Liaison"),
                       maintype="application", subtype="zip", filename="IHE_XDM.ZIP")
    base = bytearray(msg.as_bytes())
    rng = random.Random(20261123)
    outcomes = set()
    for _ in range(examples(400)):  # a tenth under `make test-fast`, as the property tests
        raw = bytearray(base)
        for _ in range(rng.randint(1, 20)):
            at = rng.randrange(len(raw))
            action = rng.random()
            if action < 0.5:
                raw[at] = rng.randrange(256)
            elif action < 0.8:
                del raw[at:at + rng.randint(1, 50)]
            else:
                raw[at:at] = rng.choice([b"--", b"\r\n", b"=?utf-8?b?", b"boundary=", b"\0"])
        try:
            parse(bytes(raw))
            outcomes.add("parsed")
        except Unreadable as exc:
            outcomes.add(exc.reason)
    assert "parsed" in outcomes and len(outcomes) > 1


def test_the_trust_list_from_the_agency_format():
    document = b"""<?xml version="1.0" encoding="UTF-8"?>
    <ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
      <Domaine><Nom>medecin.operator.test</Nom></Domaine>
      <Domaine><Nom> HOPITAL.test </Nom></Domaine>
    </ListeBlanche>"""
    trust = parse_trust_list(document)
    assert trust.domains == {"medecin.operator.test", "hopital.test"}
    assert trust.allows("Anne.Morel@Medecin.Operator.test")
    assert not trust.allows("x@sub.hopital.test") and not trust.allows("hopital.test")
    assert untrusted(["a@hopital.test", "b@untrusted.test"], trust) == ["b@untrusted.test"]
    laughs = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>
    <ListeBlanche><Domaine><Nom>&b;</Nom></Domaine></ListeBlanche>"""
    for bad in (laughs, b"<ListeBlanche/>", b"<not xml"):
        with pytest.raises(TrustListError):
            parse_trust_list(bad)


def test_read_receipts_follow_the_anti_loop_rule_and_reports_come_back():
    asked = parse(gp_mail(Disposition_Notification_To="anne.morel@medecin.operator.test",
                          Return_Path="<anne.morel@medecin.operator.test>").as_bytes())
    assert wants_receipt(asked)
    other = parse(gp_mail(Disposition_Notification_To="robot@elsewhere.test",
                          Return_Path="<anne.morel@medecin.operator.test>").as_bytes())
    assert not wants_receipt(other) and not wants_receipt(parse(gp_mail().as_bytes()))
    mdn = receipt(asked, mailbox="dac@hopital.test", message_id="<mdn-1@hopital.test>",
                  product="Liaison 0.1")
    raw = mdn.as_bytes()
    assert b"multipart/report" in raw and b'report-type="disposition-notification"' in raw
    assert b"Disposition: automatic-action/MDN-sent-automatically; processed" in raw
    assert report_of(raw) == Report("read", "<gp-1@medecin.operator.test>", "processed")
    failed = receipt(asked, mailbox="dac@hopital.test", message_id="<mdn-2@hopital.test>",
                     product="Liaison 0.1", error=("QUARANTINE", "pièce jointe illisible"))
    assert report_of(failed.as_bytes()).status == "error"  # type: ignore[union-attr]
    dsn = (b"From: MAILER-DAEMON@hopital.test\r\nTo: dac@hopital.test\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nUndelivered.\r\n"
           b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; h\r\n\r\n"
           b"Final-Recipient: rfc822; x@operator.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           b"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
           b"Message-ID: <ours-9@hopital.test>\r\nSubject: x\r\n\r\n--B--\r\n")
    assert report_of(dsn) == Report("delivery", "<ours-9@hopital.test>", "failed")
    assert report_of(gp_mail().as_bytes()) is None


def test_an_outbound_mail_is_the_same_bytes_for_the_same_event():
    out = Outgoing(event_id="$abc:hopital.test", sent_at=WHEN, mailbox="dac@hopital.test",
                   to=("anne.morel@medecin.operator.test",), ref="P-2026-00042",
                   subject="Réponse", text="Merci, noté.\n", files=(LETTER,),
                   in_reply_to="<gp-1@medecin.operator.test>",
                   references=("<gp-0@medecin.operator.test>",))
    first, again = compose(out, product="Liaison 0.1"), compose(out, product="Liaison 0.1")
    assert first.as_bytes() == again.as_bytes()
    assert first["Message-ID"] == message_id_for("$abc:hopital.test", "dac@hopital.test")
    assert first["Subject"] == "[P-2026-00042] Réponse"
    assert first["References"] == "<gp-0@medecin.operator.test> <gp-1@medecin.operator.test>"
    assert first["X-MSS-NIL"] == "Liaison 0.1" and "X-MSS-INS" not in first
    back = parse(first.as_bytes())
    assert back.text == "Merci, noté.\n" and [f.filename for f in back.files] == ["LETTRE.PDF"]
    patient = Patient(INS, True, "DUPONT", "Marie", date(1948, 3, 12))
    xdm = compose(Outgoing(**{**out.__dict__, "patient": patient, "files": (LETTER, CDA)}),
                  product="Liaison 0.1")
    assert xdm["Subject"] == "XDM/1.0/DDM+[P-2026-00042] Réponse DUPONT Marie 12/03/1948"
    assert (xdm["X-MSS-INS"], xdm["X-MSS-CODECDA"]) == ("O", "CR biologie")
    read = parse(xdm.as_bytes())
    assert read.package is not None and read.package.ins == INS
    assert [f.title for f in read.files] == ["LETTRE.PDF", "Lettre de liaison", "CR biologie"]
    assert ins_of(f"{INS}^^^&1.2.250.1.213.1.4.8&ISO") == INS
    assert ins_of(f"{INS}^^^&1.2.250.1.213.1.4.10&ISO") is None  # a test NIR is not an INS


async def test_the_trust_list_is_read_again_without_restart_and_a_bad_one_is_not_taken(tmp_path):
    path = tmp_path / "liste.xml"
    path.write_bytes(b"<ListeBlanche><Domaine><Nom>a.test</Nom></Domaine></ListeBlanche>")
    source = trust_source(str(path), refresh_minutes=0)  # re-read at every use
    assert (await source.current()).domains == {"a.test"}
    path.write_bytes(b"<ListeBlanche><Domaine><Nom>b.test</Nom></Domaine></ListeBlanche>")
    assert (await source.current()).domains == {"b.test"}
    path.write_bytes(b"<ListeBlanche><Domaine>")  # a broken download: the last good list stays
    assert (await source.current()).domains == {"b.test"}
    with pytest.raises(TrustListError):
        await trust_source(str(path), refresh_minutes=0).current()  # none good yet: no start


def test_a_rooms_mail_leaves_in_the_order_it_was_written():
    now = WHEN
    soon, past = now + timedelta(seconds=30), now - timedelta(seconds=1)
    queued = [(1, soon, "!a"),  # waits for its retry: holds room a's later mail
              (2, past, "!a"), (3, past, "!b"), (4, soon, None), (5, past, None),
              (6, now, "!b"), (7, soon, "!c"), (8, past, "!c")]
    assert due_in_order(queued, now) == [(3, "!b"), (5, None), (6, "!b")]
    assert due_in_order(queued, soon) == [(1, "!a"), (2, "!a"), (3, "!b"), (4, None),
                                          (5, None), (6, "!b"), (7, "!c"), (8, "!c")]
