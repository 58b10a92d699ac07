"""Parsing a screened edXML tree into a :class:`Packet`, reading its routing, and
judging whether a well-formed package is acceptable (:func:`refusals`, :func:`notes`).

Invariants: parsing is independent of element order and prefixes and takes the VNPT and
Bkav spellings alike; attachments must match the manifest and be base64; acceptability
(identifier formats, the DocumentId naming the sender, reasons for 02/16) is judged only by
:func:`refusals`, never while parsing.
"""

from __future__ import annotations

import base64
import binascii
import re

from lxml import etree

from .model import (
    DOCUMENT_ID,
    STATUS_CODES,
    XLINK_NS,
    Attachment,
    Business,
    DocumentInfo,
    DocumentPackage,
    PackageRefused,
    Packet,
    Receiver,
    Replacement,
    Routing,
    StatusPacket,
    TraceHeader,
    valid_agency_code,
)
from .reading import (
    _bool,
    _date,
    _header,
    _holder,
    _int,
    _kid,
    _kids,
    _need,
    _optional_date,
    _path,
    _read_organ,
    _read_response_for,
    _read_staff,
    _text,
    _time,
    _within,
)


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
