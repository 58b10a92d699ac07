"""edXML packages: what the writer puts in the XML (VNPT's layout, asserted on the XML
itself, not only through our reader), what the liberal reader takes (every field sample in
/work/shared/corpus/edxml, prefixes, order, VNPT and Bkav spellings), round trips, specific
refusals, and the XML signature's strict profile."""

from __future__ import annotations

import copy
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from edms.exchange import edxml
from signing import devpki, xmldsig
from signing.keys import load_pkcs12

CORPUS = Path("/work/shared/corpus/edxml")
NS = {"e": edxml.NS, "xlink": edxml.XLINK_NS, "ds": xmldsig.DS}
A = edxml.Organ(
    "000.00.00.H41",
    "Ủy ban nhân dân tỉnh Hà Giang",
    "Hà Giang",
    "ubnd@hagiang.gov.vn",
    "0219 3866 125",
    "hagiang.gov.vn",
    "0219 3866 126",
    "Ủy ban nhân dân tỉnh Hà Giang",
)
B = edxml.Organ("H37.02.02", "Sở Nội vụ tỉnh Hà Giang", in_charge="UBND tỉnh Hà Giang")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SENT = datetime(2026, 11, 22, 2, 30, 15, tzinfo=UTC)


def package(**kw: Any) -> edxml.DocumentPackage:
    base: dict[str, Any] = dict(
        sender=A,
        to=(B,),
        document_key="000.00.00.H41,2026/11/22,15/QĐ-UBND",
        code_number="15",
        code_notation="QĐ-UBND",
        place="Hà Giang",
        promulgation_date=date(2026, 11, 22),
        type_detail=2,
        type_name="Quyết định",
        subject="Về việc ban hành Quy chế làm việc",
        content="Quy chế làm việc",
        signer_competence="TM. ỦY BAN NHÂN DÂN",
        signer_position="Chủ tịch",
        signer_name="Nguyễn Văn Thành",
        due_date=date(2026, 12, 1),
        priority=2,
        page_amount=3,
        promulgation_amount=5,
        appendixes=("phu-luc.pdf",),
        response_for=(
            edxml.ResponseFor(
                "000.00.00.G22",
                "7816/VPCP-TTĐT",
                "000.00.00.G22,2026/11/20,7816/VPCP-TTĐT",
                date(2026, 11, 20),
            ),
        ),
        to_places=("Sở Nội vụ", "Lưu: VT"),
        traces=(edxml.TraceHeader(A.organ_id, SENT),),
        business=edxml.Business(
            0, "Văn bản điện tử mới", staff=edxml.StaffInfo("Văn phòng", "Hoàng Thị Mai")
        ),
        attachments=(
            edxml.Attachment("1@h41", "qd.pdf", "application/pdf", PDF, "Văn bản chính"),
            edxml.Attachment("2@h41", "phu-luc.pdf", "application/pdf", PDF, "Phụ lục"),
        ),
    )
    base.update(kw)
    return edxml.DocumentPackage(**base)


def status(code: str, **kw: Any) -> edxml.StatusPacket:
    base: dict[str, Any] = dict(
        sender=B,
        response_for=edxml.ResponseFor(
            A.organ_id, "15/QĐ-UBND", "000.00.00.H41,2026/11/22,15/QĐ-UBND", date(2026, 11, 22)
        ),
        status_code=code,
        description="Lý do: sai địa chỉ nhận",
        staff=edxml.StaffInfo("Văn phòng", "Hoàng Thị Mai", "mai@snv.gov.vn", "0912000001"),
        at=datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC),
    )
    base.update(kw)
    return edxml.StatusPacket(**base)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pki = devpki.generate(tmp_path_factory.mktemp("pki") / "p")
    return load_pkcs12(pki.p12("agency"), devpki.DEV_PASSWORD), load_pkcs12(
        pki.p12("leader1"), devpki.DEV_PASSWORD
    )


def signed(root: etree._Element, key: Any) -> bytes:
    xmldsig.sign(root, key, parent=edxml.header_of(root))
    return edxml.serialize(root)


