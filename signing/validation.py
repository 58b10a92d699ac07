"""Signature validation with a full, stable report (see ``Report.to_json``).

Built on pyHanko's validator, with:

* ETSI EN 319 102-1 indications and sub-indications per signature;
* a diff policy that recognises a plain form fill that also updates a choice field's
  selected indices (``/I``) as form filling (stock pyHanko calls it OTHER);
* the level actually reached (B-B, B-T, B-LT, B-LTA);
* a ``valid`` verdict that needs every signature TOTAL_PASSED and trusted, integrity,
  standard byte-range coverage, and nothing after any signature but validation data, form
  filling (and, where permitted, annotations);
* messages in Vietnamese and English, a "changed after signing" verdict first.

Files are validated in-process here; :mod:`signing.sandbox` runs this under a time and
memory limit for untrusted input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509
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

from .ltv import has_signature_timestamp

ACCEPTABLE_CHANGES = ("none", "validation_data_only", "form_filling")


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
        form_rule=FormUpdatingRule(field_rules=[
            SigFieldCreationRule(),
            SigFieldModificationRule(),
            # /I holds a choice field's selected indices: part of its value (ISO 32000-1
            # 12.7.4.4), changed together with /V by every viewer that fills the form.
            GenericFieldModificationRule(value_update_keys=VALUE_UPDATE_KEYS | {"/I"}),
        ]),
    )


DIFF_POLICY = _diff_policy()


@dataclass
class SignerReport:
    common_name: str = ""
    organization: str = ""
    title: str = ""
    serial: str = ""
    issuer: str = ""


@dataclass
class TimestampReport:
    time: str
    tsa: str
    intact: bool


@dataclass
class SignatureReport:
    field: str
    signer: SignerReport
    signing_time: str | None
    timestamp: TimestampReport | None
    level: str
    indication: str
    sub_indication: str | None
    integrity: bool
    trusted: bool
    revocation: str
    coverage: str
    modifications: str
    messages: list[str] = dataclasses.field(default_factory=list)


@dataclass
class Report:
    file: dict[str, Any]
    valid: bool
    signatures: list[SignatureReport] = field(default_factory=list)
    unsigned_signature_fields: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed_after_signing(self) -> bool:
        return any(s.modifications not in ACCEPTABLE_CHANGES or s.coverage == "partial"
                   or not s.integrity for s in self.signatures)


def _signer(cert: x509.Certificate | None) -> SignerReport:
    if cert is None:
        return SignerReport()
    subj = cert.subject.native
    return SignerReport(
        common_name=str(subj.get("common_name", "")),
        organization=str(subj.get("organization_name", "")),
        title=str(subj.get("title", "")),
        serial=format(cert.serial_number, "x"),
        issuer=cert.issuer.human_friendly,
    )


def _coverage(level: SignatureCoverageLevel | None) -> str:
    if level is SignatureCoverageLevel.ENTIRE_FILE:
        return "whole_file"
    if level is SignatureCoverageLevel.ENTIRE_REVISION:
        return "whole_revision"
    return "partial"


_MODS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "validation_data_only",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat(timespec="seconds")


def file_facts(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "size": size, "revisions": None}


def format_failure(path: Path, message: str) -> Report:
    """The report for a file that could not be parsed or validated at all."""
    facts = file_facts(path) if path.is_file() else {"sha256": None, "size": None,
                                                     "revisions": None}
    return Report(file=facts, valid=False, errors=[message], signatures=[SignatureReport(
        field="", signer=SignerReport(), signing_time=None, timestamp=None, level="unknown",
        indication="INDETERMINATE", sub_indication="FORMAT_FAILURE", integrity=False,
        trusted=False, revocation="not_checked", coverage="partial", modifications="other",
        messages=[f"Không đọc được tệp / The file cannot be validated: {message}"],
    )])


def validate_file(path: str | os.PathLike[str], trust_roots: list[x509.Certificate],
                  allow_fetching: bool = False) -> Report:
    path = Path(path)
    facts = file_facts(path)
    errors: list[str] = []
    with open(path, "rb") as f:
        try:
            reader = PdfFileReader(f, strict=False)
            facts["revisions"] = reader.xrefs.total_revisions
        except Exception as exc:
            return format_failure(path, f"not a readable PDF: {type(exc).__name__}: {exc}")
        dss = _read_dss(reader)
        try:
            sig_fields = _signature_fields(reader)
        except Exception as exc:
            return format_failure(path, f"cannot read the signature fields: {exc}")
        try:
            embedded = list(reader.embedded_signatures)
        except Exception as exc:
            return format_failure(path, f"malformed signature: {type(exc).__name__}: {exc}")
        signed_names = {s.field_name for s in embedded}
        unsigned = [n for n in sig_fields if n not in signed_names]
        doc_ts = [s for s in embedded if s.sig_object_type == "/DocTimeStamp"]
        regular = [s for s in embedded if s.sig_object_type != "/DocTimeStamp"]
        reports = []
        certified = any(_docmdp(s) is not None for s in regular)
        for sig in regular:
            vc = _context(sig, dss, trust_roots, allow_fetching)
            reports.append(_validate_one(reader, sig, vc, doc_ts, path, certified))
        for ts in doc_ts:
            try:
                vc = _context(ts, dss, trust_roots, allow_fetching)
                st = validate_pdf_timestamp(ts, validation_context=vc)
                if not (st.intact and st.valid):
                    errors.append(f"document timestamp {ts.field_name} is broken")
                if _coverage(st.coverage) == "partial":
                    errors.append(f"document timestamp {ts.field_name} does not cover "
                                  "its revision")
            except Exception as exc:
                errors.append(f"document timestamp {ts.field_name}: {exc}")
    if not regular:
        errors.append("no signature in the file")
    valid = bool(reports) and not errors and all(
        r.indication == "TOTAL_PASSED" and r.trusted and r.integrity
        and r.coverage != "partial" and r.modifications in ACCEPTABLE_CHANGES
        for r in reports)
    return Report(file=facts, valid=valid, signatures=reports,
                  unsigned_signature_fields=unsigned, errors=errors)


@dataclass
class _Dss:
    certs: list[Any] = field(default_factory=list)
    ocsps: list[Any] = field(default_factory=list)
    crls: list[Any] = field(default_factory=list)


def _read_dss(reader: PdfFileReader) -> _Dss:
    """Certificates, OCSP responses and CRLs embedded for long-term validation."""
    from asn1crypto import crl, ocsp

    try:
        dss = reader.root["/DSS"]
    except KeyError:
        return _Dss()
    out = _Dss()
    for key, kind, target in (("/Certs", x509.Certificate, out.certs),
                              ("/OCSPs", ocsp.OCSPResponse, out.ocsps),
                              ("/CRLs", crl.CertificateList, out.crls)):
        for ref in dss.get(key, ()):
            try:
                target.append(kind.load(ref.get_object().data))
            except Exception:  # a damaged entry is simply not used
                continue
    return out


def _ocsp_serials(resp: Any) -> set[int]:
    try:
        basic = resp["response_bytes"]["response"].parsed
        return {r["cert_id"]["serial_number"].native
                for r in basic["tbs_response_data"]["responses"]}
    except Exception:
        return set()


def _context(sig: Any, dss: _Dss, roots: list[x509.Certificate],
             fetch: bool) -> ValidationContext:
    """A validation context for one signature: trust roots, the file's DSS data (first),
    online fetching if allowed. OCSP responses are limited to those about certificates of
    this signature: pyHanko treats a response about another certificate from the same
    issuer as a failed check instead of ignoring it."""
    try:
        serials = {c.serial_number for c in [sig.signer_cert, *sig.other_embedded_certs]}
    except Exception:
        serials = set()
    ocsps = [o for o in dss.ocsps if _ocsp_serials(o) & serials]
    return ValidationContext(trust_roots=roots, other_certs=dss.certs, ocsps=ocsps,
                             crls=dss.crls, allow_fetching=fetch,
                             revocation_mode="soft-fail")


def _signature_fields(reader: PdfFileReader) -> list[str]:
    from pyhanko.sign import fields

    return [str(name) for name, _, _ in fields.enumerate_sig_fields(reader)]


def _docmdp(sig: Any) -> Any:
    try:
        return sig.docmdp_level
    except Exception:
        return None


def _covering_fields(reader: PdfFileReader, sig: Any, path: Path, changed: set[str],
                     certified: bool) -> list[str]:
    """Fields changed or added after ``sig`` whose widgets cover ink of the signed page:
    value fields always (shadow attacks); new signature widgets on a certified document
    (sneaky signatures)."""
    from .engine import widget_of
    from .overlay import text_under

    by_page: dict[int, list[tuple[str, tuple[float, float, float, float]]]] = {}
    sig_fields = set(_signature_fields(reader))
    for name in sorted(changed):
        if name in sig_fields and not certified:
            continue
        widget = widget_of(reader, name)
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
        inked = text_under(path, br[2] + br[3], page, [r for _, r in items],
                          page_box)  # type: ignore[arg-type]
        covering += [name for (name, _), ink in zip(items, inked, strict=True) if ink]
    return covering


def _validate_one(reader: PdfFileReader, sig: Any, vc: ValidationContext,
                  doc_ts: list[Any], path: Path, certified: bool) -> SignatureReport:
    messages: list[str] = []
    try:
        st = validate_pdf_signature(sig, vc, diff_policy=DIFF_POLICY)
    except Exception as exc:
        return SignatureReport(
            field=str(sig.field_name), signer=_signer(_safe_cert(sig)), signing_time=None,
            timestamp=None, level="unknown", indication="INDETERMINATE",
            sub_indication="FORMAT_FAILURE", integrity=False, trusted=False,
            revocation="not_checked", coverage="partial", modifications="other",
            messages=[f"Chữ ký không đọc được / The signature cannot be processed: {exc}"])
    coverage = _coverage(st.coverage)
    br_problem = _byterange_problem(sig)
    mods = _MODS.get(st.modification_level, "other") if st.modification_level else "other"
    if st.docmdp_ok is False and mods in ACCEPTABLE_CHANGES:
        mods = "other"  # beyond what the certification signature permits
    diff = st.diff_result
    changed = getattr(diff, "changed_form_fields", None)
    if changed and mods in ("form_filling", "annotations"):
        covering = _covering_fields(reader, sig, path, set(changed), certified)
        if covering:
            mods = "other"
            messages.append("Ô biểu mẫu/chữ ký mới che lên nội dung đã ký / A field added or "
                            f"filled after signing paints over signed content: "
                            f"{', '.join(covering)}")
    integrity = bool(st.intact and st.valid)
    trusted = st.trust_problem_indic is None and st.validation_path is not None
    sub: str | None = None
    if br_problem:
        indication, sub = "TOTAL_FAILED", "FORMAT_FAILURE"
        messages.append(f"ByteRange không hợp lệ / Malformed ByteRange: {br_problem}")
    elif not st.intact:
        indication, sub = "TOTAL_FAILED", "HASH_FAILURE"
    elif not st.valid:
        indication, sub = "TOTAL_FAILED", "SIG_CRYPTO_FAILURE"
    elif coverage == "partial":
        indication, sub = "TOTAL_FAILED", "FORMAT_FAILURE"
    elif st.trust_problem_indic is not None:
        indication = ("TOTAL_FAILED" if isinstance(st.trust_problem_indic, AdESFailure)
                      else "INDETERMINATE")
        sub = st.trust_problem_indic.name
    else:
        indication = "TOTAL_PASSED"
    revocation = "not_checked"
    if st.revocation_details is not None:
        revocation = "revoked"
    elif trusted and (vc.ocsps or vc.crls):
        revocation = "good"  # revocation data was there (DSS or fetched) and cleared it
    elif st.validation_path is not None and vc.fetching_allowed:
        revocation = "unknown"
    ts = None
    if st.timestamp_validity is not None:
        tv = st.timestamp_validity
        ts = TimestampReport(_iso(tv.timestamp) or "", _signer(tv.signing_cert).common_name,
                             bool(tv.intact and tv.valid))
    level = "B-B"
    if has_signature_timestamp(sig):
        level = "B-T"
        try:
            dss = reader.root["/DSS"]
        except KeyError:
            dss = None
        if dss is not None and ("/OCSPs" in dss or "/CRLs" in dss):
            level = "B-LT"
            if any(t.signed_revision > sig.signed_revision for t in doc_ts):
                level = "B-LTA"
    if mods not in ACCEPTABLE_CHANGES or coverage == "partial" or not integrity:
        messages.append("ĐÃ BỊ THAY ĐỔI SAU KHI KÝ / CHANGED AFTER SIGNING: " + {
            "other": "nội dung tài liệu đã bị sửa / the document content was modified",
            "annotations": "có thêm chú thích / annotations were added",
        }.get(mods, "vùng ký không phủ toàn bộ tài liệu / the signature does not cover "
                    "the document" if coverage == "partial" else
                    "dữ liệu đã ký không khớp / the signed data does not match"))
    elif mods == "form_filling":
        messages.append("Chỉ điền biểu mẫu sau khi ký / Only form filling after signing")
    elif mods == "validation_data_only":
        messages.append("Chỉ bổ sung dữ liệu kiểm tra dài hạn / Only long-term validation "
                        "data added after signing")
    if not trusted:
        messages.append(f"Chứng thư số không được tin cậy / Certificate not trusted ({sub})")
    elif revocation == "not_checked":
        messages.append("Chưa kiểm tra thu hồi chứng thư (không có dữ liệu OCSP/CRL) / "
                        "Revocation not checked (no OCSP/CRL data)")
    if ts is None:
        messages.append("Thời gian ký do người ký tự khai / The signing time is the signer's "
                        "own claim (no trusted timestamp)")
    return SignatureReport(
        field=str(sig.field_name), signer=_signer(st.signing_cert),
        signing_time=_iso(st.signer_reported_dt or sig.self_reported_timestamp),
        timestamp=ts, level=level, indication=indication, sub_indication=sub,
        integrity=integrity, trusted=trusted, revocation=revocation, coverage=coverage,
        modifications=mods, messages=messages)


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


def _safe_cert(sig: Any) -> x509.Certificate | None:
    try:
        return sig.signer_cert  # type: ignore[no-any-return]
    except Exception:
        return None
