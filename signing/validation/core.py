"""Signature validation with a full, stable report (see :mod:`.report`).

Built on pyHanko's validator, with:

* robust reading of what other products write (:mod:`.reading`, :mod:`.ber`);
* ETSI EN 319 102-1 indications and sub-indications per signature, judged now and, when
  only time stands in the way, at the time a trusted timestamp proves (:mod:`.policy`);
* a diff policy that recognises a plain form fill that also updates a choice field's
  selected indices (``/I``) as form filling (stock pyHanko calls it OTHER);
* the level actually reached (B-B, B-T, B-LT, B-LTA) and the trust regime reached;
* a verdict that is ``valid`` only when every signature is intact, trusted, covers its
  revision, and nothing came after it but validation data or form filling.

Invariant: :func:`validate_bytes` never raises for anything in the file; every failure
becomes a reason in words (and a diagnostic for the log). Files are validated in-process
here; :mod:`signing.sandbox` runs this under a time and memory limit for untrusted input.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.diff_analysis.constants import VALUE_UPDATE_KEYS
from pyhanko.sign.diff_analysis.form_rules_api import FormUpdatingRule
from pyhanko.sign.diff_analysis.policies import StandardDiffPolicy
from pyhanko.sign.diff_analysis.rules.file_structure_rules import (
    CatalogModificationRule,
    ObjectStreamRule,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.rules.form_field_rules import (
    DSSCompareRule,
    GenericFieldModificationRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
)
from pyhanko.sign.diff_analysis.rules.metadata_rules import DocInfoRule, MetadataUpdateRule
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from ..trust import TrustSet
from . import policy, reading
from .messages import describe
from .report import (
    ACCEPTABLE_CHANGES,
    INDETERMINATE,
    NOT_VALID,
    VALID,
    Report,
    SignatureReport,
    SignerReport,
    TimestampReport,
    failure_report,
    file_facts,
    vn_time,
)

log = logging.getLogger("signing.validation")


def _diff_policy() -> StandardDiffPolicy:
    return StandardDiffPolicy(
        global_rules=[
            CatalogModificationRule(),
            DocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
            XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
            ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
            DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
            MetadataUpdateRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ],
        form_rule=FormUpdatingRule(
            field_rules=[
                SigFieldCreationRule(),
                SigFieldModificationRule(),
                # /I holds a choice field's selected indices: part of its value (ISO 32000-1
                # 12.7.4.4), changed together with /V by every viewer that fills the form.
                GenericFieldModificationRule(value_update_keys=VALUE_UPDATE_KEYS | {"/I"}),
            ]
        ),
    )


DIFF_POLICY = _diff_policy()

_MODS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "validation_data_only",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}

TRUST_REASONS = {
    "NO_CERTIFICATE_CHAIN_FOUND": "chứng thư số không thuộc tổ chức chứng thực nào được tin "
    "cậy / the certificate does not chain to a trusted root",
    "OUT_OF_BOUNDS_NO_POE": "chứng thư số đã hết hạn và không có dấu thời gian tin cậy chứng "
    "minh chữ ký được tạo khi còn hạn / the certificate has expired "
    "and no trusted timestamp proves the signature existed before",
    "OUT_OF_BOUNDS_NOT_REVOKED": "chứng thư số đã hết hạn / the certificate has expired",
    "NOT_YET_VALID": "chứng thư số chưa có hiệu lực tại thời điểm ký / the certificate was "
    "not yet valid",
    "REVOKED_NO_POE": "chứng thư số đã bị thu hồi và không có bằng chứng chữ ký có trước khi "
    "thu hồi / the certificate was revoked and nothing proves the "
    "signature came first",
    "REVOKED": "chứng thư số đã bị thu hồi / the certificate has been revoked",
    "REVOKED_CA_NO_POE": "chứng thư của tổ chức chứng thực đã bị thu hồi / a CA certificate "
    "of the chain was revoked",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "thuật toán yếu, không có bằng chứng chữ ký được tạo "
    "trước ngày ngừng chấp nhận / a weak algorithm with "
    "no proof the signature predates its cut-off",
    "CRYPTO_CONSTRAINTS_FAILURE": "thuật toán hoặc độ dài khóa không còn được chấp nhận / the "
    "algorithm or key size is no longer accepted",
    "CHAIN_CONSTRAINTS_FAILURE": "chuỗi chứng thư không đáp ứng ràng buộc (mục đích sử dụng "
    "khóa, chính sách) / the certificate chain fails its "
    "constraints",
    "TRY_LATER": "chưa lấy được thông tin thu hồi chứng thư / revocation information could "
    "not be obtained yet",
    "SIG_CONSTRAINTS_FAILURE": "chữ ký không đáp ứng ràng buộc của chính sách ký / the "
    "signature fails the signature policy's constraints",
}


@dataclass
class _Dss:
    certs: list[Any] = field(default_factory=list)
    ocsps: list[Any] = field(default_factory=list)
    crls: list[Any] = field(default_factory=list)
    present: bool = False


def _array(obj: Any) -> list[Any]:
    obj = obj.get_object() if isinstance(obj, generic.IndirectObject) else obj
    return list(obj) if isinstance(obj, generic.ArrayObject) else []


def _read_dss(reader: PdfFileReader) -> _Dss:
    """Certificates, OCSP responses and CRLs embedded for long-term validation (a damaged
    entry, or a damaged dictionary, is simply not used)."""
    out = _Dss()
    try:
        dss = reader.root.raw_get("/DSS")
        dss = dss.get_object() if isinstance(dss, generic.IndirectObject) else dss
    except KeyError:
        return out
    except Exception:
        return out
    if not isinstance(dss, generic.DictionaryObject):
        return out
    out.present = "/OCSPs" in dss or "/CRLs" in dss
    for key, kind, target in (
        ("/Certs", x509.Certificate, out.certs),
        ("/OCSPs", ocsp.OCSPResponse, out.ocsps),
        ("/CRLs", crl.CertificateList, out.crls),
    ):
        try:
            items = _array(dss.raw_get(key))
        except KeyError:
            continue
        except Exception:
            continue
        for ref in items:
            try:
                target.append(kind.load(ref.get_object().data))
            except Exception:
                continue
    return out


def _ocsp_serials(resp: Any) -> set[int]:
    try:
        basic = resp["response_bytes"]["response"].parsed
        return {
            r["cert_id"]["serial_number"].native for r in basic["tbs_response_data"]["responses"]
        }
    except Exception:
        return set()


@dataclass
class _Ctx:
    reader: PdfFileReader
    data: bytes
    dss: _Dss
    trust: TrustSet
    fetch: bool
    certified: bool = False
    doc_stamps: list[tuple[Any, datetime | None, bool]] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)

    def context(self, sig: Any, moment: datetime | None = None) -> ValidationContext:
        """A validation context for one signature: trust roots, the pool and the file's DSS
        certificates, the file's revocation data (first), online fetching if allowed.
        OCSP responses are limited to those about certificates of this signature: pyHanko
        treats a response about another certificate from the same issuer as a failed
        check instead of ignoring it."""
        try:
            serials = {c.serial_number for c in [sig.signer_cert, *sig.other_embedded_certs]}
        except Exception:
            serials = set()
        ocsps = [o for o in self.dss.ocsps if _ocsp_serials(o) & serials]
        past = moment is not None
        return ValidationContext(
            trust_roots=self.trust.roots,
            other_certs=[*self.trust.pool, *self.dss.certs],
            ocsps=ocsps,
            crls=self.dss.crls,
            allow_fetching=self.fetch,
            revocation_mode="soft-fail",
            moment=moment,
            retroactive_revinfo=past,
            algorithm_usage_policy=policy.POLICY,
        )


def _signer(cert: x509.Certificate | None) -> SignerReport:
    if cert is None:
        return SignerReport()
    try:
        subj = cert.subject.native
        return SignerReport(
            common_name=str(subj.get("common_name", "")),
            organization=str(subj.get("organization_name", "")),
            title=str(subj.get("title", "")),
            serial=format(cert.serial_number, "x"),
            issuer=cert.issuer.human_friendly,
        )
    except Exception:
        return SignerReport()


def _coverage(level: SignatureCoverageLevel | None) -> str:
    if level is SignatureCoverageLevel.ENTIRE_FILE:
        return "whole_file"
    if level is SignatureCoverageLevel.ENTIRE_REVISION:
        return "whole_revision"
    return "partial"


def _safe(fn: Any, default: Any = None) -> Any:
    try:
        return fn()
    except Exception:
        return default


def validate_file(
    path: str | os.PathLike[str],
    trust: TrustSet | list[x509.Certificate] | tuple[x509.Certificate, ...],
    allow_fetching: bool = False,
) -> Report:
    """Validate the file at ``path``: read once into memory, or read from disk on demand
    when larger than :data:`reading.IN_MEMORY_MAX`."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= reading.IN_MEMORY_MAX:
                return validate_bytes(f.read(), trust, allow_fetching)
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
            facts = {"sha256": h.hexdigest(), "size": size, "revisions": None}
            return _checked(reading.Source(fd=f.fileno(), size=size), facts, trust, allow_fetching)
    except OSError:
        return failure_report(
            {"sha256": None, "size": None, "revisions": None},
            "không mở được tệp / the file cannot be opened",
        )


