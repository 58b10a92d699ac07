"""The leader's instructions to people, the handling sheet, the clerk's one-action release
(stopping at a failed step and continuing from it without losing or retaking a number),
and the reception warning when the file disagrees with what the clerk declared."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from edms import documents as docs
from edms import orgs
from edms.documents import declared, instructions, release
from edms.errors import ClientError, Forbidden, InvalidTransition, NotFound
from edms.models import AuditEvent, Register, SigningKey, StatusEvent, User
from edms.system import System
from signing.devpki import AGENCY_CODE
from tests.support.agency import dev_env, seeded, sign, snapshot
from tests.test_documents import agency as agency_fixture
from tests.test_documents import new_issued_ready

agency = agency_fixture  # the development agency on SQLite and on PostgreSQL + S3


def _sealed_pdf(system: System, target: Path) -> Path:
    """A document signed and sealed by this agency (Ủy ban nhân dân tỉnh Tuyên Quang,
    01/QĐ-UBND), as another agency would receive it."""
    out_id = new_issued_ready(system)
    sign(system, "chutich", out_id)
    docs.number(system, "vanthu", out_id)
    docs.seal(system, "vanthu", out_id)
    docs.download(system, "vanthu", out_id, target)
    return target


def _meta(organ: str, number: str, notation: str) -> docs.IncomingMeta:
    return docs.IncomingMeta(
        type_code="quyet-dinh",
        subject="Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027",
        organ_name=organ,
        code_number=number,
        code_notation=notation,
        issued_date=docs.vn_today(),
    )


def _registered(system: System, pdf: Path, meta: docs.IncomingMeta | None = None) -> int:
    """``pdf`` received by the clerk (declared by default as what it is), verified and
    registered: an incoming document waiting for the leader's instruction."""
    meta = meta or _meta("UBND tỉnh Tuyên Quang", "01", "QĐ-UBND")
    with open(pdf, "rb") as f:
        doc_id = docs.receive(system, "vanthu", f, "qd.pdf", meta).document.id
    docs.verify(system, "vanthu", doc_id)
    docs.register_incoming(system, "vanthu", doc_id)
    return int(doc_id)


def _seal_key(system: System, active: bool) -> None:
    with system.sessions() as s, s.begin():
        for k in s.scalars(select(SigningKey).where(SigningKey.agency_id.is_not(None))):
            k.active = active


def _next_number(system: System) -> int:
    with system.sessions() as s:
        reg = s.scalars(select(Register).where(Register.kind == "outgoing")).first()
        return 1 if reg is None else reg.next_number


def test_release_stops_at_a_failed_seal_and_continues_without_a_new_number(
    agency: System,
) -> None:
    system = agency
    doc_id = new_issued_ready(system)
    sign(system, "chutich", doc_id)

    plan = release.release_plan(system, "vanthu", doc_id)
    assert plan.remaining == ("number", "seal", "register", "issue")
    assert plan.number_and_symbol == "01/QĐ-UBND" and not plan.number_taken
    assert plan.recipients == ("Sở Khoa học và Công nghệ",) and plan.seal_key
    # a peek reserves nothing
    assert release.release_plan(system, "vanthu", doc_id).number_and_symbol == "01/QĐ-UBND"
    assert _next_number(system) == 1
    with pytest.raises(Forbidden):
        release.release(system, "chuyenvien", doc_id)
    with pytest.raises(Forbidden):
        release.release_plan(system, "chutich", doc_id)

    _seal_key(system, False)  # no seal key configured: the seal step fails
    assert not release.release_plan(system, "vanthu", doc_id).seal_key
    first = release.release(system, "vanthu", doc_id, holder="Văn phòng")
    assert first.done == ["number"] and first.failed == "seal" and not first.complete
    assert first.state == "numbered" and first.number_and_symbol == "01/QĐ-UBND"
    assert "khóa ký số" in first.reason_vi and "seal key" in first.reason
    assert _next_number(system) == 2  # the number stays with the document
    again = release.release_plan(system, "vanthu", doc_id)
    assert again.remaining == ("seal", "register", "issue") and again.number_taken

    _seal_key(system, True)
    second = release.release(system, "vanthu", doc_id, holder="Văn phòng", note="Gửi qua trục")
    assert second.complete and second.done == ["seal", "register", "issue"]
    assert second.state == "issued" and second.number_and_symbol == "01/QĐ-UBND"
    assert _next_number(system) == 2  # not taken twice
    with system.sessions() as s:
        clerk = s.scalars(select(User).where(User.username == "vanthu")).one()
        steps = [
            (h.action, h.actor_id)
            for h in s.scalars(
                select(StatusEvent)
                .where(StatusEvent.document_id == doc_id)
                .order_by(StatusEvent.id)
            )
        ][-4:]
        assert steps == [(a, clerk.id) for a in ("number", "seal", "register", "issue")]
        audits = [
            e.action
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(doc_id))
                .order_by(AuditEvent.seq)
            )
        ]
    for step in ("number", "seal", "register", "issue"):
        assert audits.count(f"document.{step}") == 1
    assert audits.count("document.release") == 2
    view = docs.get_document(system, "vanthu", doc_id)
    assert view.document.holder == "Văn phòng" and view.document.number == 1
    with pytest.raises(InvalidTransition):  # nothing left to release
        release.release_plan(system, "vanthu", doc_id)


