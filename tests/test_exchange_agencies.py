"""Each agency's own exchange directory, on one system hosting two agencies — A, the
development agency (Hà Giang, 000.00.00.H41), and B, the Government Office (000.00.00.G22) —
through the real API, CLI and web pages: one agency's administrators cannot add, change or
see the other's partners; a sender listed only in B's directory cannot deliver to A; partner
endpoints are public HTTPS; certificates are pinned; changes are audited. Then the tools for
interoperability: `edms exchange export`, `export-status` and `inspect`, and the inspection
pages of the web admin."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from api import create_app
from edms import db, devseed, orgs
from edms import documents as docs
from edms.auth import create_token, hash_password
from edms.cli import main as cli
from edms.config import Settings
from edms.errors import EdmsError
from edms.exchange import directory, edxml, outbox
from edms.exchange.transport import Delivery, DirectHttps
from edms.models import AuditEvent, DirectoryEntry, Document, ExchangeMessage
from edms.signatures import SignerRef
from edms.system import System
from signing import xmldsig
from signing.keys import load_pkcs12
from tests.support.agency import BODY, draft_meta, sign, snapshot
from tests.support.pdfs import plain_pdf

A, B = "000.00.00.H41", "000.00.00.G22"
MOF = "000.00.00.G12"  # Bộ Tài chính
CORPUS = Path("/work/shared/corpus/edxml")
NS = {"e": edxml.NS}


@dataclass
class World:
    system: System
    client: FlaskClient
    env: dict[str, str]
    tokens: dict[str, str]
    tmp: Path
    seal_pem: str  # both agencies' seal certificate (the development PKI's)
    seal_fp: str


def _self_signed(tmp: Path, name: str) -> tuple[Any, str]:
    """A key and self-signed certificate anyone can make: the forger's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp / "fake.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"fake", key, cert, None, BestAvailableEncryption(b"pw")
        )
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return load_pkcs12(path, b"pw"), cert.public_bytes(Encoding.PEM).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("agencies")
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_PUBLIC_URL": "https://edms.hagiang.gov.vn",
        "EDMS_EXCHANGE_PUMP": "false",
        "EDMS_EXCHANGE_MAX_ATTEMPTS": "1",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    orgs.create_agency(system, B, "Văn phòng Chính phủ", "VPCP", "Hà Nội")
    orgs.create_unit(system, B, "VT", "Phòng Văn thư", "VT")
    hashed = hash_password(devseed.DEV_USER_PASSWORD)
    for name, role in (("qt.g22", "admin"), ("vt.g22", "clerk"), ("cv.g22", "officer")):
        orgs.create_user(
            system, B, name, f"Người dùng {role}", role, unit_code="VT", password_hash=hashed
        )
    orgs.bind_key(system, SignerRef(label="agency"), agency_code=B)
    tokens = {}
    for name in ("quantri", "vanthu", "qt.g22", "vt.g22"):
        scopes = ["read", "write"] + (["admin"] if name.startswith(("quantri", "qt.")) else [])
        tokens[name] = create_token(system, name, "exchange", scopes).token
    seal = directory.own_entry(system, A)
    yield World(
        system,
        create_app(system).test_client(),
        env,
        tokens,
        tmp,
        seal["certificates"][0],
        seal["fingerprints"][0],
    )
    system.close()


def call(w: World, user: str, method: str, path: str, **kw: Any) -> Any:
    return w.client.open(
        path, method=method, headers={"Authorization": f"Bearer {w.tokens[user]}"}, **kw
    )


def entry(
    code: str, name: str, pem: str, endpoint: str = "https://edms.example.gov.vn", **kw: Any
) -> dict[str, Any]:
    return {"code": code, "name": name, "endpoint": endpoint, "certificates": [pem], **kw}


def listed(w: World, user: str) -> dict[str, dict[str, Any]]:
    r = call(w, user, "GET", "/api/v1/exchange/directory")
    assert r.status_code == 200, r.get_data(as_text=True)
    return {e["code"]: e for e in r.get_json()["entries"]}


def cli_run(w: World, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=w.env, catch_exceptions=False)


# -- the directory belongs to one agency ---------------------------------------------------------