def validate_bytes(
    data: bytes,
    trust: TrustSet | list[x509.Certificate] | tuple[x509.Certificate, ...],
    allow_fetching: bool = False,
) -> Report:
    return _checked(reading.Source(data), file_facts(data), trust, allow_fetching)


def _checked(
    src: reading.Source,
    facts: dict[str, Any],
    trust: TrustSet | list[x509.Certificate] | tuple[x509.Certificate, ...],
    allow_fetching: bool,
) -> Report:
    trust_set = trust if isinstance(trust, TrustSet) else TrustSet.of(trust)
    try:
        return _validate(src, facts, trust_set, allow_fetching)
    except reading.Unreadable as exc:
        return failure_report(facts, exc.reason, diagnostic=exc.diagnostic or None)
    except RecursionError:
        return failure_report(
            facts,
            "cấu trúc tệp PDF lồng nhau quá sâu / the PDF structure is nested too deeply",
            diagnostic="RecursionError",
        )
    except Exception as exc:  # the report never carries an exception; the log does
        reason, diag = describe(exc)
        log.warning("validation failed unexpectedly for sha256=%s: %s", facts["sha256"], diag)
        return failure_report(facts, reason, diagnostic=diag)


def _validate(src: reading.Source, facts: dict[str, Any], trust: TrustSet, fetch: bool) -> Report:
    loaded = reading.load(src)
    reader = loaded.reader
    facts["revisions"] = _safe(lambda: reader.xrefs.total_revisions)
    found, empty = reading.collect(reader)
    ctx = _Ctx(reader, loaded.data, _read_dss(reader), trust, fetch)
    regular = [f for f in found if not f.is_timestamp]
    stamps = [f for f in found if f.is_timestamp]
    ctx.certified = any(
        _docmdp(f.signature) is not None for f in regular if f.signature is not None
    )
    stamp_reports = [_validate_doc_stamp(ctx, f) for f in stamps]
    reports = [_validate_one(ctx, f) for f in regular]
    report = Report(
        file=facts,
        valid=False,
        signatures=reports,
        unsigned_signature_fields=empty,
        notes=loaded.notes,
        diagnostics=ctx.diagnostics,
    )
    report.timestamps = stamp_reports
    report.errors += [f"{s.field}: {s.reason}" for s in stamp_reports if s.status == NOT_VALID]
    if not regular:
        report.errors.append("no signature in the file")
    return report.conclude()