def test_release_without_recipients_is_refused_before_any_step(agency: System) -> None:
    system = agency
    doc_id = new_issued_ready(system)
    sign(system, "chutich", doc_id)
    with system.sessions() as s, s.begin():
        from edms.models import Document

        d = s.get(Document, doc_id)
        assert d is not None
        d.recipients = "[]"
    before = snapshot(system)
    with pytest.raises(ClientError, match="no recipients"):
        release.release(system, "vanthu", doc_id)
    assert snapshot(system) == before


def test_the_leader_instructs_people_who_then_handle_it(agency: System, tmp_path: Path) -> None:
    system = agency
    pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
    orgs.create_user(system, AGENCY_CODE, "cv.kt", "Lê Thị Thu", "officer", unit_code="KT")
    orgs.create_user(system, AGENCY_CODE, "cv.vp", "Phạm Văn Nam", "officer", unit_code="VP")
    doc_id = _registered(system, pdf)

    waiting = instructions.awaiting_instruction(system, "chutich")
    assert [d.id for d in waiting] == [doc_id]
    assert instructions.awaiting_instruction(system, "ld.vpcp") == []  # another agency's
    with pytest.raises(Forbidden):
        instructions.awaiting_instruction(system, "chuyenvien")
    people = {p.username: p for p in instructions.assignable_people(system, "chutich")}
    assert {"chuyenvien", "cv.kt", "cv.vp", "chutich"} <= set(people)
    assert "quantri" not in people  # an administrator handles no documents
    assert people["chuyenvien"].label == "Đỗ Minh Quân — Chuyên viên — Phòng Văn hóa - Xã hội"

    deadline = docs.vn_today() + timedelta(days=10)
    before = snapshot(system)
    for bad, kind in (
        ({"lead_user": "chuyenvien", "co_users": ("chuyenvien",)}, ClientError),
        ({}, ClientError),
        ({"lead_user": "khong.co"}, NotFound),
        ({"lead_user": "vt.vpcp"}, NotFound),  # another agency's clerk
        ({"lead_user": "quantri"}, ClientError),
    ):
        with pytest.raises(kind):
            docs.assign(system, "chutich", doc_id, "", (), "Xử lý", deadline, **bad)  # type: ignore[arg-type]
    assert snapshot(system) == before

    instruction = "Giao đồng chí Quân chủ trì, đồng chí Thu phối hợp, báo cáo trước hạn"
    assigned = docs.assign(
        system,
        "chutich",
        doc_id,
        instruction=instruction,
        deadline=deadline,
        lead_user="chuyenvien",
        co_users=("cv.kt",),
    )
    assert assigned.state == "assigned" and assigned.due_date == deadline
    view = docs.get_document(system, "chutich", doc_id)
    a = view.assignment
    assert a is not None and a.instruction == instruction and a.deadline == deadline
    with system.sessions() as s:
        ids = {u.username: u.id for u in s.scalars(select(User))}
        vx = orgs.unit_by_code(s, view.document.agency_id, "VX").id
    assert a.lead_user_id == ids["chuyenvien"] and a.co_user_ids == f"[{ids['cv.kt']}]"
    assert a.lead_unit_id == vx  # the lead person's unit
    assert instructions.awaiting_instruction(system, "chutich") == []

    mine = instructions.assigned_to_me(system, "chuyenvien")
    assert [(t.document.id, t.lead, t.deadline) for t in mine] == [(doc_id, True, deadline)]
    theirs = instructions.assigned_to_me(system, "cv.kt")
    assert [(t.document.id, t.lead) for t in theirs] == [(doc_id, False)]
    assert instructions.assigned_to_me(system, "cv.vp") == []

    # the co-operating person (unit KT, not assigned as a unit) may start but not complete;
    # someone neither named nor in an assigned unit may do neither
    before = snapshot(system)
    with pytest.raises(Forbidden):
        docs.start_progress(system, "cv.vp", doc_id)
    assert snapshot(system) == before
    docs.start_progress(system, "cv.kt", doc_id, "Đang tổng hợp số liệu")
    with pytest.raises(Forbidden):
        docs.complete(system, "cv.kt", doc_id)
    done = docs.complete(system, "chuyenvien", doc_id, "Đã có Báo cáo số 12/BC-VX")
    assert done.state == "completed"
    assert instructions.assigned_to_me(system, "chuyenvien") == []

    sheet = instructions.handling_sheet(system, "vanthu", doc_id)
    assert sheet.agency == "Ủy ban nhân dân tỉnh Tuyên Quang"
    assert sheet.number_and_symbol == "01/QĐ-UBND" and sheet.arrival_number == 1
    assert sheet.organ_name == "UBND tỉnh Tuyên Quang" and sheet.type_name == "Quyết định (cá biệt)"
    assert sheet.instruction == instruction and sheet.deadline == deadline
    assert sheet.instructed_by == "Nguyễn Văn Thành, Chủ tịch"
    assert sheet.lead_person == "Đỗ Minh Quân, Chuyên viên"
    assert sheet.co_people == ["Lê Thị Thu"] and sheet.lead_unit == "Phòng Văn hóa - Xã hội"
    assert [(e.action, e.who) for e in sheet.progress] == [
        ("assign", "Nguyễn Văn Thành, Chủ tịch"),
        ("progress", "Lê Thị Thu"),
        ("complete", "Đỗ Minh Quân, Chuyên viên"),
    ]
    assert sheet.result == "Đã có Báo cáo số 12/BC-VX" and sheet.completed_at is not None
    with pytest.raises(NotFound):  # another agency's document does not exist for them
        instructions.handling_sheet(system, "vt.vpcp", doc_id)


