"""Drafts from the agency's own files: a Word document made here (python-docx) and the
PDF LibreOffice exports from it, without any form field, each through the whole outgoing
lifecycle; the places of the number, the date and the signature found from the text;
refusals that name the missing line and where the System looked; the signing authority
chosen per document, checked against the leader's position and carried to the exchange
metadata."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.drafting import places
from edms.errors import EdmsError
from edms.models import Document
from edms.system import System
from signing.validation import validate_file
from tests.support.agency import draft_meta, sign, snapshot
from tests.support.drafts import decision_docx, export_pdf
from tests.support.pages import render, seal_overlap
from tests.support.pdfs import draft_with_fields, plain_pdf

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed: `make setup`"
)


@pytest.fixture
def agency(tmp_path: Path, dev_pki: Any) -> Iterator[System]:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
    }
    system = System(Settings.from_env(env))
    system.init()
    assert devseed.seed_development(system)
    yield system
    system.close()


def _root(pki: Any) -> Any:
    from asn1crypto import pem, x509

    _, _, der = pem.unarmor(pki.root_cert.read_bytes())
    return x509.Certificate.load(der)


Word = tuple[str, float, float, float, float]


def _words(pdf: Path, page: int = 1) -> list[Word]:
    """pdftotext's words of a page: (text, xMin, xMax, yMin, yMax), top-left origin."""
    html = subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-bbox", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (m[5], float(m[1]), float(m[3]), float(m[2]), float(m[4]))
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)', html
        )
    ]


def _line_of(words: list[Word], first: str) -> str:
    """The words on the baseline of the word ``first`` and right of it, in order, up to a
    column gap."""
    anchor = next(w for w in words if w[0] == first)
    same = sorted(
        (w for w in words if abs(w[4] - anchor[4]) < 3 and w[1] >= anchor[1]), key=lambda w: w[1]
    )
    text, last = same[0][0], same[0]
    for w in same[1:]:
        gap = w[1] - last[2]
        if gap > 30:  # a column gap
            break
        text += (" " if gap > 0.1 * (w[4] - w[3]) else "") + w[0]
        last = w
    return text


def _lifecycle(system: System, doc_id: int, leader: str, **sign_kw: Any) -> Any:
    docs.submit(system, "chuyenvien", doc_id)
    docs.approve(system, leader, doc_id)
    signed = sign(system, leader, doc_id, **sign_kw)
    docs.number(system, "vanthu", doc_id)
    docs.seal(system, "vanthu", doc_id)
    docs.register_outgoing(system, "vanthu", doc_id, holder="Văn phòng")
    docs.issue(system, "vanthu", doc_id)
    return signed