def names(el: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]  # type: ignore[no-any-return]


# -- the writer: VNPT's layout, on the XML ------------------------------------------------------


def test_document_written_as_vnpt_writes_it(key: Any) -> None:
    agency, _ = key
    p = package()
    data = signed(edxml.build(p), agency)
    root = etree.fromstring(data)
    # every element in the QCVN namespace carries the edXML prefix
    assert {el.prefix for el in root.iter() if etree.QName(el).namespace == edxml.NS} == {"edXML"}
    assert names(edxml.header_of(root)) == ["MessageHeader", "TraceHeaderList", "Signature"]
    mh = one(root, "/e:edXML/e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader")
    assert names(mh) == [
        "From",
        "To",
        "DocumentId",
        "Code",
        "PromulgationInfo",
        "DocumentType",
        "Subject",
        "Content",
        "SignerInfo",
        "DueDate",
        "OtherInfo",
        "ResponseFor",
        "SteeringType",
        "ToPlaces",
    ]
    assert names(one(mh, "e:From")) == [
        "OrganId",
        "OrganizationInCharge",
        "OrganName",
        "OrganAdd",
        "Email",
        "Telephone",
        "Fax",
        "Website",
    ]
    assert one(mh, "e:From/e:Website").text == "hagiang.gov.vn"
    assert names(one(mh, "e:DocumentType")) == ["Type", "TypeDetail", "TypeName"]
    assert (one(mh, "e:DocumentType/e:Type").text, one(mh, "e:DocumentType/e:TypeDetail").text) == (
        "2",
        "2",
    )
    assert one(mh, "e:SignerInfo/e:Competence").text == "TM. ỦY BAN NHÂN DÂN"
    assert names(one(mh, "e:OtherInfo")) == [
        "Priority",
        "SphereOfPromulgation",
        "TyperNotation",
        "PromulgationAmount",
        "PageAmount",
        "Direction",
        "Appendixes",
    ]
    assert one(mh, "e:OtherInfo/e:Direction").text == "false"
    assert names(one(mh, "e:ResponseFor")) == ["OrganId", "Code", "DocumentId", "PromulgationDate"]
    assert one(mh, "e:ResponseFor/e:DocumentId").text == "000.00.00.G22,2026/11/20,7816/VPCP-TTĐT"
    traces = one(root, "//e:TraceHeaderList")
    assert {k: traces.get(k) for k in ("version", "mustUnderstand", "actor")} == {
        "version": "1.0",
        "mustUnderstand": "1",
        "actor": edxml.TRACE_ACTOR,
    }
    assert traces.get("id")
    assert names(traces) == ["TraceHeader", "Bussiness"]
    assert one(traces, "e:TraceHeader/e:Timestamp").text == "2026/11/22 09:30:15"  # +07:00
    assert names(one(traces, "e:Bussiness")) == [
        "BussinessDocType",
        "BussinessDocReason",
        "Paper",
        "StaffInfo",
    ]
    manifest = one(root, "/e:edXML/e:edXMLEnvelope/e:edXMLBody/e:edXMLManifest")
    assert manifest.get("version") == "1.0"
    refs = manifest.xpath("e:Reference", namespaces=NS)
    assert [names(r) for r in refs] == [
        ["ContentId", "ContentType", "Description", "AttachmentName"]
    ] * 2
    ref_ids = [one(r, "e:ContentId").text for r in refs]
    assert ref_ids == ["cid:1@h41", "cid:2@h41"]
    assert [r.get(f"{{{edxml.XLINK_NS}}}href") for r in refs] == ref_ids
    atts = root.xpath("/e:edXML/e:AttachmentEncoded/e:Attachment", namespaces=NS)
    assert [names(a) for a in atts] == [
        ["ContentId", "AttachmentName", "Description", "ContentType", "ContentTransferEncoded"]
    ] * 2
    assert [one(a, "e:ContentId").text for a in atts] == ref_ids  # what VNPT matches on
    verified = xmldsig.verify(data, [xmldsig.to_cryptography(agency.cert)])
    assert edxml.parse(verified.signed) == p