def test_reception_warns_when_the_signer_or_the_number_differs(
    agency: System, tmp_path: Path
) -> None:
    system = agency
    pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
    with open(pdf, "rb") as f:
        got = docs.receive(
            system, "vt.vpcp", f, "qd.pdf", _meta("Ủy ban nhân dân tỉnh Hà Giang", "05", "KH-UBND")
        )
    assert got.document.state == "received"  # a warning never blocks the reception
    assert got.warnings == [
        "Tổ chức ký văn bản (Ủy ban nhân dân tỉnh Tuyên Quang) khác với cơ quan gửi đã khai "
        "(Ủy ban nhân dân tỉnh Hà Giang): đề nghị kiểm tra lại trước khi vào sổ.",
        "Số, ký hiệu trên văn bản (01/QĐ-UBND) khác với số đã khai (05/KH-UBND): "
        "đề nghị kiểm tra lại.",
    ]
    view = docs.get_document(system, "vt.vpcp", got.document.id)
    note = view.history[0].note
    assert view.history[0].action == "receive"
    assert note.splitlines() == [docs.incoming.WARNING_MARK + w for w in got.warnings]
    assert "thay đổi" not in note and "giả mạo" not in note  # never claims tampering
    # the same file declared as it is (abbreviated, decomposed Unicode, lower case): none
    nfd = unicodedata.normalize("NFD", "UBND TỈNH TUYÊN QUANG")
    with open(pdf, "rb") as f:
        same = docs.receive(system, "vt.vpcp", f, "qd-2.pdf", _meta(nfd, "1", "qđ-ubnd"))
    assert same.warnings == []
    # the exact declaration of test_documents, and a file without signatures: none
    assert declared.check_declared(tmp_path / "none.pdf", "", "Sở Nội vụ", "1", "QĐ") == []