def _docmdp(sig: Any) -> Any:
    try:
        return sig.docmdp_level
    except Exception:
        return None


def _unreadable(found: reading.Found, ctx: _Ctx, kind: str) -> SignatureReport:
    if found.diagnostic:
        ctx.diagnostics.append(f"{found.name}: {found.diagnostic}")
    return SignatureReport(
        field=found.name,
        signer=SignerReport(),
        signing_time=None,
        timestamp=None,
        level="unknown",
        indication="INDETERMINATE",
        sub_indication="FORMAT_FAILURE",
        integrity=False,
        trusted=False,
        revocation="not_checked",
        coverage="unknown",
        modifications="unknown",
        status=NOT_VALID if found.failed else INDETERMINATE,
        reason=found.problem,
        kind=kind,
        messages=[
            found.problem
            if found.failed
            else f"Không kiểm tra được / Cannot be validated: {found.problem}"
        ],
    )


def _validate_doc_stamp(ctx: _Ctx, found: reading.Found) -> SignatureReport:
    if found.signature is None:
        return _unreadable(found, ctx, "document_timestamp")
    ts = found.signature
    try:
        st = validate_pdf_timestamp(ts, validation_context=ctx.context(ts))
    except Exception as exc:
        reason, diag = describe(exc)
        ctx.diagnostics.append(f"{found.name}: {diag}")
        return _unreadable(
            reading.Found(found.name, found.field, None, reason, "", True),
            ctx,
            "document_timestamp",
        )
    intact = bool(st.intact and st.valid)
    trusted = intact and st.trust_problem_indic is None and st.validation_path is not None
    coverage = _coverage(st.coverage)
    when = getattr(st, "timestamp", None)
    ctx.doc_stamps.append((ts, when, trusted))
    messages, status, reason, changed = [], VALID, "", False
    if not st.intact:
        status, changed = NOT_VALID, True
        reason = (
            "dấu thời gian tài liệu không khớp dữ liệu: tài liệu đã bị sửa sau thời điểm "
            "đóng dấu / the document timestamp does not match: the document changed"
        )
    elif not st.valid:
        status = NOT_VALID
        reason = "dấu thời gian tài liệu không đúng chữ ký / the document timestamp is broken"
    elif coverage == "partial":
        status = NOT_VALID
        reason = (
            "dấu thời gian tài liệu không phủ phiên bản của nó / the document "
            "timestamp does not cover its revision"
        )
    elif not trusted:
        messages.append(
            "Dấu thời gian của đơn vị không được tin cậy, không dùng làm bằng chứng "
            "thời gian / timestamp authority not trusted: not used as proof"
        )
    if reason:
        messages.append(reason)
    sub = None if trusted else _safe(lambda: st.trust_problem_indic.name)
    return SignatureReport(
        field=found.name,
        signer=_signer(_safe(lambda: st.signing_cert)),
        signing_time=vn_time(when),
        timestamp=None,
        level="DTS",
        indication="TOTAL_PASSED"
        if status == VALID and trusted
        else ("TOTAL_FAILED" if status == NOT_VALID else "INDETERMINATE"),
        sub_indication=sub,
        integrity=intact,
        trusted=trusted,
        revocation="not_checked",
        coverage=coverage,
        modifications="none",
        messages=messages,
        status=status,
        reason=reason,
        changed=changed,
        kind="document_timestamp",
        regime=ctx.trust.regime_of(_safe(lambda: list(st.validation_path), []) or []),
        validation_time=vn_time(datetime.now().astimezone()),
    )


