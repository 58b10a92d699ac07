"""A 500 MB PDF signs file to file in bounded memory and still validates (`make test-slow`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.support.pdfcheck import pdfsig
from tests.support.pdfs import big_pdf

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CHILD = textwrap.dedent("""
    import json, sys

    from tests.support.rss import peak_rss_kb
    from pathlib import Path
    from signing import devpki
    from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
    from signing.keys import load_pkcs12

    pki = devpki.load(sys.argv[1])
    engine = SigningEngine(load_pkcs12(pki.p12("leader1"), devpki.DEV_PASSWORD),
                           TrustServices(tsa_url=pki.tsa_url))
    engine.sign(sys.argv[2], sys.argv[3], SignOptions(
        Profile.PERSONAL, Level.B_T, signature_image=pki.signature_image("leader1")))
    print(json.dumps({"peak_kb": peak_rss_kb()}))
""")


def test_500_mb_pdf_signs_under_200_mb_rss(dev_pki: Any, nss_db: str, tmp_path: Path) -> None:
    src = big_pdf(tmp_path / "big.pdf", 500 * 1000 * 1000)
    out = tmp_path / "big-signed.pdf"
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(dev_pki.directory), str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=1700,
        env=dict(os.environ),
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    peak_mb = json.loads(res.stdout.strip().splitlines()[-1])["peak_kb"] / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
    assert out.stat().st_size > src.stat().st_size
    (entry,) = pdfsig(out, nss_db)
    assert entry.valid == "Signature is Valid." and entry.total
    assert entry.certificate == "Certificate is Trusted."
    # no corruption anywhere above 100 MB: the original bytes are the signed file's prefix
    with open(src, "rb") as a, open(out, "rb") as b:
        a.seek(100 * 1000 * 1000)
        b.seek(100 * 1000 * 1000)
        while chunk := a.read(1 << 20):
            assert b.read(len(chunk)) == chunk
