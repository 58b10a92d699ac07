"""Ingest throughput of our stores against the raw primitives, measured in one run.

* ``S3Store.put_content`` (hash while streaming, content addressing, conditional PUT)
  against the MinIO client's ``put_object`` of the same bytes to the same server
  (a SeaweedFS S3 server started on loopback; both buckets with versioning and Object Lock);
* ``LocalStore.put_content`` (temp file, completion mark, fsync, link) against a raw
  ``write`` + ``fsync`` of the same bytes.

For 100 KB and 10 MB objects, with 1 and 8 threads. Every object is distinct, so nothing is
skipped by deduplication. The disk and the server here are noisy (a virtual machine), so
the two sides are interleaved in small batches, alternating which goes first; the figure
is the median over batches of (raw time / our time), with its interquartile range, and
MB/s from the summed times.

The S3 store is measured twice: as EDMS uses it (with the database as the index of stored
digests, so a new object costs one plain PUT plus a primary-key lookup), and alone (no
index: the PUT is conditional, ``If-None-Match: *``, and the server does the lookup).

    .venv/bin/python bench/storage.py [--batches 20] [--quick] [--only s3|local]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig

from edms.blobs import is_recorded
from edms.config import Settings
from edms.system import System
from storage import LocalStore, S3Store
from tests.support import seaweed

KB = 1024
MB = 1024 * 1024
Put = Callable[[bytes, str], object]


def payloads(size: int, count: int) -> list[bytes]:
    base = os.urandom(size)
    # distinct content without paying os.urandom for every byte
    return [uuid.uuid4().bytes + base[16:] for _ in range(count)]


def run_batch(fn: Put, items: list[bytes], pool: ThreadPoolExecutor | None) -> float:
    names = [uuid.uuid4().hex for _ in items]
    start = time.perf_counter()
    if pool is None:
        for data, name in zip(items, names, strict=True):
            fn(data, name)
    else:
        list(pool.map(fn, items, names))
    return time.perf_counter() - start


@dataclass
class Result:
    ours_s: float  # total seconds, all batches
    raw_s: float
    ratios: list[float]  # per batch: raw time / our time (>1: we are faster)

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def quartiles(self) -> tuple[float, float]:
        q = statistics.quantiles(self.ratios, n=4)
        return q[0], q[2]


def compare(ours: Put, raw: Put, size: int, per_batch: int, batches: int, threads: int) -> Result:
    """Both sides over the same amount of data, interleaved batch by batch."""
    res = Result(0.0, 0.0, [])
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        run_batch(ours, payloads(size, threads), pool)  # warm connections and directories
        run_batch(raw, payloads(size, threads), pool)
        for b in range(batches):
            a_items, b_items = payloads(size, per_batch), payloads(size, per_batch)
            if b % 2 == 0:
                t_o = run_batch(ours, a_items, pool)
                t_r = run_batch(raw, b_items, pool)
            else:
                t_r = run_batch(raw, b_items, pool)
                t_o = run_batch(ours, a_items, pool)
            res.ours_s += t_o
            res.raw_s += t_r
            res.ratios.append(t_r / t_o)
    finally:
        if pool is not None:
            pool.shutdown()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="fewer objects (smoke run)")
    ap.add_argument("--only", choices=("s3", "local"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edms-bench-", dir=os.environ.get("BENCH_DIR")))
    server = seaweed.start(work / "seaweed")
    client = Minio(server.endpoint, seaweed.ACCESS_KEY, seaweed.SECRET_KEY, secure=False)
    # The digest index EDMS passes to the store: a primary-key lookup in its database.
    system = System(Settings.from_env({"EDMS_DATA_DIR": str(work / "edms")}))
    system.init()
    per_batch = {100 * KB: 16, 10 * MB: 2}
    if args.quick:
        per_batch = {100 * KB: 8, 10 * MB: 1}
    rows: list[tuple[str, str, int, float, float, Result]] = []

    def record(label: str, size_s: str, threads: int, total_mb: float, r: Result) -> None:
        rows.append((label, size_s, threads, total_mb / r.ours_s, total_mb / r.raw_s, r))
        lo, hi = r.quartiles
        print(
            f"{label:48} {size_s:>6} x{threads}: ours {total_mb / r.ours_s:7.1f} MB/s, "
            f"raw {total_mb / r.raw_s:7.1f} MB/s, median ratio {r.median:.2f} "
            f"(IQR {lo:.2f}-{hi:.2f})",
            flush=True,
        )

    try:
        for size, count in per_batch.items():
            for threads in (1, 8):
                n = max(count, threads)
                total_mb = size * n * args.batches / MB
                label_size = f"{size // KB} KB" if size < MB else f"{size // MB} MB"
                if args.only in (None, "s3"):
                    s3 = S3Store(
                        server.endpoint,
                        seaweed.ACCESS_KEY,
                        seaweed.SECRET_KEY,
                        f"bench-ours-{uuid.uuid4().hex[:10]}",
                        secure=False,
                    )
                    s3.ensure_ready()
                    raw_bucket = f"bench-raw-{uuid.uuid4().hex[:10]}"
                    client.make_bucket(raw_bucket, object_lock=True)
                    client.set_bucket_versioning(raw_bucket, VersioningConfig(ENABLED))

                    def s3_raw(d: bytes, name: str, b: str = raw_bucket) -> object:
                        return client.put_object(b, name, io.BytesIO(d), len(d))

                    def s3_ours(d: bytes, _n: str, s: S3Store = s3) -> object:
                        return s.put_content(io.BytesIO(d), known=lambda h: is_recorded(system, h))

                    def s3_cond(d: bytes, _n: str, s: S3Store = s3) -> object:
                        return s.put_content(io.BytesIO(d))

                    record(
                        "S3Store.put (database index) vs put_object",
                        label_size,
                        threads,
                        total_mb,
                        compare(s3_ours, s3_raw, size, n, args.batches, threads),
                    )
                    record(
                        "S3Store.put (no index: conditional PUT)",
                        label_size,
                        threads,
                        total_mb,
                        compare(s3_cond, s3_raw, size, n, args.batches, threads),
                    )
                if args.only in (None, "local"):
                    d = work / f"local-{uuid.uuid4().hex[:8]}"
                    local = LocalStore(d / "ours")
                    local.ensure_ready()
                    (d / "raw").mkdir(parents=True)

                    def local_raw(data: bytes, name: str, base: Path = d / "raw") -> None:
                        with open(base / name, "wb") as f:
                            f.write(data)
                            f.flush()
                            os.fsync(f.fileno())

                    def local_ours(x: bytes, _n: str, s: LocalStore = local) -> object:
                        return s.put_content(io.BytesIO(x))

                    record(
                        "LocalStore.put vs raw write+fsync",
                        label_size,
                        threads,
                        total_mb,
                        compare(local_ours, local_raw, size, n, args.batches, threads),
                    )
                    shutil.rmtree(d)
    finally:
        server.stop()
        system.close()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| comparison | size | threads | ours MB/s | raw MB/s | median ratio (IQR) |")
    print("|---|---|---|---|---|---|")
    for label, size_s, threads, ours_mb, raw_mb, r in rows:
        lo, hi = r.quartiles
        print(
            f"| {label} | {size_s} | {threads} | {ours_mb:.1f} | {raw_mb:.1f} | "
            f"{r.median:.2f} ({lo:.2f}-{hi:.2f}) |"
        )


if __name__ == "__main__":
    main()
