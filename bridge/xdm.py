"""IHE XDM packages (`IHE_XDM.ZIP`), the way MSSanté carries documents (BRIEF §5): read safely
(zip bombs, oversize, broken metadata are refused with a reason) and built for outbound mail.
Pure: bytes in, bytes or dataclasses out.

Layout: README.TXT, INDEX.HTM, IHE_XDM/SUBSET01/METADATA.XML (ebRIM SubmitObjectsRequest) and the
documents beside it. The patient is the XDSDocumentEntry.patientId (and the submission set's),
a CX value `<INS>^^^&<OID>&ISO`; the OIDs of the NIR and NIA say it is an INS.
"""

from __future__ import annotations

import io
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from bots.runtime.notice import escape
from bridge.cleaning import file_name, one_line

XDM_NAME = "IHE_XDM.ZIP"
SUBSET = "IHE_XDM/SUBSET01/"
METADATA = SUBSET + "METADATA.XML"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
ENTRY_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
SUBMISSION_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9")  # NIR, NIA (BRIEF §4)


class Unreadable(Exception):
    """A mail or package that cannot be bridged; `reason` is a stable code for the report."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 200
    max_total: int = 50 * 1024 * 1024  # bytes once unpacked
    max_ratio: int = 100  # unpacked / packed, per entry: beyond that, a zip bomb


@dataclass(frozen=True)
class Document:
    title: str
    filename: str
    mimetype: str
    data: bytes


@dataclass(frozen=True)
class Package:
    patient_ids: tuple[str, ...]  # CX values as written
    documents: tuple[Document, ...]

    @property
    def ins(self) -> str | None:
        """The patient's INS if the package names exactly one."""
        found = {i for cx in self.patient_ids if (i := ins_of(cx))}
        return found.pop() if len(found) == 1 else None


def ins_of(cx: str) -> str | None:
    """`1234567890123^^^&1.2.250.1.213.1.4.8&ISO` → the INS when the OID is the NIR's or NIA's."""
    value, _, authority = cx.partition("^^^")
    oid = authority.strip("&").split("&")[0] if authority else ""
    return value.strip() if oid in INS_OIDS and value.strip() else None


def _unpack(data: bytes, limits: ZipLimits) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable("bad_zip", str(exc)) from None
    if len(entries) > limits.max_entries:
        raise Unreadable("zip_bomb", f"{len(entries)} entries")
    files, total = {}, 0
    for info in entries:
        if info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise Unreadable("zip_bomb", f"{info.filename}: ratio")
        # Declared sizes can lie: read in bounded chunks and count what really comes out.
        chunks = []
        try:
            with archive.open(info) as member:
                while chunk := member.read(64 * 1024):
                    total += len(chunk)
                    if total > limits.max_total:
                        raise Unreadable("zip_bomb", "too large once unpacked")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError) as exc:  # bad CRC or stream, encrypted
            raise Unreadable("bad_zip", f"{info.filename}: {exc}") from None
        files[info.filename.replace("\\", "/").upper()] = b"".join(chunks)
    return files


def _slot(element: Element, name: str) -> list[str]:
    return [v.text or "" for slot in element.findall(f"{{{RIM}}}Slot")
            if slot.get("name") == name for v in slot.iter(f"{{{RIM}}}Value")]


def _name(element: Element) -> str | None:
    found = element.find(f"{{{RIM}}}Name/{{{RIM}}}LocalizedString")
    return found.get("value") if found is not None else None


def read_package(data: bytes, limits: ZipLimits = ZipLimits()) -> Package:
    files = _unpack(data, limits)
    raw = files.get(METADATA)
    if raw is None:
        raise Unreadable("bad_xdm", "no IHE_XDM/SUBSET01/METADATA.XML")
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise Unreadable("bad_xdm", f"METADATA.XML: {exc}") from None
    patients, documents = [], []
    for ident in root.iter(f"{{{RIM}}}ExternalIdentifier"):
        if ident.get("identificationScheme") in (ENTRY_PATIENT_ID, SUBMISSION_PATIENT_ID):
            patients.append(ident.get("value") or "")
    for n, entry in enumerate(root.iter(f"{{{RIM}}}ExtrinsicObject"), 1):
        uri = next(iter(_slot(entry, "URI")), "")
        content = files.get((SUBSET + uri).upper()) if uri else None
        if content is None:
            raise Unreadable("bad_xdm", f"document {uri or entry.get('id')!r} missing")
        name = file_name(uri.rsplit("/", 1)[-1], f"document-{n}")
        documents.append(Document(title=one_line(_name(entry) or "") or name, filename=name,
                                  mimetype=entry.get("mimeType") or "application/octet-stream",
                                  data=content))
    if not documents:
        raise Unreadable("bad_xdm", "no document in METADATA.XML")
    return Package(tuple(dict.fromkeys(patients)), tuple(documents))


