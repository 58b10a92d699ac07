"""The digitization pipeline: scans → checked pages → PDF/A-2b with Vietnamese OCR →
dossier metadata and QR code → the agency's ``copy`` signature (B-LT or higher) → stored
and registered in the copies register, linked to its dossier, searchable by its text.

Each stage is a module of its own (:mod:`.intake`, :mod:`.ocr`, :mod:`.stamp`) and can
be run alone; this module only orders them and commits the result in one transaction,
like every document step (nothing is left behind when a stage fails).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.engine import Level, Profile, SigningError, TrustServiceError
from signing.validation import Report, validate_file

from .. import audit, blobs, search
from ..db import transaction
from ..documents import (
    apply_document_retention,
    run_in_transaction,
    signature_record,
    vn_today,
    workdir,
)
from ..dossiers import validate_code
from ..errors import ClientError, EdmsError, InternalError, NotFound, ServiceUnavailable
from ..models import (
    Agency,
    DigitizedCopy,
    Document,
    DocumentFile,
    StatusEvent,
)
from ..numbering import register_for, take_number
from ..orgs import active_key, load_user, open_key, require_role
from ..signatures import engine_for, options_for, trust_set
from ..system import System
from . import intake, ocr, stamp

COPY_TYPES = {"SAO Y": "SY", "SAO LỤC": "SL", "TRÍCH SAO": "TrS"}
RESULT_TYPE = "ket-qua-tthc"
PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CopyRequest:
    """What the clerk enters with the scans (the dossier metadata)."""

    dossier_code: str  # MaHoSo
    original_type: str  # "Giấy chứng nhận đăng ký hộ kinh doanh"
    procedure_code: str = ""  # MaTTHC
    result_code: str = ""
    holder_name: str = ""
    original_number: str = ""
    original_date: date | None = None
    subject: str = ""
    copy_type: str = "SAO Y"
    secrecy: int = 0
    with_qr: bool = True


@dataclass
class CopyResult:
    document_id: int
    public_id: str
    number: str
    pages: int
    min_dpi: int
    signed_sha256: str
    warnings: list[str] = field(default_factory=list)
    report: Report | None = None


def check_request(r: CopyRequest) -> None:
    """Refuse (ClientError) a request the pipeline would refuse, before any scan is read."""
    if r.secrecy:
        raise ClientError("secret papers are not digitized through the ordinary flow")
    validate_code(r.dossier_code, "dossier code (mã hồ sơ)", 50)
    if not r.original_type.strip() or len(r.original_type) > 200:
        raise ClientError("the original's document type is required, up to 200 characters")
    if r.copy_type not in COPY_TYPES:
        raise ClientError(f"the copy type is one of {', '.join(COPY_TYPES)}")
    for name, value, limit in (
        ("procedure code", r.procedure_code, 50),
        ("result code", r.result_code, 50),
        ("holder's name", r.holder_name, 100),
        ("original's number", r.original_number, 50),
        ("subject", r.subject, 500),
    ):
        if len(value) > limit:
            raise ClientError(f"the {name} is longer than {limit} characters")


def _signer_ready(system: System, key: Any, level: Level) -> tuple[Any, Any]:
    profile = open_key(system, key)
    engine = engine_for(system.settings, profile)
    # A TSA outage is reported by the signing step itself, with its message.
    with contextlib.suppress(Exception):
        engine.reserved_size(level, profile.key.signer())
    return profile, engine


def verify_url(system: System, public_id: str) -> str:
    return f"{system.settings.public_url}/verify/{public_id}"


def digitize(
    system: System,
    actor: str,
    paths: list[Path],
    request: CopyRequest,
    progress: Progress | None = None,
) -> CopyResult:
    """Digitize one paper result from its scans (one or more files, folders or ZIPs, in
    order). Raises a clear error for anything refused; stores nothing then."""
    say = progress or (lambda _stage: None)
    check_request(request)
    settings = system.settings
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "clerk", action="digitize paper results")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        key = active_key(s, agency_id=agency.id)
    ocr.check_available()
    level = Level(settings.sign_level_seal)
    if level.rank < Level.B_LT.rank:
        level = Level.B_LT  # copies are kept for years: long-term validation data
    with workdir(system) as wd, ThreadPoolExecutor(max_workers=1) as side:
        say("intake")
        taken = intake.run(
            paths,
            wd,
            min_dpi=settings.scan_min_dpi,
            warn_dpi=settings.scan_warn_dpi,
            settings=settings,
        )
        scan = intake.assemble(taken, wd / "scan.pdf", workers=settings.ocr_jobs)
        # While OCR keeps the cores busy, open the agency key and measure the timestamp
        # reservation (network round trips), so signing starts at once afterwards.
        warm = side.submit(_signer_ready, system, key, level)
        say("ocr")
        pdfa = ocr.to_pdfa(
            scan,
            wd / "pdfa.pdf",
            jobs=settings.ocr_jobs,
            sidecar=wd / "text.txt",
            memory_mb=settings.ocr_memory_mb,
        )
        profile, engine = warm.result()
        public_id = secrets.token_urlsafe(12)
        copy = wd / "copy.pdf"
        copy.write_bytes(pdfa.read_bytes())
        say("metadata")
        placed = stamp.apply(
            copy,
            stamp.CopyFacts(
                request.dossier_code,
                request.procedure_code,
                request.result_code,
                request.holder_name,
                request.original_type,
                request.original_number,
                request.original_date,
                request.subject,
                agency.name,
                request.copy_type,
            ),
            verify_url(system, public_id) if request.with_qr else None,
        )
        say("sign")
        signed = wd / "signed.pdf"
        try:
            result = engine.sign(
                copy,
                signed,
                options_for(
                    profile,
                    Profile.COPY,
                    level=level,
                    copy_type=request.copy_type,
                    agency=agency.name,
                    page=0,
                    box=placed.copy_box,
                ),
            )
        except TrustServiceError as exc:
            raise ServiceUnavailable(
                f"signing the copy failed, nothing was stored: {exc}"
            ) from None
        except SigningError as exc:
            raise InternalError(f"signing the copy failed, nothing was stored: {exc}") from None
        # A B-LT copy carries its own revocation data: validate it with that alone (the
        # long-term check), without fetching again.
        report = validate_file(signed, trust_set(settings), allow_fetching=False)
        if not report.valid:
            raise InternalError(
                "the signed copy does not validate, nothing was stored: "
                + "; ".join(report.errors or [m for r in report.signatures for m in r.messages][:3])
            )
        # The words to index are OCR's own (its text layer is all the copy's text).
        text = (
            (wd / "text.txt").read_text("utf-8", errors="replace")
            if (wd / "text.txt").is_file()
            else search.extract_pdf_text(signed)
        )
        say("store")

        def work(s: Session, puts: list[blobs.PutOutcome]) -> CopyResult:
            user = load_user(s, actor)
            now = datetime.now(UTC)
            register = register_for(s, user.agency_id, "copies", now)
            n = take_number(s, register.id)
            notation = f"{COPY_TYPES[request.copy_type]}-{agency.abbreviation}"
            doc = Document(
                agency_id=user.agency_id,
                direction="copy",
                state="issued",
                type_code=RESULT_TYPE,
                subject=(request.subject or request.original_type)[:500],
                description=f"{request.copy_type}: {request.original_type}"[:500],
                organ_name=agency.name,
                organ_id=agency.code,
                page_amount=taken.pages,
                register_id=register.id,
                number=n,
                code_number=f"{n:02d}",
                code_notation=notation,
                issued_date=vn_today(now),
                sent_at=now,
                signer_name=agency.name[:50],
                created_by=user.id,
                created_at=now,
                updated_at=now,
            )
            s.add(doc)
            s.flush()
            for f in taken.files:
                put = blobs.add_file(
                    system, s, f.path, name=f.label, allowed=tuple(intake.SCAN_TYPES)
                )
                puts.append(put)
                s.add(
                    DocumentFile(
                        document_id=doc.id,
                        role="scan",
                        stage="master",
                        sha256=put.sha256,
                        name=f.label[:255],
                        created_by=user.id,
                        created_at=now,
                    )
                )
            for path, role, stage in ((pdfa, "pdfa", "pdfa"), (signed, "main", "sealed")):
                put = blobs.add_file(system, s, path, name=f"{doc.id}-{stage}.pdf")
                puts.append(put)
                rec = DocumentFile(
                    document_id=doc.id,
                    role=role,
                    stage=stage,
                    sha256=put.sha256,
                    name=f"{doc.id}-{stage}.pdf",
                    created_by=user.id,
                    created_at=now,
                )
                s.add(rec)
                s.flush()
            signed_sha = put.sha256
            s.add(signature_record(doc, rec, Profile.COPY, result, user, key, report))
            s.add(
                DigitizedCopy(
                    document_id=doc.id,
                    public_id=public_id,
                    dossier_code=request.dossier_code,
                    procedure_code=request.procedure_code,
                    result_code=request.result_code,
                    holder_name=request.holder_name,
                    original_type=request.original_type,
                    original_number=request.original_number,
                    original_date=request.original_date,
                    copy_type=request.copy_type,
                    pages=taken.pages,
                    min_dpi=taken.min_dpi,
                    ocr_language=ocr.LANGUAGE,
                    signed_sha256=signed_sha,
                    created_at=now,
                )
            )
            s.add(
                StatusEvent(
                    document_id=doc.id,
                    at=now,
                    actor_id=user.id,
                    action="digitize",
                    from_state=None,
                    to_state="issued",
                    note=f"{taken.pages} trang, {taken.min_dpi} dpi",
                )
            )
            audit.record(
                s,
                user.username,
                "copy.digitize",
                "document",
                str(doc.id),
                {
                    "dossier": request.dossier_code,
                    "pages": taken.pages,
                    "dpi": taken.min_dpi,
                    "sha256": signed_sha,
                    "public_id": public_id,
                },
            )
            # A copy made for one of the agency's citizens' dossiers is its result.
            from ..reception import link_digitized

            link_digitized(s, doc, request.dossier_code, user.username)
            dossier_words = " ".join(
                (
                    request.dossier_code,
                    request.procedure_code,
                    request.result_code,
                    request.holder_name,
                    request.original_type,
                    request.original_number,
                )
            )
            search.reindex(
                s, doc, "Kết quả giải quyết thủ tục hành chính", f"{dossier_words} {text}"
            )
            return CopyResult(
                doc.id,
                public_id,
                f"{n:02d}/{notation}",
                taken.pages,
                taken.min_dpi,
                signed_sha,
                taken.warnings,
                report,
            )

        done: CopyResult = run_in_transaction(system, work)
    apply_document_retention(system, done.document_id)
    say("done")
    return done


# -- batches ------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    done: list[tuple[str, CopyResult]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def digitize_batch(
    system: System,
    actor: str,
    items: list[tuple[str, list[Path], CopyRequest]],
    on_item: Callable[[int, str], None] | None = None,
) -> BatchOutcome:
    """Each item is one paper result; a refused item is listed and the batch goes on."""
    out = BatchOutcome()
    for i, (label, paths, request) in enumerate(items, 1):
        try:
            out.done.append((label, digitize(system, actor, paths, request)))
        except ServiceUnavailable:
            raise  # OCR or a trust service is missing: every item would fail the same way
        except EdmsError as exc:
            out.failed.append((label, exc.message))
        if on_item:
            on_item(i, label)
    return out


# -- public verification ------------------------------------------------------------------------


def _vn(value: str | None) -> str | None:
    """A time as people read it: Vietnam time, ISO 8601 with +07:00."""
    if not value:
        return None
    from ..numbering import VN_TZ

    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(VN_TZ).isoformat(timespec="seconds")


@dataclass
class PublicCheck:
    """What anyone holding the QR code may learn: whether the copy is authentic, which
    agency made it and when, its hash and the signature's state. Nothing else (not the
    holder, not the dossier)."""

    public_id: str
    authentic: bool
    headline: str  # one plain Vietnamese sentence, stated first on the page
    agency: str
    copy_type: str
    number: str
    issued_date: str
    registered_sha256: str
    checked_sha256: str
    signature_valid: bool
    changed_after_signing: bool
    signed_at: str | None
    signer: str
    file_checked: str  # "registered" (the stored copy) or "uploaded"


def public_check(system: System, public_id: str, uploaded: Path | None = None) -> PublicCheck:
    """Check the registered copy (``uploaded`` None) or a copy someone holds."""
    from ..signatures import validate_sandboxed

    if not PUBLIC_ID.match(public_id):
        raise NotFound("no electronic copy with this code")
    with system.sessions() as s:
        row = s.scalars(select(DigitizedCopy).where(DigitizedCopy.public_id == public_id)).first()
        if row is None:
            raise NotFound("no electronic copy with this code")
        doc = s.get(Document, row.document_id)
        assert doc is not None
        facts: dict[str, Any] = {
            "agency": doc.organ_name,
            "copy_type": row.copy_type,
            "number": f"{doc.code_number}/{doc.code_notation}",
            "issued_date": doc.issued_date.strftime("%d/%m/%Y") if doc.issued_date else "",
            "registered": row.signed_sha256,
        }
    with workdir(system) as wd:
        target = uploaded
        if target is None:
            target = wd / "registered.pdf"
            blobs.export_to_file(system, facts["registered"], target)
        h = hashlib.sha256()
        with open(target, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        checked = h.hexdigest()
        report = validate_sandboxed(system.settings, target)
    same = checked == facts["registered"]
    sig = report.signatures[0] if report.signatures else None
    changed = report.changed_after_signing
    authentic = same and report.valid
    if authentic:
        headline = (
            f"Bản sao điện tử XÁC THỰC: đúng bản do {facts['agency']} ký số ngày "
            f"{facts['issued_date']}, không bị thay đổi sau khi ký."
        )
    elif changed:
        headline = "KHÔNG XÁC THỰC: tệp đã bị thay đổi sau khi ký số; không dùng được tệp này."
    elif not same:
        headline = "KHÔNG XÁC THỰC: tệp này không phải bản sao đã đăng ký với mã xác thực này."
    else:
        headline = "KHÔNG XÁC THỰC: chữ ký số của bản sao không hợp lệ."
    with transaction(system.sessions) as s:
        audit.record(
            s,
            "public",
            "copy.public_check",
            "document",
            str(doc.id),
            {"authentic": authentic, "uploaded": uploaded is not None, "sha256": checked},
        )
    return PublicCheck(
        public_id,
        authentic,
        headline,
        facts["agency"],
        facts["copy_type"],
        facts["number"],
        facts["issued_date"],
        facts["registered"],
        checked,
        report.valid,
        changed,
        _vn(sig.signing_time) if sig else None,
        sig.signer.common_name if sig else "",
        "uploaded" if uploaded else "registered",
    )