def _proof_of_existence(ctx: _Ctx, sig: Any, st: Any) -> datetime | None:
    """The earliest time a trusted timestamp proves the signature existed: its own
    signature timestamp, or a later document timestamp covering it."""
    times = []
    tv = st.timestamp_validity
    if tv is not None and tv.intact and tv.valid and tv.trusted and tv.timestamp:
        times.append(tv.timestamp)
    for ts, when, trusted in ctx.doc_stamps:
        if (
            trusted
            and when is not None
            and _safe(lambda ts=ts: ts.signed_revision > sig.signed_revision, False)
        ):
            times.append(when)
    return min(times) if times else None


def _validate_one(ctx: _Ctx, found: reading.Found) -> SignatureReport:
    if found.signature is None:
        return _unreadable(found, ctx, "signature")
    sig = found.signature
    messages: list[str] = []
    try:
        st = _status(ctx, found)
    except Exception as exc:
        reason, diag = describe(exc)
        ctx.diagnostics.append(f"{found.name}: {diag}")
        problem = reading.Found(found.name, found.field, None, reason, "", False)
        out = _unreadable(problem, ctx, "signature")
        out.signer = _signer(_safe(lambda: sig.signer_cert))
        return out
    trust_st = st
    sub_now = _safe(lambda: st.trust_problem_indic.name)
    poe = None
    if sub_now in policy.TIME_DEPENDENT and st.intact and st.valid:
        poe = _proof_of_existence(ctx, sig, st)
        if poe is not None:
            try:
                trust_st = _status(ctx, found, moment=poe)
            except Exception as exc:
                ctx.diagnostics.append(
                    f"{found.name}: past validation: {type(exc).__name__}: {exc}"
                )
                trust_st = st
    coverage = _coverage(st.coverage)
    br_problem = _byterange_problem(sig)
    mods = _MODS.get(st.modification_level, "other") if st.modification_level else "other"
    if st.docmdp_ok is False and mods in ACCEPTABLE_CHANGES:
        mods = "other"  # beyond what the certification signature permits
    if not br_problem and _covers_whole_file(ctx, sig):
        # nothing follows the signature in the file, whatever pyHanko's revision count
        # says (linearized files confuse it): nothing can have changed after it
        coverage, mods = "whole_file", "none"
    diff = st.diff_result
    changed_fields = getattr(diff, "changed_form_fields", None)
    shadow = False
    if changed_fields and mods in ("form_filling", "annotations"):
        covering = _covering_fields(ctx, sig, set(changed_fields))
        if covering:
            mods, shadow = "other", True
            messages.append(
                "Ô biểu mẫu/chữ ký mới che lên nội dung đã ký / A field added or "
                f"filled after signing paints over signed content: "
                f"{', '.join(covering)}"
            )
    integrity = bool(st.intact and st.valid)
    trusted = trust_st.trust_problem_indic is None and trust_st.validation_path is not None
    sub: str | None = None
    status, reason, changed = VALID, "", False
    if br_problem:
        indication, sub, status = "TOTAL_FAILED", "FORMAT_FAILURE", NOT_VALID
        reason = f"vùng ký (ByteRange) không hợp lệ / malformed ByteRange: {br_problem}"
    elif not st.intact:
        indication, sub, status, changed = "TOTAL_FAILED", "HASH_FAILURE", NOT_VALID, True
        reason = (
            "dữ liệu đã ký không khớp: tài liệu đã bị sửa sau khi ký / the signed data "
            "does not match: the document was changed after signing"
        )
    elif not st.valid:
        indication, sub, status = "TOTAL_FAILED", "SIG_CRYPTO_FAILURE", NOT_VALID
        reason = (
            "giá trị chữ ký không đúng với khóa của người ký / the signature value does "
            "not verify with the signer's key"
        )
    elif coverage == "partial":
        indication, sub, status = "TOTAL_FAILED", "FORMAT_FAILURE", NOT_VALID
        reason = (
            "chữ ký không phủ toàn bộ phiên bản đã ký / the signature does not cover "
            "its whole revision"
        )
    elif trust_st.trust_problem_indic is not None:
        indication = (
            "TOTAL_FAILED"
            if isinstance(trust_st.trust_problem_indic, AdESFailure)
            else "INDETERMINATE"
        )
        sub = trust_st.trust_problem_indic.name
        status = NOT_VALID
        reason = TRUST_REASONS.get(
            sub or "", "chứng thư số không được tin cậy / the certificate is not trusted"
        )
    else:
        indication = "TOTAL_PASSED"
    if status == VALID and mods not in ACCEPTABLE_CHANGES:
        status, changed = NOT_VALID, True
        reason = {
            "annotations": "có thêm chú thích sau khi ký / annotations were added after signing"
        }.get(
            mods,
            "nội dung tài liệu đã bị sửa sau khi ký / the document content was "
            "modified after signing",
        )
    elif mods not in ACCEPTABLE_CHANGES and integrity and not br_problem and coverage != "partial":
        changed = True  # proven by the diff analysis, whatever else is wrong
    if shadow:
        changed = True
    revocation = "not_checked"
    if trust_st.revocation_details is not None:
        revocation = "revoked"
    elif trusted and (ctx.dss.ocsps or ctx.dss.crls or ctx.fetch):
        revocation = "good" if (ctx.dss.ocsps or ctx.dss.crls) else "unknown"
    elif trust_st.validation_path is not None and ctx.fetch:
        revocation = "unknown"
    ts = None
    if st.timestamp_validity is not None:
        tv = st.timestamp_validity
        ts = TimestampReport(
            vn_time(tv.timestamp) or "",
            _signer(tv.signing_cert).common_name,
            bool(tv.intact and tv.valid),
            bool(tv.trusted),
        )
    level = _level(ctx, sig)
    digest = str(_safe(lambda: sig.md_algorithm, "") or "")
    sig_algo = str(
        _safe(lambda: sig.signer_info["signature_algorithm"].signature_algo, "")
        or _safe(lambda: sig.signer_info["signature_algorithm"]["algorithm"].native, "")
    )
    weak = policy.weak_algorithms(digest, sig_algo) if status == VALID else []
    validated_at = poe if (poe is not None and trust_st is not st) else None
    if changed:
        messages.insert(0, f"ĐÃ BỊ THAY ĐỔI SAU KHI KÝ / CHANGED AFTER SIGNING: {reason}")
    elif reason:
        messages.append(reason)
    if mods == "form_filling" and status == VALID:
        messages.append("Chỉ điền biểu mẫu sau khi ký / Only form filling after signing")
    elif mods == "validation_data_only":
        messages.append(
            "Chỉ bổ sung dữ liệu kiểm tra dài hạn / Only long-term validation "
            "data added after signing"
        )
    if validated_at is not None:
        messages.append(
            "Đánh giá tại thời điểm được dấu thời gian chứng minh "
            f"({vn_time(validated_at)}) / judged at the time proven by a "
            "timestamp"
        )
    if weak:
        messages.append(
            f"Ký bằng thuật toán yếu ({', '.join(weak)}), được chấp nhận vì có bằng "
            f"chứng chữ ký tồn tại trước {policy.SHA1_CUTOFF.date()} / made with a "
            "weak algorithm, accepted on proof of existence before the cut-off"
        )
    if trusted and revocation == "not_checked":
        messages.append(
            "Chưa kiểm tra thu hồi chứng thư (không có dữ liệu OCSP/CRL) / "
            "Revocation not checked (no OCSP/CRL data)"
        )
    if ts is None:
        messages.append(
            "Thời gian ký do người ký tự khai / The signing time is the signer's "
            "own claim (no trusted timestamp)"
        )
    path_certs = _safe(lambda: list(trust_st.validation_path), []) or []
    return SignatureReport(
        field=found.name,
        signer=_signer(_safe(lambda: st.signing_cert)),
        signing_time=vn_time(st.signer_reported_dt or _safe(lambda: sig.self_reported_timestamp)),
        timestamp=ts,
        level=level,
        indication=indication,
        sub_indication=sub,
        integrity=integrity,
        trusted=trusted,
        revocation=revocation,
        coverage=coverage,
        modifications=mods,
        messages=messages,
        status=status,
        reason=reason,
        changed=changed,
        regime=ctx.trust.regime_of(reversed(path_certs)),
        validation_time=vn_time(validated_at or datetime.now().astimezone()),
        proof_of_existence=vn_time(poe),
        digest_algorithm=digest,
        signature_algorithm=sig_algo,
        weak_algorithms=weak,
    )


