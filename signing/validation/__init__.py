"""Signature validation: robust reading, policy, and one honest report.

Modules: :mod:`.report` (the report and its verdicts), :mod:`.reading` (bytes, structure,
signature fields; the pyHanko workarounds), :mod:`.ber` (BER CMS), :mod:`.policy` (time of
judgement, algorithms), :mod:`.messages` (reasons in words), :mod:`.core` (the validator).
"""

from typing import Any

from .report import (
    ACCEPTABLE_CHANGES,
    CHANGED_HEADLINE,
    HEADLINES,
    INDETERMINATE,
    NOT_VALID,
    VALID,
    Report,
    SignatureReport,
    SignerReport,
    TimestampReport,
    failure_report,
    file_facts,
    format_failure,
    report_from_json,
    vn_time,
)

__all__ = [
    "ACCEPTABLE_CHANGES",
    "CHANGED_HEADLINE",
    "DIFF_POLICY",
    "HEADLINES",
    "INDETERMINATE",
    "NOT_VALID",
    "VALID",
    "Report",
    "SignatureReport",
    "SignerReport",
    "TimestampReport",
    "failure_report",
    "file_facts",
    "format_failure",
    "report_from_json",
    "validate_bytes",
    "validate_file",
    "vn_time",
]


def __getattr__(name: str) -> Any:
    """The validator itself loads pyHanko: imported on first use, so that reading a stored
    report (or a light command line) does not pay for it."""
    if name in ("DIFF_POLICY", "validate_bytes", "validate_file"):
        from . import core

        return getattr(core, name)
    raise AttributeError(name)
