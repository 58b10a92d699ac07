"""Backup and restore: the restore drill on SQLite + the local store and on PostgreSQL +
SeaweedFS S3. Documents of every kind (an outgoing one signed, numbered, sealed, issued and
delivered to another agency with its signed receipt; an incoming one, verified; a digitized
copy), a backup taken by `edms backup` in another process while a writer keeps adding
documents, the installation destroyed, `edms restore` into an empty one: every document of
the snapshot opens and validates as before, `edms storage verify` and `edms audit verify`
are clean, and what was written after the snapshot is cleanly absent. Then: `edms backup
verify` names tampering, incremental backups copy only new objects, restore refuses a
non-empty installation and leaves nothing behind when the backup does not check out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from werkzeug.serving import make_server

from edms import backup as bk
from edms import devseed
from edms import documents as docs
from edms.config import Settings
from edms.digitization.pipeline import CopyRequest, digitize, public_check
from edms.documents import DraftMeta, Recipient
from edms.exchange import outbox
from edms.exchange.directory import own_entry, upsert
from edms.models import Document, ExchangeMessage
from edms.system import System
from signing import devpki, devservices
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
from signing.trust import load_certificates
from tests.conftest import new_bucket, s3_env
from tests.support.agency import BODY, dev_env, seeded
from tests.support.agency import sign as sign_step
from tests.support.live import free_port
from tests.support.pdfs import plain_pdf
from tests.support.scans import scan_page

B_AGENCY = devpki.DevAgency("000.00.00.H25", "Ủy ban nhân dân tỉnh Cao Bằng", "UBND", "Cao Bằng")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edms.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@dataclass
class Peer:
    """Agency B: another EDMS on loopback that receives A's documents and signs receipts."""

    system: System
    base: str
    pki: Any