def is_package(filename: str | None, data: bytes) -> bool:
    return (filename or "").upper() == XDM_NAME or (
        data[:2] == b"PK" and METADATA.encode() in data[:65536].upper())


# --- building ------------------------------------------------------------------------------------

def _cx(ins: str) -> str:
    return f"{ins}^^^&{INS_OIDS[0]}&ISO"


def _add_slot(parent: Element, name: str, *values: str) -> None:
    slot = SubElement(parent, f"{{{RIM}}}Slot", name=name)
    value_list = SubElement(slot, f"{{{RIM}}}ValueList")
    for value in values:
        SubElement(value_list, f"{{{RIM}}}Value").text = value


def _metadata(documents: Sequence[Document], ins: str, author: str, when: datetime,
              unique: str) -> bytes:
    root = Element(f"{{{LCM}}}SubmitObjectsRequest")
    objects = SubElement(root, f"{{{RIM}}}RegistryObjectList")
    stamp = when.strftime("%Y%m%d%H%M%S")
    for n, doc in enumerate(documents, 1):
        entry = SubElement(objects, f"{{{RIM}}}ExtrinsicObject", id=f"Document{n:02d}",
                           mimeType=doc.mimetype, objectType=DOCUMENT_ENTRY)
        _add_slot(entry, "URI", doc.filename)
        _add_slot(entry, "creationTime", stamp)
        _add_slot(entry, "sourcePatientId", _cx(ins))
        SubElement(SubElement(entry, f"{{{RIM}}}Name"), f"{{{RIM}}}LocalizedString",
                   value=doc.title)
        SubElement(entry, f"{{{RIM}}}ExternalIdentifier", id=f"ei{n:02d}",
                   registryObject=f"Document{n:02d}", identificationScheme=ENTRY_PATIENT_ID,
                   value=_cx(ins))
    package = SubElement(objects, f"{{{RIM}}}RegistryPackage", id="SubmissionSet01")
    _add_slot(package, "submissionTime", stamp)
    _add_slot(package, "authorPerson", author)
    SubElement(package, f"{{{RIM}}}ExternalIdentifier", id="eiSS",
               registryObject="SubmissionSet01", identificationScheme=SUBMISSION_PATIENT_ID,
               value=_cx(ins))
    SubElement(objects, f"{{{RIM}}}Classification", id="clSS", classifiedObject="SubmissionSet01",
               classificationNode=SUBMISSION_SET)
    SubElement(package, f"{{{RIM}}}ExternalIdentifier", id="eiUnique",
               registryObject="SubmissionSet01",
               identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8", value=unique)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8")


def build_package(documents: Sequence[Document], ins: str, author: str, when: datetime,
                  product: str) -> bytes:
    """An IHE_XDM.ZIP of `documents` for patient `ins`; deterministic for the same input (a
    retried mail carries the same bytes)."""
    unique = "2.25." + str(uuid.uuid5(uuid.NAMESPACE_OID, f"{ins}{when.isoformat()}").int)
    index = "".join(f"<li><a href=\"{escape(SUBSET + d.filename)}\">{escape(d.title)}</a></li>"
                    for d in documents)
    out = io.BytesIO()
    stamp = when.timetuple()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data,
                             compress_type=zipfile.ZIP_DEFLATED)

        add("README.TXT", f"IHE XDM package made by {product}.\r\n".encode())
        add("INDEX.HTM", f"<html><body><ul>{index}</ul></body></html>".encode())
        add(METADATA, _metadata(documents, ins, author, when, unique))
        for doc in documents:
            add(SUBSET + doc.filename, doc.data)
    return out.getvalue()
