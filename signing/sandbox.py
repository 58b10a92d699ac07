"""Validating untrusted files under a time and a memory limit.

Each file is validated in a child process (``python -m signing.sandbox``) with an address
space limit (RLIMIT_AS) and a CPU-time limit, and killed at a wall-clock deadline. Whatever
the file does — an endless object loop, a decompression bomb, a parser crash — the caller
gets a report: INDETERMINATE / FORMAT_FAILURE with the reason, never an exception, never
a hang.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .validation import Report, SignatureReport, SignerReport, TimestampReport, format_failure


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0
    memory_mb: int = 1024


def report_from_json(data: dict[str, Any]) -> Report:
    sigs = []
    for s in data.get("signatures", []):
        s = dict(s)
        s["signer"] = SignerReport(**s["signer"])
        s["timestamp"] = TimestampReport(**s["timestamp"]) if s.get("timestamp") else None
        sigs.append(SignatureReport(**s))
    return Report(file=data["file"], valid=bool(data["valid"]), signatures=sigs,
                  unsigned_signature_fields=list(data.get("unsigned_signature_fields", [])),
                  errors=list(data.get("errors", [])))


def _limit(limits: Limits) -> Any:
    def apply() -> None:
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(limits.seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    return apply


def validate_sandboxed(path: str | os.PathLike[str], trust_pems: list[str],
                       allow_fetching: bool = False, limits: Limits = Limits()) -> Report:
    path = Path(path)
    if not path.is_file():
        return format_failure(path, "no such file")
    request = json.dumps({"path": str(path), "trust": trust_pems,
                          "allow_fetching": allow_fetching})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "signing.sandbox"], input=request, capture_output=True,
            text=True, timeout=limits.seconds, preexec_fn=_limit(limits),
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    except subprocess.TimeoutExpired:
        return format_failure(path, f"validation did not finish within {limits.seconds:g} s "
                                    "(a malformed or hostile file)")
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
        if proc.returncode < 0 or "MemoryError" in proc.stderr:
            why = (f"validation exceeded its limits ({limits.memory_mb} MB, "
                   f"{limits.seconds:g} s)")
        else:
            why = f"the validator failed on this file: {tail[0][:300]}"
        return format_failure(path, why)
    try:
        return report_from_json(json.loads(proc.stdout))
    except (ValueError, KeyError, TypeError) as exc:
        return format_failure(path, f"the validator returned no report: {exc}")


def _main() -> None:
    from asn1crypto import pem, x509

    from .validation import validate_file

    req = json.loads(sys.stdin.read())
    roots = []
    for bundle in req.get("trust", []):
        data = Path(bundle).read_bytes()
        if pem.detect(data):
            roots += [x509.Certificate.load(d) for _, _, d in pem.unarmor(data, multiple=True)]
        else:
            roots.append(x509.Certificate.load(data))
    try:
        report = validate_file(req["path"], roots, bool(req.get("allow_fetching")))
    except Exception as exc:  # the parent gets a report, whatever happened
        report = format_failure(Path(req["path"]), f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(report.to_json()))


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)  # pyHanko logs tracebacks for expected failures
    _main()
