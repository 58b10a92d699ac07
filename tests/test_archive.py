"""Archive-timestamp renewal (PAdES-LTA): a document signed at B-LTA with a development TSA
whose certificate expires in 30 days is listed as due; nothing is renewed while the TSA
still signs with that certificate; once the TSA has a new certificate, `edms archive renew`
adds a second document timestamp in a new stored version (the previous bytes kept, one
audit event), and the result validates as B-LTA offline, today and after the first TSA
certificate has expired (where the unrenewed file no longer does). `--dry-run` changes
nothing; the daily task renews once per period; what cannot be renewed is listed with the
reason."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from edms import archive, devseed, maintenance
from edms import documents as docs
from edms.audit import verify_chain
from edms.config import Settings
from edms.models import AuditEvent, DocumentFile
from edms.system import System
from signing import devpki, devservices
from signing.engine import Level, Profile, SigningEngine, SignOptions, TrustServices
from signing.keys import load_pkcs12
from signing.trust import load_certificates
from signing.validation import validate_file
from tests.support.agency import snapshot
from tests.support.pdfs import plain_pdf

TSA_DAYS = 30


@dataclass
class Site:
    system: System
    env: dict[str, str]
    pki: Any
    responder: devservices.Responder
    roots: list[x509.Certificate]
    tmp: Path

    def restart_responder(self) -> None:
        self.responder.stop()
        self.responder = devservices.start(self.pki)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An agency whose development TSA's certificate expires in 30 days."""
    tmp = tmp_path_factory.mktemp("archive")
    pki, responder = devservices.start_fresh(tmp / "pki", tsa_days=TSA_DAYS)
    env = {
        "EDMS_DATA_DIR": str(tmp / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(pki.directory),
        "EDMS_ENV": "development",
        # no revocation answers kept between steps: the TSA's new certificate is used
        # as soon as the responder serves it
        "EDMS_REVOCATION_CACHE_SECONDS": "0",
    }
    system = System(Settings.from_env(env))
    system.init()
    assert devseed.seed_development(system)
    s = Site(system, env, pki, responder, list(load_certificates(pki.root_cert)), tmp)
    try:
        yield s
    finally:
        system.close()
        s.responder.stop()


def services(site: Site) -> TrustServices:
    return TrustServices(tsa_url=site.pki.tsa_url, trust_roots=tuple(site.roots))


def receive_signed(site: Site, level: Level, subject: str) -> int:
    """An incoming document signed by another agency's leader at ``level``."""
    src = plain_pdf(site.tmp / f"{subject}.pdf", title=subject)
    signed = site.tmp / f"{subject}-signed.pdf"
    engine = SigningEngine(
        load_pkcs12(site.pki.p12("leader1"), devpki.DEV_PASSWORD), services(site)
    )
    engine.sign(
        src,
        signed,
        SignOptions(
            Profile.PERSONAL,
            level,
            signature_image=site.pki.signature_image("leader1"),
            authority="TM. ỦY BAN NHÂN DÂN",
        ),
    )
    meta = docs.IncomingMeta(
        type_code="quyet-dinh",
        subject=subject,
        organ_name="Ủy ban nhân dân huyện Vị Xuyên",
        code_number="07",
        code_notation=f"QĐ-{subject[:6]}",
        issued_date=docs.vn_today(),
    )
    with open(signed, "rb") as f:
        return docs.receive(site.system, "vanthu", f, "qd.pdf", meta).document.id


def cli(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edms.cli", *args],
        env={**os.environ, **site.env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def current(site: Site, doc_id: int) -> DocumentFile:
    with site.system.sessions() as s:
        return docs.main_file(s, doc_id)


def doc_status(site: Site, doc_id: int) -> archive.DocumentStatus:
    st = archive.status(site.system)
    return next(d for d in st.documents if d.document_id == doc_id)


def export(site: Site, sha: str, name: str) -> Path:
    from edms.blobs import export_to_file

    target = site.tmp / name
    export_to_file(site.system, sha, target)
    return target


def document_timestamps(path: Path) -> int:
    with open(path, "rb") as f:
        return len(PdfFileReader(f, strict=False).embedded_timestamp_signatures)


def lta_indication(path: Path, roots: list[x509.Certificate], at: datetime) -> str:
    """PAdES-LTA validation (ETSI EN 319 102-1 §5.6.3, pyHanko) at time ``at``, with
    nothing but what the file carries: no fetching."""
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import (
        CertRevTrustPolicy,
        RevocationCheckingPolicy,
        RevocationCheckingRule,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=roots),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                ee_certificate_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
                intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
            )
        ),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    with open(path, "rb") as f:
        sig = PdfFileReader(f, strict=False).embedded_regular_signatures[0]
        result = asyncio.run(
            ades_lta_validation(sig, spec, timing_info=ValidationTimingInfo(at, at, False))
        )
    passed = isinstance(result.ades_subindic, AdESPassed)
    return "PASSED" if passed else str(getattr(result.ades_subindic, "name", "?"))


def test_renewal_adds_a_second_document_timestamp_verifiable_after_the_tsa_expires(
    site: Site,
) -> None:
    system = site.system
    doc_id = receive_signed(site, Level.B_LTA, "Lưu trữ dài hạn")
    original = current(site, doc_id)

    # Listed as due: its only document timestamp's TSA certificate ends in 30 days.
    st = doc_status(site, doc_id)
    assert (st.status, st.level, st.document_timestamps) == ("due", "B-LTA", 1)
    assert st.tsa_expires_at is not None
    assert (
        timedelta(days=TSA_DAYS - 1)
        < st.tsa_expires_at - datetime.now(UTC)
        < timedelta(days=TSA_DAYS + 1)
    )
    assert "sha256" in st.algorithms and "rsa-2048" in st.algorithms
    assert "TSA certificate" in st.reason

    # The TSA still signs with that certificate: renewing would not help; nothing changes.
    before = snapshot(system)
    done = cli(site, "archive", "renew", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["renewed"] == 0 and report["skipped"] == 1
    assert "configure a TSA with a newer certificate" in report["outcomes"][0]["detail"]
    assert snapshot(system) == before

    # The TSA renews its certificate (new key, ten years).
    devpki.renew_tsa(site.pki.directory, days=3650)
    site.restart_responder()

    # --dry-run says what it would do and changes nothing at all.
    before = snapshot(system)
    dry = cli(site, "archive", "renew", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"WOULD_RENEW  document {doc_id}" in dry.stdout
    assert "would renew 1 document(s)" in dry.stdout and "nothing was changed" in dry.stdout
    assert snapshot(system) == before

    done = cli(site, "archive", "renew")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"RENEWED      document {doc_id}" in done.stdout

    renewed = current(site, doc_id)
    assert renewed.id != original.id and renewed.stage == "renewed"
    assert renewed.sha256 != original.sha256
    with system.sessions() as s:  # the previous version is still recorded ...
        shas = {
            f.sha256
            for f in s.scalars(select(DocumentFile).where(DocumentFile.document_id == doc_id))
        }
        events = [
            json.loads(e.details)
            for e in s.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "document.archive_renew",
                    AuditEvent.object_id == str(doc_id),
                )
            )
        ]
        assert verify_chain(s)[1] == []
    assert {original.sha256, renewed.sha256} <= shas
    old_path = export(site, original.sha256, "old.pdf")  # ... and stored, intact
    new_path = export(site, renewed.sha256, "new.pdf")
    assert len(events) == 1
    assert events[0]["previous"] == [original.sha256] and events[0]["sha256"] == [renewed.sha256]
    # The new version extends the old one: its bytes start with the previous file's.
    assert new_path.read_bytes()[: old_path.stat().st_size] == old_path.read_bytes()

    # Offline: B-LTA with two document timestamps.
    assert document_timestamps(old_path) == 1 and document_timestamps(new_path) == 2
    report_now = validate_file(new_path, site.roots, allow_fetching=False)
    assert report_now.valid, report_now.to_json()
    assert [s.level for s in report_now.signatures] == ["B-LTA"]
    assert report_now.errors == []

    # After the first TSA certificate has expired, only the renewed file still proves
    # itself (PAdES-LTA validation, nothing fetched).
    later = datetime.now(UTC) + timedelta(days=TSA_DAYS + 30)
    assert lta_indication(new_path, site.roots, later) == "PASSED"
    assert lta_indication(old_path, site.roots, later) == "NO_POE"
    assert lta_indication(old_path, site.roots, datetime.now(UTC)) == "PASSED"

    st = doc_status(site, doc_id)
    assert (st.status, st.document_timestamps) == ("ok", 2)
    assert st.tsa_expires_at is not None and st.tsa_expires_at > later + timedelta(days=3000)
    # The status command agrees and is healthy again.
    shown = cli(site, "archive", "status", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["summary"]["due"] == 0
    assert cli(site, "storage", "verify").returncode == 0


def test_daily_task_renews_once_per_period(site: Site) -> None:
    """Every worker's scheduler tries the task; it runs in one of them per period. A B-LT
    document (no document timestamp yet) is raised to B-LTA when its signature
    timestamp's TSA certificate nears its end."""
    devpki.renew_tsa(site.pki.directory, days=TSA_DAYS)
    site.restart_responder()
    doc_id = receive_signed(site, Level.B_LT, "Gia hạn định kỳ")
    assert doc_status(site, doc_id).status == "due"
    devpki.renew_tsa(site.pki.directory, days=3650)
    site.restart_responder()

    worker = System(Settings.from_env(site.env))  # another process's view
    try:
        # The first scheduler round starts the clock; the task runs a period later.
        maintenance.run_due(worker)
        now = datetime.now(UTC) + timedelta(hours=24, minutes=1)
        assert "archive_renew" in maintenance.run_due(worker, now=now)
        renewed = current(site, doc_id)
        assert renewed.stage == "renewed"
        st = doc_status(site, doc_id)
        assert (st.status, st.level, st.document_timestamps) == ("ok", "B-LTA", 1)
        # The period has not passed: the next round (here or in another worker) runs
        # nothing.
        assert "archive_renew" not in maintenance.run_due(worker, now=now)
        assert "archive_renew" not in maintenance.run_due(site.system, now=now)
        state = maintenance.task_states(worker)["archive_renew"]
        assert state["period_hours"] == 24
        assert state["last_error"] is None and state["last_finished_at"] is not None
        assert state["last_result"]["renewed"] >= 1
        # A day later it runs again.
        later = now + timedelta(hours=24, minutes=1)
        assert "archive_renew" in maintenance.run_due(worker, now=later)
    finally:
        worker.close()


def test_what_cannot_be_renewed_is_listed_with_the_reason(site: Site) -> None:
    doc_id = receive_signed(site, Level.B_B, "Không có dấu thời gian")
    st = doc_status(site, doc_id)
    assert st.status == "not_renewable" and "B-B" in st.reason
    shown = cli(site, "archive", "status")
    assert shown.returncode == 1  # something needs attention
    line = next(ln for ln in shown.stdout.splitlines() if ln.split()[:1] == [str(doc_id)])
    assert "not_renewable" in line and "no timestamp (B-B)" in line
    # A renewal run lists it and leaves it alone.
    before = current(site, doc_id)
    report = archive.renew(site.system, due_within_days=365 * 20)
    assert {
        "document_id": doc_id,
        "number": st.number,
        "status": "not_renewable",
        "reason": st.reason,
    } in report.not_renewable
    assert current(site, doc_id).id == before.id


def test_admin_page_shows_the_archive_health(site: Site) -> None:
    from api import create_app
    from edms.devseed import DEV_USER_PASSWORD

    doc_id = receive_signed(site, Level.B_B, "Trang quản trị")
    client = create_app(site.system).test_client()

    def login(username: str) -> None:  # the API's session is the web's
        r = client.post(
            "/api/v1/sessions", json={"username": username, "password": DEV_USER_PASSWORD}
        )
        assert r.status_code == 201, r.text

    login("vanthu")
    assert client.get("/quan-tri/luu-tru").status_code == 403  # admins only
    login("quantri")
    page = client.get("/quan-tri/luu-tru")
    assert page.status_code == 200
    html = page.text
    assert "Lưu trữ dài hạn văn bản đã ký số" in html
    assert f'href="/van-ban/{doc_id}"' in html or f"/van-ban/{doc_id}" in html
    assert "Chữ ký không có dấu thời gian (B-B)" in html
    assert "Gia hạn tự động" in html and "Chạy mỗi 24 giờ" in html


def test_a_revoked_tsa_is_listed_with_the_reason_and_nothing_renewed(site: Site) -> None:
    devpki.renew_tsa(site.pki.directory, days=TSA_DAYS)
    site.restart_responder()
    doc_id = receive_signed(site, Level.B_LTA, "TSA bị thu hồi")
    before = current(site, doc_id)
    # The TSA's key was compromised: its certificate is revoked, a new one signs.
    devpki.renew_tsa(site.pki.directory, days=3650, revoke_previous=True)
    site.restart_responder()
    report = archive.renew(site.system)
    outcome = next(o for o in report.outcomes if o.document_id == doc_id)
    assert outcome.action == "failed" and "revoked" in outcome.detail
    assert current(site, doc_id).id == before.id  # nothing stored
    with site.system.sessions() as s:
        assert not s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "document.archive_renew", AuditEvent.object_id == str(doc_id)
            )
        ).all()
    st = doc_status(site, doc_id)
    assert st.status == "not_renewable" and st.refused
    assert "revoked" in st.reason and st.cause == "refused"
