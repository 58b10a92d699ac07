"""``edms verify``: checking the signatures of a file or a directory of files.

Invariant: importing this module loads neither pyHanko nor SQLAlchemy nor the domain
model. ``edms verify FILE`` starts one bounded child that imports the validator while this
process works out the trust (:mod:`edms.trust`), so the two overlap; the path is made
absolute before it crosses.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .base import fail, settings

if TYPE_CHECKING:
    from ..config import Settings


def summary(path: Path, report: Any) -> str:
    """A readable verdict: the headline first (never buried), then each signature."""
    lines = [f"{report.headline}: {path}"]
    lines += [f"  - {r}" for r in report.reasons]
    for s in report.signatures:
        who = s.signer.common_name or "?"
        org = f" ({s.signer.organization})" if s.signer.organization else ""
        when = (
            (s.timestamp.time + " (dấu thời gian)")
            if s.timestamp
            else ((s.signing_time or "?") + " (người ký tự khai)")
        )
        state = {
            "valid": "hợp lệ",
            "not_valid": "KHÔNG hợp lệ",
            "indeterminate": "không kiểm tra được",
        }.get(s.status, s.status)
        regime = f" — {s.regime}" if s.regime else ""
        lines.append(
            f"  [{s.field or '-'}] {who}{org} — {when} — {s.level} — {state}"
            f"{regime} — thay đổi sau ký: {s.modifications}"
        )
        lines += [f"      {m}" for m in s.messages]
    for t in report.timestamps:
        lines.append(
            f"  [{t.field}] dấu thời gian tài liệu {t.signing_time or '?'} — "
            f"{'tin cậy' if t.trusted else 'không tin cậy'}"
        )
        lines += [f"      {m}" for m in t.messages]
    lines += [f"  lưu ý: {n}" for n in report.notes]
    if report.unsigned_signature_fields:
        lines.append("  ô chữ ký chưa ký: " + ", ".join(report.unsigned_signature_fields))
    return "\n".join(lines)


def _trust_spec(config: Settings, extra: tuple[Path, ...]) -> dict[str, Any]:
    from signing.trust import TrustSet, load_certificates

    from ..trust import effective_spec

    spec = effective_spec(config, cached=False)
    if extra:
        more = TrustSet.from_json(spec)
        for p in extra:
            more.add(load_certificates(p), "custom", root=True)
        spec = more.to_json()
    return spec


@click.command()
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON report.")
@click.option(
    "--trust",
    "extra_trust",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra trusted root(s), PEM.",
)
@click.option("--batch", is_flag=True, help="Verify every PDF in the TARGET directory.")
@click.option(
    "--online",
    is_flag=True,
    help="Fetch OCSP/CRL data and missing CA certificates (AIA) online.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds allowed per file.")
@click.option("--jobs", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option(
    "--diagnostics",
    is_flag=True,
    help="Print the technical details of unreadable files on stderr (for maintainers).",
)
def verify(
    target: Path,
    as_json: bool,
    extra_trust: tuple[Path, ...],
    batch: bool,
    online: bool,
    timeout: float,
    jobs: int,
    diagnostics: bool,
) -> None:
    """Validate the signatures of TARGET; exit 0 only when valid."""
    import logging  # here, not at the top: `edms verify --help` stays light

    from signing.sandbox import Limits, ValidatorPool, validate_sandboxed

    log = logging.getLogger("signing.validation")
    if diagnostics:
        log.addHandler(logging.StreamHandler(sys.stderr))
    else:  # a person at a terminal gets the report, not exception texts
        log.addHandler(logging.NullHandler())
        log.propagate = False

    s = settings()
    target = target.resolve()
    extra = tuple(p.resolve() for p in extra_trust)
    limits = Limits(seconds=timeout)
    if batch != target.is_dir():
        fail("use --batch with a directory, and a file without it", 2)
    if not batch:
        files = [target]
        reports = [validate_sandboxed(target, lambda: _trust_spec(s, extra), online, limits)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        files = sorted(p for p in target.iterdir() if p.suffix.lower() == ".pdf")
        workers = max(1, min(jobs, len(files)))
        spec = _trust_spec(s, extra)
        with (
            ValidatorPool(spec, online, limits, workers) as validators,
            ThreadPoolExecutor(workers) as pool,
        ):
            reports = list(pool.map(validators.validate, files))
    if as_json:
        out: Any = [{"path": str(f), **r.to_json()} for f, r in zip(files, reports, strict=True)]
        click.echo(json.dumps(out if batch else out[0], ensure_ascii=False, indent=2))
    else:
        for f, r in zip(files, reports, strict=True):
            click.echo(summary(f, r))
    sys.exit(0 if all(r.valid for r in reports) else 1)
