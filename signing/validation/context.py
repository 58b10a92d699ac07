"""What one validation run shares: the diff policy, the file's DSS (certificates, OCSP
responses, CRLs), the per-signature validation context, and small readers that never raise.

Invariants: a signature's validation context holds only the OCSP responses about its own
certificates (pyHanko counts a response about another certificate of the same issuer as a
failed check); the file's own revocation data comes first, fetching only when allowed;
:func:`_safe` turns any failure into its default, so reading a hostile file never raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import crl, ocsp, x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
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
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from ..trust import TrustSet
from . import policy, reading
from .report import SignatureReport, SignerReport, unreadable_signature

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


def _unreadable(found: reading.Found, ctx: _Ctx, kind: str) -> SignatureReport:
    if found.diagnostic:
        ctx.diagnostics.append(f"{found.name}: {found.diagnostic}")
    return unreadable_signature(found.name, found.problem, failed=found.failed, kind=kind)


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
