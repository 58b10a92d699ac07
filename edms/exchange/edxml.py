"""edXML packages (QCVN 102:2016) as the national and provincial exchange axes write and read
them: one builder (:func:`build`) and one parser (:func:`parse`) over typed dataclasses, for
documents (business types 0 new, 1 revoke, 2 update, 3 replace) and status packets (codes
01–06, 13, 15, 16); plus our signed receipts.

**The writer follows the VNPT EdXML102 library** (the software of the national axis), whose
packages are in ``/work/shared/corpus/edxml``: namespace ``http://www.mic.gov.vn/TBT/QCVN_102_2016``
with the ``edXML`` prefix on every element, UTF-8, and the library's element order::

    edXML
      edXMLEnvelope
        edXMLHeader
          MessageHeader        document: From, To*, DocumentId, Code, PromulgationInfo,
                               DocumentType{Type, TypeDetail, TypeName}, Subject, Content,
                               SignerInfo{Competence, Position, FullName}, DueDate,
                               OtherInfo{..., Direction, Appendixes}, ResponseFor*,
                               SteeringType, ToPlaces
                               status: From, ResponseFor, StaffInfo, StatusCode,
                               Description, Timestamp
          TraceHeaderList      (documents; attributes id, version, mustUnderstand, actor)
            TraceHeader*, Bussiness
          ds:Signature         (XML-DSig over the whole package, added by the caller)
        edXMLBody              (documents only: a status packet has no body)
          edXMLManifest version="1.0"
            Reference xlink:href="cid:X" {ContentId "cid:X", ContentType, Description,
                                          AttachmentName}
      AttachmentEncoded
        Attachment {ContentId "cid:X", AttachmentName, Description, ContentType,
                    ContentTransferEncoded (base64)}

**The reader is liberal in what it accepts and exact in what it refuses.** It does not depend
on prefixes (elements in the QCVN namespace or in none), nor on element order; it takes the
VNPT and Bkav spellings alike (``Bussiness``/``Business``, ``OrganizationInCharge``/
``OrganInCharge``); it tells a status packet from a document by what its ``MessageHeader``
holds (``StatusCode``, or ``ResponseFor`` without ``To``/``Code``), and also reads the
``Status`` header older EDMS versions wrote; a manifest reference names its attachment by its
``ContentId`` child (or, failing that, its ``xlink:href``), with or without ``cid:``. What
cannot be represented is refused with a :class:`PackageRefused` naming the element: a
missing required field, a date that is not a date, an unknown status code, attachments that
do not match the manifest or are not base64. Whether a well-formed package is *acceptable*
(identifier formats, the DocumentId naming the sender, reasons for 02/16, …) is a separate
question answered by :func:`refusals`; :func:`notes` lists tolerated inconsistencies.

Before any tree is built, :func:`screen` refuses packages over the size limit and any DTD
(hence external entities and entity-expansion bombs), and names what is malformed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeAlias

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from lxml import etree

from ..errors import EdmsError

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XLINK_NS = "http://www.w3.org/1999/xlink"
RECEIPT_NS = "urn:edms:exchange:receipt:1"
TRACE_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"
NSMAP = {"edXML": NS}

BUSINESS_TYPES = {0: "new", 1: "revoke", 2: "update", 3: "replace"}
BUSINESS_REASONS = {
    0: "Văn bản điện tử mới",
    1: "Thu hồi văn bản điện tử",
    2: "Cập nhật văn bản điện tử",
    3: "Văn bản thay thế",
}
STATUS_CODES = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận, vào sổ",
    "04": "Đã phân công xử lý",
    "05": "Đang xử lý",
    "06": "Hoàn thành",
    "13": "Đề nghị thu hồi",
    "15": "Đồng ý thu hồi/cập nhật",
    "16": "Từ chối thu hồi/cập nhật",
}
# DocumentType/Type: the category (1 legal normative, 2 administrative); TypeDetail: the
# Decree-30 type's number; TypeName: its name (what receivers match on).
TYPE_ADMINISTRATIVE = 2
QCVN_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
DECISION20_CODE = re.compile(r"^[A-Z]\d{2}(\.[A-Z0-9]{1,10})*$")
DOCUMENT_ID = re.compile(
    r"^(?P<organ>[A-Z0-9.]{1,35}),(?P<date>\d{4}/\d{2}/\d{2}),"
    r"(?P<number>[^,/]{1,11})/(?P<symbol>[^,]{1,30})$"
)

# Bkav's eDoc SDK spells some names differently from VNPT's library; both are read, VNPT's
# is written.
_SPELLINGS = {
    "Bussiness": ("Bussiness", "Business"),
    "BussinessDocType": ("BussinessDocType", "BusinessDocType"),
    "BussinessDocReason": ("BussinessDocReason", "BusinessDocReason"),
    "BussinessDocumentInfo": ("BussinessDocumentInfo", "BusinessDocumentInfo"),
    "OrganizationInCharge": ("OrganizationInCharge", "OrganInCharge"),
}


class PackageRefused(EdmsError):
    """The package cannot be taken: malformed, hostile, unsigned or not for us."""

    status = 422
    title = "Package refused"
    type_slug = "package-refused"


class PackageTooLarge(PackageRefused):
    status = 413
    title = "Package too large"
    type_slug = "package-too-large"


def valid_agency_code(code: str) -> bool:
    """Either form (§7): QCVN 102 ``000.00.00.H41`` or Decision 20 ``H37.02.02``."""
    return len(code) <= 35 and bool(QCVN_CODE.match(code) or DECISION20_CODE.match(code))


def document_id(organ_id: str, issued: date, number: str, symbol: str) -> str:
    return f"{organ_id},{issued:%Y/%m/%d},{number}/{symbol}"


# -- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organ:
    """An agency as in ``From`` / ``To``."""

    organ_id: str
    organ_name: str
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    website: str = ""  # its public website, never an internal address
    fax: str = ""
    in_charge: str = ""  # OrganizationInCharge: the governing body


@dataclass(frozen=True)
class Attachment:
    content_id: str  # without "cid:"
    name: str
    content_type: str
    data: bytes
    description: str = ""

    @property
    def cid(self) -> str:
        return f"cid:{self.content_id}"


@dataclass(frozen=True)
class ResponseFor:
    """The document a reply or a status packet answers."""

    organ_id: str
    code: str  # "Số/KýHiệu"
    document_key: str  # its DocumentId
    promulgation_date: date | None = None


@dataclass(frozen=True)
class StaffInfo:
    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class TraceHeader:
    organ_id: str
    timestamp: datetime


@dataclass(frozen=True)
class Receiver:
    organ_id: str
    receiver_type: int  # VNPT: 0 removed from, 1 added to the recipients (update)


@dataclass(frozen=True)
class DocumentInfo:
    """BussinessDocumentInfo of an update: what changed."""

    document_info: str = "0"  # "1": the metadata changed
    document_receiver: str = "0"  # "1": the recipients changed
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True)
class Replacement:
    document_key: str  # the DocumentId replaced
    organ_ids: tuple[str, ...] = ()  # the recipients it is replaced for


@dataclass(frozen=True)
class Business:
    doc_type: int = 0  # BUSINESS_TYPES
    reason: str = ""
    document_key: str = ""  # Bussiness/DocumentId (the document an update concerns)
    paper: int = 0  # 1: a paper copy follows
    staff: StaffInfo | None = None
    document_info: DocumentInfo | None = None
    replacements: tuple[Replacement, ...] = ()


@dataclass(frozen=True)
class DocumentPackage:
    sender: Organ
    to: tuple[Organ, ...]
    document_key: str  # DocumentId
    code_number: str
    code_notation: str
    place: str
    promulgation_date: date
    type_name: str
    subject: str
    type_code: int = TYPE_ADMINISTRATIVE
    type_detail: int = 0
    content: str = ""
    signer_competence: str = ""  # TM. / KT. / Q. / TL. / TUQ. line, or the title line
    signer_position: str = ""
    signer_name: str = ""
    due_date: date | None = None
    priority: int = 0
    sphere: str = ""  # SphereOfPromulgation
    typer_notation: str = ""
    promulgation_amount: int = 0
    page_amount: int = 0
    direction: bool = False
    appendixes: tuple[str, ...] = ()
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int = 0
    to_places: tuple[str, ...] = ()
    traces: tuple[TraceHeader, ...] = ()
    business: Business = field(default_factory=Business)
    attachments: tuple[Attachment, ...] = ()

    kind = "document"

    @property
    def business_type(self) -> int:
        return self.business.doc_type

    @property
    def replaces_key(self) -> str | None:
        return self.business.replacements[0].document_key if self.business.replacements else None

    @property
    def sent_at(self) -> datetime:
        """When the sender sent it: its own trace, else the last one."""
        own = [t for t in self.traces if t.organ_id == self.sender.organ_id]
        chosen = own or list(self.traces)
        return chosen[-1].timestamp if chosen else datetime.now(UTC)


@dataclass(frozen=True)
class StatusPacket:
    sender: Organ  # who reports the status
    response_for: ResponseFor  # the document it is about
    status_code: str
    description: str = ""
    staff: StaffInfo = field(default_factory=StaffInfo)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    kind = "status"

    @property
    def document_key(self) -> str:
        return self.response_for.document_key

    @property
    def issuer(self) -> str:
        """The agency that issued the document, from its DocumentId (authoritative; a
        ResponseFor/OrganId that disagrees is a note, see :func:`notes`)."""
        m = DOCUMENT_ID.match(self.document_key)
        return m["organ"] if m else self.response_for.organ_id


Packet: TypeAlias = DocumentPackage | StatusPacket


# -- building ---------------------------------------------------------------------------------


def _e(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _date_text(d: date | None) -> str:
    return f"{d:%Y/%m/%d}" if d else ""


def _vn_time(t: datetime) -> str:
    from ..numbering import VN_TZ

    return t.astimezone(VN_TZ).strftime("%Y/%m/%d %H:%M:%S")


def _organ(parent: etree._Element, tag: str, o: Organ) -> None:
    el = _e(parent, tag)
    for name, value in (
        ("OrganId", o.organ_id),
        ("OrganizationInCharge", o.in_charge),
        ("OrganName", o.organ_name),
        ("OrganAdd", o.organ_add),
        ("Email", o.email),
        ("Telephone", o.telephone),
        ("Fax", o.fax),
        ("Website", o.website),
    ):
        _e(el, name, value)


def _response_for(parent: etree._Element, r: ResponseFor) -> None:
    el = _e(parent, "ResponseFor")
    _e(el, "OrganId", r.organ_id)
    _e(el, "Code", r.code)
    _e(el, "DocumentId", r.document_key)
    _e(el, "PromulgationDate", _date_text(r.promulgation_date))


def _staff(parent: etree._Element, s: StaffInfo) -> None:
    el = _e(parent, "StaffInfo")
    _e(el, "Department", s.department)
    _e(el, "Staff", s.staff)
    _e(el, "Email", s.email)
    _e(el, "Mobile", s.mobile)


def _root(extra: dict[str, str] | None = None) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{NS}}}edXML", nsmap={**NSMAP, **(extra or {})})
    header = _e(_e(root, "edXMLEnvelope"), "edXMLHeader")
    return root, header


def build(p: Packet) -> etree._Element:
    """The unsigned package; sign it with :func:`signing.xmldsig.sign` into
    :func:`header_of` (the signature goes after the TraceHeaderList, as VNPT's)."""
    return _build_document(p) if isinstance(p, DocumentPackage) else _build_status(p)


def _build_document(p: DocumentPackage) -> etree._Element:
    if p.business.doc_type not in BUSINESS_TYPES:
        raise EdmsError(f"unknown business type {p.business.doc_type}")
    root, header = _root({"xlink": XLINK_NS})
    mh = _e(header, "MessageHeader")
    _organ(mh, "From", p.sender)
    for to in p.to:
        _organ(mh, "To", to)
    _e(mh, "DocumentId", p.document_key)
    code = _e(mh, "Code")
    _e(code, "CodeNumber", p.code_number)
    _e(code, "CodeNotation", p.code_notation)
    prom = _e(mh, "PromulgationInfo")
    _e(prom, "Place", p.place)
    _e(prom, "PromulgationDate", _date_text(p.promulgation_date))
    dt = _e(mh, "DocumentType")
    _e(dt, "Type", p.type_code)
    _e(dt, "TypeDetail", p.type_detail)
    _e(dt, "TypeName", p.type_name)
    _e(mh, "Subject", p.subject)
    _e(mh, "Content", p.content)
    si = _e(mh, "SignerInfo")
    _e(si, "Competence", p.signer_competence)
    _e(si, "Position", p.signer_position)
    _e(si, "FullName", p.signer_name)
    _e(mh, "DueDate", _date_text(p.due_date))
    other = _e(mh, "OtherInfo")
    _e(other, "Priority", p.priority)
    _e(other, "SphereOfPromulgation", p.sphere)
    _e(other, "TyperNotation", p.typer_notation)
    _e(other, "PromulgationAmount", p.promulgation_amount)
    _e(other, "PageAmount", p.page_amount)
    _e(other, "Direction", "true" if p.direction else "false")
    appendixes = _e(other, "Appendixes")
    for a in p.appendixes:
        _e(appendixes, "Appendix", a)
    for r in p.response_for:
        _response_for(mh, r)
    _e(mh, "SteeringType", p.steering_type)
    places = _e(mh, "ToPlaces")
    for place in p.to_places:
        _e(places, "Place", place)

    traces = _e(header, "TraceHeaderList")
    seed = f"{p.document_key}|{p.sent_at.isoformat()}".encode()
    traces.set("id", "T" + hashlib.sha256(seed).hexdigest()[:16])
    traces.set("version", "1.0")
    traces.set("mustUnderstand", "1")
    traces.set("actor", TRACE_ACTOR)
    for t in p.traces:
        trace = _e(traces, "TraceHeader")
        _e(trace, "OrganId", t.organ_id)
        _e(trace, "Timestamp", _vn_time(t.timestamp))
    b = p.business
    biz = _e(traces, "Bussiness")
    if b.document_key:
        _e(biz, "DocumentId", b.document_key)
    _e(biz, "BussinessDocType", b.doc_type)
    _e(biz, "BussinessDocReason", b.reason)
    _e(biz, "Paper", b.paper)
    if b.staff is not None:
        _staff(biz, b.staff)
    if b.document_info is not None:
        info = _e(biz, "BussinessDocumentInfo")
        _e(info, "DocumentInfo", b.document_info.document_info)
        _e(info, "DocumentReceiver", b.document_info.document_receiver)
        receivers = _e(info, "ReceiverList")
        for receiver in b.document_info.receivers:
            rec = _e(receivers, "Receiver")
            _e(rec, "OrganId", receiver.organ_id)
            _e(rec, "ReceiverType", receiver.receiver_type)
    if b.replacements:
        repl = _e(biz, "ReplacementInfoList")
        for x in b.replacements:
            info = _e(repl, "ReplacementInfo")
            _e(info, "DocumentId", x.document_key)
            organs = _e(info, "OrganIdList")
            for organ_id in x.organ_ids:
                _e(organs, "OrganId", organ_id)

    envelope = header.getparent()
    assert envelope is not None
    manifest = _e(_e(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    for part in p.attachments:
        ref = _e(manifest, "Reference")
        ref.set(f"{{{XLINK_NS}}}href", part.cid)
        _e(ref, "ContentId", part.cid)
        _e(ref, "ContentType", part.content_type)
        _e(ref, "Description", part.description)
        _e(ref, "AttachmentName", part.name)
    encoded = _e(root, "AttachmentEncoded")
    for part in p.attachments:
        att = _e(encoded, "Attachment")
        _e(att, "ContentId", part.cid)
        _e(att, "AttachmentName", part.name)
        _e(att, "Description", part.description)
        _e(att, "ContentType", part.content_type)
        _e(att, "ContentTransferEncoded", base64.b64encode(part.data).decode())
    return root


def _build_status(p: StatusPacket) -> etree._Element:
    if p.status_code not in STATUS_CODES:
        raise EdmsError(f"unknown status code {p.status_code}")
    root, header = _root()
    mh = _e(header, "MessageHeader")
    _organ(mh, "From", p.sender)
    _response_for(mh, p.response_for)
    _staff(mh, p.staff)
    _e(mh, "StatusCode", p.status_code)
    _e(mh, "Description", p.description)
    _e(mh, "Timestamp", _vn_time(p.at))
    return root  # a status packet has no body


def header_of(root: etree._Element) -> etree._Element:
    """Where the package's signature goes."""
    found = _path(root, "edXMLEnvelope", "edXMLHeader")
    if found is None:
        raise PackageRefused("the package has no edXMLEnvelope/edXMLHeader")
    return found


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- receipts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    receiver: str
    sender: str
    document_key: str
    package_sha256: str
    received_at: datetime
    result: str  # accepted


def build_receipt(r: Receipt) -> etree._Element:
    root = etree.Element(f"{{{RECEIPT_NS}}}Receipt", nsmap={"r": RECEIPT_NS})
    for tag, value in (
        ("Receiver", r.receiver),
        ("Sender", r.sender),
        ("DocumentId", r.document_key),
        ("PackageSHA256", r.package_sha256),
        ("ReceivedAt", r.received_at.astimezone(UTC).isoformat()),
        ("Result", r.result),
    ):
        etree.SubElement(root, f"{{{RECEIPT_NS}}}{tag}").text = value
    return root


def read_receipt(signed: etree._Element) -> Receipt:
    def text(tag: str) -> str:
        el = signed.find(f"{{{RECEIPT_NS}}}{tag}")
        if el is None or not (el.text or "").strip():
            raise PackageRefused(f"the receipt has no {tag}")
        return (el.text or "").strip()

    if signed.tag != f"{{{RECEIPT_NS}}}Receipt":
        raise PackageRefused("not a receipt")
    try:
        at = datetime.fromisoformat(text("ReceivedAt"))
    except ValueError:
        raise PackageRefused("the receipt's time is not a valid timestamp") from None
    return Receipt(
        text("Receiver"),
        text("Sender"),
        text("DocumentId"),
        text("PackageSHA256"),
        at,
        text("Result"),
    )


# -- screening ----------------------------------------------------------------------------------


class _Discard:
    def start(self, *_a: object) -> None: ...
    def end(self, *_a: object) -> None: ...
    def data(self, *_a: object) -> None: ...
    def close(self) -> None: ...


def screen(data: bytes, limit: int) -> None:
    """Refuse oversized data and any DTD (external entities, entity bombs) before parsing:
    a streaming expat pass through defusedxml that keeps nothing. Malformed XML is refused
    with libxml2's description of the fault (which tag, which line)."""
    if len(data) > limit:
        raise PackageTooLarge(f"the package is {len(data)} bytes, over the limit of {limit}")
    parser = DefusedXMLParser(
        target=_Discard(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        for i in range(0, len(data), 1 << 20):
            parser.feed(data[i : i + (1 << 20)])
        parser.close()
    except DefusedXmlException as exc:
        raise PackageRefused(
            f"the package uses forbidden XML constructs "
            f"({type(exc).__name__}): DTDs and entities are refused"
        ) from None
    except Exception as exc:  # expat's ParseError: say what libxml2 says, it says more
        raise PackageRefused(f"malformed XML: {_describe_fault(data) or exc}") from None


def _describe_fault(data: bytes) -> str:
    """libxml2's account of why ``data`` is not well-formed (no DTD was seen: safe)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )
    try:
        etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        return re.sub(r"\s*\(<string>, line \d+\)$", "", str(exc))
    return ""


# -- reading: liberal about names, prefixes and order ---------------------------------------------


def _local(el: etree._Element) -> str | None:
    """The local name of an element in the QCVN namespace or in none; None otherwise."""
    tag = el.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return None
    if tag[0] != "{":
        return tag
    ns, _, name = tag[1:].partition("}")
    return name if ns == NS else None


def _kids(el: etree._Element, name: str) -> Iterator[etree._Element]:
    names = _SPELLINGS.get(name, (name,))
    for child in el:
        if _local(child) in names:
            yield child


def _kid(el: etree._Element | None, name: str) -> etree._Element | None:
    return None if el is None else next(_kids(el, name), None)


def _within(el: etree._Element | None, container: str, name: str) -> list[etree._Element]:
    """The ``name`` children of ``el``'s ``container`` child (none if either is absent)."""
    box = _kid(el, container)
    return [] if box is None else list(_kids(box, name))


def _path(el: etree._Element | None, *names: str) -> etree._Element | None:
    for name in names:
        el = _kid(el, name)
    return el


def _need(el: etree._Element, name: str, where: str) -> etree._Element:
    found = _kid(el, name)
    if found is None:
        raise PackageRefused(f"{where} has no {name}")
    return found


def _text(
    el: etree._Element | None, name: str, where: str, *, required: bool = False, limit: int = 2000
) -> str:
    found = _kid(el, name)
    value = "" if found is None else " ".join((found.text or "").split())
    if required and not value:
        raise PackageRefused(f"{where}/{name} is missing or empty")
    if len(value) > limit:
        raise PackageRefused(f"{where}/{name} is longer than {limit} characters")
    return value


def _date(value: str, what: str) -> date:
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise PackageRefused(f"{what} {value!r} is not a yyyy/MM/dd date")


def _optional_date(value: str, what: str) -> date | None:
    return _date(value, what) if value else None


def _time(value: str, what: str) -> datetime:
    from ..numbering import VN_TZ

    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=VN_TZ)
        except ValueError:
            continue
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise PackageRefused(f"{what} {value!r} is not a yyyy/MM/dd HH:mm:ss time") from None
    return t if t.tzinfo else t.replace(tzinfo=VN_TZ)


def _int(value: str, what: str, lo: int, hi: int) -> int:
    try:
        n = int(value or "0")
    except ValueError:
        raise PackageRefused(f"{what} {value!r} is not a number") from None
    if not lo <= n <= hi:
        raise PackageRefused(f"{what} {n} is out of range ({lo}–{hi})")
    return n


def _bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("", "false", "0"):
        return False
    raise PackageRefused(f"{what} {value!r} is neither true nor false")


def _read_organ(el: etree._Element, where: str) -> Organ:
    # A From nested in a From (seen in the field) is read as the inner one.
    if _kid(el, "OrganId") is None and _kid(el, el.tag.rsplit("}", 1)[-1]) is not None:
        el = _kid(el, el.tag.rsplit("}", 1)[-1])  # type: ignore[assignment]
    return Organ(
        organ_id=_text(el, "OrganId", where, required=True, limit=35),
        organ_name=_text(el, "OrganName", where, limit=200),
        organ_add=_text(el, "OrganAdd", where, limit=500),
        email=_text(el, "Email", where, limit=200),
        telephone=_text(el, "Telephone", where, limit=100),
        website=_text(el, "Website", where, limit=200),
        fax=_text(el, "Fax", where, limit=100),
        in_charge=_text(el, "OrganizationInCharge", where, limit=200),
    )


def _read_response_for(el: etree._Element, where: str) -> ResponseFor | None:
    organ = _text(el, "OrganId", where, limit=35)
    key = _text(el, "DocumentId", where, limit=200)
    if not organ and not key:  # an empty ResponseFor block (seen in the field): none
        return None
    return ResponseFor(
        organ,
        _text(el, "Code", where, limit=100),
        key,
        _optional_date(_text(el, "PromulgationDate", where), f"{where}/PromulgationDate"),
    )


def _read_staff(el: etree._Element | None, where: str) -> StaffInfo:
    if el is None:
        return StaffInfo()
    return StaffInfo(
        _text(el, "Department", where, limit=200),
        _text(el, "Staff", where, limit=100),
        _text(el, "Email", where, limit=200),
        _text(el, "Mobile", where, limit=50),
    )


def _header(root: etree._Element) -> etree._Element:
    if _local(root) != "edXML":
        raise PackageRefused(
            f"the root element is {etree.QName(root).localname!r}, "
            "not edXML in the QCVN 102 namespace"
        )
    header = _path(root, "edXMLEnvelope", "edXMLHeader")
    if header is None:
        raise PackageRefused("the package has no edXMLEnvelope/edXMLHeader")
    return header


def _holder(header: etree._Element) -> tuple[str, etree._Element]:
    """``document`` or ``status``, by what the header holds, and the element holding it."""
    mh = _kid(header, "MessageHeader")
    if mh is not None:
        if _kid(mh, "StatusCode") is not None:
            return "status", mh
        if (
            _kid(mh, "To") is None
            and _kid(mh, "Code") is None
            and _kid(mh, "ResponseFor") is not None
        ):
            return "status", mh
        return "document", mh
    legacy = _kid(header, "Status")  # what EDMS wrote before it followed VNPT's layout
    if legacy is not None:
        return "status", legacy
    raise PackageRefused("the header holds no MessageHeader")


@dataclass(frozen=True)
class Routing:
    """What the header says before the signature is checked: enough to find the
    addressee's directory entry for the sender. Never trusted beyond that."""

    kind: str
    sender: str
    to: tuple[str, ...]  # documents
    document_key: str  # DocumentId (document) or ResponseFor/DocumentId (status)
    status_code: str = ""


def routing(root: etree._Element) -> Routing:
    header = _header(root)
    kind, holder = _holder(header)
    sender = _read_organ(_need(holder, "From", "MessageHeader"), "From").organ_id
    if kind == "document":
        to = tuple(_text(t, "OrganId", "To", limit=35) for t in _kids(holder, "To"))
        return Routing(kind, sender, to, _text(holder, "DocumentId", "MessageHeader", limit=200))
    rf = _kid(holder, "ResponseFor")
    return Routing(
        kind,
        sender,
        (),
        _text(rf, "DocumentId", "ResponseFor", limit=200),
        _text(holder, "StatusCode", "MessageHeader", limit=10),
    )


def parse(root: etree._Element, max_attachments: int = 50) -> Packet:
    """The package as typed data (read from the tree the signature check returned)."""
    header = _header(root)
    kind, holder = _holder(header)
    if kind == "status":
        return _parse_status(holder)
    return _parse_document(root, header, holder, max_attachments)


def _parse_status(st: etree._Element) -> StatusPacket:
    where = "MessageHeader"
    rf_el = _need(st, "ResponseFor", where)
    rf = _read_response_for(rf_el, "ResponseFor")
    if rf is None or not rf.document_key:
        raise PackageRefused(
            "ResponseFor/DocumentId is missing or empty: the status is about no document"
        )
    code = _text(st, "StatusCode", where, required=True, limit=10)
    if code not in STATUS_CODES:
        raise PackageRefused(f"StatusCode {code!r} is not one of {', '.join(STATUS_CODES)}")
    return StatusPacket(
        sender=_read_organ(_need(st, "From", where), "From"),
        response_for=rf,
        status_code=code,
        description=_text(st, "Description", where, limit=2000),
        staff=_read_staff(_kid(st, "StaffInfo"), "StaffInfo"),
        at=_time(_text(st, "Timestamp", where, required=True), f"{where}/Timestamp"),
    )


def _parse_document(
    root: etree._Element, header: etree._Element, mh: etree._Element, max_attachments: int
) -> DocumentPackage:
    w = "MessageHeader"
    code = _kid(mh, "Code")
    prom = _kid(mh, "PromulgationInfo")
    dt = _kid(mh, "DocumentType")
    signer = _kid(mh, "SignerInfo")
    other = _kid(mh, "OtherInfo")
    response_for = tuple(
        r
        for r in (_read_response_for(e, "ResponseFor") for e in _kids(mh, "ResponseFor"))
        if r is not None
    )
    traces_el = _need(header, "TraceHeaderList", "edXMLHeader")
    traces = tuple(
        TraceHeader(
            _text(t, "OrganId", "TraceHeader", required=True, limit=35),
            _time(_text(t, "Timestamp", "TraceHeader", required=True), "TraceHeader/Timestamp"),
        )
        for t in _kids(traces_el, "TraceHeader")
    )
    return DocumentPackage(
        sender=_read_organ(_need(mh, "From", w), "From"),
        to=tuple(_read_organ(e, "To") for e in _kids(mh, "To")),
        document_key=_text(mh, "DocumentId", w, required=True, limit=200),
        code_number=_text(code, "CodeNumber", "Code", required=True, limit=11),
        code_notation=_text(code, "CodeNotation", "Code", limit=30),
        place=_text(prom, "Place", "PromulgationInfo", limit=100),
        promulgation_date=_date(
            _text(prom, "PromulgationDate", "PromulgationInfo", required=True),
            "PromulgationInfo/PromulgationDate",
        ),
        type_code=_int(_text(dt, "Type", "DocumentType"), "DocumentType/Type", 0, 999),
        type_detail=_int(
            _text(dt, "TypeDetail", "DocumentType"), "DocumentType/TypeDetail", 0, 999
        ),
        type_name=_text(dt, "TypeName", "DocumentType", limit=100),
        subject=_text(mh, "Subject", w, required=True, limit=500),
        content=_text(mh, "Content", w, limit=20000),
        signer_competence=_text(signer, "Competence", "SignerInfo", limit=100),
        signer_position=_text(signer, "Position", "SignerInfo", limit=100),
        signer_name=_text(signer, "FullName", "SignerInfo", limit=50),
        due_date=_optional_date(_text(mh, "DueDate", w), "DueDate"),
        priority=_int(_text(other, "Priority", "OtherInfo"), "OtherInfo/Priority", 0, 3),
        sphere=_text(other, "SphereOfPromulgation", "OtherInfo", limit=500),
        typer_notation=_text(other, "TyperNotation", "OtherInfo", limit=100),
        promulgation_amount=_int(
            _text(other, "PromulgationAmount", "OtherInfo"), "OtherInfo/PromulgationAmount", 0, 9999
        ),
        page_amount=_int(_text(other, "PageAmount", "OtherInfo"), "OtherInfo/PageAmount", 0, 99999),
        direction=_bool(_text(other, "Direction", "OtherInfo"), "OtherInfo/Direction"),
        appendixes=tuple(_text_of(a, 500) for a in _within(other, "Appendixes", "Appendix")),
        response_for=response_for,
        steering_type=_int(_text(mh, "SteeringType", w), "SteeringType", 0, 99),
        to_places=tuple(_text_of(p, 1000) for p in _within(mh, "ToPlaces", "Place")),
        traces=traces,
        business=_read_business(traces_el),
        attachments=_attachments(root, max_attachments),
    )


def _read_business(traces: etree._Element) -> Business:
    biz = _kid(traces, "Bussiness")
    if biz is None:
        raise PackageRefused("TraceHeaderList has no Bussiness (business type)")
    w = "Bussiness"
    info_el = _kid(biz, "BussinessDocumentInfo")
    info = None
    if info_el is not None:
        info = DocumentInfo(
            _text(info_el, "DocumentInfo", "BussinessDocumentInfo", limit=10) or "0",
            _text(info_el, "DocumentReceiver", "BussinessDocumentInfo", limit=10) or "0",
            tuple(
                Receiver(
                    _text(r, "OrganId", "Receiver", required=True, limit=35),
                    _int(_text(r, "ReceiverType", "Receiver"), "ReceiverType", 0, 9),
                )
                for r in _within(info_el, "ReceiverList", "Receiver")
            ),
        )
    replacements = tuple(
        Replacement(
            _text(r, "DocumentId", "ReplacementInfo", required=True, limit=200),
            tuple(_text_of(o, 35) for o in _within(r, "OrganIdList", "OrganId")),
        )
        for r in _within(biz, "ReplacementInfoList", "ReplacementInfo")
    )
    staff = _kid(biz, "StaffInfo")
    return Business(
        doc_type=_int(
            _text(biz, "BussinessDocType", w, required=True, limit=2), "BussinessDocType", 0, 3
        ),
        reason=_text(biz, "BussinessDocReason", w, limit=500),
        document_key=_text(biz, "DocumentId", w, limit=200),
        paper=_int(_text(biz, "Paper", w), "Bussiness/Paper", 0, 1),
        staff=_read_staff(staff, "Bussiness/StaffInfo") if staff is not None else None,
        document_info=info,
        replacements=replacements,
    )


def _text_of(el: etree._Element, limit: int) -> str:
    return " ".join((el.text or "").split())[:limit]


def _bare(cid: str) -> str:
    cid = cid.strip()
    return cid[4:] if cid.lower().startswith("cid:") else cid


def _attachments(root: etree._Element, limit: int) -> tuple[Attachment, ...]:
    manifest = _path(root, "edXMLEnvelope", "edXMLBody", "edXMLManifest")
    encoded = _kid(root, "AttachmentEncoded")
    atts = list(_kids(encoded, "Attachment")) if encoded is not None else []
    if manifest is None:
        if atts:
            raise PackageRefused(
                "the package carries attachments but no edXMLBody/edXMLManifest lists them"
            )
        return ()
    if len(atts) > limit:
        raise PackageRefused(f"more than {limit} attachments")
    refs = []
    for i, ref in enumerate(_kids(manifest, "Reference"), 1):
        cid = _bare(
            _text(ref, "ContentId", "Reference", limit=200)
            or ref.get(f"{{{XLINK_NS}}}href", "")
            or ref.get("href", "")
        )
        if not cid:
            raise PackageRefused(f"manifest Reference #{i} names no attachment (no ContentId)")
        refs.append(cid)
    out: list[Attachment] = []
    seen: set[str] = set()
    for a in atts:
        cid = _bare(_text(a, "ContentId", "Attachment", required=True, limit=200))
        if cid in seen:
            raise PackageRefused(f"attachment cid:{cid} appears twice")
        seen.add(cid)
        body = _kid(a, "ContentTransferEncoded")
        if body is None:
            raise PackageRefused(f"attachment cid:{cid} has no ContentTransferEncoded")
        raw = "".join((body.text or "").split())
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise PackageRefused(f"attachment cid:{cid} is not valid base64") from None
        name = _text(a, "AttachmentName", "Attachment", required=True, limit=255)
        out.append(
            Attachment(
                cid,
                name.replace("/", "_").replace("\\", "_"),
                _text(a, "ContentType", "Attachment", limit=127) or "application/octet-stream",
                data,
                _text(a, "Description", "Attachment", limit=500),
            )
        )
    for cid in refs:
        if cid not in seen:
            raise PackageRefused(f"the manifest lists cid:{cid}, which no attachment carries")
    missing = [c for c in seen if c not in refs]
    if missing:
        raise PackageRefused(f"attachment cid:{missing[0]} is not listed in the manifest")
    return tuple(out)


# -- acceptability --------------------------------------------------------------------------------


def check_document_key(key: str, organ_id: str | None = None) -> re.Match[str]:
    m = DOCUMENT_ID.match(key)
    if m is None:
        raise PackageRefused(f"DocumentId {key!r} does not follow OrganId,yyyy/MM/dd,Số/KýHiệu")
    _date(m["date"], f"the date of DocumentId {key!r}")
    if organ_id is not None and m["organ"] != organ_id:
        raise PackageRefused(f"DocumentId {key!r} names {m['organ']}, not the sender {organ_id}")
    return m


def refusals(p: Packet) -> list[str]:
    """Why a well-formed package cannot be accepted as it is (empty: acceptable), each a
    specific reason; the inbox refuses with the first."""
    out: list[str] = []

    def check(fn: object) -> None:
        try:
            fn()  # type: ignore[operator]
        except PackageRefused as exc:
            out.append(exc.message)

    if not valid_agency_code(p.sender.organ_id):
        out.append(
            f"From/OrganId {p.sender.organ_id!r} is not an agency identifier "
            "(000.00.00.H41 or H37.02.02)"
        )
    if isinstance(p, StatusPacket):
        check(lambda: check_document_key(p.document_key))
        if p.status_code in ("02", "16") and not p.description:
            out.append(f"status {p.status_code} needs a reason (Description)")
        if (
            p.status_code == "13"
            and DOCUMENT_ID.match(p.document_key)
            and p.issuer != p.sender.organ_id
        ):
            out.append(
                f"status 13 (revocation) comes from {p.sender.organ_id}, but "
                f"{p.document_key} was issued by {p.issuer}: only the issuer revokes"
            )
        return out
    check(lambda: check_document_key(p.document_key, p.sender.organ_id))
    if not p.to:
        out.append("the package names no recipient (To)")
    if p.business_type == 3 and not p.business.replacements:
        out.append(
            "a replacing document (business type 3) names no DocumentId it "
            "replaces (ReplacementInfoList)"
        )
    for r in p.business.replacements:
        check(lambda r=r: check_document_key(r.document_key, p.sender.organ_id))
    return out


def notes(p: Packet) -> list[str]:
    """Inconsistencies the reader tolerates (shown by inspection, never a refusal)."""
    out: list[str] = []
    refs = (p.response_for,) if isinstance(p, StatusPacket) else p.response_for
    for r in refs:
        m = DOCUMENT_ID.match(r.document_key)
        if m and r.organ_id and r.organ_id != m["organ"]:
            out.append(
                f"ResponseFor/OrganId {r.organ_id} differs from the agency of "
                f"DocumentId {r.document_key}; the DocumentId is used"
            )
        if m and r.promulgation_date and f"{r.promulgation_date:%Y/%m/%d}" != m["date"]:
            out.append(
                f"ResponseFor/PromulgationDate {r.promulgation_date:%Y/%m/%d} differs "
                f"from the date in DocumentId {r.document_key}"
            )
    if isinstance(p, DocumentPackage):
        for t in p.to:
            if not valid_agency_code(t.organ_id):
                out.append(f"To/OrganId {t.organ_id!r} is not an agency identifier")
        m = DOCUMENT_ID.match(p.document_key)
        if m and m["date"] != f"{p.promulgation_date:%Y/%m/%d}":
            out.append(
                f"PromulgationDate {p.promulgation_date:%Y/%m/%d} differs from the "
                f"date in DocumentId {p.document_key}"
            )
        if not p.traces:
            out.append("TraceHeaderList has no TraceHeader")
    return out