@pytest.mark.parametrize("code", sorted(edxml.STATUS_CODES))
def test_status_written_under_message_header_and_round_trips(key: Any, code: str) -> None:
    agency, _ = key
    p = status(code)
    data = signed(edxml.build(p), agency)
    root = etree.fromstring(data)
    envelope = one(root, "/e:edXML/e:edXMLEnvelope")
    assert names(envelope) == ["edXMLHeader"]  # no body
    assert names(one(envelope, "e:edXMLHeader")) == ["MessageHeader", "Signature"]
    assert not root.xpath("//e:Status", namespaces=NS)
    mh = one(envelope, "e:edXMLHeader/e:MessageHeader")
    assert names(mh) == [
        "From",
        "ResponseFor",
        "StaffInfo",
        "StatusCode",
        "Description",
        "Timestamp",
    ]
    assert one(mh, "e:StatusCode").text == code
    assert one(mh, "e:ResponseFor/e:DocumentId").text == p.document_key
    assert names(one(mh, "e:StaffInfo")) == ["Department", "Staff", "Email", "Mobile"]
    verified = xmldsig.verify(data, [xmldsig.to_cryptography(agency.cert)])
    assert edxml.routing(verified.signed).kind == "status"
    assert edxml.parse(verified.signed) == p


@pytest.mark.parametrize("business", [0, 1, 2, 3])
def test_documents_of_each_business_type_round_trip(business: int) -> None:
    kw: dict[str, Any] = {"business": edxml.Business(business, edxml.BUSINESS_REASONS[business])}
    if business == 2:
        kw["business"] = edxml.Business(
            2,
            "Cập nhật",
            "000.00.00.H41,2026/11/22,15/QĐ-UBND",
            document_info=edxml.DocumentInfo("1", "1", (edxml.Receiver("000.00.00.H14", 1),)),
        )
    if business == 3:
        kw["business"] = edxml.Business(
            3,
            "Văn bản thay thế",
            replacements=(edxml.Replacement("000.00.00.H41,2026/10/01,9/QĐ-UBND", ("H37.02.02",)),),
        )
    p = package(**kw)
    back = edxml.parse(etree.fromstring(edxml.serialize(edxml.build(p))))
    assert back == p and back.business_type == business and edxml.refusals(back) == []
    if business == 3:
        assert back.replaces_key == "000.00.00.H41,2026/10/01,9/QĐ-UBND"


# -- the reader: every field sample ---------------------------------------------------------------

# file: (kind, status code or business type, sender, DocumentId, refusals, notes (substrings))
SAMPLES: dict[str, tuple[str, str | int, str, str, list[str], list[str]]] = {
    "status.edxml": (
        "status",
        "01",
        "000.00.00.H41",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        ["PromulgationDate 2018/09/28 differs"],
    ),
    **{
        f"status_{n}.edxml": (
            "status",
            n[-2:],
            "000.00.00.H41",
            "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
            [],
            [],
        )
        for n in (
            "inbox__01",
            "rejection_02",
            "acceptance_03",
            "assignment_04",
            "processing_05",
            "finish_06",
            "change-acceptance_15",
            "change-rejection_16",
        )
    },
    "status_cancellation_13.edxml": (
        "status",
        "13",
        "000.00.00.G22",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        ["ResponseFor/OrganId 000.00.00.H41 differs"],
    ),
    "dc0bdef0-c7a3-4aaf-b717-777303442973.edxml": (
        "document",
        0,
        "000.00.00.G22",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        ["PromulgationDate 2019/04/11 differs"],
    ),
    "edoc_new.edxml": (
        "document",
        0,
        "000.00.00.A80",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [
            "DocumentId '000.00.00.G22,2015/09/30,7816/VPCP-TTĐT' names 000.00.00.G22, not the "
            "sender 000.00.00.A80"
        ],
        ["To/OrganId '28.22.H17' is not an agency identifier"],
    ),
    "edoc_revocation.edxml": (
        "document",
        1,
        "000.00.00.G22",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        ["ResponseFor/OrganId 000.00.00.H14 differs"],
    ),
    "edoc_update.edxml": (
        "document",
        2,
        "000.00.00.G22",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        [],
    ),
    "edoc_replacement.edxml": (
        "document",
        3,
        "000.00.00.G22",
        "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        [],
        [],
    ),
}


