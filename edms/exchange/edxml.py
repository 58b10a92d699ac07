"""edXML packages (QCVN 102:2016) as exchanged between document systems: builder and
hardened parser, for documents (business types 0 new, 1 revoke, 2 update, 3 replace),
processing-status packets (codes 01–06, 13, 15, 16) and our signed receipts.

Layout (namespace ``http://www.mic.gov.vn/TBT/QCVN_102_2016``, prefix ``edXML`` on every
element, UTF-8)::

    edXML
      edXMLEnvelope
        edXMLHeader
          MessageHeader | Status
          TraceHeaderList            (documents)
          ds:Signature               (XML-DSig over the whole package)
        edXMLBody
          edXMLManifest              (documents: one Reference per attachment)
      AttachmentEncoded              (documents: base64 attachments)

Parsing refuses, before anything is read: packages over the size limit, any DTD (hence
external entities and entity-expansion bombs: defusedxml's expat parser stops at the
DOCTYPE); then malformed XML, a missing or wrongly placed element, a DocumentId that does
not follow ``OrganId,yyyy/MM/dd,Số/KýHiệu``, unknown codes, attachments that do not match
the manifest or are not valid base64.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from lxml import etree

from ..errors import EdmsError

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
RECEIPT_NS = "urn:edms:exchange:receipt:1"
NSMAP = {"edXML": NS}

BUSINESS_TYPES = {0: "new", 1: "revoke", 2: "update", 3: "replace"}
STATUS_CODES = {
    "01": "Đã đến", "02": "Từ chối tiếp nhận", "03": "Đã tiếp nhận, vào sổ",
    "04": "Đã phân công xử lý", "05": "Đang xử lý", "06": "Hoàn thành",
    "13": "Đề nghị thu hồi", "15": "Đồng ý thu hồi/cập nhật", "16": "Từ chối thu hồi/cập nhật",
}
QCVN_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
DECISION20_CODE = re.compile(r"^[A-Z]\d{2}(\.[A-Z0-9]{1,10})*$")
DOCUMENT_ID = re.compile(r"^(?P<organ>[A-Z0-9.]{1,35}),(?P<date>\d{4}/\d{2}/\d{2}),"
                         r"(?P<number>[^,/]{1,11})/(?P<symbol>[^,]{1,30})$")


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
    organ_id: str
    organ_name: str
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    website: str = ""


@dataclass(frozen=True)
class Attachment:
    content_id: str
    name: str
    content_type: str
    data: bytes
    description: str = ""


@dataclass(frozen=True)
class DocumentPackage:
    sender: Organ
    to: tuple[Organ, ...]
    code_number: str
    code_notation: str
    place: str
    promulgation_date: date
    type_code: int  # Decree-30 type number (1..29) as in DocumentType/Type
    type_name: str
    subject: str
    signer_competence: str
    signer_position: str
    signer_name: str
    document_key: str  # DocumentId
    business_type: int = 0
    business_reason: str = ""
    due_date: date | None = None
    priority: int = 0
    page_amount: int = 0
    promulgation_amount: int = 0
    content: str = ""
    to_places: tuple[str, ...] = ()
    replaces_key: str | None = None  # business type 3: the DocumentId replaced
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class StatusPacket:
    sender: Organ  # who reports the status
    response_for_organ: str  # the document's issuing agency
    response_for_code: str  # "Số/KýHiệu"
    response_for_date: date
    document_key: str
    status_code: str
    description: str = ""
    staff: str = ""
    department: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


# -- building ---------------------------------------------------------------------------------


def _e(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _organ(parent: etree._Element, tag: str, o: Organ) -> None:
    el = _e(parent, tag)
    _e(el, "OrganId", o.organ_id)
    _e(el, "OrganizationInCharge", o.organ_name)
    _e(el, "OrganName", o.organ_name)
    _e(el, "OrganAdd", o.organ_add)
    _e(el, "Email", o.email)
    _e(el, "Telephone", o.telephone)
    _e(el, "Fax", "")
    _e(el, "Website", o.website)


def _vn_time(t: datetime) -> str:
    from ..numbering import VN_TZ

    return t.astimezone(VN_TZ).strftime("%Y/%m/%d %H:%M:%S")


def build_document(p: DocumentPackage) -> etree._Element:
    """The unsigned package; sign it with :func:`signing.xmldsig.sign` into the header."""
    if p.business_type not in BUSINESS_TYPES:
        raise EdmsError(f"unknown business type {p.business_type}")
    root = etree.Element(f"{{{NS}}}edXML", nsmap=NSMAP)
    env = _e(root, "edXMLEnvelope")
    header = _e(env, "edXMLHeader")
    mh = _e(header, "MessageHeader")
    _organ(mh, "From", p.sender)
    for to in p.to:
        _organ(mh, "To", to)
    code = _e(mh, "Code")
    _e(code, "CodeNumber", p.code_number)
    _e(code, "CodeNotation", p.code_notation)
    prom = _e(mh, "PromulgationInfo")
    _e(prom, "Place", p.place)
    _e(prom, "PromulgationDate", f"{p.promulgation_date:%Y/%m/%d}")
    dt = _e(mh, "DocumentType")
    _e(dt, "Type", p.type_code)
    _e(dt, "TypeName", p.type_name)
    _e(mh, "Subject", p.subject)
    _e(mh, "Content", p.content)
    si = _e(mh, "SignerInfo")
    _e(si, "Competence", p.signer_competence)
    _e(si, "Position", p.signer_position)
    _e(si, "FullName", p.signer_name)
    _e(mh, "DueDate", f"{p.due_date:%Y/%m/%d}" if p.due_date else "")
    places = _e(mh, "ToPlaces")
    for place in p.to_places:
        _e(places, "Place", place)
    other = _e(mh, "OtherInfo")
    _e(other, "Priority", p.priority)
    _e(other, "SphereOfPromulgation", "")
    _e(other, "TyperNotation", "")
    _e(other, "PromulgationAmount", p.promulgation_amount)
    _e(other, "PageAmount", p.page_amount)
    _e(other, "Appendixes")
    _e(mh, "SteeringType", 0)
    _e(mh, "DocumentId", p.document_key)
    traces = _e(header, "TraceHeaderList")
    trace = _e(traces, "TraceHeader")
    _e(trace, "OrganId", p.sender.organ_id)
    _e(trace, "Timestamp", _vn_time(p.sent_at))
    biz = _e(traces, "Bussiness")
    _e(biz, "BussinessDocType", p.business_type)
    _e(biz, "BussinessDocReason", p.business_reason)
    _e(biz, "BussinessDocumentInfo")
    _e(biz, "DocumentId", p.document_key)
    _e(biz, "StaffInfo")
    _e(biz, "Paper", 0)
    repl = _e(biz, "ReplacementInfoList")
    if p.replaces_key:
        _e(_e(repl, "ReplacementInfo"), "DocumentId", p.replaces_key)
    body = _e(env, "edXMLBody")
    manifest = _e(body, "edXMLManifest")
    for a in p.attachments:
        ref = _e(manifest, "Reference")
        ref.set("href", f"cid:{a.content_id}")
        _e(ref, "AttachmentName", a.name)
        _e(ref, "ContentType", a.content_type)
        _e(ref, "Description", a.description)
    encoded = _e(root, "AttachmentEncoded")
    for a in p.attachments:
        att = _e(encoded, "Attachment")
        _e(att, "ContentType", a.content_type)
        _e(att, "ContentId", a.content_id)
        _e(att, "Description", a.description)
        _e(att, "ContentTransferEncoded", base64.b64encode(a.data).decode())
        _e(att, "AttachmentName", a.name)
    return root


def build_status(p: StatusPacket) -> etree._Element:
    if p.status_code not in STATUS_CODES:
        raise EdmsError(f"unknown status code {p.status_code}")
    root = etree.Element(f"{{{NS}}}edXML", nsmap=NSMAP)
    env = _e(root, "edXMLEnvelope")
    header = _e(env, "edXMLHeader")
    st = _e(header, "Status")
    rf = _e(st, "ResponseFor")
    _e(rf, "OrganId", p.response_for_organ)
    _e(rf, "Code", p.response_for_code)
    _e(rf, "PromulgationDate", f"{p.response_for_date:%Y/%m/%d}")
    _e(rf, "DocumentId", p.document_key)
    _organ(st, "From", p.sender)
    _e(st, "StatusCode", p.status_code)
    _e(st, "Description", p.description)
    _e(st, "Timestamp", _vn_time(p.at))
    staff = _e(st, "StaffInfo")
    _e(staff, "Department", p.department)
    _e(staff, "Staff", p.staff)
    _e(env, "edXMLBody")
    return root


def header_of(root: etree._Element) -> etree._Element:
    """Where the package's signature goes."""
    found = root.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader")
    assert found is not None
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
    for tag, value in (("Receiver", r.receiver), ("Sender", r.sender),
                       ("DocumentId", r.document_key), ("PackageSHA256", r.package_sha256),
                       ("ReceivedAt", r.received_at.astimezone(UTC).isoformat()),
                       ("Result", r.result)):
        etree.SubElement(root, f"{{{RECEIPT_NS}}}{tag}").text = value
    return root