def _check_issued(
    system: System,
    doc_id: int,
    tmp_path: Path,
    dev_pki: Any,
    draft_words: list[Word],
    signer: str,
    titles: list[str],
) -> Path:
    final = tmp_path / f"final-{doc_id}.pdf"
    docs.download(system, "vanthu", doc_id, final)
    report = validate_file(final, [_root(dev_pki)])
    assert report.valid, report.to_json()
    assert [s.signer.common_name for s in report.signatures] == [
        signer,
        "Ủy ban nhân dân tỉnh Tuyên Quang",
    ]
    # the leader's signature stays valid after numbering and sealing: form filling only
    assert [s.modifications for s in report.signatures] == ["form_filling", "none"]
    today = docs.vn_today()
    words = _words(final)
    # the number and the date, on the lines where the draft had "Số:" and "ngày"
    so = next(w for w in words if w[0] == "Số:")
    assert _line_of(words, "Số:") == "Số: 01/QĐ-UBND"
    draft_so = next(w for w in draft_words if w[0] == "Số:")
    assert abs(so[4] - draft_so[4]) < 1 and abs(so[1] - draft_so[1]) < 1
    date = f"Tuyên Quang, ngày {today.day:02d} tháng {docs.month_text(today)} năm {today.year}"
    assert _line_of(words, "Tuyên") == date
    ngay = next(w for w in draft_words if w[0] == "ngày")
    assert any(w[0] == "ngày" and abs(w[4] - ngay[4]) < 1 for w in words)
    text = subprocess.run(
        ["pdftotext", str(final), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Số: 01/QĐ-UBND" in text and date in text
    # the appearance draws only what the page lacks: the block's words appear once
    for line in [*titles, signer]:
        assert text.count(line) == 1, (line, text)
    # the seal reaches a third into the signature ink drawn in the blank space
    m = seal_overlap(render(final, 1, 100, tmp_path))
    assert 0.28 <= m.ratio <= 0.40, m
    with system.sessions() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.code_number == "01" and doc.state == "issued"
    return final


def test_docx_draft_goes_through_the_outgoing_lifecycle(
    agency: System, tmp_path: Path, dev_pki: Any
) -> None:
    system = agency
    docx = decision_docx(tmp_path / "du-thao-quyet-dinh.docx")
    with open(docx, "rb") as f:
        doc = docs.create_draft(system, "chuyenvien", f, docx.name, draft_meta())
    view = docs.get_document(system, "chuyenvien", doc.id)
    # the Word file is kept beside the PDF made from it
    assert [(f.role, f.name) for f in view.files] == [
        ("source", "du-thao-quyet-dinh.docx"),
        ("main", "du-thao-quyet-dinh.pdf"),
    ]
    draft = tmp_path / "draft.pdf"
    docs.download(system, "chuyenvien", doc.id, draft)
    fields = places.existing_fields(draft)
    assert {"SoKyHieu", "NgayThang", "NgayThang_Thang", "NgayThang_Nam", "ChuKyLanhDao"} <= set(
        fields
    )
    # Vietnamese intact, fonts embedded
    draft_text = subprocess.run(
        ["pdftotext", str(draft), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH TUYÊN QUANG" in draft_text
    fonts = subprocess.run(
        ["pdffonts", str(draft)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)  # emb column
    # the deputy signs under the authority the draft prints (KT. CHỦ TỊCH)
    signed = _lifecycle(system, doc.id, "phochutich")
    assert signed.document.signer_competence == "KT. CHỦ TỊCH"
    final = _check_issued(
        system,
        doc.id,
        tmp_path,
        dev_pki,
        _words(draft),
        "Trần Thị Hồng Nhung",
        ["KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"],
    )
    # the signature image is in the blank space between the title lines and the name
    _x1, y1, _x2, y2 = fields["ChuKyLanhDao"][2]
    from signing.appearance import signature_ink_on_page

    found = signature_ink_on_page(final, "ChuKyLanhDao")
    assert found is not None
    _page, (_ix1, iy1, _ix2, iy2) = found
    assert y1 <= iy1 and iy2 <= y2


def test_pdf_exported_without_fields_goes_through_the_lifecycle(
    agency: System, tmp_path: Path, dev_pki: Any
) -> None:
    system = agency
    docx = decision_docx(
        tmp_path / "qd.docx", signer="Nguyễn Văn Thành", titles=("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH")
    )
    pdf = export_pdf(docx, tmp_path / "qd-xuat-tu-word.pdf")
    assert places.existing_fields(pdf) == {}
    draft_words = _words(pdf)
    with open(pdf, "rb") as f:
        doc = docs.create_draft(system, "chuyenvien", f, pdf.name, draft_meta())
    view = docs.get_document(system, "chuyenvien", doc.id)
    assert [f.role for f in view.files] == ["main"]
    signed = _lifecycle(system, doc.id, "chutich")
    assert signed.document.signer_competence == "TM. ỦY BAN NHÂN DÂN"
    _check_issued(
        system, doc.id, tmp_path, dev_pki, draft_words, "Nguyễn Văn Thành", ["TM. ỦY BAN NHÂN DÂN"]
    )
    # the exchange metadata carries the authority chosen for this document
    from edms.exchange.outbox import competence

    with system.sessions() as s:
        d = s.get(Document, doc.id)
        assert d is not None and competence(s, d) == "TM. ỦY BAN NHÂN DÂN"


def test_places_not_found_are_named_in_vietnamese(agency: System, tmp_path: Path) -> None:
    system = agency
    before = snapshot(system)
    bare = plain_pdf(tmp_path / "khong-co-dong-so.pdf", title="Bao cao tinh hinh")
    with open(bare, "rb") as f, pytest.raises(places.PlaceNotFound) as info:
        docs.create_draft(system, "chuyenvien", f, bare.name, draft_meta())
    exc = info.value
    assert exc.status == 422
    assert "Không tìm thấy dòng số, ký hiệu" in exc.message
    assert "Không tìm thấy dòng địa danh và ngày tháng" in exc.message
    assert "Không tìm thấy khối chữ ký" in exc.message
    assert "trang 1, vùng cách mép trái" in exc.message and "Không lưu gì" in exc.message
    assert [x["line"] for x in exc.extra["looked"]] == ["so_ky_hieu", "ngay_thang", "khoi_chu_ky"]
    assert snapshot(system) == before
    # a signature block without its signing space is named alone
    docx = decision_docx(tmp_path / "khong-cho-ky.docx")
    cramped = tmp_path / "cramped.docx"
    from docx import Document as Docx

    d = Docx(str(docx))
    cell = d.tables[1].rows[0].cells[1]
    for p in cell.paragraphs[2:-1]:  # the blank lines of the signing space
        p._element.getparent().remove(p._element)
    d.save(str(cramped))
    with open(cramped, "rb") as f, pytest.raises(places.PlaceNotFound) as info:
        docs.create_draft(system, "chuyenvien", f, cramped.name, draft_meta())
    assert "Không tìm thấy khối chữ ký" in info.value.message
    assert "Số:" not in info.value.message.split("Không tìm thấy khối chữ ký")[0][-40:]
    assert [x["line"] for x in info.value.extra["looked"]] == ["khoi_chu_ky"]
    assert snapshot(system) == before


def test_a_printed_symbol_must_be_the_one_numbering_gives(agency: System, tmp_path: Path) -> None:
    docx = decision_docx(tmp_path / "sai-ky-hieu.docx", symbol="KH-UBND")
    with (
        open(docx, "rb") as f,
        pytest.raises(places.PlaceNotFound, match=r"ký hiệu \"/KH-UBND\".*\"/QĐ-UBND\""),
    ):
        docs.create_draft(agency, "chuyenvien", f, docx.name, draft_meta())


def test_existing_fields_are_used_as_they_are(tmp_path: Path) -> None:
    draft = draft_with_fields(tmp_path / "fields.pdf")
    before = draft.read_bytes()
    assert places.prepare(draft).added == []
    assert draft.read_bytes() == before


def test_authority_is_chosen_per_document_and_checked(agency: System, tmp_path: Path) -> None:
    system = agency
    docx = decision_docx(tmp_path / "kt.docx")  # prints KT. CHỦ TỊCH / PHÓ CHỦ TỊCH
    with open(docx, "rb") as f:
        doc = docs.create_draft(system, "chuyenvien", f, docx.name, draft_meta())
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "phochutich", doc.id)
    before = snapshot(system)
    # a deputy may not sign on behalf of the collective alone, nor as head of a unit
    with pytest.raises(EdmsError, match="không phù hợp với chức vụ"):
        sign(system, "phochutich", doc.id, authority="TM")
    with pytest.raises(EdmsError, match="không phù hợp với chức vụ"):
        sign(system, "phochutich", doc.id, authority="TL. CHỦ TỊCH")
    # the draft prints KT.: acting (Q.) contradicts it
    with pytest.raises(EdmsError, match="khối chữ ký của dự thảo in"):
        sign(system, "phochutich", doc.id, authority="Q")
    # the head is not the one whose name the block prints
    with pytest.raises(EdmsError, match=r"không phù hợp|in tên"):
        sign(system, "chutich", doc.id)
    assert snapshot(system) == before


def test_template_decision_takes_the_authority_chosen_at_signing(
    agency: System, tmp_path: Path
) -> None:
    """A template draft prints no signature block: the appearance draws the authority the
    leader chose (TM. + KT. for a deputy signing for the People's Committee)."""
    from tests.support.agency import BODY

    system = agency
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "phochutich", doc.id)
    signed = sign(system, "phochutich", doc.id, authority="TM_KT")
    assert signed.document.signer_competence == "TM. ỦY BAN NHÂN DÂN KT. CHỦ TỊCH"
    out = tmp_path / "signed.pdf"
    docs.download(system, "phochutich", doc.id, out)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    block = ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Trần Thị Hồng Nhung")
    at = [next(i for i, ln in enumerate(lines) if ln.endswith(t)) for t in block]
    assert at == sorted(at) and len(set(at)) == 4, lines


def test_api_takes_a_docx_draft_and_the_authority(agency: System, tmp_path: Path) -> None:
    from api import create_app
    from edms.auth import DEV_SIGNING_PIN, create_token

    system = agency
    client = create_app(system).test_client()
    tokens = {
        u: create_token(system, u, "t", ["read", "write", "sign"]).token
        for u in ("chuyenvien", "phochutich")
    }

    def call(user: str, method: str, url: str, **kw: Any) -> Any:
        return client.open(
            url, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw
        )

    docx = decision_docx(tmp_path / "api.docx")
    r = call(
        "chuyenvien",
        "POST",
        "/api/v1/documents",
        data={
            "type": "quyet-dinh",
            "subject": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027",
            "to": ["000.00.01.H41=Sở Khoa học và Công nghệ"],
            "file": (io.BytesIO(docx.read_bytes()), docx.name),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    doc_id = r.get_json()["id"]
    bare = plain_pdf(tmp_path / "bare.pdf")
    r = call(
        "chuyenvien",
        "POST",
        "/api/v1/documents",
        data={
            "type": "quyet-dinh",
            "subject": "Thử",
            "file": (io.BytesIO(bare.read_bytes()), "bare.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert "Không tìm thấy dòng số" in r.get_json()["detail"]
    assert r.get_json()["looked"][0]["page"] == 1
    call("chuyenvien", "POST", f"/api/v1/documents/{doc_id}/submit", json={})
    call("phochutich", "POST", f"/api/v1/documents/{doc_id}/approve", json={})
    r = call(
        "phochutich",
        "POST",
        f"/api/v1/documents/{doc_id}/sign",
        json={"authority": "TM", "pin": DEV_SIGNING_PIN},
    )
    assert r.status_code == 400 and "không phù hợp" in r.get_json()["detail"]
    r = call(
        "phochutich",
        "POST",
        f"/api/v1/documents/{doc_id}/sign",
        json={"authority": "KT", "pin": DEV_SIGNING_PIN},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["signer"]["competence"] == "KT. CHỦ TỊCH"


def test_web_signing_form_offers_the_authorities_of_the_leader(
    agency: System, tmp_path: Path
) -> None:
    from api import create_app
    from edms.auth import DEV_SIGNING_PIN
    from edms.devseed import DEV_USER_PASSWORD
    from tests.support.agency import BODY

    system = agency
    app = create_app(system)
    doc = docs.create_from_template(system, "chuyenvien", draft_meta(), BODY)
    docs.submit(system, "chuyenvien", doc.id)
    docs.approve(system, "phochutich", doc.id)
    client = app.test_client()
    client.get("/dang-nhap")
    with client.session_transaction() as sess:
        token = sess["login_csrf"]
    assert (
        client.post(
            "/dang-nhap",
            data={
                "username": "phochutich",
                "csrf": token,
                "password": DEV_USER_PASSWORD,
                "next": "/",
            },
        ).status_code
        == 303
    )
    page = client.get(f"/van-ban/{doc.id}").get_data(as_text=True)
    options = re.findall(r'<select id="authority-sign" name="authority">(.*?)</select>', page)
    assert options, page
    codes = re.findall(r'<option value="([^"]*)">', options[0])
    assert codes == ["", "KT", "TM_KT", "Q"]  # a deputy's choices
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    done = client.post(
        f"/van-ban/{doc.id}/sign",
        data={"csrf": csrf.group(1), "authority": "TM_KT", "pin": DEV_SIGNING_PIN},
    )
    assert done.status_code == 303
    with system.sessions() as s:
        d = s.get(Document, doc.id)
        assert d is not None and d.state == "signed"
        assert d.signer_competence == "TM. ỦY BAN NHÂN DÂN KT. CHỦ TỊCH"


def test_a_draft_is_revised_with_a_new_word_file(agency: System, tmp_path: Path) -> None:
    system = agency
    first = decision_docx(tmp_path / "ban-1.docx")
    with open(first, "rb") as f:
        doc = docs.create_draft(system, "chuyenvien", f, first.name, draft_meta())
    second = decision_docx(
        tmp_path / "ban-2.docx",
        signer="Nguyễn Văn Thành",
        titles=("TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"),
    )
    with open(second, "rb") as f:
        docs.revise_draft(system, "chuyenvien", doc.id, f, second.name)
    view = docs.get_document(system, "chuyenvien", doc.id)
    assert [(f.role, f.name) for f in view.files] == [
        ("source", "ban-1.docx"),
        ("main", "ban-1.pdf"),
        ("source", "ban-2.docx"),
        ("main", "ban-2.pdf"),
    ]
    current = tmp_path / "current.pdf"
    docs.download(system, "chuyenvien", doc.id, current)
    assert (
        "Nguyễn Văn Thành"
        in subprocess.run(["pdftotext", str(current), "-"], capture_output=True, text=True).stdout
    )