def test_each_agency_sees_and_changes_only_its_own_directory(world: World) -> None:
    w = world
    tq = entry(
        "000.00.00.H60",
        "Ủy ban nhân dân tỉnh Tuyên Quang",
        w.seal_pem,
        "https://edms.tuyenquang.gov.vn",
    )
    r = call(w, "quantri", "POST", "/api/v1/exchange/directory", json={"entries": [tq]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["entries"][0]["fingerprints"] == [w.seal_fp]
    assert "000.00.00.H60" in listed(w, "quantri") and "000.00.00.H60" in listed(w, "vanthu")
    # B's users do not see A's directory
    assert "000.00.00.H60" not in listed(w, "qt.g22")
    assert "000.00.00.H60" not in listed(w, "vt.g22")
    # B's admin cannot write into A's directory, nor redirect A's partner
    before = snapshot(w.system)
    redirect = dict(tq, endpoint="http://169.254.169.254/latest/meta-data")
    r = call(
        w,
        "qt.g22",
        "POST",
        "/api/v1/exchange/directory",
        json={"agency": A, "entries": [dict(tq, endpoint="https://evil.example.com")]},
    )
    assert r.status_code == 403 and "each agency keeps its own" in r.get_json()["detail"]
    r = call(w, "qt.g22", "POST", "/api/v1/exchange/directory", json={"entries": [redirect]})
    assert r.status_code == 400 and "loopback, link-local or private" in r.get_json()["detail"]
    r = call(w, "vt.g22", "POST", "/api/v1/exchange/directory", json={"entries": [tq]})
    assert r.status_code == 403
    assert snapshot(w.system) == before  # nothing written, not even an audit event
    # what B's admin writes lands in B's directory only
    fake = dict(tq, endpoint="https://tq.example.com", name="Tuyên Quang (của B)")
    r = call(w, "qt.g22", "POST", "/api/v1/exchange/directory", json={"entries": [fake]})
    assert r.status_code == 200
    assert listed(w, "quantri")["000.00.00.H60"]["endpoint"] == "https://edms.tuyenquang.gov.vn"
    assert listed(w, "qt.g22")["000.00.00.H60"]["endpoint"] == "https://tq.example.com"
    # every change audited: who, before and after, the certificate's fingerprint
    changed = dict(tq, endpoint="https://lienthong.tuyenquang.gov.vn")
    assert (
        call(
            w, "quantri", "POST", "/api/v1/exchange/directory", json={"entries": [changed]}
        ).status_code
        == 200
    )
    with w.system.sessions() as s:
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "exchange.directory",
                    AuditEvent.object_id == f"{A}/000.00.00.H60",
                )
                .order_by(AuditEvent.seq)
            )
        )
    assert [e.actor for e in events] == ["quantri", "quantri"]
    first, second = (json.loads(e.details) for e in events)
    assert first["before"] is None and first["certificate_sha256"] == [w.seal_fp]
    assert second["before"]["endpoint"] == "https://edms.tuyenquang.gov.vn"
    assert second["after"]["endpoint"] == "https://lienthong.tuyenquang.gov.vn"
    assert second["after"]["fingerprints"] == [w.seal_fp]


