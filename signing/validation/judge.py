"""Judging one signature: pyHanko's status (with our diff policy, or at a proven earlier
time for trust only), legacy ``adbe.pkcs7.sha1`` signatures, the level reached and the
fields that ink over the signed content.

Invariants: a signature is ``valid`` only when it is intact, trusted, covers its revision
and nothing came after it but validation data or form filling; when only time stands in
the way, it is judged again at the time a trusted timestamp proves.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from pyhanko.sign.ades.report import AdESFailure
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel, SignatureStatus
from pyhanko_certvalidator import ValidationContext

from . import policy, reading

if TYPE_CHECKING:
    from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
from .context import (
    _MODS,
    DIFF_POLICY,
    TRUST_REASONS,
    _coverage,
    _Ctx,
    _proof_of_existence,
    _safe,
    _signer,
    _unreadable,
)
from .messages import describe
from .report import (
    ACCEPTABLE_CHANGES,
    NOT_VALID,
    VALID,
    SignatureReport,
    TimestampReport,
    vn_time,
)


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


class _ValidateCms(Protocol):
    """The signature of pyHanko's ``async_validate_cms_signature`` implementation."""

    def __call__(
        self,
        signed_data: Any,
        *,
        validation_context: ValidationContext | None = None,
        algorithm_policy: CMSAlgorithmUsagePolicy | None = None,
    ) -> Coroutine[Any, Any, SignatureStatus]: ...


def _status(ctx: _Ctx, found: reading.Found, moment: datetime | None = None) -> Any:
    """pyHanko's status of one signature, judged now (with the difference analysis) or at
    ``moment`` (trust only). ``adbe.pkcs7.sha1`` signatures, which pyHanko does not
    validate, go through :func:`_legacy_sha1_status`."""
    sig = found.signature
    if sig is None:  # callers judge only filled fields; an empty one has nothing to validate
        raise ValueError(f"signature field {found.name!r} holds no signature to validate")
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
    # pyHanko 0.38's overloads of async_validate_cms_signature leave out the
    # ``algorithm_policy`` keyword its implementation takes (and applies): call it through
    # the implementation's signature, so the SHA-1 CMS is judged by our algorithm policy.
    validate_cms = cast(_ValidateCms, async_validate_cms_signature)
    cms_st = asyncio.run(
        validate_cms(
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
        bx1, by1, bx2, by2 = (float(v) for v in box)  # a box is four numbers (ISO 32000-1 7.9.5)
        inked = text_under_bytes(
            bytes(ctx.data[0 : br[2] + br[3]]), page, [r for _, r in items], (bx1, by1, bx2, by2)
        )
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
