"""Outgoing and incoming lifecycles (Decree 30): every step, every refusal leaving no trace,
signatures validated by our validator, audit events, search on both databases."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from edms import devseed, orgs
from edms import documents as docs
from edms.audit import verify_chain
from edms.config import Settings
from edms.errors import DisallowedFileType, EdmsError, Forbidden, InvalidTransition, NotFound
from edms.models import AuditEvent, Blob, Document
from edms.search import SearchFilters, fold, search
from edms.system import System
from signing.validation import validate_file
from tests.conftest import s3_env
from tests.support.agency import BODY, FOREIGN_AGENCY, draft_meta, sign, snapshot, tmp_files
from tests.support.pdfs import draft_with_fields, plain_pdf


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def agency(request: pytest.FixtureRequest, tmp_path: Path, dev_pki: Any) -> Iterator[System]:
    """The development agency on SQLite + the local store, and on PostgreSQL + SeaweedFS."""
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
    }
    if request.param == "postgresql+s3":
        env["EDMS_DATABASE_URL"] = request.getfixturevalue("pg_url")
        env.update(s3_env(request.getfixturevalue("s3_server")))
        env["EDMS_S3_OBJECT_LOCK"] = "on"
    system = System(Settings.from_env(env))
    system.init()
    assert devseed.seed_development(system)
    # A second agency, to show isolation.
    orgs.create_agency(system, FOREIGN_AGENCY, "Văn phòng Chính phủ", "VPCP", "Hà Nội")
    orgs.create_user(system, FOREIGN_AGENCY, "vt.vpcp", "Lê Thu Hà", "clerk")
    orgs.create_user(system, FOREIGN_AGENCY, "ld.vpcp", "Phan Văn Sáu", "leader")
    yield system
    system.close()


def actions_for(system: System, doc_id: int) -> list[str]:
    with system.sessions() as s:
        return [
            e.action
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(doc_id))
                .order_by(AuditEvent.seq)
            )
        ]


def field_value(path: Path, name: str) -> str:
    with open(path, "rb") as f:
        reader = PdfFileReader(f, strict=False)
        for ref in reader.root["/AcroForm"]["/Fields"]:
            obj = ref.get_object()
            if obj.get("/T") == name:
                return str(obj["/V"])
    raise AssertionError(f"no field {name}")


def new_issued_ready(system: System) -> int:
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    return doc.id


def test_outgoing_document_from_draft_to_issued(
    agency: System, tmp_path: Path, dev_pki: Any
) -> None:
    system = agency
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    assert doc.state == "draft" and doc.page_amount == 1
    att = plain_pdf(tmp_path / "phu-luc.pdf", title="Phu luc: Danh muc nhiem vu")
    with open(att, "rb") as f:
        docs.add_attachment(system, "chuyenvien", doc.id, f, "phu-luc.pdf")
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    signed = sign(system, "chutich", doc.id)
    assert signed.document.state == "signed" and signed.report is not None
    assert signed.report.valid
    numbered = docs.number(system, "vanthu", doc.id)
    assert numbered.document.number == 1
    assert numbered.document.code_notation == "QĐ-UBND"
    sealed = docs.seal(system, "vanthu", doc.id)
    assert sealed.document.state == "sealed"
    docs.register_outgoing(system, "vanthu", doc.id, holder="Văn phòng")
    issued = docs.issue(system, "vanthu", doc.id)
    assert issued.state == "issued" and issued.sent_at is not None

    final = tmp_path / "final.pdf"
    docs.download(system, "vanthu", doc.id, final)
    report = validate_file(final, [_root(dev_pki)])
    assert report.valid, report.to_json()
    assert [s.signer.common_name for s in report.signatures] == [
        "Nguyễn Văn Thành",
        "Ủy ban nhân dân tỉnh Tuyên Quang",
    ]
    assert [s.modifications for s in report.signatures] == ["form_filling", "none"]
    assert field_value(final, "SoKyHieu") == "Số: 01/QĐ-UBND"
    today = docs.vn_today()
    assert field_value(final, "NgayThang") == docs.date_line("Tuyên Quang", today)

    view = docs.get_document(system, "vanthu", doc.id)
    assert [f.stage for f in view.files] == [
        "draft",
        "draft",
        "signed",
        "numbered",
        "sealed",
        "sealed",
    ]
    attachment = view.files[-1]
    assert attachment.role == "attachment"
    att_out = tmp_path / "att.pdf"
    docs.download(system, "vanthu", doc.id, att_out, file_id=attachment.id)
    att_report = validate_file(att_out, [_root(dev_pki)])
    assert att_report.valid
    assert [s.profile for s in view.signatures] == ["personal", "organization", "attachment"]
    assert [h.to_state for h in view.history] == [
        "draft",
        "submitted",
        "approved",
        "signed",
        "numbered",
        "sealed",
        "registered",
        "issued",
    ]

    acts = actions_for(system, doc.id)
    assert acts[:10] == [
        "document.create",
        "document.attach",
        "document.submit",
        "document.approve",
        "document.sign",
        "document.number",
        "document.seal",
        "document.register",
        "document.issue",
        "document.retention",
    ]
    assert acts[10:] == ["document.download", "document.read", "document.download"]
    with system.sessions() as s:
        checked, problems = verify_chain(s)
    assert checked > 10 and problems == []
    # The record is kept: the files are retained for the type's period (Quyết định:
    # permanent → EDMS_RETENTION_PERMANENT_YEARS).
    with system.sessions() as s:
        d = s.get(Document, doc.id)
        assert d is not None and d.retain_until is not None
        assert d.retain_until.year >= today.year + 99
    assert tmp_files(system) == []


def _root(pki: Any) -> Any:
    from asn1crypto import pem, x509

    _, _, der = pem.unarmor(pki.root_cert.read_bytes())
    return x509.Certificate.load(der)


def test_refused_steps_leave_no_trace(agency: System, tmp_path: Path) -> None:
    system = agency
    doc_id = new_issued_ready(system)  # approved, not yet signed

    def refused(exc: type[Exception], fn: Any, *args: Any, match: str, **kw: Any) -> None:
        before = snapshot(system)
        with pytest.raises(exc, match=match):
            fn(*args, **kw)
        assert snapshot(system) == before
        assert tmp_files(system) == []

    # A clerk signing as the leader, an officer approving, another agency's leader.
    refused(Forbidden, sign, system, "vanthu", doc_id, match="needs the leader role")
    refused(Forbidden, docs.submit, system, "quantri", doc_id, match="needs the officer")
    refused(NotFound, sign, system, "ld.vpcp", doc_id, match=f"no document {doc_id}")
    refused(NotFound, docs.get_document, system, "vt.vpcp", doc_id, match="no document")
    # Out of order: sealing or numbering an unsigned draft, registering before sealing.
    refused(InvalidTransition, docs.seal, system, "vanthu", doc_id, match="đã duyệt")
    refused(InvalidTransition, docs.number, system, "vanthu", doc_id, match="needs it đã ký")
    refused(
        InvalidTransition, docs.register_outgoing, system, "vanthu", doc_id, match="cannot enter"
    )
    sign(system, "chutich", doc_id)
    refused(InvalidTransition, sign, system, "phochutich", doc_id, match="đã ký")
    docs.number(system, "vanthu", doc_id)
    # Numbering twice.
    refused(InvalidTransition, docs.number, system, "vanthu", doc_id, match="đã cấp số")
    refused(EdmsError, docs.revoke, system, "vanthu", doc_id, "", match="reason is required")
    # Bad uploads: a ZIP named .pdf, a PDF without fields nor a "Số:" line to put them.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "x" * 1000)
    buf.seek(0)
    refused(
        DisallowedFileType,
        docs.create_draft,
        system,
        "chuyenvien",
        buf,
        "qd.pdf",
        draft_meta(),
        match="ZIP archive despite its .pdf name",
    )
    bare = plain_pdf(tmp_path / "bare.pdf")
    with open(bare, "rb") as f:
        refused(
            EdmsError,
            docs.create_draft,
            system,
            "chuyenvien",
            f,
            "bare.pdf",
            draft_meta(),
            match="Không tìm thấy dòng số, ký hiệu",
        )
    # A Công văn without its drafting unit cannot get a symbol.
    with open(draft_with_fields(tmp_path / "cv.pdf"), "rb") as f:
        refused(
            EdmsError,
            docs.create_draft,
            system,
            "chuyenvien",
            f,
            "cv.pdf",
            draft_meta(type_code="cong-van"),
            match="needs its drafting unit",
        )


def test_sealing_needs_a_personal_signature_in_the_file(
    agency: System, tmp_path: Path, dev_pki: Any
) -> None:
    """Even if the database said otherwise, the engine refuses to seal a file without a
    valid personal signature, and nothing is stored."""
    system = agency
    doc_id = new_issued_ready(system)
    sign(system, "chutich", doc_id)
    docs.number(system, "vanthu", doc_id)
    # Swap in an unsigned file behind the workflow's back (a corrupted record).
    from edms import blobs
    from edms.db import transaction
    from edms.models import DocumentFile

    unsigned = draft_with_fields(tmp_path / "unsigned.pdf")
    with transaction(system.sessions) as s:
        puts: list[blobs.PutOutcome] = []
        put = blobs.add_file(system, s, unsigned)
        puts.append(put)
        s.add(
            DocumentFile(
                document_id=doc_id, role="main", stage="numbered", sha256=put.sha256, name="x.pdf"
            )
        )
    before = snapshot(system)
    with pytest.raises(EdmsError, match="competent person has validly signed"):
        docs.seal(system, "vanthu", doc_id)
    assert snapshot(system) == before


def test_revoke_and_replace_keep_the_record(agency: System, tmp_path: Path) -> None:
    system = agency
    first = new_issued_ready(system)
    for step, who in (
        (sign, "chutich"),
        (docs.number, "vanthu"),
        (docs.seal, "vanthu"),
        (docs.register_outgoing, "vanthu"),
        (docs.issue, "vanthu"),
    ):
        step(system, who, first)
    draft = draft_with_fields(tmp_path / "new.pdf")
    # Only an issued document can be replaced; the refused draft leaves nothing behind.
    not_issued = new_issued_ready(system)
    before = snapshot(system)
    with open(draft, "rb") as f, pytest.raises(InvalidTransition, match="can be replaced"):
        docs.replace(system, "chuyenvien", not_issued, f, "new.pdf", draft_meta())
    assert snapshot(system) == before
    with open(draft, "rb") as f:
        new = docs.replace(
            system,
            "chuyenvien",
            first,
            f,
            "new.pdf",
            draft_meta(subject="Thay thế Quyết định số 01/QĐ-UBND"),
        )
    assert new.replaces_id == first
    docs.submit(system, "chuyenvien", new.id)
    docs.approve(system, "chutich", new.id)
    for step, who in (
        (sign, "phochutich"),
        (docs.number, "vanthu"),
        (docs.seal, "vanthu"),
        (docs.register_outgoing, "vanthu"),
        (docs.issue, "vanthu"),
    ):
        step(system, who, new.id)
    old = docs.get_document(system, "vanthu", first).document
    assert old.state == "replaced" and old.frozen
    assert old.frozen_reason == "thay thế bởi văn bản số 02/QĐ-UBND"
    before = snapshot(system)
    with pytest.raises(InvalidTransition, match="frozen"):
        docs.revoke(system, "vanthu", first, "nhầm")
    assert snapshot(system) == before
    revoked = docs.revoke(system, "chutich", new.id, "Sai thẩm quyền ban hành")
    assert revoked.state == "revoked" and revoked.frozen
    assert "Sai thẩm quyền" in (revoked.frozen_reason or "")
    view = docs.get_document(system, "vanthu", new.id)
    assert len(view.files) == 4  # every version is kept


def test_incoming_lifecycle(agency: System, tmp_path: Path, dev_pki: Any) -> None:
    system = agency
    # A document another agency signed: our own outgoing one serves as the sender's PDF.
    out_id = new_issued_ready(system)
    for step, who in ((sign, "chutich"), (docs.number, "vanthu"), (docs.seal, "vanthu")):
        step(system, who, out_id)
    sent = tmp_path / "sent.pdf"
    docs.download(system, "vanthu", out_id, sent)

    meta = docs.IncomingMeta(
        type_code="quyet-dinh",
        subject="Về việc phê duyệt Kế hoạch chuyển đổi số",
        organ_name="Ủy ban nhân dân tỉnh Tuyên Quang",
        organ_id="000.00.00.H41",
        code_number="01",
        code_notation="QĐ-UBND",
        issued_date=docs.vn_today(),
        priority=1,
    )
    with open(sent, "rb") as f:
        got = docs.receive(system, "vt.vpcp", f, "qd-01.pdf", meta)
    assert got.warnings == [] and got.document.state == "received"
    doc_id = got.document.id
    # The same (number, symbol, agency) again: a warning, not a refusal.
    with open(sent, "rb") as f:
        dup = docs.receive(system, "vt.vpcp", f, "qd-01-lan-2.pdf", meta)
    assert dup.warnings and "01/QĐ-UBND" in dup.warnings[0]

    checked = docs.verify(system, "vt.vpcp", doc_id)
    assert checked.report is not None and checked.report.valid
    reg = docs.register_incoming(system, "vt.vpcp", doc_id)
    assert reg.arrival_number == 1 and reg.state == "registered"
    # Units of the receiving agency.
    orgs.create_unit(system, FOREIGN_AGENCY, "TTĐT", "Cục Tin học hóa", "TTĐT")
    orgs.create_unit(system, FOREIGN_AGENCY, "V.I", "Vụ Tổng hợp", "V.I")
    orgs.create_user(system, FOREIGN_AGENCY, "cv.vpcp", "Ngô Bảo Châu", "officer", unit_code="TTĐT")
    orgs.create_user(system, FOREIGN_AGENCY, "cv2.vpcp", "Mai Anh", "officer", unit_code="V.I")
    deadline = docs.vn_today() + timedelta(days=7)
    assigned = docs.assign(
        system, "ld.vpcp", doc_id, "TTĐT", ("V.I",), "Nghiên cứu, tham mưu trả lời", deadline
    )
    assert assigned.state == "assigned" and assigned.due_date == deadline
    # An officer of a co-operating unit may start work but not complete it.
    docs.start_progress(system, "cv2.vpcp", doc_id, "Đang tổng hợp ý kiến")
    before = snapshot(system)
    with pytest.raises(Forbidden, match="not in the unit assigned"):
        docs.complete(system, "cv2.vpcp", doc_id)
    assert snapshot(system) == before
    done = docs.complete(system, "cv.vpcp", doc_id, "Đã có văn bản trả lời")
    assert done.state == "completed" and done.completed_at is not None
    view = docs.get_document(system, "vt.vpcp", doc_id)
    assert [(h.to_state, h.code) for h in view.history] == [
        ("received", "01"),
        ("verified", None),
        ("registered", "03"),
        ("assigned", "04"),
        ("in_progress", "05"),
        ("completed", "06"),
    ]
    assert view.validation is not None and view.validation.valid
    assert json.loads(view.validation.report)["signatures"][0]["indication"] == "TOTAL_PASSED"


def test_incoming_with_a_broken_signature_is_returned_not_registered(
    agency: System, tmp_path: Path
) -> None:
    system = agency
    out_id = new_issued_ready(system)
    sign(system, "chutich", out_id)
    sent = tmp_path / "sent.pdf"
    docs.download(system, "vanthu", out_id, sent)
    data = bytearray(sent.read_bytes())
    i = data.index(b"Do") if b"Do" in data[:2000] else 400
    data[i] ^= 0x01  # one byte changed in transit
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    meta = docs.IncomingMeta(
        type_code="cong-van",
        subject="V/v báo cáo",
        organ_name="UBND tỉnh Tuyên Quang",
        code_number="12",
        code_notation="UBND-VX",
        issued_date=date(2026, 11, 20),
    )
    with open(tampered, "rb") as f:
        doc_id = docs.receive(system, "vt.vpcp", f, "cv.pdf", meta).document.id
    checked = docs.verify(system, "vt.vpcp", doc_id)
    assert checked.report is not None and not checked.report.valid
    before = snapshot(system)
    with pytest.raises(InvalidTransition, match="return it to the sender"):
        docs.register_incoming(system, "vt.vpcp", doc_id)
    assert snapshot(system) == before
    with pytest.raises(EdmsError, match="reason is required"):
        docs.return_to_sender(system, "vt.vpcp", doc_id, " ")
    returned = docs.return_to_sender(
        system, "vt.vpcp", doc_id, "Chữ ký số không hợp lệ: tệp bị thay đổi sau khi ký"
    )
    assert returned.state == "returned" and returned.arrival_number is None


def test_search_is_insensitive_to_diacritics_and_case(agency: System) -> None:
    system = agency
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    other = docs.create_from_template(
        system,
        "chuyenvien",
        draft_meta(type_code="ke-hoach", subject="Kế hoạch tuyên truyền"),
        ["Tổ chức hội nghị tập huấn cán bộ cơ sở."],
    )
    with system.sessions() as s:
        user = orgs.load_user(s, "vanthu")
        # "chủ trì, phối hợp" is only in the PDF's body text, not in the metadata.
        hits = search(s, user.agency_id, "chu tri phoi hop")
        assert [d.id for d in hits.documents] == [doc.id]
        assert [d.id for d in search(s, user.agency_id, "TAP HUAN").documents] == [other.id]
        assert [d.id for d in search(s, user.agency_id, "Tập huấn").documents] == [other.id]
        # Prefix of the last word, filters, pagination.
        assert search(s, user.agency_id, "chuyen doi s").total == 1
        assert search(s, user.agency_id, "ke hoach").total == 2
        assert search(s, user.agency_id, "ke hoach", SearchFilters(type_code="ke-hoach")).total == 1
        assert search(s, user.agency_id, "", SearchFilters(state="draft"), per_page=1).total == 2
        assert len(search(s, user.agency_id, "", per_page=1, page=2).documents) == 1
        assert search(s, user.agency_id, "", SearchFilters(states=("draft", "issued"))).total == 2
        assert search(s, user.agency_id, "", SearchFilters(states=("issued",))).total == 0
        assert search(s, user.agency_id, "dien hat nhan").total == 0
        # FTS syntax in the query is only words.
        assert search(s, user.agency_id, 'ke"* (hoach:').total == 2
        foreign = orgs.load_user(s, "vt.vpcp")
        assert search(s, foreign.agency_id, "ke hoach").total == 0
    assert fold("Quyết định ĐỒNG Ý") == "quyet dinh dong y"


def test_retention_follows_the_type_and_legal_hold_blocks_deletion(
    agency: System, tmp_path: Path
) -> None:
    """On S3 with Object Lock (and the local store), an issued document's files are locked
    for its type's period; a legal hold blocks deletion even of a draft's file."""
    from storage import ObjectRetained

    system = agency
    doc = docs.create_from_template(
        system,
        "chuyenvien",
        draft_meta(
            type_code="giay-moi",  # 5 years
            subject="Mời họp giao ban tháng 12",
        ),
        BODY,
    )
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "chutich", doc.id)
    for step, who in (
        (sign, "chutich"),
        (docs.number, "vanthu"),
        (docs.seal, "vanthu"),
        (docs.register_outgoing, "vanthu"),
        (docs.issue, "vanthu"),
    ):
        step(system, who, doc.id)
    view = docs.get_document(system, "vanthu", doc.id)
    assert view.document.retain_until is not None
    assert view.document.sent_at is not None
    years = (view.document.retain_until - view.document.sent_at).days / 365.25
    assert 4.99 < years < 5.01
    with system.sessions() as s:
        for f in view.files:
            blob = s.get(Blob, f.sha256)
            info = system.store.stat(blob.storage_key)
            assert info.retention is not None
            assert abs((info.retention.until - view.document.retain_until).total_seconds()) < 2
            with pytest.raises(ObjectRetained):
                system.store.delete(blob.storage_key)
    # A legal hold on a draft: its file cannot be deleted, and the draft not discarded.
    draft = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.set_legal_hold(system, "vanthu", draft.id, True, "Thanh tra yêu cầu giữ nguyên")
    with system.sessions() as s:
        key = s.get(Blob, docs.main_file(s, draft.id).sha256).storage_key
    assert system.store.stat(key).legal_hold
    with pytest.raises(ObjectRetained):
        system.store.delete(key)
    with pytest.raises(InvalidTransition):
        docs.discard_draft(system, "chuyenvien", draft.id)
    docs.set_legal_hold(system, "vanthu", draft.id, False, "Kết thúc thanh tra")
    before_objects = len(list(system.store.list()))
    docs.discard_draft(system, "chuyenvien", draft.id)
    assert len(list(system.store.list())) == before_objects - 1
    with pytest.raises(NotFound):
        docs.get_document(system, "chuyenvien", draft.id)


def test_two_clerks_numbering_at_once_use_one_number(agency: System) -> None:
    """Both clerks see a signed document and number it at the same moment: one succeeds,
    the other is refused, and the refused attempt gives its number back."""
    import threading

    from edms.errors import Conflict
    from edms.models import Register

    system = agency
    doc_id = new_issued_ready(system)
    sign(system, "chutich", doc_id)
    orgs.create_user(system, "000.00.00.H41", "vanthu2", "Bùi Thị Lan", "clerk")
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def clerk(name: str) -> None:
        barrier.wait()
        try:
            outcomes.append(docs.number(system, name, doc_id).document.number)
        except (Conflict, InvalidTransition) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=clerk, args=(n,)) for n in ("vanthu", "vanthu2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(map(str, outcomes)) in (["1", "Conflict"], ["1", "InvalidTransition"])
    with system.sessions() as s:
        reg = s.scalars(select(Register).where(Register.kind == "outgoing")).one()
        assert reg.next_number == 2  # one number used, none lost
        files = docs.get_document(system, "vanthu", doc_id).files
    assert [f.stage for f in files].count("numbered") == 1


def test_searches_and_views_are_audited(agency: System) -> None:
    system = agency
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    total, found = docs.search_documents(system, "vanthu", "chuyen doi so")
    assert total == 1 and found[0].id == doc.id
    docs.get_document(system, "vanthu", doc.id)
    with system.sessions() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.actor == "vanthu").order_by(AuditEvent.seq)
            )
        )
    assert [e.action for e in events] == ["document.search", "document.read"]
    assert json.loads(events[0].details) == {"q": "chuyen doi so", "total": 1}


def test_the_designated_signer_alone_signs_and_approvers_go_in_order(agency: System) -> None:
    """A draft names its signer and its approvers: it waits for each approver in turn,
    then for the signer; nobody else approves, sends back or signs it (403, in
    Vietnamese, nothing recorded); the view names every actor with their position."""
    with agency.sessions() as s:
        code = str(s.get(orgs.Agency, orgs.load_user(s, "vanthu").agency_id).code)  # type: ignore[union-attr]
    orgs.create_user(agency, code, "truongphong", "Lê Văn Hùng", "officer", title="Trưởng phòng")
    doc = docs.create_from_template(
        agency,
        "chuyenvien",
        draft_meta(designated_signer="phochutich", approvers=("truongphong", "chutich")),
        BODY,
    )
    assert docs.document_json(doc)["approver_ids"] and doc.designated_signer_id
    docs.submit(agency, "chuyenvien", doc.id)
    # not yet the signer's turn, nor the second approver's
    for who in ("phochutich", "chutich"):
        with pytest.raises(Forbidden, match="Dự thảo đang chờ Lê Văn Hùng duyệt"):
            docs.approve(agency, who, doc.id)
    assert [d.id for d in docs.waiting_for_me(agency, "truongphong", "approve")] == [doc.id]
    assert docs.waiting_for_me(agency, "chutich", "approve") == []
    # a named approver approves without the leader role; the draft waits for the next one
    assert docs.approve(agency, "truongphong", doc.id, "Đã rà soát").state == "submitted"
    assert [d.id for d in docs.waiting_for_me(agency, "chutich", "approve")] == [doc.id]
    with pytest.raises(Forbidden):
        docs.reject(agency, "truongphong", doc.id, "muộn")  # no longer his turn
    assert docs.approve(agency, "chutich", doc.id).state == "approved"
    # only the designated signer sees it and signs it
    assert docs.waiting_for_me(agency, "chutich", "sign") == []
    assert [d.id for d in docs.waiting_for_me(agency, "phochutich", "sign")] == [doc.id]
    before = actions_for(agency, doc.id)
    with pytest.raises(Forbidden, match="được trình Trần Thị Hồng Nhung ký"):
        sign(agency, "chutich", doc.id)
    assert actions_for(agency, doc.id) == before
    # sent back by the signer: the approvals start again on the next submission
    docs.reject(agency, "phochutich", doc.id, "Sửa Điều 2")
    docs.submit(agency, "chuyenvien", doc.id)
    with pytest.raises(Forbidden):
        docs.approve(agency, "chutich", doc.id)
    docs.approve(agency, "truongphong", doc.id)
    docs.approve(agency, "chutich", doc.id)
    signed = sign(agency, "phochutich", doc.id, authority="KT")
    assert signed.document.state == "signed"
    assert signed.document.signer_competence == "KT. CHỦ TỊCH"
    steps = ("submit", "approve", "reject", "sign")
    assert [a.split(".")[1] for a in actions_for(agency, doc.id) if a[9:] in steps] == [
        "submit",
        "approve",
        "approve",
        "reject",
        "submit",
        "approve",
        "approve",
        "sign",
    ]
    view = docs.view_json(docs.get_document(agency, "vanthu", doc.id))
    people = [
        (h["action"], (h["actor"] or {}).get("full_name"), h["note"]) for h in view["history"]
    ]
    assert people[0] == ("create", "Đỗ Minh Quân", "")
    assert ("approve", "Lê Văn Hùng", "Đã rà soát") in people
    assert ("reject", "Trần Thị Hồng Nhung", "Sửa Điều 2") in people
    assert people[-1][:2] == ("sign", "Trần Thị Hồng Nhung")
    assert view["history"][-1]["actor"]["title"] == "Phó Chủ tịch"
    assert view["designated_signer"]["full_name"] == "Trần Thị Hồng Nhung"
    assert [a["full_name"] for a in view["approvers"]] == ["Lê Văn Hùng", "Nguyễn Văn Thành"]


def test_designation_is_checked_and_undesignated_drafts_keep_the_older_rule(
    agency: System,
) -> None:
    for meta, match in (
        (draft_meta(designated_signer="chuyenvien"), "không phải lãnh đạo"),
        (draft_meta(designated_signer="ld.vpcp"), "không phải người dùng của cơ quan"),
        (draft_meta(designated_signer="ai-do"), "không phải người dùng của cơ quan"),
        (draft_meta(approvers=("vanthu", "vanthu")), "hai lần"),
        (draft_meta(designated_signer="chutich", approvers=("chutich",)), "là người ký"),
    ):
        with pytest.raises(EdmsError, match=match) as info:
            docs.create_from_template(agency, "chuyenvien", meta, BODY)
        assert info.value.status == 400
    # a signer with no approvers: the draft goes to that leader, who approves and signs
    named = docs.create_from_template(
        agency, "chuyenvien", draft_meta(designated_signer="chutich"), BODY
    )
    docs.submit(agency, "chuyenvien", named.id)
    assert docs.waiting_for_me(agency, "phochutich", "approve") == []
    with pytest.raises(Forbidden):
        docs.approve(agency, "phochutich", named.id)
    with pytest.raises(Forbidden):
        docs.reject(agency, "phochutich", named.id, "không đồng ý")
    docs.approve(agency, "chutich", named.id)
    # nobody named: any leader, as before designation existed
    free = docs.create_from_template(agency, "chuyenvien", draft_meta(), BODY)
    docs.submit(agency, "chuyenvien", free.id)
    assert free.id in [d.id for d in docs.waiting_for_me(agency, "phochutich", "approve")]
    docs.approve(agency, "phochutich", free.id)
    assert free.id in [d.id for d in docs.waiting_for_me(agency, "chutich", "sign")]
    assert named.id not in [d.id for d in docs.waiting_for_me(agency, "phochutich", "sign")]
    assert sign(agency, "chutich", free.id).document.state == "signed"
    # the signer changes with a revision of the text
    text = docs.template_text(agency, "chuyenvien", named.id)
    assert text == {"body": BODY, "parts": {}}
    docs.reject(agency, "chutich", named.id, "Đổi người ký")
    revised = docs.revise_from_template(
        agency, "chuyenvien", named.id, [*BODY, "Điều 3. Thi hành."], designated_signer="phochutich"
    )
    text = docs.template_text(agency, "chuyenvien", named.id)
    assert text is not None and text["body"][-1] == "Điều 3. Thi hành."
    view = docs.view_json(docs.get_document(agency, "chuyenvien", revised.id))
    assert view["designated_signer"]["full_name"] == "Trần Thị Hồng Nhung"
    assert [h["action"] for h in view["history"]][-2:] == ["reject", "revise"]


def test_a_named_approver_or_signer_alone_is_told_a_draft_waits(agency: System) -> None:
    """The "waiting for you" notice goes to the person the draft waits for, in turn; a
    draft naming nobody still tells every leader."""
    from edms.models import Notice, User
    from edms.notices import admin

    for who in ("chutich", "phochutich"):
        admin.save_preference(
            agency, who, admin.Preference(email=f"{who}@tuyenquang.gov.vn", channels=("email",))
        )

    def told(doc_id: int) -> list[str]:
        with agency.sessions() as s:
            ids = [
                int(n.recipient.split(":")[1])
                for n in s.scalars(
                    select(Notice)
                    .where(Notice.subject_ref == f"document:{doc_id}")
                    .order_by(Notice.id)
                )
            ]
            return [s.get(User, i).username for i in ids]  # type: ignore[union-attr]

    doc = docs.create_from_template(
        agency,
        "chuyenvien",
        draft_meta(designated_signer="phochutich", approvers=("chutich",)),
        BODY,
    )
    docs.submit(agency, "chuyenvien", doc.id)
    assert told(doc.id) == ["chutich"]
    docs.approve(agency, "chutich", doc.id)
    assert told(doc.id) == ["chutich", "phochutich"]
    free = docs.create_from_template(agency, "chuyenvien", draft_meta(), BODY)
    docs.submit(agency, "chuyenvien", free.id)
    assert sorted(told(free.id)) == ["chutich", "phochutich"]
