"""Writing edXML: packages in the VNPT EdXML102 library's shape (prefix ``edXML`` on
every element, its element order, UTF-8) and our signed receipts.

Invariants: the writer emits only what the reader accepts; it refuses (ClientError) a
business type or status code QCVN 102 does not define rather than write it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime

from lxml import etree

from ...errors import ClientError
from .model import (
    BUSINESS_TYPES,
    NS,
    NSMAP,
    RECEIPT_NS,
    STATUS_CODES,
    TRACE_ACTOR,
    XLINK_NS,
    DocumentPackage,
    Organ,
    Packet,
    Receipt,
    ResponseFor,
    StaffInfo,
    StatusPacket,
)


def _e(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _date_text(d: date | None) -> str:
    return f"{d:%Y/%m/%d}" if d else ""


def _vn_time(t: datetime) -> str:
    from ...numbering import VN_TZ

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
        raise ClientError(f"unknown business type {p.business.doc_type}")
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
        raise ClientError(f"unknown status code {p.status_code}")
    root, header = _root()
    mh = _e(header, "MessageHeader")
    _organ(mh, "From", p.sender)
    _response_for(mh, p.response_for)
    _staff(mh, p.staff)
    _e(mh, "StatusCode", p.status_code)
    _e(mh, "Description", p.description)
    _e(mh, "Timestamp", _vn_time(p.at))
    return root  # a status packet has no body


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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