def read_receipt(signed: etree._Element) -> Receipt:
    def text(tag: str) -> str:
        el = signed.find(f"{{{RECEIPT_NS}}}{tag}")
        if el is None or not (el.text or "").strip():
            raise PackageRefused(f"the receipt has no {tag}")
        return el.text.strip()  # type: ignore[union-attr]

    if signed.tag != f"{{{RECEIPT_NS}}}Receipt":
        raise PackageRefused("not a receipt")
    try:
        at = datetime.fromisoformat(text("ReceivedAt"))
    except ValueError:
        raise PackageRefused("the receipt's time is not a valid timestamp") from None
    return Receipt(text("Receiver"), text("Sender"), text("DocumentId"),
                   text("PackageSHA256"), at, text("Result"))


# -- parsing ----------------------------------------------------------------------------------


class _Discard:
    def start(self, *_a: object) -> None: ...
    def end(self, *_a: object) -> None: ...
    def data(self, *_a: object) -> None: ...
    def close(self) -> None: ...


def screen(data: bytes, limit: int) -> None:
    """Refuse oversized data and any DTD (external entities, entity bombs) before parsing:
    a streaming expat pass through defusedxml that keeps nothing."""
    if len(data) > limit:
        raise PackageTooLarge(f"the package is {len(data)} bytes, over the limit of {limit}")
    parser = DefusedXMLParser(target=_Discard(), forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    try:
        for i in range(0, len(data), 1 << 20):
            parser.feed(data[i:i + 1 << 20])
        parser.close()
    except DefusedXmlException as exc:
        raise PackageRefused(f"the package uses forbidden XML constructs "
                             f"({type(exc).__name__}): DTDs and entities are refused") from None
    except etree.XMLSyntaxError as exc:
        raise PackageRefused(f"malformed XML: {exc}") from None
    except Exception as exc:  # expat's ParseError
        raise PackageRefused(f"malformed XML: {exc}") from None


def _t(el: etree._Element, path: str, required: bool = True, limit: int = 2000) -> str:
    q = "/".join(f"{{{NS}}}{part}" for part in path.split("/"))
    found = el.find(q)
    if found is None:
        if required:
            raise PackageRefused(f"the package has no {path}")
        return ""
    value = (found.text or "").strip()
    if required and not value:
        raise PackageRefused(f"{path} is empty")
    if len(value) > limit:
        raise PackageRefused(f"{path} is longer than {limit} characters")
    return value


def _date(value: str, what: str) -> date:
    try:
        return datetime.strptime(value, "%Y/%m/%d").date()
    except ValueError:
        raise PackageRefused(f"{what} {value!r} is not a yyyy/MM/dd date") from None


def _time(value: str, what: str) -> datetime:
    from ..numbering import VN_TZ

    try:
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S").replace(tzinfo=VN_TZ)
    except ValueError:
        raise PackageRefused(f"{what} {value!r} is not a yyyy/MM/dd HH:mm:ss time") from None


def _int(value: str, what: str, lo: int, hi: int) -> int:
    try:
        n = int(value or "0")
    except ValueError:
        raise PackageRefused(f"{what} {value!r} is not a number") from None
    if not lo <= n <= hi:
        raise PackageRefused(f"{what} {n} is out of range")
    return n


def _read_organ(el: etree._Element, what: str) -> Organ:
    organ_id = _t(el, "OrganId", limit=35)
    if not valid_agency_code(organ_id):
        raise PackageRefused(f"{what} OrganId {organ_id!r} is not an agency identifier")
    return Organ(organ_id, _t(el, "OrganName", limit=200), _t(el, "OrganAdd", False, 500),
                 _t(el, "Email", False, 200), _t(el, "Telephone", False, 50),
                 _t(el, "Website", False, 200))


def check_document_key(key: str, organ_id: str | None = None) -> re.Match[str]:
    m = DOCUMENT_ID.match(key)
    if m is None:
        raise PackageRefused(f"DocumentId {key!r} does not follow OrganId,yyyy/MM/dd,"
                             "Số/KýHiệu")
    _date(m["date"], "the DocumentId's date")
    if organ_id is not None and m["organ"] != organ_id:
        raise PackageRefused("the DocumentId names another agency than the sender")
    return m


def kind_of(signed: etree._Element) -> str:
    """``document`` or ``status``, from the signed tree."""
    if signed.tag != f"{{{NS}}}edXML":
        raise PackageRefused("the root element is not edXML:edXML")
    header = signed.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader")
    if header is None:
        raise PackageRefused("the package has no edXMLEnvelope/edXMLHeader")
    if header.find(f"{{{NS}}}MessageHeader") is not None:
        return "document"
    if header.find(f"{{{NS}}}Status") is not None:
        return "status"
    raise PackageRefused("the header holds neither a MessageHeader nor a Status")


def sender_of(root: etree._Element) -> str:
    """The claimed sender, read before the signature is checked (to find its keys)."""
    kind = kind_of(root)
    header = root.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader")
    assert header is not None
    holder = header.find(f"{{{NS}}}MessageHeader" if kind == "document" else f"{{{NS}}}Status")
    assert holder is not None
    frm = holder.find(f"{{{NS}}}From")
    if frm is None:
        raise PackageRefused("the package has no From")
    return _read_organ(frm, "From").organ_id


def parse_document(signed: etree._Element, max_attachments: int = 50) -> DocumentPackage:
    header = signed.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader")
    assert header is not None
    mh = header.find(f"{{{NS}}}MessageHeader")
    if mh is None:
        raise PackageRefused("not a document package")
    sender = _read_organ(_child(mh, "From"), "From")
    to = tuple(_read_organ(e, "To") for e in mh.findall(f"{{{NS}}}To"))
    if not to:
        raise PackageRefused("the package names no recipient (To)")
    key = _t(mh, "DocumentId", limit=200)
    check_document_key(key, sender.organ_id)
    traces = _child(header, "TraceHeaderList")
    biz = _child(traces, "Bussiness")
    business = _int(_t(biz, "BussinessDocType"), "BussinessDocType", 0, 3)
    replaced = biz.find(f"{{{NS}}}ReplacementInfoList/{{{NS}}}ReplacementInfo/"
                        f"{{{NS}}}DocumentId")
    replaces_key = (replaced.text or "").strip() if replaced is not None else None
    if business == 3 and not replaces_key:
        raise PackageRefused("a replacing document (business type 3) names no DocumentId "
                             "it replaces")
    if replaces_key:
        check_document_key(replaces_key, sender.organ_id)
    due = _t(mh, "DueDate", False)
    sent = _t(_child(traces, "TraceHeader"), "Timestamp")
    attachments = _attachments(signed, max_attachments)
    if not any(a.content_type == "application/pdf" for a in attachments):
        raise PackageRefused("the package carries no PDF document")
    return DocumentPackage(
        sender=sender, to=to, code_number=_t(mh, "Code/CodeNumber", limit=11),
        code_notation=_t(mh, "Code/CodeNotation", limit=30),
        place=_t(mh, "PromulgationInfo/Place", False, 100),
        promulgation_date=_date(_t(mh, "PromulgationInfo/PromulgationDate"),
                                "PromulgationDate"),
        type_code=_int(_t(mh, "DocumentType/Type"), "DocumentType/Type", 0, 99),
        type_name=_t(mh, "DocumentType/TypeName", limit=100),
        subject=_t(mh, "Subject", limit=500), content=_t(mh, "Content", False, 20000),
        signer_competence=_t(mh, "SignerInfo/Competence", False, 100),
        signer_position=_t(mh, "SignerInfo/Position", False, 100),
        signer_name=_t(mh, "SignerInfo/FullName", False, 50),
        document_key=key, business_type=business,
        business_reason=_t(biz, "BussinessDocReason", False, 500),
        due_date=_date(due, "DueDate") if due else None,
        priority=_int(_t(mh, "OtherInfo/Priority", False), "Priority", 0, 3),
        page_amount=_int(_t(mh, "OtherInfo/PageAmount", False), "PageAmount", 0, 999),
        promulgation_amount=_int(_t(mh, "OtherInfo/PromulgationAmount", False),
                                 "PromulgationAmount", 0, 999),
        to_places=tuple((e.text or "").strip()[:1000]
                        for e in _child(mh, "ToPlaces").findall(f"{{{NS}}}Place")),
        replaces_key=replaces_key, attachments=attachments,
        sent_at=_time(sent, "TraceHeader/Timestamp"))


def _child(el: etree._Element, tag: str) -> etree._Element:
    found = el.find(f"{{{NS}}}{tag}")
    if found is None:
        raise PackageRefused(f"the package has no {tag}")
    return found


def _attachments(signed: etree._Element, limit: int) -> tuple[Attachment, ...]:
    manifest = signed.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLBody/{{{NS}}}edXMLManifest")
    if manifest is None:
        raise PackageRefused("the package has no edXMLBody/edXMLManifest")
    refs = [(r.get("href") or "") for r in manifest.findall(f"{{{NS}}}Reference")]
    encoded = _child(signed, "AttachmentEncoded").findall(f"{{{NS}}}Attachment")
    if len(encoded) > limit:
        raise PackageRefused(f"more than {limit} attachments")
    out, seen = [], set()
    for a in encoded:
        cid = _t(a, "ContentId", limit=200)
        if cid in seen:
            raise PackageRefused(f"attachment {cid} appears twice")
        seen.add(cid)
        raw = "".join((_child(a, "ContentTransferEncoded").text or "").split())
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise PackageRefused(f"attachment {cid} is not valid base64") from None
        name = _t(a, "AttachmentName", limit=255).replace("/", "_").replace("\\", "_")
        out.append(Attachment(cid, name, _t(a, "ContentType", limit=127), data,
                              _t(a, "Description", False, 500)))
    if sorted(refs) != sorted(f"cid:{a.content_id}" for a in out):
        raise PackageRefused("the manifest and the attachments do not match")
    return tuple(out)


def parse_status(signed: etree._Element) -> StatusPacket:
    header = signed.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader")
    assert header is not None
    st = header.find(f"{{{NS}}}Status")
    if st is None:
        raise PackageRefused("not a status packet")
    rf = _child(st, "ResponseFor")
    key = _t(rf, "DocumentId", limit=200)
    check_document_key(key)
    code = _t(st, "StatusCode", limit=2)
    if code not in STATUS_CODES:
        raise PackageRefused(f"unknown status code {code!r}")
    description = _t(st, "Description", False, 2000)
    if code in ("02", "16") and not description:
        raise PackageRefused(f"status {code} needs a reason (Description)")
    staff = st.find(f"{{{NS}}}StaffInfo")
    return StatusPacket(
        sender=_read_organ(_child(st, "From"), "From"),
        response_for_organ=_t(rf, "OrganId", limit=35), response_for_code=_t(rf, "Code"),
        response_for_date=_date(_t(rf, "PromulgationDate"), "PromulgationDate"),
        document_key=key, status_code=code, description=description,
        staff=_t(staff, "Staff", False, 100) if staff is not None else "",
        department=_t(staff, "Department", False, 200) if staff is not None else "",
        at=_time(_t(st, "Timestamp"), "Timestamp"))
