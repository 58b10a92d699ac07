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

The validator's parts: :mod:`.context` (what one run shares: diff policy, DSS, contexts),
:mod:`.judge` (one signature), :mod:`.stamps` (one document timestamp); this module is the
entry point (:func:`validate_file`, :func:`validate_bytes`) and re-exports their names.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from asn1crypto import x509

from ..trust import TrustSet
from . import reading
from .context import (
    DIFF_POLICY,
    TRUST_REASONS,
    _Ctx,
    _read_dss,
    _safe,
    log,
)
from .judge import _validate_one
from .messages import describe
from .report import (
    NOT_VALID,
    Report,
    failure_report,
    file_facts,
)
from .stamps import _validate_doc_stamp


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


__all__ = [
    "DIFF_POLICY",
    "TRUST_REASONS",
    "validate_bytes",
    "validate_file",
]
