"""Validation speed and memory, against stock pyHanko in the same run.

* Baseline: stock pyHanko — open the file, ``validate_pdf_signature`` with the default
  diff policy, the dev root trusted, no fetching — in a process of its own, so that none
  of our workarounds (signing/validation/patches.py) helps it; rates per CPU-second, so
  that other load on the machine does not tilt the comparison.
* Ours: the full report (``signing.validation.validate_file``: indications, level,
  coverage, modification analysis, timestamps), in-process (per core) and through the
  sandboxed worker pool that `edms verify` uses (1 worker, and all cores).
* Peak RSS (the worker's own VmHWM) validating a 500 MB signed PDF.
* Whole process: ``edms verify FILE`` against pyHanko's own CLI ``pyhanko sign validate``
  on the same file, interleaved in the same run (median wall time of each).
* A signed PDF followed by 8 MB of junk: the time of one full validation.

    .venv/bin/python bench/verify.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from signing import devpki, devservices
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
from signing.sandbox import ValidatorPool
from signing.validation import validate_file
from tests.support.pdfs import big_pdf, plain_pdf
from tests.test_signing import root_of


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while n < 5 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


RATE_CHILD = """
import sys, time
from asn1crypto import pem, x509
kind, path, root_pem, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
_, _, der = pem.unarmor(open(root_pem, 'rb').read())
root = x509.Certificate.load(der)
if kind == 'stock':  # stock pyHanko only: none of our patches loaded in this process
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    def one():
        with open(path, 'rb') as fh:
            sig = PdfFileReader(fh).embedded_signatures[0]
            st = validate_pdf_signature(sig, ValidationContext(trust_roots=[root],
                                                               allow_fetching=False))
            assert st.bottom_line
else:
    from signing.validation import validate_file
    def one():
        assert validate_file(path, [root]).valid
one()
n, start = 0, time.process_time()
while n < 5 or time.process_time() - start < seconds:
    one()
    n += 1
