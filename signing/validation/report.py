"""The validation report: one verdict a person can rely on, and the details behind it.

Invariants:

* Exactly three verdicts: ``valid``, ``not_valid`` and ``indeterminate`` ("cannot be
  validated"). Their headlines are Vietnamese first (:data:`HEADLINES`).
* ``changed`` (and so :attr:`Report.changed_after_signing`) is set only on proof: a digest
  that does not match the signed bytes, or a modification after signing that the diff
  analysis found outside the allowed kinds. A file or signature that cannot be read is
  ``indeterminate``, never "changed".
* Nothing in a report comes from an exception's text: reasons are fixed sentences chosen by
  what went wrong. Internal details go to ``diagnostics``, which crosses the sandbox
  boundary to be logged for the maintainers and is never shown or stored.
* Times are ISO 8601 in Vietnam time (+07:00).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

VN_TZ = timezone(timedelta(hours=7), "ICT")

VALID, NOT_VALID, INDETERMINATE = "valid", "not_valid", "indeterminate"
HEADLINES = {
    VALID: "HỢP LỆ / VALID",
    NOT_VALID: "KHÔNG HỢP LỆ / NOT VALID",
    INDETERMINATE: "KHÔNG KIỂM TRA ĐƯỢC / CANNOT BE VALIDATED",
}
CHANGED_HEADLINE = "ĐÃ BỊ THAY ĐỔI SAU KHI KÝ / CHANGED AFTER SIGNING"
ACCEPTABLE_CHANGES = ("none", "validation_data_only", "form_filling")


def vn_time(t: datetime | None) -> str | None:
    """ISO 8601 in Vietnam time; naive datetimes are taken as UTC."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(VN_TZ).isoformat(timespec="seconds")


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
    trusted: bool = False


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
    status: str = INDETERMINATE
    reason: str = ""
    changed: bool = False
    kind: str = "signature"  # or "document_timestamp"
    regime: str = ""
    validation_time: str | None = None
    proof_of_existence: str | None = None
    digest_algorithm: str = ""
    signature_algorithm: str = ""
    weak_algorithms: list[str] = dataclasses.field(default_factory=list)


@dataclass
class Report:
    file: dict[str, Any]
    valid: bool
    signatures: list[SignatureReport] = field(default_factory=list)
    timestamps: list[SignatureReport] = field(default_factory=list)  # document timestamps
    unsigned_signature_fields: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    verdict: str = INDETERMINATE
    headline: str = HEADLINES[INDETERMINATE]
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)

    def to_json(self, *, diagnostics: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not diagnostics:
            out.pop("diagnostics", None)
        out["changed_after_signing"] = self.changed_after_signing
        return out

    @property
    def changed_after_signing(self) -> bool:
        return any(s.changed for s in self.signatures)

    def conclude(self) -> Report:
        """Work out ``verdict``, ``headline``, ``reasons`` and ``valid`` from the parts."""
        sigs = self.signatures
        stamps = self.timestamps
        reasons: list[str] = []
        failed = [s for s in (*sigs, *stamps) if s.status == NOT_VALID]
        unreadable = [s for s in (*sigs, *stamps) if s.status == INDETERMINATE]
        if failed:
            verdict = NOT_VALID
            reasons += [f"{s.field or 'chữ ký'}: {s.reason}" for s in failed]
        elif any(s.status == INDETERMINATE for s in sigs):
            verdict = INDETERMINATE
            reasons += [f"{s.field}: {s.reason}" if s.field else s.reason for s in unreadable]
        elif not sigs:
            verdict = NOT_VALID
            reasons.append(
                "Tệp không có chữ ký số nào / The file carries no signature"
                + (" (chỉ có dấu thời gian tài liệu / only document timestamps)" if stamps else "")
            )
        else:
            verdict = VALID
        self.verdict = verdict
        self.valid = verdict == VALID
        self.headline = CHANGED_HEADLINE if self.changed_after_signing else HEADLINES[verdict]
        self.reasons = reasons
        return self


def file_facts(data: Any) -> dict[str, Any]:
    """SHA-256 and size of the file's bytes (bytes or a memory map)."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "revisions": None}


def unreadable_signature(
    field: str, reason: str, *, failed: bool = False, kind: str = "signature"
) -> SignatureReport:
    """A signature (or document timestamp) that cannot be judged: ``FORMAT_FAILURE``,
    ``not_valid`` when ``failed`` (the reason then says what is wrong), else
    ``indeterminate`` ("cannot be validated" and the reason)."""
    return SignatureReport(
        field=field,
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
        messages=[reason if failed else f"Không kiểm tra được / Cannot be validated: {reason}"],
        status=NOT_VALID if failed else INDETERMINATE,
        reason=reason,
        kind=kind,
    )


def failure_report(
    facts: dict[str, Any],
    reason: str,
    *,
    diagnostic: str | None = None,
    notes: list[str] | None = None,
) -> Report:
    """The report for a file that cannot be validated at all: ``indeterminate`` with the
    reason in words."""
    sig = unreadable_signature("", reason)
    report = Report(
        file=facts,
        valid=False,
        signatures=[sig],
        notes=list(notes or []),
        errors=[reason],
        diagnostics=[diagnostic] if diagnostic else [],
    )
    return report.conclude()


def format_failure(path: Path, reason: str) -> Report:
    """``failure_report`` for a file on disk (facts read if it exists)."""
    try:
        facts = file_facts(path.read_bytes())
    except OSError:
        facts = {"sha256": None, "size": None, "revisions": None}
    return failure_report(facts, reason)


def report_from_json(data: dict[str, Any]) -> Report:
    names = {f.name for f in dataclasses.fields(SignatureReport)}
    stamps = [_signature_from_json(s, names) for s in data.get("timestamps", [])]
    sigs = [_signature_from_json(s, names) for s in data.get("signatures", [])]
    report = Report(
        file=data["file"],
        valid=bool(data["valid"]),
        signatures=sigs,
        timestamps=stamps,
        unsigned_signature_fields=list(data.get("unsigned_signature_fields", [])),
        errors=list(data.get("errors", [])),
        notes=list(data.get("notes", [])),
        diagnostics=list(data.get("diagnostics", [])),
    )
    if "verdict" in data:
        report.verdict = data["verdict"]
        report.headline = data.get("headline", HEADLINES.get(report.verdict, ""))
        report.reasons = list(data.get("reasons", []))
    else:  # a report stored before verdicts existed
        report.verdict = VALID if report.valid else NOT_VALID
        report.headline = (
            CHANGED_HEADLINE if report.changed_after_signing else HEADLINES[report.verdict]
        )
    return report


def _signature_from_json(s: dict[str, Any], names: set[str]) -> SignatureReport:
    s = {k: v for k, v in s.items() if k in names}
    if "changed" not in s:  # stored before "changed" was recorded: proof only
        s["changed"] = s.get("sub_indication") == "HASH_FAILURE" or s.get("modifications") in (
            "other",
            "annotations",
        )
        s["status"] = (
            VALID if s.get("indication") == "TOTAL_PASSED" and s.get("trusted") else NOT_VALID
        )
    s["signer"] = SignerReport(**s["signer"])
    s["timestamp"] = TimestampReport(**s["timestamp"]) if s.get("timestamp") else None
    return SignatureReport(**s)
