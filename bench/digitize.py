"""Digitization speed: pages per minute of the whole pipeline against OCRmyPDF alone on
the same pages, measured in the same run on this machine's cores.

* Baseline: ``ocrmypdf --language vie --output-type pdfa-2 --optimize 0 --jobs N`` on the
  pages already assembled into one PDF (what OCRmyPDF alone needs).
* Ours: ``edms.digitization.pipeline.digitize`` from the page image files: intake checks
  (type, integrity, dpi), assembly, the same OCR, XMP metadata and QR code, the agency's
  copy signature at B-LT (timestamp + revocation data from the local dev responder), our
  validator's check of the result, storage of masters + PDF/A + signed copy, register,
  search index.

Rounds alternate baseline and ours; the ratio is the median of per-round ratios.

    .venv/bin/python bench/digitize.py [--pages 8] [--rounds 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edms import devseed
from edms.config import Settings
from edms.digitization import intake
from edms.digitization.pipeline import CopyRequest, digitize
from edms.system import System
from signing import devservices
from tests.support.scans import scan_page

TEXT = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
    "Tên hộ kinh doanh: Cửa hàng tạp hóa Hương Giang",
    "Chủ hộ: Nguyễn Thị Hương, sinh ngày 12/03/1985, dân tộc Kinh, quốc tịch Việt Nam",
    "Ngành, nghề kinh doanh: bán lẻ lương thực, thực phẩm, đồ uống trong cửa hàng",
    "Địa điểm kinh doanh: số 15 đường Nguyễn Trãi, phường Nguyễn Trãi, thành phố Hà Giang",
    "Vốn kinh doanh: 150.000.000 đồng (một trăm năm mươi triệu đồng)",
    "Số lượng lao động: 03 người",
    "Ngày cấp: 05 tháng 01 năm 2026",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pki, responder = devservices.start_fresh(tmp / "pki")
        try:
            system = System(
                Settings.from_env(
                    {
                        "EDMS_DATA_DIR": str(tmp / "data"),
                        "EDMS_PKI_DIR": str(pki.directory),
                        "EDMS_ENV": "development",
                        "EDMS_RETENTION_DEFAULT_YEARS": "0",
                        "EDMS_OCR_JOBS": str(args.jobs),
                    }
                )
            )
            system.init()
            devseed.seed_development(system)
            pages = [
                scan_page(tmp / f"page-{i:02d}.png", [f"Trang {i + 1}", *TEXT])
                for i in range(args.pages)
            ]
            taken = intake.run(pages, tmp)
            assembled = intake.assemble(taken, tmp / "assembled.pdf")
            rows = []
            for r in range(args.rounds):
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "ocrmypdf",
                        "--language",
                        "vie",
                        "--output-type",
                        "pdfa-2",
                        "--optimize",
                        "0",
                        "--jobs",
                        str(args.jobs),
                        "--quiet",
                        str(assembled),
                        str(tmp / f"base-{r}.pdf"),
                    ],
                    check=True,
                )
                base = time.perf_counter() - t0
                t0 = time.perf_counter()
                result = digitize(
                    system,
                    "vanthu",
                    pages,
                    CopyRequest(dossier_code=f"BENCH-{r}", original_type="Giấy chứng nhận"),
                )
                ours = time.perf_counter() - t0
                assert result.pages == args.pages
                rows.append((base, ours))
                print(
                    f"round {r + 1}: OCRmyPDF alone {base:.2f} s "
                    f"({60 * args.pages / base:.1f} pages/min), pipeline {ours:.2f} s "
                    f"({60 * args.pages / ours:.1f} pages/min), ratio {base / ours:.3f}",
                    flush=True,
                )
            ratio = statistics.median(b / o for b, o in rows)
            base_ppm = statistics.median(60 * args.pages / b for b, _ in rows)
            ours_ppm = statistics.median(60 * args.pages / o for _, o in rows)
            print(f"\n{args.pages} pages at 300 dpi, {args.jobs} OCR jobs, {args.rounds} rounds")
            print(f"OCRmyPDF alone: {base_ppm:.1f} pages/min (median)")
            print(f"EDMS pipeline:  {ours_ppm:.1f} pages/min (median)")
            print(f"ratio (pipeline / OCRmyPDF alone): {ratio:.3f}  (target >= 0.9)")
            system.close()
        finally:
            responder.stop()


if __name__ == "__main__":
    main()
