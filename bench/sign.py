"""Signing speed and memory, measured in one run against stock pyHanko.

* Baseline: stock pyHanko as its documentation shows it — ``SimpleSigner.load_pkcs12`` for
  every signature, ``signers.sign_pdf`` with default settings (an invisible B-B
  signature).
* Ours: one :class:`signing.engine.SigningEngine` per key, reused; B-B; the Decree-30
  ``personal`` appearance (image, title, name: more work than the baseline's invisible
  signature) and the text-only ``copy`` appearance.

Measured on a 1-page, a 20-page and a 50 MB PDF (single process: per-core throughput);
batch throughput of `edms sign --batch`'s worker code over 200 one-page PDFs on all cores;
the cost of B-T and B-LT against the local TSA/OCSP responder; peak RSS while signing
50 MB and 500 MB files (child processes).

    .venv/bin/python bench/sign.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from edms.cli import sign as cli_signing
from edms.signatures import SignerRef
from signing import devpki, devservices
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
from tests.support.pdfs import big_pdf, plain_pdf


def per_second(fn: Callable[[], object], seconds: float, min_runs: int = 5) -> float:
    fn()  # warm
    runs = 0
    start = time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < seconds:
        fn()
        runs += 1
    return runs / (time.perf_counter() - start)


def interleaved(
    a: Callable[[], object], b: Callable[[], object], rounds: int, seconds: float
) -> tuple[float, float, float]:
    """Rates of a and b measured in alternating rounds; median ratio a/b."""
    ra, rb = [], []
    for i in range(rounds):
        if i % 2 == 0:
            ra.append(per_second(a, seconds))
            rb.append(per_second(b, seconds))
        else:
            rb.append(per_second(b, seconds))
            ra.append(per_second(a, seconds))
    ratios = [x / y for x, y in zip(ra, rb, strict=True)]
    return statistics.median(ra), statistics.median(rb), statistics.median(ratios)


RSS_CHILD = """
import json, sys

from tests.support.rss import peak_rss_kb
from signing import devpki
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
pki = devpki.load(sys.argv[1])
e = SigningEngine(load_pkcs12(pki.p12("leader1"), devpki.DEV_PASSWORD), TrustServices())
e.sign(sys.argv[2], sys.argv[3], SignOptions(Profile.PERSONAL, Level.B_B,
       signature_image=pki.signature_image("leader1")))
