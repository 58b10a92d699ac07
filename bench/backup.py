"""Backup speed against a raw copy of the same data, measured in one run.

An installation with N documents (default 1,000 incoming documents, each a PDF of ``--kb``
(200) KB carrying a scanned-looking page of incompressible pixels, as received documents do)
is backed up:

* **local**: SQLite + the local store, backed up to a directory with ``edms.backup``,
  against ``cp -a`` of the data directory (database file and store) to the same disk;
* **s3**: PostgreSQL + SeaweedFS S3, backed up to another bucket of the same server,
  against ``pg_dump`` + ``aws s3 sync`` between the two buckets (an S3 client mirror).

Then, on the same target: an incremental backup after ``--new`` (10) more documents,
against the full backup's time; and the restore of the newest snapshot into an empty
installation. The raw copy and the full backup alternate, ``--rounds`` times each (fresh
targets, ``sync`` before each run so none pays for the write-back of the one before); the
figures are medians. The raw copies neither hash nor sign anything and take no consistent
snapshot: they are the floor. The backup syncs its target before writing the manifest
(the data is on disk when it returns); ``cp -a`` does not, so the raw copy is also shown
with the ``sync`` that makes it durable.

    .venv/bin/python bench/backup.py [--docs 1000] [--kb 200] [--new 10] [--rounds 5]
                                    [--only local|s3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pikepdf
import sqlalchemy as sa

from edms import backup as bk
from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.system import System
from signing import devpki
from tests.support import seaweed

PG_ADMIN = os.environ.get(
    "EDMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def scanned_pdf(path: Path, n: int, kb: int = 200) -> Path:
    """One page with an image of random pixels: ``kb`` KB that do not compress."""
    side = int((kb * 1024 / 3) ** 0.5)
    pdf = pikepdf.new()
    raw = os.urandom(side * side * 3)
    image = pikepdf.Stream(pdf, zlib.compress(raw, 1))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = side, side, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.FlateDecode
    content = pdf.make_stream(
        f"q 500 0 0 700 50 70 cm /Im0 Do Q BT /F1 12 Tf 50 50 Td (Van ban so {n}) Tj ET".encode()
    )
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name("/Helvetica")
        )
    )
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(
            XObject=pikepdf.Dictionary(Im0=image), Font=pikepdf.Dictionary(F1=font)
        ),
        Contents=content,
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def add_documents(system: System, work: Path, start: int, count: int, kb: int = 200) -> None:
    def one(n: int) -> None:
        path = scanned_pdf(work / f"in-{n}.pdf", n, kb)
        meta = docs.IncomingMeta(
            type_code="cong-van",
            subject=f"Văn bản đến số {n}",
            organ_name="Sở Nội vụ",
            code_number=str(n),
            code_notation="SNV-VP",
            issued_date=docs.vn_today(),
        )
        with open(path, "rb") as f:
            docs.receive(system, "vanthu", f, "van-ban.pdf", meta)
        path.unlink()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, range(start, start + count)))


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def make_system(env: dict[str, str]) -> System:
    system = System(Settings.from_env(env))
    system.init()
    return system


def scenario(
    name: str,
    env: dict[str, str],
    raw_copy: Callable[[int], None],
    target_for: Callable[[int], str],
    restore_env: Callable[[], dict[str, str]],
    work: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    system = make_system(env)
    devseed.seed_development(system)
    t = timed(lambda: add_documents(system, work, 0, args.docs, args.kb))
    size = sum(o.size for o in system.store.list("sha256/"))
    print(
        f"[{name}] {args.docs} documents ({size / 1e6:.0f} MB in the store) made in {t:.0f} s",
        flush=True,
    )
    raw_times, synced_times, full_times = [], [], []
    for r in range(args.rounds):
        order = [
            ("raw", lambda r=r: raw_copy(r)),
            ("full", lambda r=r: bk.backup(system, target_for(r))),
        ]
        if r % 2:
            order.reverse()
        for label, fn in order:
            os.sync()  # start clean: no run pays for the write-back of the one before
            seconds = timed(fn)
            if label == "raw":
                raw_times.append(seconds)
                synced_times.append(seconds + timed(os.sync))
            else:
                full_times.append(seconds)  # (the backup syncs its target itself)
            print(
                f"[{name}] round {r + 1}: {label} {seconds:.2f} s"
                + (f" (+ sync {synced_times[-1]:.2f} s)" if label == "raw" else ""),
                flush=True,
            )
    full = statistics.median(full_times)
    raw = statistics.median(raw_times)
    synced = statistics.median(synced_times)
    add_documents(system, work, args.docs, args.new, args.kb)
    last = target_for(args.rounds - 1)
    incr_result: list[bk.BackupResult] = []
    incremental = timed(lambda: incr_result.append(bk.backup(system, last)))
    print(
        f"[{name}] incremental after {args.new} documents: {incremental:.2f} s "
        f"({incr_result[0].objects_copied} objects copied)",
        flush=True,
    )
    system.close()
    fresh = make_system(restore_env())
    restore = timed(lambda: bk.restore(fresh, last))
    fresh.close()
    print(f"[{name}] restore: {restore:.2f} s", flush=True)
    return {
        "scenario": name,
        "docs": args.docs,
        "store_mb": size / 1e6,
        "raw_s": raw,
        "full_s": full,
        "ratio": raw / full,
        "synced_s": synced,
        "synced_ratio": synced / full,
        "incremental_s": incremental,
        "incremental_pct": 100 * incremental / full,
        "restore_s": restore,
        "raw_all": raw_times,
        "full_all": full_times,
    }


def local(work: Path, pki: Path, args: argparse.Namespace) -> dict[str, Any]:
    base = {
        "EDMS_PKI_DIR": str(pki),
        "EDMS_ENV": "development",
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_REVOCATION_FETCHING": "false",
    }
    data = work / "data"
    env = {**base, "EDMS_DATA_DIR": str(data)}
    targets = work / "targets"

    def raw_copy(r: int) -> None:
        subprocess.run(["cp", "-a", str(data), str(targets / f"raw-{r}")], check=True)

    counter = iter(range(1000))
    return scenario(
        "local",
        env,
        raw_copy,
        lambda r: str(targets / f"backup-{r}"),
        lambda: {**base, "EDMS_DATA_DIR": str(work / f"restored-{next(counter)}")},
        work,
        args,
    )


def s3(work: Path, pki: Path, args: argparse.Namespace) -> dict[str, Any]:
    server = seaweed.start(work / "seaweed")
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def database() -> str:
        name = f"edms_bench_{len(names)}_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    def s3env(bucket: str) -> dict[str, str]:
        return {
            "EDMS_STORAGE_BACKEND": "s3",
            "EDMS_S3_ENDPOINT": server.endpoint,
            "EDMS_S3_ACCESS_KEY": seaweed.ACCESS_KEY,
            "EDMS_S3_SECRET_KEY": seaweed.SECRET_KEY,
            "EDMS_S3_BUCKET": bucket,
            "EDMS_S3_SECURE": "false",
            "EDMS_S3_OBJECT_LOCK": "off",
        }

    base = {
        "EDMS_PKI_DIR": str(pki),
        "EDMS_ENV": "development",
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_REVOCATION_FETCHING": "false",
    }
    env = {
        **base,
        "EDMS_DATA_DIR": str(work / "data"),
        "EDMS_DATABASE_URL": database(),
        **s3env("edms-bench-src"),
    }
    aws_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": seaweed.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": seaweed.SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    endpoint = f"http://{server.endpoint}"

    def raw_copy(r: int) -> None:
        dump = work / f"raw-{r}.pgdump"
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                f"--file={dump}",
                sa.engine.make_url(env["EDMS_DATABASE_URL"])
                .set(drivername="postgresql")
                .render_as_string(hide_password=False),
            ],
            check=True,
        )
        subprocess.run(
            ["aws", "s3", "mb", f"s3://edms-bench-raw-{r}", "--endpoint-url", endpoint],
            env=aws_env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "aws",
                "s3",
                "sync",
                "--only-show-errors",
                "s3://edms-bench-src",
                f"s3://edms-bench-raw-{r}",
                "--endpoint-url",
                endpoint,
            ],
            env=aws_env,
            check=True,
        )

    counter = iter(range(1000))
    try:
        return scenario(
            "s3",
            env,
            raw_copy,
            lambda r: f"s3://edms-bench-backup-{r}",
            lambda: {
                **base,
                "EDMS_DATA_DIR": str(work / f"restored-{next(counter)}"),
                "EDMS_DATABASE_URL": database(),
                **s3env(f"edms-bench-restored-{len(names)}"),
            },
            work,
            args,
        )
    finally:
        server.stop()
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--new", type=int, default=10)
    ap.add_argument("--kb", type=int, default=200, help="size of each document's PDF")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=("local", "s3"))
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="edms-bench-backup-") as tmp:
        work = Path(tmp)
        pki = work / "pki"
        devpki.generate(pki)
        for name, fn in (("local", local), ("s3", s3)):
            if args.only in (None, name):
                sub = work / name
                sub.mkdir()
                (sub / "targets").mkdir()
                results.append(fn(sub, pki, args))
    print()
    print(
        "| scenario | documents | store MB | raw copy s | raw + sync s | backup s | "
        "ratio raw/backup | ratio (raw + sync)/backup | "
        f"incremental after {args.new} docs s (% of full) | restore s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['scenario']} | {r['docs']} | {r['store_mb']:.0f} | {r['raw_s']:.2f} | "
            f"{r['synced_s']:.2f} | {r['full_s']:.2f} | {r['ratio']:.2f} | "
            f"{r['synced_ratio']:.2f} | {r['incremental_s']:.2f} "
            f"({r['incremental_pct']:.1f} %) | {r['restore_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