def test_names_are_compared_as_people_write_them() -> None:
    same = declared.same_organisation
    assert same("UBND tỉnh Tuyên Quang", "Ủy ban nhân dân tỉnh Tuyên Quang")
    assert same("Uỷ ban nhân dân tỉnh Tuyên Quang", "ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG")
    assert same("Sở Nội vụ", "Sở Nội vụ tỉnh Tuyên Quang")
    assert not same("Ủy ban nhân dân tỉnh Hà Giang", "UBND tỉnh Tuyên Quang")
    assert not same("", "UBND")
    assert declared.printed_number("… Số: 15/QĐ-UBND  Tuyên Quang, ngày …") == (15, "QĐ-UBND")
    assert declared.printed_number("Số:     /QĐ-UBND") is None
    signer = [declared.SignerNames("Ban Cơ yếu Chính phủ", "Sở Nội vụ", "Sở Nội vụ")]
    assert declared.differences(signer, "", "Sở Nội vụ tỉnh Tuyên Quang", "", "") == []
    assert len(declared.differences(signer, "", "Sở Tài chính", "", "")) == 1


def test_the_person_in_charge_hands_it_back_to_be_assigned_again(
    agency: System, tmp_path: Path
) -> None:
    system = agency
    pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
    orgs.create_user(system, AGENCY_CODE, "cv.kt", "Lê Thị Thu", "officer", unit_code="KT")
    doc_id = _registered(system, pdf)
    docs.assign(
        system, "chutich", doc_id, instruction="Xử lý", lead_user="chuyenvien", co_users=("cv.kt",)
    )
    before = snapshot(system)
    with pytest.raises(Forbidden):  # a co-operating person does not hand it back
        docs.hand_back(system, "cv.kt", doc_id, "Không thuộc lĩnh vực")
    with pytest.raises(ClientError, match="reason"):
        docs.hand_back(system, "chuyenvien", doc_id, " ")
    assert snapshot(system) == before
    back = docs.perform(
        system, "chuyenvien", doc_id, "handback", {"reason": "Thuộc lĩnh vực Phòng Kinh tế"}
    )
    assert getattr(back, "state", None) == "registered"
    assert [d.id for d in instructions.awaiting_instruction(system, "chutich")] == [doc_id]
    assert instructions.assigned_to_me(system, "chuyenvien") == []
    view = docs.get_document(system, "chutich", doc_id)
    assert view.assignment is None
    assert (view.history[-1].action, view.history[-1].note) == (
        "handback",
        "Thuộc lĩnh vực Phòng Kinh tế",
    )
    docs.assign(system, "chutich", doc_id, instruction="Phòng Kinh tế xử lý", lead_user="cv.kt")
    assert [t.lead for t in instructions.assigned_to_me(system, "cv.kt")] == [True]
    assert instructions.handling_sheet(system, "chutich", doc_id).lead_unit == "Phòng Kinh tế"