def test_pinned_fingerprints(world: World) -> None:
    w = world
    hcm = entry(
        "000.00.00.H29",
        "Ủy ban nhân dân Thành phố Hồ Chí Minh",
        w.seal_pem,
        "https://edms.hochiminhcity.gov.vn",
    )
    r = call(
        w,
        "quantri",
        "POST",
        "/api/v1/exchange/directory",
        json={"entries": [dict(hcm, pin="00" * 32)]},
    )
    assert r.status_code == 400
    assert directory.spaced(w.seal_fp) in r.get_json()["detail"]  # shown for the phone call
    assert "000.00.00.H29" not in listed(w, "quantri")
    spaced = directory.spaced(w.seal_fp)
    r = call(
        w,
        "quantri",
        "POST",
        "/api/v1/exchange/directory",
        json={"entries": [dict(hcm, pin=[spaced])]},
    )
    assert r.status_code == 200
    # the stored certificate no longer hashes to its pin: the entry is unusable
    with w.system.sessions() as s:
        row = directory.find(s, 1, "000.00.00.H29")
        assert row is not None
        row.fingerprints = json.dumps(["11" * 32])
        s.commit()
        with pytest.raises(EdmsError, match="do not match their pinned fingerprints"):
            directory.peer_of(row)
        row.fingerprints = json.dumps([w.seal_fp])
        s.commit()
    # the CLI shows the fingerprint, and refuses a wrong pin
    f = w.tmp / "hcm.json"
    f.write_text(json.dumps(hcm), encoding="utf-8")
    wrong = cli_run(w, "exchange", "import", "--as", "quantri", "--pin", "ab" * 32, str(f))
    assert wrong.exit_code != 0 and spaced in wrong.output
    ok = cli_run(w, "exchange", "import", "--as", "quantri", str(f))
    assert ok.exit_code == 0 and f"certificate SHA-256 {spaced}" in ok.output
    assert "Confirm each fingerprint" in ok.output


def _fake_package(key: Any, to: str, pdf: bytes, number: str) -> bytes:
    mof = edxml.Organ(MOF, "Bộ Tài chính", website="mof.gov.vn", in_charge="Chính phủ")
    p = edxml.DocumentPackage(
        sender=mof,
        to=(edxml.Organ(to, "cơ quan nhận"),),
        document_key=f"{MOF},{date.today():%Y/%m/%d},{number}/BTC-NSNN",
        code_number=number,
        code_notation="BTC-NSNN",
        place="Hà Nội",
        promulgation_date=date.today(),
        type_name="Công văn",
        subject="Về việc bổ sung dự toán ngân sách",
        signer_competence="KT. BỘ TRƯỞNG",
        signer_position="Thứ trưởng",
        signer_name="Nguyễn Văn A",
        traces=(edxml.TraceHeader(MOF, datetime.now(UTC)),),
        attachments=(edxml.Attachment("1@btc", "cv.pdf", "application/pdf", pdf),),
    )
    root = edxml.build(p)
    xmldsig.sign(root, key, parent=edxml.header_of(root))
    return edxml.serialize(root)


def test_a_sender_listed_only_in_b_directory_cannot_deliver_to_a(world: World) -> None:
    w = world
    key, pem = _self_signed(w.tmp, "Bộ Tài chính")
    r = call(
        w,
        "qt.g22",
        "POST",
        "/api/v1/exchange/directory",
        json={"entries": [entry(MOF, "Bộ Tài chính", pem, "https://edms.mof.gov.vn")]},
    )
    assert r.status_code == 200
    pdf = plain_pdf(w.tmp / "cv.pdf").read_bytes()
    before = snapshot(w.system)
    r = w.client.post(
        "/api/v1/exchange/inbox",
        data=_fake_package(key, A, pdf, "101"),
        content_type="application/xml",
    )
    assert r.status_code == 403, r.get_data(as_text=True)
    assert r.get_json()["detail"] == (
        f"agency {MOF} is not in the exchange directory of {A}: it cannot deliver here"
    )
    assert snapshot(w.system) == before  # nothing stored
    # the same sender, addressed to B, gets past B's directory and signature check (and is
    # then returned for its unsigned PDF): B's own business, not A's
    r = w.client.post(
        "/api/v1/exchange/inbox",
        data=_fake_package(key, B, pdf, "102"),
        content_type="application/xml",
    )
    assert r.status_code == 422 and r.get_json().get("statusCode") == "02", r.get_json()
    with w.system.sessions() as s:
        assert not s.scalars(select(Document).where(Document.code_number.in_(("101", "102")))).all()


# -- endpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:8443",
        "https://localhost",
        "https://2130706433",
        "https://0x7f.1",
        "https://[::1]",
        "https://[::ffff:127.0.0.1]",
        "https://10.1.2.3",
        "https://192.168.1.10",
        "https://edms.internal",
        "https://edms",
        "http://edms.mof.gov.vn",
        "https://user:pw@edms.mof.gov.vn",
    ],
)
def test_endpoints_in_production_are_public_https(tmp_path: Path, url: str) -> None:
    settings = Settings.from_env(
        {"EDMS_DATA_DIR": str(tmp_path), "EDMS_ENV": "production", "EDMS_SECRET_KEY": "x" * 40}
    )
    with pytest.raises(Exception, match="endpoint"):
        directory.check_endpoint(url, settings)
    assert (
        directory.check_endpoint("https://edms.mof.gov.vn/", settings) == "https://edms.mof.gov.vn"
    )


