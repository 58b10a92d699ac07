"""Digitizing paper results: real OCR (Tesseract `vie`), PDF/A-2, the copy signature,
the copies register, unaccented search, refusals in a batch, the public QR page."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.digitization import intake
from edms.digitization.pipeline import CopyRequest, digitize, digitize_batch, public_check
from edms.errors import Forbidden
from edms.models import DigitizedCopy
from edms.system import System
from signing.engine import widget_of
from tests.support.agency import snapshot
from tests.support.scans import corrupt_tiff, multipage_tiff, scan_page

PAGE1 = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
    "Số: 10A8012345",
    "Tên hộ kinh doanh: Cửa hàng tạp hóa Hương Giang",
    "Chủ hộ: Nguyễn Thị Hương, sinh ngày 12/03/1985",
]
PAGE2 = [
    "Ngành, nghề kinh doanh: bán lẻ lương thực, thực phẩm",
    "Địa điểm kinh doanh: phường Hà Giang 1, tỉnh Tuyên Quang",
    "Vốn kinh doanh: 150.000.000 đồng",
]


@pytest.fixture
def agency(tmp_path: Path, dev_pki: Any) -> Iterator[System]:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
        "EDMS_PUBLIC_URL": "https://edms.hagiang.gov.vn",
    }
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    yield system
    system.close()


def request(**kw: Any) -> CopyRequest:
    base: dict[str, Any] = {
        "dossier_code": "000.00.00.H41-261122-0001",
        "procedure_code": "1.001612",
        "result_code": "KQ-0001",
        "holder_name": "Nguyễn Thị Hương",
        "original_type": "Giấy chứng nhận đăng ký hộ kinh doanh",
        "original_number": "10A8012345",
        "subject": "Đăng ký hộ kinh doanh",
    }
    base.update(kw)
    return CopyRequest(**base)


def test_digitize_vietnamese_scans_into_a_signed_searchable_pdfa(
    agency: System, tmp_path: Path
) -> None:
    system = agency
    p1 = scan_page(tmp_path / "01.png", PAGE1)
    p2 = scan_page(tmp_path / "02.jpg", PAGE2, fmt="JPEG")
    result = digitize(system, "vanthu", [p1, p2], request())
    assert result.pages == 2 and result.min_dpi == 300 and result.warnings == []
    assert result.number == "01/SY-UBND"
    assert result.report is not None and result.report.valid

    out = tmp_path / "copy.pdf"
    docs.download(system, "vanthu", result.document_id, out)
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 2
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] in ("B", "U")
        assert meta["dc:identifier"] == "000.00.00.H41-261122-0001"
        assert "MaTTHC:1.001612" in meta["dc:subject"]
        # Colour and resolution kept: page 1's image is RGB at 300 dpi, 100 % scale.
        listing = subprocess.run(
            ["pdfimages", "-list", str(out)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        first = listing[0].split()
        assert first[5] == "rgb" and first[12] == "300" and first[13] == "300"
    # Pages in order, with the OCR text of each.
    page_text = [
        subprocess.run(
            ["pdftotext", "-f", str(i), "-l", str(i), str(out), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for i in (1, 2)
    ]
    assert "HỘ KINH DOANH" in page_text[0] and "Vốn kinh doanh" in page_text[1]
    # The copy signature: valid, no image, text at the top right of page 1.
    with open(out, "rb") as f:
        reader = PdfFileReader(f)
        sig = reader.embedded_regular_signatures[0]
        w = widget_of(reader, sig.field_name)
        assert w is not None and w.page == 0 and w.image_px is None
        x1, y1, x2, y2 = w.rect
        box = reader.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]
        width, height = float(box[2]), float(box[3])
        assert x1 > width / 2 and y1 > height * 0.8
    stamp_text = subprocess.run(
        [
            "pdftotext",
            "-f",
            "1",
            "-l",
            "1",
            "-x",
            str(int(x1)),
            "-y",
            str(int(height - y2)),
            "-W",
            str(int(x2 - x1)),
            "-H",
            str(int(y2 - y1)),
            str(out),
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SAO Y" in stamp_text and "Ủy ban nhân dân tỉnh Tuyên Quang" in stamp_text
    # Found by an unaccented, lower-case search of its OCR text.
    total, found = docs.search_documents(system, "vanthu", "tap hoa huong giang")
    assert [d.id for d in found] == [result.document_id]
    total, found = docs.search_documents(system, "vanthu", "von kinh doanh")
    assert total == 1
    # The masters are kept, in order, beside the PDF/A and the signed copy.
    view = docs.get_document(system, "vanthu", result.document_id)
    assert [(f.role, f.name) for f in view.files] == [
        ("scan", "01.png"),
        ("scan", "02.jpg"),
        ("pdfa", f"{result.document_id}-pdfa.pdf"),
        ("main", f"{result.document_id}-sealed.pdf"),
    ]


def test_refusals_leave_nothing_and_a_batch_goes_on(agency: System, tmp_path: Path) -> None:
    system = agency
    low = scan_page(tmp_path / "low.png", PAGE1, dpi=150)
    disguised = tmp_path / "ket-qua.pdf"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "không phải bản quét")
    disguised.write_bytes(buf.getvalue())
    broken = corrupt_tiff(tmp_path / "broken.tif")
    cases = (
        (low, "150 dpi, below the 200 dpi"),
        (disguised, "is a ZIP archive"),
        (broken, "a damaged TIFF"),
    )
    for path, reason in cases:
        before = snapshot(system)
        with pytest.raises(intake.ScanRefused, match=reason):
            digitize(system, "vanthu", [path], request())
        assert snapshot(system) == before
    with pytest.raises(Forbidden):
        digitize(system, "chuyenvien", [scan_page(tmp_path / "ok.png", PAGE2)], request())

    good_folder = tmp_path / "hs-0002"
    good_folder.mkdir()
    scan_page(good_folder / "10.png", PAGE2)
    scan_page(good_folder / "2.png", PAGE1)  # natural order: 2 before 10
    tiff = multipage_tiff(tmp_path / "hs-0003.tif", [PAGE1, PAGE2])
    warn = scan_page(tmp_path / "hs-0004.png", PAGE1, dpi=240)
    items = [
        (p.name, [p], request(dossier_code=p.stem))
        for p in (low, good_folder, disguised, tiff, broken, warn)
    ]
    seen: list[str] = []
    outcome = digitize_batch(system, "vanthu", items, lambda i, label: seen.append(label))
    assert seen == [p.name for p in (low, good_folder, disguised, tiff, broken, warn)]
    assert [label for label, _ in outcome.done] == ["hs-0002", "hs-0003.tif", "hs-0004.png"]
    assert [label for label, _ in outcome.failed] == ["low.png", "ket-qua.pdf", "broken.tif"]
    folder_copy = outcome.done[0][1]
    out = tmp_path / "folder.pdf"
    docs.download(system, "vanthu", folder_copy.document_id, out)
    first_page = subprocess.run(
        ["pdftotext", "-l", "1", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "GIẤY CHỨNG NHẬN" in first_page  # 2.png came first
    assert outcome.done[1][1].pages == 2  # both TIFF frames
    assert outcome.done[2][1].warnings and "240 dpi" in outcome.done[2][1].warnings[0]
    assert [r.number for _, r in outcome.done] == ["01/SY-UBND", "02/SY-UBND", "03/SY-UBND"]


def test_public_page_tells_authentic_from_altered(agency: System, tmp_path: Path) -> None:
    system = agency
    result = digitize(system, "vanthu", [scan_page(tmp_path / "p.png", PAGE1)], request())
    copy = tmp_path / "copy.pdf"
    docs.download(system, "vanthu", result.document_id, copy)
    # The QR code on page 1 carries the public URL.
    png = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(copy), str(png)], check=True
    )
    url = _read_qr(Image.open(f"{png}-1.png"))
    assert url == f"https://edms.hagiang.gov.vn/verify/{result.public_id}"

    from api import create_app

    client = create_app(system).test_client()
    page = client.get(f"/verify/{result.public_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "XÁC THỰC" in html and "KHÔNG XÁC THỰC" not in html
    assert result.signed_sha256 in html
    assert "Nguyễn Thị Hương" not in html and "000.00.00.H41-261122" not in html
    # the signing time as people read it: Vietnam time, as the copy itself prints it
    shown = re.search(r"<dt>Thời điểm ký</dt><dd>([^<]*)</dd>", html)
    assert shown is not None and shown.group(1).endswith("+07:00"), html
    ok = client.post(
        f"/verify/{result.public_id}",
        data={"file": (io.BytesIO(copy.read_bytes()), "copy.pdf")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200 and "XÁC THỰC: đúng bản" in ok.get_data(as_text=True)
    # Altered after signing: one byte of the page content changed.
    data = bytearray(copy.read_bytes())
    pos = data.index(b"/Contents <") - 300
    data[pos] ^= 0x01
    bad = client.post(
        f"/verify/{result.public_id}",
        data={"file": (io.BytesIO(bytes(data)), "copy.pdf")},
        content_type="multipart/form-data",
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "KHÔNG XÁC THỰC" in text
    assert client.get("/verify/khong-co-ma-nay-xyz").status_code == 404
    check = public_check(system, result.public_id)
    assert check.authentic and check.file_checked == "registered"
    with system.sessions() as s:
        assert s.query(DigitizedCopy).count() == 1


def _read_qr(image: Image.Image) -> str:
    """Decode the QR code with zbarimg (Debian zbar-tools)."""
    import shutil
    import tempfile

    exe = shutil.which("zbarimg")
    assert exe, "zbarimg (Debian zbar-tools) is installed by make setup"
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        image.save(f.name)
        out = subprocess.run(
            [exe, "--quiet", "--raw", "-Sqrcode.enable=1", f.name],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    return out.strip()


def test_cli_batch_lists_failures_and_api_job(agency: System, tmp_path: Path) -> None:
    import os
    import sys
    import time

    system = agency
    good = scan_page(tmp_path / "hs-01.png", PAGE1)
    low = scan_page(tmp_path / "hs-02.png", PAGE2, dpi=150)
    zipped = tmp_path / "hs-03.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(scan_page(tmp_path / "a.png", PAGE1), "trang-1.png")
        z.write(scan_page(tmp_path / "b.png", PAGE2), "trang-2.png")
    env = {
        **os.environ,
        "EDMS_DATA_DIR": str(system.settings.data_dir),
        "EDMS_PKI_DIR": str(system.settings.pki_dir),
        "EDMS_ENV": "development",
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "digitize",
            "--as",
            "vanthu",
            "--batch",
            "--dossier",
            "H41-{name}",
            "--type",
            "Giấy chứng nhận đăng ký hộ kinh doanh",
            str(good),
            str(low),
            str(zipped),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr
    assert "2 digitized, 1 failed" in done.stdout
    assert "FAILED  hs-02.png: hs-02.png: scanned at 150 dpi" in done.stdout
    assert "Traceback" not in done.stderr

    # The same pipeline as a background job over the API.
    from api import create_app
    from edms.auth import create_token

    token = create_token(system, "vanthu", "scan-station", ["read", "write"]).token
    client = create_app(system).test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = client.post(
        "/api/v1/digitizations",
        headers=h,
        content_type="multipart/form-data",
        data={
            "dossier_code": "H41-API-1",
            "original_type": "Trích lục khai sinh",
            "holder_name": "Lò Văn Páo",
            "files": [
                (io.BytesIO(good.read_bytes()), "trang-1.png"),
                (io.BytesIO(scan_page(tmp_path / "c.png", PAGE2).read_bytes()), "trang-2.png"),
            ],
        },
    )
    assert r.status_code == 202, r.get_json()
    job_url = f"/api/v1/jobs/{r.get_json()['id']}"
    deadline = time.monotonic() + 300
    while True:  # poll the job until it has finished
        job = client.get(job_url, headers=h).get_json()
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["state"] == "succeeded", job
    assert job["result"]["pages"] == 2 and job["result"]["number"] == "03/SY-UBND"
    check = client.get(
        f"/verify/{job['result']['public_id']}", headers={"Accept": "application/json"}
    ).get_json()
    assert check["authentic"] is True and check["file_checked"] == "registered"
    doc = client.get(f"/api/v1/documents/{job['result']['document_id']}", headers=h)
    assert doc.get_json()["digitized"]["holder_name"] == "Lò Văn Páo"
    # A refused scan fails the job with the reason.
    r = client.post(
        "/api/v1/digitizations",
        headers=h,
        content_type="multipart/form-data",
        data={
            "dossier_code": "H41-API-2",
            "original_type": "Trích lục",
            "files": [(io.BytesIO(low.read_bytes()), "low.png")],
        },
    )
    job_url = f"/api/v1/jobs/{r.get_json()['id']}"
    deadline = time.monotonic() + 300
    while True:
        job = client.get(job_url, headers=h).get_json()
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["state"] == "failed" and "150 dpi" in job["error"]


@pytest.mark.parametrize(
    "mode,bits", [("RGB", 8), ("L", 8), ("1", 1), ("P", 4), ("I;16", 16), ("LA", 8)]
)
def test_png_pages_keep_every_pixel(tmp_path: Path, mode: str, bits: int) -> None:
    """PNG scans are embedded without inflating them (their deflate stream is copied);
    rendering the assembled page at the scan's resolution gives back the scan's pixels.
    PNGs that need a real conversion (here: with alpha) go through img2pdf."""
    src = scan_page(tmp_path / "src.png", PAGE1, dpi=200)
    im = Image.open(src).convert("L" if mode in ("I;16", "LA", "1") else "RGB")
    im = base = im.crop((0, 0, 900, 700))
    if mode == "P":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "I;16":
        im = im.convert("I").point(lambda v: v * 257).convert("I;16")
    elif mode != im.mode:
        im = im.convert(mode)
    png = tmp_path / "page.png"
    im.save(png, dpi=(200, 200))
    facts = intake.png_facts(png)
    assert (facts is None) == (mode == "LA")
    if facts is not None:
        assert facts.depth == bits
    taken = intake.run([png], tmp_path)
    pdf = intake.assemble(taken, tmp_path / "scan.pdf")
    with pikepdf.open(pdf) as doc:
        page = doc.pages[0]
        assert [round(float(v), 2) for v in page.mediabox] == [0, 0, 324.0, 252.0]
        ((_name, xobj),) = page.Resources.XObject.items()
        if facts is not None:
            assert xobj.read_raw_bytes() == facts.idat  # copied, not re-encoded
        if mode == "I;16":  # 16-bit samples, big-endian in PDF as in PNG
            assert xobj.read_bytes() == Image.open(png).tobytes("raw", "I;16B")
        rendered = pikepdf.PdfImage(xobj).as_pil_image()
    want = Image.open(png)
    if mode == "I;16":
        want, rendered = want.convert("L"), rendered.convert("L")
    elif mode == "LA":
        want = want.convert("L")
    if mode == "P":
        want, rendered = want.convert("RGB"), rendered.convert("RGB")
    assert rendered.size == want.size
    if facts is not None and mode != "I;16":  # (Pillow's 16-to-8-bit conversions differ)
        assert rendered.tobytes() == want.tobytes()
    # and poppler draws the page as the scan: same size in pixels at 200 dpi, same ink
    out = subprocess.run(
        ["pdftoppm", "-r", "200", "-gray", "-png", "-singlefile", str(pdf), str(tmp_path / "r")],
        capture_output=True,
        check=True,
    )
    assert out.returncode == 0
    drawn = Image.open(tmp_path / "r.png").convert("L")
    # (a PNG keeps pixels per metre: 200 dpi is 199.9996, poppler rounds the page up)
    assert abs(drawn.size[0] - want.size[0]) <= 1 and abs(drawn.size[1] - want.size[1]) <= 1
    ink = sum(drawn.histogram()[:128])
    # (the 16-bit page's ink is counted on its 8-bit source: Pillow's I;16 to L clips)
    ref = sum((base if mode == "I;16" else want).convert("L").histogram()[:128])
    assert ink > 0 and abs(ink - ref) <= ref * 0.02