def _status(ctx: _Ctx, found: reading.Found, moment: datetime | None = None) -> Any:
    """pyHanko's status of one signature, judged now (with the difference analysis) or at
    ``moment`` (trust only). ``adbe.pkcs7.sha1`` signatures, which pyHanko does not
    validate, go through :func:`_legacy_sha1_status`."""
    sig = found.signature
    if found.legacy_sha1:
        return _legacy_sha1_status(ctx, sig, moment)
    if moment is None:
        return validate_pdf_signature(sig, ctx.context(sig), diff_policy=DIFF_POLICY)
    return validate_pdf_signature(
        sig,
        ctx.context(sig, moment=moment),
        ts_validation_context=ctx.context(sig),
        diff_policy=DIFF_POLICY,
        skip_diff=True,
    )


def _legacy_sha1_status(ctx: _Ctx, sig: Any, moment: datetime | None) -> Any:
    """An ``adbe.pkcs7.sha1`` signature (ISO 32000-1 §12.8.3.3.1): the CMS encapsulates
    the SHA-1 digest of the byte range. Intact when that digest is the byte range's and
    the CMS signature over it verifies; trust as for any CMS signature."""
    import asyncio
    from types import SimpleNamespace

    from pyhanko.sign.validation.generic_cms import async_validate_cms_signature
    from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy

    if moment is None:
        sig.compute_integrity_info(diff_policy=DIFF_POLICY)
    integrity = sig.summarise_integrity_info()
    encap = sig.signed_data["encap_content_info"]["content"]
    embedded_digest = encap.native if encap.native is not None else b""
    if not isinstance(embedded_digest, bytes):  # some writers wrap it in an OCTET STRING
        embedded_digest = bytes(embedded_digest)
    doc_ok = sig.compute_digest("sha1") in (embedded_digest, embedded_digest[-20:])
    vc = ctx.context(sig, moment=moment)
    cms_st = asyncio.run(
        async_validate_cms_signature(
            sig.signed_data,
            validation_context=vc,
            algorithm_policy=CMSAlgorithmUsagePolicy.lift_policy(policy.POLICY),
        )
    )
    return SimpleNamespace(
        intact=doc_ok and cms_st.intact,
        valid=cms_st.valid,
        trust_problem_indic=cms_st.trust_problem_indic,
        validation_path=cms_st.validation_path,
        revocation_details=cms_st.revocation_details,
        signing_cert=cms_st.signing_cert,
        timestamp_validity=None,
        signer_reported_dt=getattr(cms_st, "signer_reported_dt", None),
        coverage=integrity.get("coverage"),
        diff_result=integrity.get("diff_result"),
        docmdp_ok=integrity.get("docmdp_ok"),
        modification_level=getattr(integrity.get("diff_result"), "modification_level", None)
        if integrity.get("diff_result")
        else (
            ModificationLevel.NONE
            if integrity.get("coverage") is SignatureCoverageLevel.ENTIRE_FILE
            else None
        ),
    )