def test_production_directory_refuses_internal_endpoints(tmp_path: Path, dev_pki: Any) -> None:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_ENV": "production",
        "EDMS_SECRET_KEY": "x" * 40,
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
    }
    system = System(Settings.from_env(env))
    system.init()
    try:
        orgs.create_agency(system, A, "Ủy ban nhân dân tỉnh Hà Giang", "UBND", "Hà Giang")
        orgs.create_user(system, A, "quantri", "Quản trị", "admin")
        pem = (dev_pki.directory / "certs" / "agency.cert.pem").read_text()
        for url in ("https://169.254.169.254/", "https://127.0.0.1", "http://edms.mof.gov.vn"):
            with pytest.raises(Exception, match="endpoint"):
                directory.upsert(system, "quantri", [entry(MOF, "Bộ Tài chính", pem, url)])
        with system.sessions() as s:
            assert s.scalars(select(DirectoryEntry)).all() == []
        # a closed network says so explicitly
        allowed = System(Settings.from_env({**env, "EDMS_EXCHANGE_PRIVATE_ENDPOINTS": "true"}))
        try:
            directory.upsert(
                allowed, "quantri", [entry(MOF, "Bộ Tài chính", pem, "https://10.1.2.3")]
            )
        finally:
            allowed.close()
    finally:
        system.close()


def test_the_transport_checks_the_address_it_connects_to() -> None:
    class Handler(BaseHTTPRequestHandler):
        hits = 0

        def do_POST(self) -> None:
            Handler.hits += 1
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_a: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for host in ("127.0.0.1", "localhost"):  # a name that resolves inside, too
            peer = directory.Peer(MOF, "Bộ Tài chính", f"http://{host}:{server.server_port}", ())
            d = DirectHttps([], timeout=5).send(peer, b"<a/>")
            assert d.outcome == "retry" and "loopback, link-local or private" in d.reason
        assert Handler.hits == 0  # nothing reached it
        assert (
            DirectHttps([], timeout=5, allow_private=True).send(peer, b"<a/>").outcome == "accepted"
        )
    finally:
        server.shutdown()


# -- the agency's public identity -------------------------------------------------------------


def test_profile_website_is_public_and_goes_into_from(world: World) -> None:
    w = world
    for bad in (
        "http://127.0.0.1:8000",
        "https://edms.hagiang.gov.vn/",
        "intranet",
        "http://10.0.0.8/cong",
    ):
        r = call(w, "quantri", "PUT", "/api/v1/exchange/profile", json={"website": bad})
        assert r.status_code == 400, (bad, r.get_data(as_text=True))
    r = call(
        w,
        "quantri",
        "PUT",
        "/api/v1/exchange/profile",
        json={"website": "hagiang.gov.vn", "email": "vanthu@hagiang.gov.vn"},
    )
    assert r.status_code == 200 and r.get_json()["website"] == "hagiang.gov.vn"
    assert (
        call(
            w, "vanthu", "PUT", "/api/v1/exchange/profile", json={"website": "x.gov.vn"}
        ).status_code
        == 403
    )
    assert call(w, "qt.g22", "GET", "/api/v1/exchange/profile").get_json()["website"] == ""
    with w.system.sessions() as s:
        a = orgs.agency_by_code(s, A)
        organ = directory.organ_for(s, a)
    assert (organ.website, organ.email, organ.in_charge) == (
        "hagiang.gov.vn",
        "vanthu@hagiang.gov.vn",
        a.name,
    )


# -- the migration ------------------------------------------------------------------------------