def sample(name: str) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"the field samples are not on this machine ({CORPUS})")
    return path.read_bytes()


def test_the_corpus_is_the_one_described() -> None:
    if not CORPUS.exists():
        pytest.skip(f"the field samples are not on this machine ({CORPUS})")
    assert sorted(p.name for p in CORPUS.glob("*.edxml")) == sorted([*SAMPLES, "edoc.edxml"])


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_field_sample_parses_and_round_trips(name: str) -> None:
    kind, what, sender, key, refused, noted = SAMPLES[name]
    data = sample(name)
    edxml.screen(data, 64 << 20)
    root = etree.fromstring(data, parser=xmldsig.hardened_parser())
    route = edxml.routing(root)
    assert (route.kind, route.sender, route.document_key) == (kind, sender, key)
    p = edxml.parse(root)
    assert p.kind == kind and p.sender.organ_id == sender
    assert edxml.refusals(p) == refused
    for n in noted:
        assert any(n in x for x in edxml.notes(p)), (n, edxml.notes(p))
    if isinstance(p, edxml.StatusPacket):
        assert p.status_code == what and p.document_key == key
        assert p.staff.staff and p.description and p.sender.website
    else:
        assert isinstance(p, edxml.DocumentPackage)
        assert p.business_type == what and p.document_key == key
        assert [a.cid for a in p.attachments] == ["cid:209"]
        assert p.attachments[0].data[:4] == b"PK\x03\x04"  # base64 decoded: a zip
        assert p.signer_competence == "TL. BO TRUONG" and p.type_name == "Công văn"
        if what == 3:
            assert p.replaces_key == "000.00.00.G22,2014/01/30,7806/VPCP-TTĐT"
            assert p.business.replacements[0].organ_ids == ("000.00.00.H41", "000.00.00.H14")
        if what == 2:
            assert p.business.document_info is not None
            assert [r.organ_id for r in p.business.document_info.receivers] == [
                "000.00.00.H41",
                "000.00.00.H14",
            ]
        if what == 1:
            assert [(r.organ_id, r.document_key) for r in p.response_for] == [
                ("000.00.00.H14", "000.00.04.G14,2012/08/06,267/VPCP-TTĐT")
            ]
    # through our writer and back: the same package
    again = edxml.build(p)
    assert edxml.parse(etree.fromstring(edxml.serialize(again))) == p
    # and the fields sit where the sample has them
    for path in (
        "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:From/e:OrganId",
        "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:StatusCode",
        "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:ResponseFor/e:DocumentId",
        "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:DocumentId",
        "e:edXMLEnvelope/e:edXMLBody/e:edXMLManifest/e:Reference/e:ContentId",
        "e:AttachmentEncoded/e:Attachment/e:ContentId",
    ):
        ours = [x.text for x in again.xpath(path, namespaces=NS)]
        theirs = [x.text.strip() for x in root.xpath(path, namespaces=NS)]
        assert ours == theirs, path


def test_the_malformed_sample_is_refused_with_its_fault() -> None:
    data = sample("edoc.edxml")  # a From nested in a From, never closed
    with pytest.raises(
        edxml.PackageRefused,
        match=r"malformed XML: Opening and ending tag mismatch: From line 7 "
        r"and MessageHeader, line 74",
    ):
        edxml.screen(data, 64 << 20)


# -- the reader: liberal about names, prefixes and order -----------------------------------------


