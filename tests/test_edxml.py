"""edXML packages: what the builder writes (namespace, prefixes, order), what the parser
reads back, what it refuses, and the XML signature's strict profile."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime
from typing import Any

import pytest
from lxml import etree

from edms.exchange import edxml
from signing import devpki, xmldsig
from signing.keys import load_pkcs12

A = edxml.Organ("000.00.00.H41", "Ủy ban nhân dân tỉnh Hà Giang", "Hà Giang")
B = edxml.Organ("H37.02.02", "Sở Nội vụ tỉnh Hà Giang")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def package(**kw: Any) -> edxml.DocumentPackage:
    base: dict[str, Any] = dict(
        sender=A, to=(B,), code_number="15", code_notation="QĐ-UBND", place="Hà Giang",
        promulgation_date=date(2026, 11, 22), type_code=2, type_name="Quyết định",
        subject="Về việc ban hành Quy chế làm việc", signer_competence="TM. UBND",
        signer_position="Chủ tịch", signer_name="Nguyễn Văn Thành",
        document_key="000.00.00.H41,2026/11/22,15/QĐ-UBND", due_date=date(2026, 12, 1),
        priority=2, page_amount=3, to_places=("Sở Nội vụ", "Lưu: VT"),
        attachments=(edxml.Attachment("1@h41", "qd.pdf", "application/pdf", PDF),
                     edxml.Attachment("2@h41", "phu-luc.pdf", "application/pdf", PDF,
                                      "Phụ lục")),
        sent_at=datetime(2026, 11, 22, 2, 30, 15, tzinfo=UTC))
    base.update(kw)
    return edxml.DocumentPackage(**base)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pki = devpki.generate(tmp_path_factory.mktemp("pki") / "p")
    return load_pkcs12(pki.p12("agency"), devpki.DEV_PASSWORD), \
        load_pkcs12(pki.p12("leader1"), devpki.DEV_PASSWORD)


def signed(root: etree._Element, key: Any) -> bytes:
    xmldsig.sign(root, key, parent=edxml.header_of(root))
    return edxml.serialize(root)


def test_document_round_trip_with_layout_of_qcvn_102(key: Any) -> None:
    agency, _ = key
    p = package(business_type=3, replaces_key="000.00.00.H41,2026/10/01,9/QĐ-UBND")
    data = signed(edxml.build_document(p), agency)
    root = etree.fromstring(data)
    # every element in the QCVN namespace carries the edXML prefix
    assert {el.prefix for el in root.iter() if etree.QName(el).namespace == edxml.NS} == \
        {"edXML"}
    header = [etree.QName(el).localname for el in edxml.header_of(root)]
    assert header == ["MessageHeader", "TraceHeaderList", "Signature"]
    mh = [etree.QName(el).localname for el in root.find(
        f".//{{{edxml.NS}}}MessageHeader")]
    assert mh == ["From", "To", "Code", "PromulgationInfo", "DocumentType", "Subject",
                  "Content", "SignerInfo", "DueDate", "ToPlaces", "OtherInfo",
                  "SteeringType", "DocumentId"]
    assert [etree.QName(el).localname for el in root] == ["edXMLEnvelope",
                                                          "AttachmentEncoded"]
    verified = xmldsig.verify(data, [xmldsig.to_cryptography(agency.cert)])
    back = edxml.parse_document(verified.signed)
    assert back == p
    assert edxml.sender_of(root) == A.organ_id


@pytest.mark.parametrize("code", sorted(edxml.STATUS_CODES))
def test_status_round_trip(key: Any, code: str) -> None:
    agency, _ = key
    p = edxml.StatusPacket(sender=B, response_for_organ=A.organ_id,
                           response_for_code="15/QĐ-UBND",
                           response_for_date=date(2026, 11, 22),
                           document_key="000.00.00.H41,2026/11/22,15/QĐ-UBND",
                           status_code=code, description="Lý do: sai địa chỉ nhận",
                           staff="Hoàng Thị Mai", department="Văn phòng",
                           at=datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC))
    data = edxml.serialize(edxml.build_status(p))
    root = etree.fromstring(data)
    xmldsig.sign(root, agency, parent=edxml.header_of(root))
    data = edxml.serialize(root)
    verified = xmldsig.verify(data, [xmldsig.to_cryptography(agency.cert)])
    assert edxml.kind_of(verified.signed) == "status"
    assert edxml.parse_status(verified.signed) == p


def _refused(root: etree._Element, match: str) -> None:
    with pytest.raises(edxml.PackageRefused, match=match):
        edxml.parse_document(root)


def test_parser_refusals() -> None:
    _refused(edxml.build_document(package(document_key="H41,22/11/2026,15/QĐ")),
             "DocumentId")
    _refused(edxml.build_document(package(
        document_key="000.00.00.G22,2026/11/22,15/QĐ-UBND")), "another agency")
    _refused(edxml.build_document(package(to=())), "no recipient")
    _refused(edxml.build_document(package(business_type=3)), "replaces")
    _refused(edxml.build_document(package(attachments=())), "no PDF")
    root = edxml.build_document(package())
    root.find(f".//{{{edxml.NS}}}ContentTransferEncoded").text = "!!not base64!!"
    _refused(root, "base64")
    root = edxml.build_document(package())
    ref = root.find(f".//{{{edxml.NS}}}Reference")
    ref.set("href", "cid:other")
    _refused(root, "manifest")
    root = edxml.build_document(package())
    root.find(f".//{{{edxml.NS}}}BussinessDocType").text = "7"
    _refused(root, "out of range")
    with pytest.raises(edxml.PackageRefused, match="reason"):
        edxml.parse_status(edxml.build_status(edxml.StatusPacket(
            sender=B, response_for_organ=A.organ_id, response_for_code="15/QĐ-UBND",
            response_for_date=date(2026, 11, 22),
            document_key="000.00.00.H41,2026/11/22,15/QĐ-UBND", status_code="02")))
    assert edxml.valid_agency_code("000.00.18.G12") and edxml.valid_agency_code("G06.01")
    assert not edxml.valid_agency_code("X1.02") and not edxml.valid_agency_code("000.00.H41")


def test_entity_bomb_is_refused_at_the_doctype_without_expanding(key: Any) -> None:
    entities = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">'
                       for i in range(1, 12))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}]>'
            f'<r>&l11;</r>').encode()  # 10^11 "lol"s if expanded
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
    data = signed(edxml.build_document(package()), agency)
    trusted = [xmldsig.to_cryptography(agency.cert)]
    with pytest.raises(xmldsig.XmlSignatureError, match="registered"):
        xmldsig.verify(data, [xmldsig.to_cryptography(leader.cert)])
    with pytest.raises(xmldsig.XmlSignatureError, match="no certificate"):
        xmldsig.verify(data, [])
    # a second, unsigned copy of the header slipped in next to the signed one
    root = etree.fromstring(data)
    env = root.find(f"{{{edxml.NS}}}edXMLEnvelope")
    fake = etree.fromstring(edxml.serialize(edxml.build_document(package(
        subject="Giả mạo"))))
    env.addprevious(fake.find(f"{{{edxml.NS}}}edXMLEnvelope"))
    with pytest.raises(xmldsig.XmlSignatureError):
        xmldsig.verify(edxml.serialize(root), trusted)
    # two signatures
    twice = etree.fromstring(data)
    twice.append(etree.fromstring(etree.tostring(twice.find(f".//{{{xmldsig.DS}}}Signature"))))
    with pytest.raises(xmldsig.XmlSignatureError, match="more than one"):
        xmldsig.verify(edxml.serialize(twice), trusted)