def test_migration_gives_each_agency_a_copy_of_the_shared_directory(
    tmp_path: Path, dev_pki: Any
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade(engine, "0006")
    pem = (dev_pki.directory / "certs" / "agency.cert.pem").read_text()
    with engine.begin() as conn:
        for code in (A, B):
            conn.execute(
                sa.text(
                    "INSERT INTO agencies (code, name, abbreviation, place) "
                    "VALUES (:c, 'x', 'x', '')"
                ),
                {"c": code},
            )
        conn.execute(
            sa.text(
                "INSERT INTO exchange_directory (code, name, endpoint, certificates, active, "
                "updated_at) VALUES (:c, 'Bộ Tài chính', 'https://edms.mof.gov.vn', :p, 1, "
                "'2026-11-22 00:00:00.000000')"
            ),
            {"c": MOF, "p": json.dumps([pem])},
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT agency_id, code, fingerprints FROM exchange_directory ORDER BY agency_id"
            )
        ).all()
    fp = directory.fingerprint(x509.load_pem_x509_certificate(pem.encode()))
    assert [(r[0], r[1], json.loads(r[2])) for r in rows] == [(1, MOF, [fp]), (2, MOF, [fp])]
    db.downgrade(engine, "0006")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM exchange_directory")).scalar() == 1
    engine.dispose()


# -- the tools: export, export-status, inspect ---------------------------------------------------


def _issue_to_b(w: World, subject: str) -> int:
    meta = draft_meta(subject=subject, recipients=(docs.Recipient("Văn phòng Chính phủ", B),))
    doc = docs.create_from_template(w.system, "chuyenvien", meta, BODY)
    docs.submit(w.system, "chuyenvien", doc.id)
    docs.approve(w.system, "chutich", doc.id)
    sign(w.system, "chutich", doc.id)
    docs.number(w.system, "vanthu", doc.id)
    docs.seal(w.system, "vanthu", doc.id)
    docs.register_outgoing(w.system, "vanthu", doc.id)
    docs.issue(w.system, "vanthu", doc.id)
    return doc.id


@pytest.fixture(scope="module")
def partners(world: World) -> World:
    """A and B on the same system list each other (their seal certificates, pinned)."""
    w = world
    for admin, code, name in (
        ("quantri", B, "Văn phòng Chính phủ"),
        ("qt.g22", A, "Ủy ban nhân dân tỉnh Hà Giang"),
    ):
        r = call(
            w,
            admin,
            "POST",
            "/api/v1/exchange/directory",
            json={
                "entries": [
                    entry(code, name, w.seal_pem, "https://edms.example.gov.vn", pin=w.seal_fp)
                ]
            },
        )
        assert r.status_code == 200, r.get_data(as_text=True)
    return w


