"""Inter-agency exchange between two real instances on loopback: agency A (Hà Giang) and
agency B (Tuyên Quang), each `edms serve` with its own database, object store, development
PKI (its own root, TSA and OCSP responder) and keys; each trusts the other's root and lists
the other in its exchange directory (loopback endpoints allowed explicitly:
EDMS_EXCHANGE_PRIVATE_ENDPOINTS). A pins B's certificate by the fingerprint B states."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from lxml import etree

from edms.exchange import edxml
from signing import devservices, xmldsig
from signing.devpki import DEV_PASSWORD, DevAgency
from signing.keys import load_pkcs12
from tests.support.live import Processes, base_env, edms, free_port, wait_for
from tests.test_api_http import Browser

B_AGENCY = DevAgency("000.00.00.H60", "Ủy ban nhân dân tỉnh Tuyên Quang", "UBND", "Tuyên Quang")
C_AGENCY = DevAgency("000.00.00.H25", "Ủy ban nhân dân tỉnh Cao Bằng", "UBND", "Cao Bằng")
A_CODE = "000.00.00.H41"


@dataclass
class Site:
    base: str
    env: dict[str, str]
    pki: Any
    entry: dict[str, Any]


@dataclass
class Pair:
    a: Site
    b: Site
    procs: Processes
    tmp: Path


def _env(tmp: Path, name: str, pki: Any, other_root: Path, port: int) -> dict[str, str]:
    return base_env(
        tmp / f"data-{name}",
        pki.directory,
        EDMS_TRUST_OFFICIAL=str(other_root),
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EDMS_EXCHANGE_POLL_SECONDS="0.2",
        EDMS_EXCHANGE_RETRY_BASE_SECONDS="0.2",
        EDMS_EXCHANGE_RETRY_MAX_SECONDS="0.5",
        EDMS_EXCHANGE_MAX_ATTEMPTS="1000",
        EDMS_EXCHANGE_MAX_MB="8",
        EDMS_EXCHANGE_PRIVATE_ENDPOINTS="true",
        # a lease left by a process stopped mid-attempt lapses within 40 s
        EDMS_EXCHANGE_TIMEOUT="5",
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("exchange")
    pki_a, resp_a = devservices.start_fresh(tmp / "pki-a")
    pki_b, resp_b = devservices.start_fresh(tmp / "pki-b", B_AGENCY)
    port_a, port_b = free_port(), free_port()
    env_a = _env(tmp, "a", pki_a, pki_b.root_cert, port_a)
    env_b = _env(tmp, "b", pki_b, pki_a.root_cert, port_b)
    entries = {}
    for name, env in (("a", env_a), ("b", env_b)):
        edms(env, "init")
        entries[name] = json.loads(edms(env, "exchange", "self"))
    for env, other in ((env_a, "b"), (env_b, "a")):
        f = tmp / f"entry-{other}.json"
        f.write_text(json.dumps(entries[other]), encoding="utf-8")
        # A confirmed B's fingerprint with B (out of band) and pins it
        pin = ["--pin", entries["b"]["fingerprints"][0]] if other == "b" else []
        out = edms(env, "exchange", "import", "--as", "quantri", *pin, str(f))
        assert entries[other]["code"] in out and "certificate SHA-256" in out
    edms(
        env_a,
        "exchange",
        "profile",
        "--as",
        "quantri",
        "--website",
        "hagiang.gov.vn",
        "--email",
        "vanthu@hagiang.gov.vn",
    )
    procs = Processes(tmp)
    try:
        a = Site(procs.serve(env_a, workers=1, port=port_a, name="a"), env_a, pki_a, entries["a"])
        b = Site(procs.serve(env_b, workers=1, port=port_b, name="b"), env_b, pki_b, entries["b"])
        yield Pair(a, b, procs, tmp)
    finally:
        procs.stop()
        resp_a.stop()
        resp_b.stop()


def issue_to_b(site: Site, subject: str, secrecy: int = 0) -> int:
    officer, leader, clerk = (Browser(site.base, u) for u in ("chuyenvien", "chutich", "vanthu"))
    r = officer.post(
        "/api/v1/documents/from-template",
        json={
            "type": "cong-van",
            "subject": subject,
            "drafting_unit": "VX",
            "secrecy": secrecy,
            "body": [
                "Kính gửi: Ủy ban nhân dân tỉnh Tuyên Quang.",
                "Đề nghị phối hợp triển khai liên thông văn bản điện tử.",
            ],
            "recipients": [{"name": B_AGENCY.name, "organ_id": B_AGENCY.code}],
        },
    )
    assert r.status_code == 201, r.text
    doc_id: int = r.json()["id"]
    officer.step(doc_id, "submit")
    leader.step(doc_id, "approve")
    leader.step(doc_id, "sign")
    clerk.step(doc_id, "number")
    clerk.step(doc_id, "seal")
    clerk.step(doc_id, "register", holder="Văn phòng")
    assert clerk.step(doc_id, "issue")["state"] == "issued"
    return doc_id


def exchange_of(browser: Browser, doc_id: int) -> dict[str, Any]:
    r = browser.get(f"/api/v1/documents/{doc_id}/exchange")
    assert r.status_code == 200, r.text
    agencies = {a["agency"]: a for a in r.json()["agencies"]}
    return agencies.get(B_AGENCY.code, {})


def incoming(browser: Browser) -> list[dict[str, Any]]:
    r = browser.get("/api/v1/documents", params={"direction": "incoming", "per_page": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def codes(entry: dict[str, Any]) -> list[str]:
    return [s["code"] for s in entry.get("statuses", [])]


def test_dispatch_statuses_and_receipt(pair: Pair) -> None:
    a, b = pair.a, pair.b
    doc_id = issue_to_b(a, "Về việc phối hợp liên thông văn bản")
    clerk_a, clerk_b = Browser(a.base, "vanthu"), Browser(b.base, "vanthu")
    wait_for("A sees 01 from B", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01"])
    sent = exchange_of(clerk_a, doc_id)
    assert sent["dispatch"]["state"] == "delivered" and sent["dispatch"]["receipt"]

    # B received it once, verified, with the full report of its signatures
    (doc_b,) = [d for d in incoming(clerk_b) if d["subject"].startswith("Về việc phối hợp")]
    assert doc_b["state"] == "verified" and doc_b["organ_id"] == A_CODE
    check = clerk_b.get(f"/api/v1/documents/{doc_b['id']}/verification").json()
    assert check["valid"] and len(check["report"]["signatures"]) == 2

    # A holds B's signed receipt for exactly the package it sent, and can verify it
    receipt = clerk_a.get(f"/api/v1/documents/{doc_id}/exchange/{B_AGENCY.code}/receipt")
    package = clerk_a.get(f"/api/v1/documents/{doc_id}/exchange/{B_AGENCY.code}/package")
    assert receipt.status_code == 200 and package.status_code == 200
    b_cert = x509.load_pem_x509_certificate(b.entry["certificates"][0].encode())
    verified = xmldsig.verify(receipt.content, [b_cert])
    facts = edxml.read_receipt(verified.signed)
    assert facts.package_sha256 == hashlib.sha256(package.content).hexdigest()
    assert (facts.receiver, facts.sender, facts.result) == (B_AGENCY.code, A_CODE, "accepted")
    # the package as VNPT's software reads it: references by ContentId, the signer's
    # competence, the agency's public website (never the server's address)
    xml = etree.fromstring(package.content)
    ns = {"e": edxml.NS}
    refs = xml.xpath("//e:edXMLManifest/e:Reference/e:ContentId/text()", namespaces=ns)
    atts = xml.xpath("/e:edXML/e:AttachmentEncoded/e:Attachment/e:ContentId/text()", namespaces=ns)
    assert refs and refs == atts and all(r.startswith("cid:") for r in refs)
    mh = "/e:edXML/e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader"
    assert xml.xpath(f"{mh}/e:SignerInfo/e:Competence/text()", namespaces=ns) == [
        "TM. ỦY BAN NHÂN DÂN"
    ]
    assert xml.xpath(f"{mh}/e:From/e:Website/text()", namespaces=ns) == ["hagiang.gov.vn"]
    assert "127.0.0.1" not in package.content.decode()
    a_cert = x509.load_pem_x509_certificate(a.entry["certificates"][0].encode())
    with pytest.raises(xmldsig.XmlSignatureError):  # not A's signature
        xmldsig.verify(receipt.content, [a_cert])

    # B's clerk works on it; A sees 03, 04, 05, 06 in order
    clerk_b.step(doc_b["id"], "register")
    clerk_b.step(doc_b["id"], "assign", lead_unit="VX", instruction="Phòng VH-XH xử lý")
    Browser(b.base, "chuyenvien").step(doc_b["id"], "progress")
    Browser(b.base, "chuyenvien").step(doc_b["id"], "complete", note="Đã triển khai")
    wait_for(
        "A sees 01, 03, 04, 05, 06",
        lambda: codes(exchange_of(clerk_a, doc_id)) == ["01", "03", "04", "05", "06"],
    )
    latest = exchange_of(clerk_a, doc_id)["latest"]
    assert latest["code"] == "06" and latest["description"] == "Đã triển khai"


def _signed_package(
    pki: Any,
    organ: edxml.Organ,
    key_label: str,
    document_key: str,
    pdf: bytes,
    to: str = B_AGENCY.code,
    more: tuple[edxml.Attachment, ...] = (),
) -> bytes:
    m = edxml.check_document_key(document_key)
    package = edxml.DocumentPackage(
        sender=organ,
        to=(edxml.Organ(to, B_AGENCY.name),),
        code_number=m["number"],
        code_notation=m["symbol"],
        place="Hà Giang",
        promulgation_date=date.today(),
        type_name="Công văn",
        subject="Kiểm thử liên thông",
        signer_competence="TM. ỦY BAN NHÂN DÂN",
        signer_position="Chủ tịch",
        signer_name="Nguyễn Văn Thành",
        document_key=document_key,
        traces=(edxml.TraceHeader(organ.organ_id, datetime.now(UTC)),),
        attachments=(edxml.Attachment("1@test", "cv.pdf", "application/pdf", pdf), *more),
    )
    root = edxml.build(package)
    key = load_pkcs12(pki.p12(key_label), DEV_PASSWORD)
    xmldsig.sign(root, key, parent=edxml.header_of(root))
    return edxml.serialize(root)


def post(site: Site, data: bytes, content_type: str = "application/xml") -> requests.Response:
    return requests.post(
        site.base + "/api/v1/exchange/inbox",
        data=data,
        timeout=120,
        headers={"Content-Type": content_type},
    )


def _issued_pdf(site: Site) -> bytes:
    """A PDF A issued (signed by its leader and sealed); one is issued if none is yet."""
    clerk = Browser(site.base, "vanthu")

    def issued() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = clerk.get(
            "/api/v1/documents", params={"direction": "outgoing", "state": "issued"}
        ).json()["items"]
        return items

    docs = issued()
    if not docs:
        issue_to_b(site, "Văn bản để lấy tệp đã ký")
        docs = issued()
    return bytes(clerk.get(f"/api/v1/documents/{docs[0]['id']}/content").content)


def test_tampered_pdf_is_returned_with_02_and_nothing_is_kept(pair: Pair) -> None:
    a, b = pair.a, pair.b
    clerk_b = Browser(b.base, "vanthu")
    pdf = bytearray(_issued_pdf(a))
    pos = pdf.index(b"/Contents <") - 300
    pdf[pos] ^= 0x01  # one byte changed
    organ = edxml.Organ(A_CODE, "Ủy ban nhân dân tỉnh Hà Giang")
    # (counted by number: A's own dispatches may arrive meanwhile)
    data = _signed_package(a.pki, organ, "agency", f"{A_CODE},2026/11/22,901/UBND-VX", bytes(pdf))
    r = post(b, data)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert body["statusCode"] == "02" and "cv.pdf" in body["detail"]
    # in transit: a byte of the attachment changes after A signed the package
    good = _signed_package(
        a.pki, organ, "agency", f"{A_CODE},2026/11/22,902/UBND-VX", _issued_pdf(a)
    )
    start = good.index(b"<edXML:ContentTransferEncoded>") + 400
    flipped = good[:start] + (b"B" if good[start : start + 1] != b"B" else b"C") + good[start + 1 :]
    r = post(b, flipped)
    assert r.status_code == 403 and "signature" in r.json()["detail"]
    assert not [d for d in incoming(clerk_b) if d["code_number"] in ("901", "902")]


def test_same_package_twice_gives_one_document_and_the_same_receipt(pair: Pair) -> None:
    a, b = pair.a, pair.b
    clerk_b = Browser(b.base, "vanthu")
    organ = edxml.Organ(A_CODE, "Ủy ban nhân dân tỉnh Hà Giang")
    data = _signed_package(
        a.pki, organ, "agency", f"{A_CODE},2026/11/22,903/UBND-VX", _issued_pdf(a)
    )

    first, second = post(b, data), post(b, data)
    assert first.status_code == 200 and second.status_code == 200, second.text
    assert first.headers["X-Exchange-Duplicate"] == "false"
    assert second.headers["X-Exchange-Duplicate"] == "true"
    assert first.content == second.content
    assert len([d for d in incoming(clerk_b) if d["code_number"] == "903"]) == 1


def test_retries_while_b_is_down_then_arrives_once(pair: Pair) -> None:
    """B is down: A retries. Then A itself restarts while its dispatch is pending; when B
    is back, the restarted A delivers it, once."""
    a, b = pair.a, pair.b
    pair.procs.stop_serving(b.base)
    subject = "Về việc gửi lại khi bên nhận tạm ngừng"
    doc_id = issue_to_b(a, subject)
    clerk_a = Browser(a.base, "vanthu")
    retrying = wait_for(
        "A retries",
        lambda: (
            lambda d: (
                d.get("dispatch")
                and d["dispatch"]["attempts"] >= 3
                and d["dispatch"]["state"] == "pending"
                and d
            )
        )(exchange_of(clerk_a, doc_id)),
    )
    assert "cannot be reached" in retrying["dispatch"]["lastError"]  # type: ignore[index]
    pair.procs.stop_serving(a.base)  # the sender restarts with its dispatch pending
    port = int(b.base.rsplit(":", 1)[1])
    pair.procs.serve(b.env, workers=1, port=port, name="b")
    clerk_b = Browser(b.base, "vanthu")
    assert not [d for d in incoming(clerk_b) if d["subject"] == subject]  # A is down
    pair.procs.serve(a.env, workers=1, port=int(a.base.rsplit(":", 1)[1]), name="a")
    wait_for(
        "delivered after B is back",
        lambda: exchange_of(clerk_a, doc_id).get("dispatch", {}).get("state") == "delivered",
    )
    wait_for("A sees 01", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01"])
    assert len([d for d in incoming(clerk_b) if d["subject"] == subject]) == 1


def test_secret_documents_are_never_sent(pair: Pair) -> None:
    doc_id = issue_to_b(pair.a, "Văn bản mật không gửi qua trục", secrecy=1)
    assert exchange_of(Browser(pair.a.base, "vanthu"), doc_id) == {}


def test_strangers_wrong_keys_and_xml_bombs_are_refused(pair: Pair, tmp_path: Path) -> None:
    a, b = pair.a, pair.b
    clerk_b = Browser(b.base, "vanthu")

    pdf = _issued_pdf(a)
    pki_c = devservices.start_fresh(tmp_path / "pki-c", C_AGENCY)
    try:
        pki, responder = pki_c
        # C is not in B's directory
        c = edxml.Organ(C_AGENCY.code, C_AGENCY.name)
        r = post(b, _signed_package(pki, c, "agency", f"{C_AGENCY.code},2026/11/22,1/UBND", pdf))
        assert (
            r.status_code == 403
            and f"not in the exchange directory of {B_AGENCY.code}" in r.json()["detail"]
        )
        # C claims to be A, signing with its own key
        organ_a = edxml.Organ(A_CODE, "Ủy ban nhân dân tỉnh Hà Giang")
        r = post(b, _signed_package(pki, organ_a, "agency", f"{A_CODE},2026/11/22,2/UBND", pdf))
        assert r.status_code == 403 and "registered certificate" in r.json()["detail"]
        # A's own leader key is not registered for packages either
        r = post(b, _signed_package(a.pki, organ_a, "leader1", f"{A_CODE},2026/11/22,3/UBND", pdf))
        assert r.status_code == 403
    finally:
        responder.stop()
    # a file that is not a signed PDF travels along: refused whole, not silently dropped
    word = edxml.Attachment("2@test", "du-thao.docx", "application/msword", b"PK\x03\x04")
    r = post(
        b,
        _signed_package(
            a.pki,
            edxml.Organ(A_CODE, "UBND"),
            "agency",
            f"{A_CODE},2026/11/22,5/UBND",
            pdf,
            more=(word,),
        ),
    )
    assert r.status_code == 422 and "du-thao.docx" in r.json()["detail"]
    # unsigned
    root = etree.fromstring(
        _signed_package(
            a.pki, edxml.Organ(A_CODE, "UBND"), "agency", f"{A_CODE},2026/11/22,4/UBND", pdf
        )
    )
    for sig in root.findall(f".//{{{xmldsig.DS}}}Signature"):
        sig.getparent().remove(sig)
    r = post(b, edxml.serialize(root))
    assert r.status_code == 403 and "not signed" in r.json()["detail"]
    # billion laughs, external entity, oversized, not XML, wrong media type
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + ']><edXML:edXML xmlns:edXML="'
        + edxml.NS
        + '">&lol9;</edXML:edXML>'
    ).encode()
    r = post(b, bomb)
    assert r.status_code == 422 and "forbidden XML" in r.json()["detail"]
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<edXML:edXML xmlns:edXML="' + edxml.NS + '">&e;</edXML:edXML>'
    ).encode()
    r = post(b, xxe)
    assert r.status_code == 422 and "root:" not in r.text
    big = b"<a>" + base64.b64encode(bytes(9 * 1024 * 1024)) + b"</a>"
    r = post(b, big)
    assert r.status_code == 413
    assert post(b, b"%PDF-1.7 not xml").status_code == 422
    assert post(b, b"<a/>", content_type="application/pdf").status_code == 400
    assert not [d for d in incoming(clerk_b) if d["code_notation"] == "UBND"]
    assert requests.get(b.base + "/healthz", timeout=10).status_code == 200


def test_revocation_is_asked_13_and_answered_15(pair: Pair) -> None:
    a, b = pair.a, pair.b
    subject = "Về việc sẽ được thu hồi"
    doc_id = issue_to_b(a, subject)
    clerk_a, clerk_b = Browser(a.base, "vanthu"), Browser(b.base, "vanthu")
    wait_for("A sees 01", lambda: codes(exchange_of(clerk_a, doc_id)) == ["01"])
    (doc_b,) = [d for d in incoming(clerk_b) if d["subject"] == subject]
    # nothing to answer before the sender asks
    r = clerk_b.post(f"/api/v1/documents/{doc_b['id']}/exchange/revocation", json={"accept": True})
    assert r.status_code == 409, r.text
    clerk_a.step(doc_id, "revoke", reason="Ban hành nhầm đối tượng")

    def asked() -> bool:
        history = clerk_b.get(f"/api/v1/documents/{doc_b['id']}").json()["history"]
        return any(h.get("code") == "13" for h in history)

    wait_for("B receives 13", asked)
    r = clerk_b.post(
        f"/api/v1/documents/{doc_b['id']}/exchange/revocation",
        json={"accept": True, "reason": "Đã hủy bản nhận"},
    )
    assert r.status_code == 200 and r.json()["frozen"], r.text
    wait_for("A sees 15", lambda: codes(exchange_of(clerk_a, doc_id))[-1:] == ["15"])
    again = clerk_b.post(
        f"/api/v1/documents/{doc_b['id']}/exchange/revocation",
        json={"accept": False, "reason": "đổi ý"},
    )
    assert again.status_code == 409