@pytest.fixture
def peer(tmp_path_factory: pytest.TempPathFactory, dev_pki: Any) -> Iterator[Peer]:
    """(One per drill: a document already received answers with its first receipt.)"""
    from api import create_app

    tmp = tmp_path_factory.mktemp("peer")
    pki, responder = devservices.start_fresh(tmp / "pki", B_AGENCY)
    port = free_port()
    env = dev_env(
        tmp / "data",
        pki.directory,
        EDMS_TRUST_OFFICIAL=str(dev_pki.root_cert),
        EDMS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        EDMS_EXCHANGE_PRIVATE_ENDPOINTS="true",
    )
    system = seeded(env)
    server = make_server("127.0.0.1", port, create_app(system), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Peer(system, f"http://127.0.0.1:{port}", pki)
    finally:
        server.shutdown()
        system.close()
        responder.stop()


@dataclass
class Site:
    system: System
    env: dict[str, str]
    kind: str
    tmp: Path
    target: str
    restored_env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(params=["sqlite+local", "postgresql+s3"])
def site(
    request: pytest.FixtureRequest, tmp_path: Path, dev_pki: Any, peer: Peer
) -> Iterator[Site]:
    env = dev_env(
        tmp_path / "data",
        dev_pki.directory,
        EDMS_TRUST_OFFICIAL=str(peer.pki.root_cert),
        EDMS_PUBLIC_URL="http://127.0.0.1:9",
        EDMS_EXCHANGE_PUMP="false",
        EDMS_EXCHANGE_PRIVATE_ENDPOINTS="true",
    )
    target = str(tmp_path / "backups")
    if request.param == "postgresql+s3":
        env["EDMS_DATABASE_URL"] = request.getfixturevalue("pg_url")
        env.update(s3_env(request.getfixturevalue("s3_server")))
        target = f"s3://{new_bucket()}"
    system = System(Settings.from_env(env))
    system.init()
    assert devseed.seed_development(system)
    site = Site(system, env, request.param, tmp_path, target)
    try:
        yield site
    finally:
        system.close()


def connect(site: Site, peer: Peer) -> None:
    upsert(site.system, "quantri", [own_entry(peer.system)])
    upsert(peer.system, "quantri", [own_entry(site.system)])


def outgoing_delivered(site: Site, peer: Peer) -> int:
    s = site.system
    meta = DraftMeta(
        type_code="quyet-dinh",
        subject="Về việc lưu trữ hồ sơ điện tử",
        recipients=(Recipient(B_AGENCY.name, B_AGENCY.code),),
    )
    doc = docs.create_from_template(s, "chuyenvien", meta, BODY)
    docs.submit(s, "chuyenvien", doc.id)
    docs.approve(s, "chutich", doc.id)
    sign_step(s, "chutich", doc.id)
    docs.number(s, "vanthu", doc.id)
    docs.seal(s, "vanthu", doc.id)
    docs.register(s, "vanthu", doc.id, holder="Văn phòng")
    docs.issue(s, "vanthu", doc.id)
    delivered = outbox.deliver_due(s)
    if delivered.delivered != 1:
        with s.sessions() as session:
            errors = [m.last_error for m in session.scalars(select(ExchangeMessage))]
        raise AssertionError(f"{delivered}: {errors}")
    return int(doc.id)


def incoming_verified(site: Site, dev_pki: Any, n: int) -> int:
    src = plain_pdf(site.tmp / f"den-{n}.pdf", title=f"Cong van den {n}")
    signed = site.tmp / f"den-{n}-signed.pdf"
    services = TrustServices(
        tsa_url=dev_pki.tsa_url, trust_roots=tuple(load_certificates(dev_pki.root_cert))
    )
    SigningEngine(load_pkcs12(dev_pki.p12("leader2"), devpki.DEV_PASSWORD), services).sign(
        src,
        signed,
        SignOptions(
            Profile.PERSONAL,
            Level.B_T,
            signature_image=dev_pki.signature_image("leader2"),
            authority="KT. CHỦ TỊCH",
        ),
    )
    meta = docs.IncomingMeta(
        type_code="cong-van",
        subject=f"Về việc báo cáo số {n}",
        organ_name="Sở Nội vụ",
        code_number=str(n),
        code_notation="SNV-VP",
        issued_date=docs.vn_today(),
    )
    with open(signed, "rb") as f:
        doc_id = docs.receive(site.system, "vanthu", f, "cv.pdf", meta).document.id
    docs.verify(site.system, "vanthu", doc_id)
    return int(doc_id)


def digitized(site: Site) -> tuple[int, str]:
    page = scan_page(
        site.tmp / "scan.png", ["GIẤY CHỨNG NHẬN", "Số: 10A8012345", "Chủ hộ: Nguyễn Thị Hương"]
    )
    result = digitize(
        site.system,
        "vanthu",
        [page],
        CopyRequest(
            dossier_code="000.00.00.H41-261122-0001",
            procedure_code="1.001612",
            result_code="KQ-0001",
            holder_name="Nguyễn Thị Hương",
            original_type="Giấy chứng nhận đăng ký hộ kinh doanh",
            original_number="10A8012345",
            subject="Đăng ký hộ kinh doanh",
        ),
    )
    return result.document_id, result.public_id


class Writer:
    """Keeps receiving documents (each its own PDF) until stopped."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                pdf = plain_pdf(self.site.tmp / f"w-{n}.pdf", title=f"Van ban ghi them {n}")
                meta = docs.IncomingMeta(
                    type_code="cong-van",
                    subject=f"Ghi thêm số {n}",
                    organ_name="Phòng Tài chính",
                    code_number=str(n),
                    code_notation="PTC",
                    issued_date=docs.vn_today(),
                )
                with open(pdf, "rb") as f:
                    self.ids.append(
                        docs.receive(self.site.system, "vanthu", f, "w.pdf", meta).document.id
                    )
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, count: int) -> None:
        import time

        while len(self.ids) < count and self.thread.is_alive():
            time.sleep(0.05)  # waiting for the other thread, not a timing assertion

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=120)
        assert self.error is None, self.error


@dataclass
class Seen:
    """A document as its reader finds it: its files and whether it validates now."""

    state: str
    files: list[tuple[str, str, str]]
    valid: bool


def seen(system: System, doc_id: int) -> Seen:
    view = docs.get_document(system, "vanthu", doc_id)
    return Seen(
        view.document.state,
        [(f.role, f.stage, f.sha256) for f in sorted(view.files, key=lambda f: f.id)],
        docs.verify_current(system, "vanthu", doc_id).valid,
    )


def destroy(site: Site) -> dict[str, str]:
    """Remove the installation; return the environment of an empty one in its place."""
    site.system.close()
    env = dict(site.env)
    if site.kind == "sqlite+local":
        shutil.rmtree(site.tmp / "data")
        return env
    url = sa.engine.make_url(env["EDMS_DATABASE_URL"])
    admin = sa.create_engine(url.set(database="test"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    # The old bucket keeps its objects under retention; the new installation gets an
    # empty one, as after the loss of the old server.
    env["EDMS_S3_BUCKET"] = new_bucket()
    shutil.rmtree(site.tmp / "data")
    return env


def test_restore_drill(site: Site, peer: Peer, dev_pki: Any) -> None:
    system = site.system
    connect(site, peer)
    out_id = outgoing_delivered(site, peer)
    in_id = incoming_verified(site, dev_pki, 1)
    copy_id, public_id = digitized(site)
    with system.sessions() as s:
        msg = s.scalars(
            select(ExchangeMessage).where(
                ExchangeMessage.document_id == out_id,
                ExchangeMessage.direction == "out",
                ExchangeMessage.kind == "document",
            )
        ).one()
        assert msg.state == "delivered" and msg.receipt
        receipt = msg.receipt

    writer = Writer(site)
    writer.thread.start()
    writer.wait_for(2)
    before_backup = set(writer.ids)
    done = cli(site.env, "backup", site.target, "--json")
    after_backup = set(writer.ids)
    writer.wait_for(len(after_backup) + 2)
    writer.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["complete"] and result["signed_by"] == "000.00.00.H41"

    checked = cli(site.env, "backup", "verify", site.target)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    expected = {d: seen(system, d) for d in (out_id, in_id, copy_id)}
    assert expected[out_id].valid and expected[in_id].valid and expected[copy_id].valid
    with system.sessions() as s:
        all_ids = set(s.scalars(select(Document.id)))
    late = set(writer.ids) - after_backup
    assert late and late <= all_ids

    env = destroy(site)
    restored = cli(env, "restore", site.target)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "every hash and the audit chain checked" in restored.stdout

    new = System(Settings.from_env(env))
    try:
        with new.sessions() as s:
            ids = set(s.scalars(select(Document.id)))
            kept_writes = sorted(ids & set(writer.ids))
        # A consistent cut: every document written before the backup began is there,
        # none written after it ended, and the writer's documents form a prefix.
        assert {out_id, in_id, copy_id} | before_backup <= ids
        assert not (late & ids)
        assert kept_writes == sorted(writer.ids)[: len(kept_writes)]
        assert ids <= all_ids

        for doc_id, before in expected.items():
            assert seen(new, doc_id) == before, doc_id
            target = site.tmp / f"restored-{doc_id}.pdf"
            docs.download(new, "vanthu", doc_id, target)
        assert public_check(new, public_id).authentic
        with new.sessions() as s:
            again = s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.document_id == out_id, ExchangeMessage.direction == "out"
                )
            ).first()
            assert again is not None and again.receipt == receipt
            assert again.package_sha256 is not None
        package, got = outbox.evidence(new, "vanthu", out_id, B_AGENCY.code)
        assert got.decode() == receipt and package
    finally:
        new.close()

    storage = cli(env, "storage", "verify")
    assert storage.returncode == 0 and storage.stdout.startswith("clean:"), storage.stdout
    chain = cli(env, "audit", "verify")
    assert chain.returncode == 0 and chain.stdout.startswith("intact:"), chain.stdout


# -- verification, increments, refusals (SQLite + local store) ---------------------------------


@pytest.fixture
def small(tmp_path: Path, dev_pki: Any) -> Iterator[Site]:
    env = dev_env(tmp_path / "data", dev_pki.directory)
    system = seeded(env)
    site = Site(system, env, "sqlite+local", tmp_path, str(tmp_path / "backups"))
    for n in range(3):
        receive_plain(site, n)
    try:
        yield site
    finally:
        system.close()


def receive_plain(site: Site, n: int) -> int:
    pdf = plain_pdf(site.tmp / f"p-{n}.pdf", title=f"Van ban {n}")
    meta = docs.IncomingMeta(
        type_code="cong-van",
        subject=f"Văn bản {n}",
        organ_name="Sở Tư pháp",
        code_number=str(n),
        code_notation="STP",
        issued_date=docs.vn_today(),
    )
    with open(pdf, "rb") as f:
        return int(docs.receive(site.system, "vanthu", f, "p.pdf", meta).document.id)


def empty_env(site: Site, name: str) -> dict[str, str]:
    return dict(site.env, EDMS_DATA_DIR=str(site.tmp / name))


def installation_is_empty(env: dict[str, str]) -> None:
    system = System(Settings.from_env(env))
    try:
        assert bk._installation_empty(system) == []
    finally:
        system.close()


def test_incremental_backups_copy_only_new_objects(small: Site) -> None:
    first = bk.backup(small.system, small.target)
    assert first.complete and first.objects_copied == first.objects > 0
    again = bk.backup(small.system, small.target)
    assert again.objects == first.objects and again.objects_copied == 0
    receive_plain(small, 10)
    receive_plain(small, 11)
    third = bk.backup(small.system, small.target)
    assert third.objects == first.objects + 2 and third.objects_copied == 2
    listing = cli(small.env, "backup", "list", small.target)
    assert listing.returncode == 0
    assert [ln.split()[0] for ln in listing.stdout.splitlines()] == [
        first.snapshot,
        again.snapshot,
        third.snapshot,
    ]
    # An object removed from the target by hand: the next backup trusts the newest
    # snapshot's list, `backup verify --quick` names the loss, `--rescan` repairs it.
    listed = (Path(small.target) / "snapshots" / third.snapshot / "objects.tsv").read_text().split()
    (Path(small.target) / bk.object_key(listed[0])).unlink()
    assert bk.backup(small.system, small.target).objects_copied == 0
    lost = bk.verify(small.system, small.target, quick=True)[1]
    assert f"object {listed[0]} is missing from the backup" in lost.problems
    repaired = cli(small.env, "backup", small.target, "--rescan", "--json")
    assert json.loads(repaired.stdout)["objects_copied"] == 1
    assert bk.verify(small.system, small.target)[1].ok
    # An older snapshot restores to its own state.
    env = empty_env(small, "older")
    older = System(Settings.from_env(env))
    try:
        assert bk.restore(older, small.target, snapshot=first.snapshot).check.ok
        with older.sessions() as s:
            assert s.scalar(select(sa.func.count()).select_from(Document)) == 3
    finally:
        older.close()


def test_verify_names_tampering_and_restore_refuses_it(small: Site) -> None:
    result = bk.backup(small.system, small.target)
    root = Path(small.target)
    base = root / "snapshots" / result.snapshot
    assert cli(small.env, "backup", "verify", small.target).returncode == 0

    # One object's bytes changed in the backup.
    listed = (base / "objects.tsv").read_text().split()
    victim = root / bk.object_key(listed[0])
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    bad = cli(small.env, "backup", "verify", small.target)
    assert bad.returncode == 1
    assert f"PROBLEM object {listed[0]} is corrupted in the backup" in bad.stdout
    assert bk.verify(small.system, small.target, quick=True)[1].ok  # only re-hashing sees it
    env = empty_env(small, "from-tampered")
    refused = cli(env, "restore", small.target)
    assert refused.returncode == 1 and "corrupted in the backup" in refused.stderr
    installation_is_empty(env)
    victim.write_bytes(original)

    def problems() -> str:
        return "\n".join(bk.verify(small.system, small.target)[1].problems)

    # A lost object.
    victim.rename(victim.with_suffix(".gone"))
    assert f"object {listed[0]} is missing" in problems()
    victim.with_suffix(".gone").rename(victim)

    # The manifest edited: its signature no longer matches.
    manifest = base / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"count": ', '"count": 1', 1))
    assert "signature does not match it" in problems()
    restored = System(Settings.from_env(env))
    try:
        with pytest.raises(bk.BackupError, match="nothing was restored"):
            bk.restore(restored, small.target)
    finally:
        restored.close()
    installation_is_empty(env)
    manifest.write_text(text)

    # The database file swapped for another one.
    db_file = base / "database.sqlite3"
    db_file.write_bytes(db_file.read_bytes() + b"\0")
    assert "does not match the manifest" in problems()


def test_restore_only_into_an_empty_installation(small: Site) -> None:
    bk.backup(small.system, small.target)
    with pytest.raises(bk.BackupError, match="empty installation only"):
        bk.restore(small.system, small.target)
    # An interrupted backup (no manifest) is listed as such and never restored.
    (Path(small.target) / "snapshots" / "20990101T000000.000000Z-abcdef").mkdir()
    (
        Path(small.target) / "snapshots" / "20990101T000000.000000Z-abcdef" / "objects.tsv"
    ).write_text("")
    listing = cli(small.env, "backup", "list", small.target)
    assert "20990101T000000.000000Z-abcdef  INCOMPLETE" in listing.stdout
    env = empty_env(small, "fresh")
    assert cli(env, "init", "--no-dev-pki").returncode == 0  # empty tables are fine
    done = cli(env, "restore", small.target)
    assert done.returncode == 0, done.stderr
    assert "20990101" not in done.stdout


def test_a_corrupted_source_object_makes_the_backup_fail_loudly(small: Site) -> None:
    from edms.models import Blob

    with small.system.sessions() as s:
        blob = s.scalars(select(Blob).where(Blob.media_type == "application/pdf")).first()
        assert blob is not None
        key, sha = blob.storage_key, blob.sha256
    path = Path(small.system.settings.storage_dir) / "objects" / key
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.7 damaged")
    done = cli(small.env, "backup", small.target)
    assert done.returncode == 1
    assert f"PROBLEM object {sha}: corrupted in the store" in done.stdout
    assert "the backup is incomplete" in done.stderr
    checked = cli(small.env, "backup", "verify", small.target)
    assert checked.returncode == 1 and "the backup is incomplete" in checked.stdout