def test_export_inspect_and_deliver_a_document(partners: World) -> None:
    w = partners
    doc_id = _issue_to_b(w, "Về việc thử liên thông với phần mềm của trục quốc gia")
    out = w.tmp / "cv.edxml"
    r = cli_run(w, "exchange", "export", "--as", "vanthu", "--to", B, "-o", str(out), str(doc_id))
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    xml = etree.fromstring(data)
    mh = "/e:edXML/e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader"
    assert xml.xpath(f"{mh}/e:To/e:OrganId/text()", namespaces=NS) == [B]
    assert xml.xpath(f"{mh}/e:SignerInfo/e:Competence/text()", namespaces=NS) == [
        "TM. ỦY BAN NHÂN DÂN"
    ]
    refs = xml.xpath("//e:Reference/e:ContentId/text()", namespaces=NS)
    assert refs == xml.xpath("//e:Attachment/e:ContentId/text()", namespaces=NS) and refs
    # nothing was queued or stored by the export beyond the issue's own dispatch
    with w.system.sessions() as s:
        assert (
            len(
                s.scalars(
                    select(ExchangeMessage).where(ExchangeMessage.document_id == doc_id)
                ).all()
            )
            == 1
        )
    # what B's inbox would say
    r = cli_run(w, "exchange", "inspect", "--json", str(out))
    assert r.exit_code == 0, r.output
    facts = json.loads(r.output)
    assert facts["kind"] == "document" and facts["acceptable"], facts
    assert facts["signature"]["present"] and facts["signature"]["intact"]
    assert facts["signature"]["trusted"] is True
    assert facts["signature"]["certificate"]["sha256"] == w.seal_fp
    assert facts["header"]["addressees"] == B
    assert all(a["pdf"] and len(a["sha256"]) == 64 and a["size"] > 0 for a in facts["attachments"])
    text = cli_run(w, "exchange", "inspect", str(out))
    assert "kind: document" in text.output and "acceptable: the inbox would take it" in text.output
    # and B takes it
    r = w.client.post("/api/v1/exchange/inbox", data=data, content_type="application/xml")
    assert r.status_code == 200, r.get_data(as_text=True)
    with w.system.sessions() as s:
        got = s.scalars(
            select(Document).where(Document.direction == "incoming", Document.organ_id == A)
        ).all()
        assert len(got) == 1 and got[0].state == "verified"
        b_doc = got[0].id
        assert orgs.agency_by_code(s, B).id == got[0].agency_id

    # a reply B drafts names A's document in ResponseFor, by A's DocumentId
    key = xml.xpath(f"{mh}/e:DocumentId/text()", namespaces=NS)[0]
    reply = docs.create_from_template(
        w.system,
        "cv.g22",
        draft_meta(
            subject="Về việc trả lời thử liên thông",
            response_for_id=b_doc,
            recipients=(docs.Recipient("Ủy ban nhân dân tỉnh Hà Giang", A),),
        ),
        BODY,
    )
    with w.system.sessions() as s:
        draft = s.get(Document, reply.id)
        assert draft is not None
        assert outbox.replies_to(s, draft) == (
            edxml.ResponseFor(
                A,
                key.split(",", 2)[2],
                key,
                date.fromisoformat(key.split(",")[1].replace("/", "-")),
            ),
        )

    # B's clerk reports 03: the status packet, inspected, then taken by A
    st = w.tmp / "03.edxml"
    r = cli_run(
        w, "exchange", "export-status", "--as", "vt.g22", "--code", "03", "-o", str(st), str(b_doc)
    )
    assert r.exit_code == 0, r.output
    xml = etree.fromstring(st.read_bytes())
    assert xml.xpath(f"{mh}/e:StatusCode/text()", namespaces=NS) == ["03"]
    assert not xml.xpath("//e:edXMLBody", namespaces=NS)
    facts = json.loads(cli_run(w, "exchange", "inspect", "--json", str(st)).output)
    assert facts["kind"] == "status" and facts["header"]["status"]["code"] == "03"
    assert facts["acceptable"] and facts["signature"]["trusted"], facts
    r = w.client.post(
        "/api/v1/exchange/inbox", data=st.read_bytes(), content_type="application/xml"
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    history = call(w, "vanthu", "GET", f"/api/v1/documents/{doc_id}/exchange").get_json()
    assert [s["code"] for a in history["agencies"] for s in a["statuses"]] == ["03"]
    # refusals say why
    bad = cli_run(
        w, "exchange", "export-status", "--as", "vt.g22", "--code", "02", "-o", str(st), str(b_doc)
    )
    assert bad.exit_code != 0 and "needs a reason" in bad.output
    other = cli_run(
        w, "exchange", "export", "--as", "chuyenvien", "--to", B, "-o", str(out), str(doc_id)
    )
    assert other.exit_code != 0 and "clerk's office or an administrator" in other.output
    foreign = cli_run(
        w, "exchange", "export", "--as", "vt.g22", "--to", A, "-o", str(out), str(doc_id)
    )
    assert foreign.exit_code != 0 and "not found" in foreign.output


def test_inspect_a_vnpt_status_packet(world: World) -> None:
    path = CORPUS / "status_acceptance_03.edxml"
    if not path.exists():
        pytest.skip(f"the field samples are not on this machine ({CORPUS})")
    r = cli_run(world, "exchange", "inspect", "--json", "--offline", str(path))
    facts = json.loads(r.output)
    assert facts["kind"] == "status" and facts["header"]["status"]["code"] == "03"
    assert facts["header"]["from"]["organ_id"] == A
    assert facts["signature"]["present"] is False
    assert facts["refusals"] == ["the package is not signed"] and r.exit_code == 1
    with_system = json.loads(cli_run(world, "exchange", "inspect", "--json", str(path)).output)
    assert with_system["kind"] == "status" and with_system["header"]["status"]["code"] == "03"
    assert with_system["refusals"][0] == (
        "000.00.00.H41 reports on 000.00.00.G22,2015/09/30,7816/VPCP-TTĐT, which this system "
        "did not send it"
    )


def test_inspect_names_why_a_field_document_would_be_refused(partners: World) -> None:
    path = CORPUS / "dc0bdef0-c7a3-4aaf-b717-777303442973.edxml"
    if not path.exists():
        pytest.skip(f"the field samples are not on this machine ({CORPUS})")
    facts = json.loads(cli_run(partners, "exchange", "inspect", "--json", str(path)).output)
    assert facts["kind"] == "document" and not facts["acceptable"]
    assert facts["attachments"][0]["contentId"] == "cid:209"
    assert facts["attachments"][0]["contentType"] == "application/zip"
    # addressed (among others) to A, whose directory lists G22: the directory is not
    # the problem; the signature and the attachment are
    assert facts["header"]["addressees"] == A
    assert facts["refusals"] == [
        "only signed PDF files are taken through the exchange; the package also carries "
        "1896_QD-TTg_m_294779.doc",
        "a Signature element outside the XML-DSig namespace: not an XML signature",
    ]


# -- the web admin ------------------------------------------------------------------------------


class _Down(DirectHttps):
    """The partner cannot be reached."""

    def send(self, peer: directory.Peer, package: bytes) -> Delivery:
        return Delivery("retry", reason=f"{peer.endpoint} cannot be reached: ConnectTimeout")

    send_status = send


def _web_login(w: World, username: str) -> tuple[FlaskClient, str]:
    client = create_app(w.system).test_client()
    r = client.post(
        "/api/v1/sessions", json={"username": username, "password": devseed.DEV_USER_PASSWORD}
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return client, r.get_json()["csrf_token"]


def test_web_admin_inspects_failed_deliveries_and_uploaded_packages(partners: World) -> None:
    w = partners
    doc_id = _issue_to_b(w, "Về việc gửi không thành công")
    outbox.deliver_due(w.system, transport=_Down([]), limit=100)  # one attempt: failed
    with w.system.sessions() as s:
        msg = s.scalars(select(ExchangeMessage).where(ExchangeMessage.document_id == doc_id)).one()
        assert msg.state == "failed" and msg.package_sha256
        msg_id = msg.id
    client, csrf = _web_login(w, "quantri")
    page = client.get("/quan-tri/lien-thong")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Gói tin gửi không thành công" in html and "ConnectTimeout" in html
    assert f"/quan-tri/lien-thong/{msg_id}" in html
    one = client.get(f"/quan-tri/lien-thong/{msg_id}").get_data(as_text=True)
    assert "gửi không thành công" in one and "Hộp thư đến sẽ nhận gói tin này" in one
    assert "đúng chứng thư đã đăng ký" in one and "Về việc gửi không thành công" in one
    # an uploaded package: the VNPT status sample
    sample = CORPUS / "status_acceptance_03.edxml"
    if sample.exists():
        r = client.post(
            "/quan-tri/lien-thong",
            data={"csrf": csrf, "file": (sample.open("rb"), "status.edxml")},
            content_type="multipart/form-data",
        )
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "Gói tin trạng thái" in html
        # the status read from the package, in words (issue 19: no raw codes on pages)
        assert "Đã tiếp nhận, vào sổ" in html and not re.search(r"\b03 — ", html)
    # the directory on the admin page shows the pinned fingerprints
    assert w.seal_fp in client.get("/quan-tri").get_data(as_text=True)
    # B's admin sees neither A's failed packets nor one of them
    client_b, _ = _web_login(w, "qt.g22")
    assert f"/quan-tri/lien-thong/{msg_id}" not in client_b.get("/quan-tri/lien-thong").get_data(
        as_text=True
    )
    assert client_b.get(f"/quan-tri/lien-thong/{msg_id}").status_code == 404
    clerk, _ = _web_login(w, "vanthu")
    assert clerk.get("/quan-tri/lien-thong").status_code == 403
