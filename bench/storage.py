"""Ingest throughput of our stores against the raw primitives, measured in one run.

* ``S3Store.put_content`` (hash while streaming, content addressing, conditional PUT)
  against the MinIO client's ``put_object`` of the same bytes to the same server
  (a SeaweedFS S3 server started on loopback; both buckets with versioning and Object Lock);
* ``LocalStore.put_content`` (temp file, completion mark, fsync, link) against a raw
  ``write`` + ``fsync`` of the same bytes.

For 100 KB and 10 MB objects, with 1 and 8 threads. Every object is distinct, so nothing is
skipped by deduplication. The disk and the server here are noisy (a virtual machine), so
the two sides are interleaved in small batches, alternating which goes first, and each
side's time is summed over all batches: drift hits both alike.

    .venv/bin/python bench/storage.py [--batches 10] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig

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


def compare(ours: Put, raw: Put, size: int, per_batch: int, batches: int,
            threads: int) -> tuple[float, float]:
    """Total seconds for each side over the same amount of data."""
    t_ours = t_raw = 0.0
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        run_batch(ours, payloads(size, threads), pool)  # warm connections and directories
        run_batch(raw, payloads(size, threads), pool)
        for b in range(batches):
            a_items, b_items = payloads(size, per_batch), payloads(size, per_batch)
            if b % 2 == 0:
                t_ours += run_batch(ours, a_items, pool)
                t_raw += run_batch(raw, b_items, pool)
            else:
                t_raw += run_batch(raw, b_items, pool)
                t_ours += run_batch(ours, a_items, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    return t_ours, t_raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="fewer objects (smoke run)")
    ap.add_argument("--only", choices=("s3", "local"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edms-bench-", dir=os.environ.get("BENCH_DIR")))
    server = seaweed.start(work / "seaweed")
    client = Minio(server.endpoint, seaweed.ACCESS_KEY, seaweed.SECRET_KEY, secure=False)
    per_batch = {100 * KB: 40, 10 * MB: 4}
    if args.quick:
        per_batch = {100 * KB: 16, 10 * MB: 2}
    rows: list[tuple[str, str, int, float, float, float]] = []
    try:
        for size, count in per_batch.items():
            for threads in (1, 8):
                n = max(count, threads)
                total_mb = size * n * args.batches / MB
                label_size = f"{size // KB} KB" if size < MB else f"{size // MB} MB"
                if args.only in (None, "s3"):
                    s3 = S3Store(server.endpoint, seaweed.ACCESS_KEY, seaweed.SECRET_KEY,
                                 f"bench-ours-{uuid.uuid4().hex[:10]}", secure=False)
                    s3.ensure_ready()
                    raw_bucket = f"bench-raw-{uuid.uuid4().hex[:10]}"
                    client.make_bucket(raw_bucket, object_lock=True)
                    client.set_bucket_versioning(raw_bucket, VersioningConfig(ENABLED))

                    def s3_raw(d: bytes, name: str, b: str = raw_bucket) -> object:
                        return client.put_object(b, name, io.BytesIO(d), len(d))

                    t_o, t_r = compare(lambda d, _n, s=s3: s.put_content(io.BytesIO(d)),
                                       s3_raw, size, n, args.batches, threads)
                    rows.append(("S3Store.put vs MinIO client put_object", label_size,
                                 threads, total_mb / t_o, total_mb / t_r, t_r / t_o))
                    print(rows[-1], flush=True)
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

                    t_o, t_r = compare(lambda x, _n, s=local: s.put_content(io.BytesIO(x)),
                                       local_raw, size, n, args.batches, threads)
                    rows.append(("LocalStore.put vs raw write+fsync", label_size, threads,
                                 total_mb / t_o, total_mb / t_r, t_r / t_o))
                    print(rows[-1], flush=True)
                    shutil.rmtree(d)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| comparison | object size | threads | ours MB/s | raw MB/s | ratio |")
    print("|---|---|---|---|---|---|")
    for label, size_s, threads, ours_mb, raw_mb, ratio in rows:
        print(f"| {label} | {size_s} | {threads} | {ours_mb:.1f} | {raw_mb:.1f} | "
              f"{ratio:.2f} |")


if __name__ == "__main__":
    main()