print(n / (time.process_time() - start))
"""


def child_rate(kind: str, path: Path, root_pem: Path, seconds: float) -> float:
    """Validations per CPU-second of one side, in its own process (so that stock pyHanko
    runs without the workarounds our package applies on import)."""
    out = subprocess.run(
        [sys.executable, "-c", RATE_CHILD, kind, str(path), str(root_pem), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    return float(out.stdout.strip().splitlines()[-1])


RSS_CHILD = """
import json, sys
from asn1crypto import pem, x509
from signing.validation import validate_file
from tests.support.rss import peak_rss_kb
_, _, der = pem.unarmor(open(sys.argv[2], 'rb').read())
r = validate_file(sys.argv[1], [x509.Certificate.load(der)])
print(json.dumps({"valid": r.valid, "peak_kb": peak_rss_kb()}))
"""


def big_file_peak_mb(engine: SigningEngine, pki: devpki.DevPki, work: Path) -> float:
    big = big_pdf(work / "big.pdf", 500 * 1000 * 1000)
    big_signed = work / "big-signed.pdf"
    engine.sign(
        big,
        big_signed,
        SignOptions(Profile.PERSONAL, Level.B_B, signature_image=pki.signature_image("leader1")),
    )
    big.unlink()
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(big_signed), str(pki.root_cert)],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["valid"], res
    return float(res["peak_kb"]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-big", action="store_true", help="skip the 500 MB file")
    args = ap.parse_args()
    seconds = 1.0 if args.quick else 3.0
    rounds = 3 if args.quick else 5
    work = Path(tempfile.mkdtemp(prefix="edms-bench-verify-", dir=os.environ.get("BENCH_DIR")))
    pki, responder = devservices.start_fresh(work / "pki")
    root = root_of(pki)
    rows = []
    try:
        engine = SigningEngine(
            load_pkcs12(pki.p12("leader1"), devpki.DEV_PASSWORD),
            TrustServices(tsa_url=pki.tsa_url, trust_roots=(root,)),
        )
        files = {}
        for level in (Level.B_B, Level.B_LT):
            files[level] = work / f"signed-{level}.pdf"
            engine.sign(
                plain_pdf(work / f"in-{level}.pdf"),
                files[level],
                SignOptions(
                    Profile.PERSONAL, level, signature_image=pki.signature_image("leader1")
                ),
            )
        for level, signed_file in files.items():
            r_stock, r_ours, ratios = [], [], []
            for i in range(rounds):
                pair = [("ours", r_ours), ("stock", r_stock)]
                for kind, acc in pair if i % 2 == 0 else pair[::-1]:
                    acc.append(child_rate(kind, signed_file, pki.root_cert, seconds))
                ratios.append(r_ours[-1] / r_stock[-1])
            s_med = statistics.median(r_stock)
            rows.append(
                (
                    f"{level} file, full report, in-process, per CPU-second",
                    statistics.median(r_ours),
                    s_med,
                    statistics.median(ratios),
                )
            )
            print(rows[-1], flush=True)
        signed = files[Level.B_LT]

        for workers in (1, os.cpu_count() or 1):
            with (
                ValidatorPool([str(pki.root_cert)], workers=workers) as pool,
                ThreadPoolExecutor(workers) as threads,
            ):
                assert pool.validate(signed).valid
                n = int(80 * seconds)
                start = time.perf_counter()
                results = list(threads.map(lambda _: pool.validate(signed), range(n)))
                r = n / (time.perf_counter() - start)
                assert all(x.valid for x in results)
            rows.append((f"full report, sandboxed pool, {workers} worker(s)", r, s_med, r / s_med))
            print(rows[-1], flush=True)

        edms_bin = Path(sys.executable).with_name("edms")
        hanko_bin = Path(sys.executable).with_name("pyhanko")
        cli_env = {
            **os.environ,
            "EDMS_PKI_DIR": str(pki.directory),
            "EDMS_ENV": "development",
            "EDMS_DATA_DIR": str(work / "data"),
        }
        one_page = files[Level.B_B]
        ours_cmd = [str(edms_bin), "verify", str(one_page)]
        stock_cmd = [
            str(hanko_bin),
            "sign",
            "validate",
            "--no-revocation-check",
            "--trust",
            str(pki.root_cert),
            str(one_page),
        ]
        t_ours, t_stock = [], []
        for i in range(rounds * 2):
            pair = [(ours_cmd, t_ours), (stock_cmd, t_stock)]
            for cmd, acc in pair if i % 2 == 0 else pair[::-1]:
                start = time.perf_counter()
                subprocess.run(cmd, capture_output=True, env=cli_env, timeout=120)
                acc.append(time.perf_counter() - start)
        o_ms, s_ms = statistics.median(t_ours) * 1000, statistics.median(t_stock) * 1000
        rows.append(
            (
                "whole process: edms verify vs pyhanko sign validate (ms, ratio = "
                "time ours / time pyHanko)",
                o_ms,
                s_ms,
                o_ms / s_ms,
            )
        )
        print(rows[-1], flush=True)

        junk = work / "junk.pdf"
        junk.write_bytes(one_page.read_bytes() + os.urandom(8 * 1024 * 1024))
        start = time.perf_counter()
        junk_report = validate_file(junk, [root])
        junk_s = time.perf_counter() - start
        assert junk_report.signatures[0].integrity, junk_report
        rows.append(
            ("signed PDF + 8 MB trailing junk, one validation (ms)", junk_s * 1000, None, None)
        )
        print(rows[-1], flush=True)

        if not args.no_big:
            rows.append(
                (
                    "peak RSS validating a 500 MB signed PDF (MB)",
                    big_file_peak_mb(engine, pki, work),
                    None,
                    None,
                )
            )
            print(rows[-1], flush=True)
    finally:
        responder.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| measurement | ours /s | stock pyHanko /s | ratio |")
    print("|---|---|---|---|")
    for label, o, s_, r in rows:
        if s_ is None:
            print(f"| {label} | {o:.0f} | | |")
        else:
            print(f"| {label} | {o:.1f} | {s_:.1f} | {r:.2f} |")


if __name__ == "__main__":
    main()