def _rename(root: etree._Element, old: str, new: str) -> None:
    for el in root.iter(f"{{{edxml.NS}}}{old}"):
        el.tag = f"{{{edxml.NS}}}{new}"


def test_bkav_spellings_no_prefix_any_order_and_bare_content_ids() -> None:
    p = package(
        business=edxml.Business(
            3, "Thay thế", replacements=(edxml.Replacement("000.00.00.H41,2026/10/01,9/QĐ-UBND"),)
        )
    )
    root = edxml.build(p)
    for old, new in (
        ("Bussiness", "Business"),
        ("BussinessDocType", "BusinessDocType"),
        ("BussinessDocReason", "BusinessDocReason"),
        ("OrganizationInCharge", "OrganInCharge"),
    ):
        _rename(root, old, new)
    mh = root.find(f".//{{{edxml.NS}}}MessageHeader")
    assert mh is not None
    mh[:] = list(reversed(mh))  # another writer's order
    for att in root.iter(f"{{{edxml.NS}}}Attachment"):  # the C# SDK: ids without "cid:"
        cid = att.find(f"{{{edxml.NS}}}ContentId")
        assert cid is not None and cid.text
        cid.text = cid.text.removeprefix("cid:")
    for ref in root.iter(f"{{{edxml.NS}}}Reference"):  # only xlink:href names it
        ref.remove(ref.find(f"{{{edxml.NS}}}ContentId"))
    # the attachments in no namespace at all, as some writers put them
    text = edxml.serialize(root).decode()
    for tag in (
        "AttachmentEncoded",
        "Attachment",
        "ContentType",
        "ContentId",
        "Description",
        "ContentTransferEncoded",
        "AttachmentName",
    ):
        text = text.replace(f"<edXML:{tag}>", f'<{tag} xmlns="">')
        text = text.replace(f"</edXML:{tag}>", f"</{tag}>")
    back = edxml.parse(etree.fromstring(text.encode()))
    assert back == p


def test_older_status_header_is_still_read() -> None:
    p = status("03")
    root = edxml.build(p)
    mh = root.find(f".//{{{edxml.NS}}}MessageHeader")
    assert mh is not None
    mh.tag = f"{{{edxml.NS}}}Status"  # what EDMS wrote before
    assert edxml.parse(root) == p


def test_status_recognised_by_content_not_name() -> None:
    root = edxml.build(status("05"))
    mh = root.find(f".//{{{edxml.NS}}}MessageHeader")
    assert mh is not None
    mh.remove(mh.find(f"{{{edxml.NS}}}StatusCode"))
    # ResponseFor without To/Code: a status packet, refused for its missing code
    with pytest.raises(edxml.PackageRefused, match="StatusCode is missing"):
        edxml.parse(root)
    assert edxml.routing(root).kind == "status"


# -- refusals -------------------------------------------------------------------------------------


def _parse_refused(root: etree._Element, match: str) -> None:
    with pytest.raises(edxml.PackageRefused, match=match):
        edxml.parse(root)


def test_parser_refusals_name_the_element() -> None:
    root = edxml.build(package())
    one(root, "(//e:ContentTransferEncoded)[1]").text = "!!not base64!!"
    _parse_refused(root, r"attachment cid:1@h41 is not valid base64")
    root = edxml.build(package())
    one(root, "(//e:Reference)[1]/e:ContentId").text = "cid:other"
    _parse_refused(root, r"the manifest lists cid:other, which no attachment carries")
    root = edxml.build(package())
    ref = one(root, "(//e:Reference)[2]")
    ref.getparent().remove(ref)
    _parse_refused(root, r"attachment cid:2@h41 is not listed in the manifest")
    root = edxml.build(package())
    one(root, "//e:BussinessDocType").text = "7"
    _parse_refused(root, r"BussinessDocType 7 is out of range")
    root = edxml.build(package())
    one(root, "//e:PromulgationInfo/e:PromulgationDate").text = "22/11/2026"
    _parse_refused(root, r"PromulgationInfo/PromulgationDate '22/11/2026' is not a yyyy/MM/dd")
    root = edxml.build(package())
    one(root, "//e:Code/e:CodeNumber").text = "123456789012"
    _parse_refused(root, r"Code/CodeNumber is longer than 11 characters")
    root = edxml.build(status("03"))
    one(root, "//e:StatusCode").text = "07"
    _parse_refused(root, r"StatusCode '07' is not one of 01, 02")
    bad = etree.fromstring(b"<x:edXML xmlns:x='urn:other'/>")
    _parse_refused(bad, r"the root element is 'edXML', not edXML in the QCVN 102 namespace")


