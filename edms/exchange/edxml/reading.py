"""Reading edXML, the low level: screening a package before any tree is built (size,
DTDs, malformed XML), finding elements whatever their prefix or spelling, and typed field
readers that refuse with the element's path.

Invariants: no DTD is ever parsed (so no external entity nor entity expansion); every
refusal is a :class:`PackageRefused` naming the element at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from lxml import etree

from .model import (
    NS,
    RECEIPT_NS,
    Organ,
    PackageRefused,
    PackageTooLarge,
    Receipt,
    ResponseFor,
    StaffInfo,
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


def header_of(root: etree._Element) -> etree._Element:
    """Where the package's signature goes."""
    found = _path(root, "edXMLEnvelope", "edXMLHeader")
    if found is None:
        raise PackageRefused("the package has no edXMLEnvelope/edXMLHeader")
    return found


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
    from ...numbering import VN_TZ

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
