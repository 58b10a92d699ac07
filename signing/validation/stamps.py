"""Judging a document timestamp (ETSI.RFC3161 in its own signature field).

Invariants: a document timestamp is ``valid`` only when intact, from a trusted authority
and covering its revision; an untrusted one is reported but never used as proof of time.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pyhanko.sign.validation import validate_pdf_timestamp

from . import reading
from .context import _coverage, _Ctx, _safe, _signer, _unreadable
from .messages import describe
from .report import (
    NOT_VALID,
    VALID,
    SignatureReport,
    vn_time,
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
    indic = st.trust_problem_indic  # pyHanko's sub-indications are enums (AdESFailure, ...)
    sub = indic.name if not trusted and isinstance(indic, Enum) else None
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
        regime=ctx.trust.regime_of(list(path) if (path := st.validation_path) is not None else []),
        validation_time=vn_time(datetime.now().astimezone()),
    )