def _has_signature_timestamp(sig: Any) -> bool:
    attrs = sig.signer_info["unsigned_attrs"]
    if not attrs or attrs.native is None:
        return False
    return any(a["type"].native == "signature_time_stamp_token" for a in attrs)


def _level(ctx: _Ctx, sig: Any) -> str:
    if not _safe(lambda: _has_signature_timestamp(sig), False):
        return "B-B"
    if not ctx.dss.present:
        return "B-T"
    if any(
        _safe(lambda ts=ts: ts.signed_revision > sig.signed_revision, False)
        for ts, _, _ in ctx.doc_stamps
    ):
        return "B-LTA"
    return "B-LT"


def _covering_fields(ctx: _Ctx, sig: Any, changed: set[str]) -> list[str]:
    """Fields changed or added after ``sig`` whose widgets cover ink of the signed page:
    value fields always (shadow attacks); new signature widgets on a certified document
    (sneaky signatures)."""
    from ..engine import widget_of
    from ..overlay import text_under_bytes

    reader = ctx.reader
    by_page: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
    sig_fields = {name for name, _ in reading.signature_fields(reader)}
    for name in sorted(changed):
        if name in sig_fields and not ctx.certified:
            continue
        widget = _safe(lambda name=name: widget_of(reader, name))
        if widget is None:
            continue
        x1, y1, x2, y2 = widget.rect
        if abs(x2 - x1) < 1 or abs(y2 - y1) < 1:
            continue  # invisible
        by_page.setdefault(widget.page, []).append((name, widget.rect))
    if not by_page:
        return []
    br = [int(v) for v in sig.byte_range]
    covering = []
    for page, items in by_page.items():
        page_obj = reader.find_page_for_modification(page)[0].get_object()
        box = page_obj["/CropBox"] if "/CropBox" in page_obj else page_obj["/MediaBox"]
        page_box = tuple(float(v) for v in box)
        inked = text_under_bytes(
            bytes(ctx.data[0 : br[2] + br[3]]), page, [r for _, r in items], page_box
        )  # type: ignore[arg-type]
        covering += [name for (name, _), ink in zip(items, inked, strict=True) if ink]
    return covering


def _covers_whole_file(ctx: _Ctx, sig: Any) -> bool:
    try:
        br = [int(v) for v in sig.byte_range]
    except (TypeError, ValueError):
        return False
    return len(br) == 4 and br[0] == 0 and br[2] + br[3] == len(ctx.data)


def _byterange_problem(sig: Any) -> str | None:
    """A ByteRange must be [0 a b c] with the gap exactly the /Contents string."""
    try:
        br = [int(v) for v in sig.byte_range]
    except (TypeError, ValueError):
        return "not four integers"
    if len(br) != 4:
        return f"{len(br)} numbers instead of 4"
    start, len1, start2, len2 = br
    if start != 0:
        return "does not start at the beginning of the file"
    if len1 <= 0 or len2 < 0 or start2 <= len1:
        return f"impossible ranges {br}"
    contents = sig.sig_object.raw_get("/Contents")
    gap = start2 - len1
    if gap != 2 * len(bytes(contents)) + 2:
        return f"the excluded gap ({gap} bytes) is not exactly the /Contents string"
    return None