def test_rest_assigns_to_people_and_releases(agency: System, tmp_path: Path) -> None:
    """The same capabilities over REST: assign with lead_user/co_users, the queues, the
    handling sheet, the release plan and the release."""
    from api import create_app
    from edms.auth import create_token

    system = agency
    pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
    orgs.create_user(system, AGENCY_CODE, "cv.kt", "Lê Thị Thu", "officer", unit_code="KT")
    doc_id = _registered(system, pdf)
    ready = new_issued_ready(system)
    sign(system, "chutich", ready)
    scopes = ["read", "write", "sign"]
    tokens = {
        u: create_token(system, u, "rest", scopes).token for u in ("chutich", "vanthu", "cv.kt")
    }
    client = create_app(system).test_client()

    def call(user: str, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        r = client.open(
            "/api/v1" + path,
            method=method,
            headers={"Authorization": f"Bearer {tokens[user]}"},
            **kw,
        )
        return r.status_code, r.get_json()

    status, body = call("chutich", "GET", "/documents/awaiting-instruction")
    assert status == 200 and [d["id"] for d in body["items"]] == [doc_id]
    status, body = call("cv.kt", "GET", "/documents/awaiting-instruction")
    assert status == 403 and body["status"] == 403
    deadline = (docs.vn_today() + timedelta(days=5)).isoformat()
    status, body = call(
        "chutich",
        "POST",
        f"/documents/{doc_id}/assign",
        json={
            "lead_user": "cv.kt",
            "co_users": ["chuyenvien"],
            "instruction": "Xử lý",
            "deadline": deadline,
        },
    )
    assert status == 200 and body["state"] == "assigned", body
    status, body = call("cv.kt", "GET", "/documents/assigned-to-me")
    assert status == 200
    assert [(t["id"], t["lead"], t["deadline"]) for t in body["items"]] == [
        (doc_id, True, deadline)
    ]
    status, body = call("vanthu", "GET", f"/documents/{doc_id}/handling-sheet")
    assert (
        status == 200
        and body["lead_person"] == "Lê Thị Thu"
        and body["lead_unit"] == "Phòng Kinh tế"
    )
    assert body["deadline"] == deadline and body["instruction"] == "Xử lý"

    status, plan = call("vanthu", "GET", f"/documents/{ready}/release")
    assert status == 200 and plan["number_and_symbol"] == "02/QĐ-UBND" and not plan["number_taken"]
    status, body = call("chutich", "POST", f"/documents/{ready}/release", json={})
    assert status == 403
    status, body = call(
        "vanthu", "POST", f"/documents/{ready}/release", json={"holder": "Văn phòng"}
    )
    assert status == 200 and body["complete"] and body["state"] == "issued", body
    assert body["done"] == ["number", "seal", "register", "issue"]
    assert body["number_and_symbol"] == "02/QĐ-UBND"
    status, body = call("vanthu", "GET", f"/documents/{ready}/release")
    assert status == 409


def test_cli_assigns_to_people_and_releases(tmp_path: Path, dev_pki: Any) -> None:
    """`edms doc assign --lead-user/--co-user` and `edms doc release` (stopping at the
    failed seal, then continuing)."""
    from click.testing import CliRunner

    from edms.cli import main as cli
    from edms.config import Settings

    env = dev_env(tmp_path / "data", dev_pki.directory)
    system = seeded(env)
    try:
        pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
        doc_id = _registered(system, pdf)
        ready = new_issued_ready(system)
        sign(system, "chutich", ready)
        _seal_key(system, False)
    finally:
        system.close()

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    deadline = (docs.vn_today() + timedelta(days=3)).isoformat()
    r = run(
        "doc",
        "assign",
        str(doc_id),
        "--as",
        "chutich",
        "--lead-user",
        "chuyenvien",
        "--co-user",
        "vanthu",
        "--instruction",
        "Tham mưu",
        "--deadline",
        deadline,
    )
    assert r.exit_code == 0, r.output
    r = run("doc", "release", str(ready), "--as", "vanthu", "--plan")
    assert r.exit_code == 0 and "02/QĐ-UBND (next, not reserved)" in r.output, r.output
    r = run("doc", "release", str(ready), "--as", "vanthu", "--holder", "Văn phòng")
    assert r.exit_code == 1 and "done: number; state numbered" in r.output, r.output
    system = System(Settings.from_env(env))
    try:
        _seal_key(system, True)
        tasks = instructions.assigned_to_me(system, "chuyenvien")
        assert [(t.document.id, t.lead, t.instruction) for t in tasks] == [
            (doc_id, True, "Tham mưu")
        ]
    finally:
        system.close()
    r = run("doc", "release", str(ready), "--as", "vanthu", "--holder", "Văn phòng")
    assert r.exit_code == 0, r.output
    assert "02/QĐ-UBND (taken)" in r.output and "done: seal, register, issue" in r.output


def test_a_secret_document_is_seen_by_the_people_named(agency: System, tmp_path: Path) -> None:
    """A secret document assigned to a unit and to a person of another unit: the person
    named sees it (queue, page), an officer neither named nor in the unit does not."""
    import dataclasses

    system = agency
    pdf = _sealed_pdf(system, tmp_path / "qd.pdf")
    orgs.create_user(system, AGENCY_CODE, "cv.vp", "Phạm Văn Nam", "officer", unit_code="VP")
    meta = dataclasses.replace(_meta("UBND tỉnh Tuyên Quang", "01", "QĐ-UBND"), secrecy=1)
    doc_id = _registered(system, pdf, meta)
    with pytest.raises(NotFound):
        docs.get_document(system, "chuyenvien", doc_id)
    docs.assign(system, "chutich", doc_id, "KT", instruction="Xử lý", lead_user="chuyenvien")
    assert docs.get_document(system, "chuyenvien", doc_id).document.secrecy == 1
    assert [t.document.id for t in instructions.assigned_to_me(system, "chuyenvien")] == [doc_id]
    with pytest.raises(NotFound):
        docs.get_document(system, "cv.vp", doc_id)
    docs.complete(system, "chuyenvien", doc_id, "Xong")