def test_refusals_of_well_formed_packages_are_specific() -> None:
    assert edxml.refusals(package(document_key="H41,22/11/2026,15/QĐ")) == [
        "DocumentId 'H41,22/11/2026,15/QĐ' does not follow OrganId,yyyy/MM/dd,Số/KýHiệu"
    ]
    assert edxml.refusals(package(document_key="000.00.00.G22,2026/11/22,15/QĐ-UBND")) == [
        "DocumentId '000.00.00.G22,2026/11/22,15/QĐ-UBND' names 000.00.00.G22, not the "
        "sender 000.00.00.H41"
    ]
    assert edxml.refusals(package(to=())) == ["the package names no recipient (To)"]
    assert edxml.refusals(package(business=edxml.Business(3))) == [
        "a replacing document (business type 3) names no DocumentId it replaces "
        "(ReplacementInfoList)"
    ]
    assert edxml.refusals(status("02", description="")) == [
        "status 02 needs a reason (Description)"
    ]
    assert edxml.refusals(status("13")) == [
        "status 13 (revocation) comes from H37.02.02, but 000.00.00.H41,2026/11/22,15/QĐ-UBND "
        "was issued by 000.00.00.H41: only the issuer revokes"
    ]
    assert edxml.valid_agency_code("000.00.18.G12") and edxml.valid_agency_code("G06.01")
    assert not edxml.valid_agency_code("X1.02") and not edxml.valid_agency_code("000.00.H41")


def test_entity_bomb_is_refused_at_the_doctype_without_expanding() -> None:
    entities = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 12))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}]><r>&l11;</r>'
    ).encode()  # 10^11 "lol"s if expanded
    tracemalloc.start()
    try:
        with pytest.raises(edxml.PackageRefused, match="forbidden XML"):
            edxml.screen(bomb, 1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # nothing was expanded
    with pytest.raises(edxml.PackageTooLarge):
        edxml.screen(b"<a>" + b"x" * 2048 + b"</a>", 1024)
    with pytest.raises(edxml.PackageRefused, match="malformed"):
        edxml.screen(b"<a><b></a>", 1024)


def test_signature_profile_refuses_wrapping_and_foreign_keys(key: Any) -> None:
    agency, leader = key
    data = signed(edxml.build(package()), agency)
    trusted = [xmldsig.to_cryptography(agency.cert)]
    with pytest.raises(xmldsig.XmlSignatureError, match="registered"):
        xmldsig.verify(data, [xmldsig.to_cryptography(leader.cert)])
    with pytest.raises(xmldsig.XmlSignatureError, match="no certificate"):
        xmldsig.verify(data, [])
    # a second, unsigned copy of the header slipped in next to the signed one
    root = etree.fromstring(data)
    env = root.find(f"{{{edxml.NS}}}edXMLEnvelope")
    fake = edxml.build(package(subject="Giả mạo"))
    env.addprevious(copy.deepcopy(fake.find(f"{{{edxml.NS}}}edXMLEnvelope")))
    with pytest.raises(xmldsig.XmlSignatureError):
        xmldsig.verify(edxml.serialize(root), trusted)
    # two signatures
    twice = etree.fromstring(data)
    twice.append(etree.fromstring(etree.tostring(twice.find(f".//{{{xmldsig.DS}}}Signature"))))
    with pytest.raises(xmldsig.XmlSignatureError, match="more than one"):
        xmldsig.verify(edxml.serialize(twice), trusted)