print(json.dumps(peak_rss_kb()))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds = 0.5 if args.quick else 2.0
    rounds = 3 if args.quick else 5
    work = Path(tempfile.mkdtemp(prefix="edms-bench-sign-", dir=os.environ.get("BENCH_DIR")))
    pki, responder = devservices.start_fresh(work / "pki")
    from tests.test_signing import root_of

    services = TrustServices(tsa_url=pki.tsa_url, trust_roots=(root_of(pki),))
    engine = SigningEngine(load_pkcs12(pki.p12("leader1"), devpki.DEV_PASSWORD), services)
    image = pki.signature_image("leader1")
    rows: list[str] = []
    try:
        docs = {
            "1 page": plain_pdf(work / "p1.pdf", 1).read_bytes(),
            "20 pages": plain_pdf(work / "p20.pdf", 20).read_bytes(),
            "50 MB": big_pdf(work / "p50m.pdf", 50 * 1000 * 1000).read_bytes(),
        }
        out = work / "out.pdf"
        for name, data in docs.items():

            def stock(data: bytes = data) -> None:
                signer = signers.SimpleSigner.load_pkcs12(
                    str(pki.p12("leader1")), passphrase=devpki.DEV_PASSWORD
                )
                with open(out, "wb") as o:
                    signers.sign_pdf(
                        IncrementalPdfFileWriter(io.BytesIO(data)),
                        signers.PdfSignatureMetadata(field_name="Sig1"),
                        signer,
                        output=o,
                    )

            def ours(data: bytes = data, profile: Profile = Profile.PERSONAL) -> None:
                engine.sign_stream(
                    io.BytesIO(data), out, SignOptions(profile, Level.B_B, signature_image=image)
                )

            r = rounds if name != "50 MB" else 3
            o_rate, s_rate, ratio = interleaved(ours, stock, r, seconds)
            rows.append(
                f"| B-B, {name}, personal (visible) vs stock (invisible) | "
                f"{o_rate:.1f} | {s_rate:.1f} | {ratio:.2f} |"
            )
            print(rows[-1], flush=True)
            if name == "1 page":
                c_rate, s2, ratio2 = interleaved(
                    lambda: ours(profile=Profile.COPY), stock, r, seconds
                )
                rows.append(
                    f"| B-B, {name}, copy (text) vs stock | {c_rate:.1f} | "
                    f"{s2:.1f} | {ratio2:.2f} |"
                )
                print(rows[-1], flush=True)

        # levels: cost of the live TSA / OCSP+CRL against B-B, same engine
        one = docs["1 page"]
        rates = {}
        for level in (Level.B_B, Level.B_T, Level.B_LT):
            rates[level] = per_second(
                lambda lv=level: engine.sign_stream(
                    io.BytesIO(one), out, SignOptions(Profile.PERSONAL, lv, signature_image=image)
                ),
                seconds * 2,
            )
        for level in (Level.B_T, Level.B_LT):
            rows.append(
                f"| {level} 1 page (local TSA/OCSP) vs B-B | {rates[level]:.1f} | "
                f"{rates[Level.B_B]:.1f} | {rates[level] / rates[Level.B_B]:.2f} |"
            )
            print(rows[-1], flush=True)

        # batch: the worker code of `edms sign --batch`, all cores
        batch_in = work / "batch"
        batch_in.mkdir()
        n = 60 if args.quick else 200
        for i in range(n):
            plain_pdf(batch_in / f"d{i:03}.pdf", 1, title=f"Ban sao {i}")
        (work / "batch-out").mkdir()
        env = {"EDMS_PKI_DIR": str(pki.directory), "EDMS_ENV": "development"}
        cores = os.cpu_count() or 1
        for profile in (Profile.COPY, Profile.PERSONAL):
            opts = {"profile": profile.value, "level": Level.B_B}
            with ProcessPoolExecutor(
                cores,
                initializer=cli_signing._init_worker,
                initargs=(SignerRef(label="leader1"), env),
            ) as pool:
                list(
                    pool.map(
                        cli_signing._sign_one,
                        [str(batch_in / "d000.pdf")] * cores,
                        [str(work / f"warm{i}.pdf") for i in range(cores)],
                        [dict(opts)] * cores,
                    )
                )
                files = sorted(batch_in.iterdir())
                start = time.perf_counter()
                list(
                    pool.map(
                        cli_signing._sign_one,
                        [str(f) for f in files],
                        [str(work / "batch-out" / f.name) for f in files],
                        [dict(opts) for _ in files],
                        chunksize=8,
                    )
                )
                rate = len(files) / (time.perf_counter() - start)
            rows.append(
                f"| batch, {n} one-page PDFs, {profile} B-B, {cores} processes "
                f"(PDFs/s) | {rate:.1f} | | |"
            )
            print(rows[-1], flush=True)

        # peak RSS while signing large files, in fresh processes
        for label, size in (("50 MB", 50 * 1000 * 1000), ("500 MB", 500 * 1000 * 1000)):
            src = big_pdf(work / "big.pdf", size) if label == "500 MB" else work / "p50m.pdf"
            res = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    RSS_CHILD,
                    str(pki.directory),
                    str(src),
                    str(work / "big-out.pdf"),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
            peak = json.loads(res.stdout.strip().splitlines()[-1]) / 1024
            rows.append(f"| peak RSS signing a {label} PDF (MB) | {peak:.0f} | | |")
            print(rows[-1], flush=True)
            (work / "big-out.pdf").unlink()
    finally:
        responder.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| measurement | ours /s | stock /s | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
