"""`edms verify` and `edms trust`: checking signatures, and deciding whom to trust.

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
from typing import Any

import click

from .cliutil import fail
from .config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        fail(f"configuration: {exc}", 2)


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


def _trust_spec(settings: Settings, extra: tuple[Path, ...]) -> dict[str, Any]:
    from signing.trust import TrustSet, load_certificates

    from .trust import effective_spec

    spec = effective_spec(settings, cached=False)
    if extra:
        more = TrustSet.from_json(spec)
        for p in extra:
            more.add(load_certificates(p), "custom", root=True)
        spec = more.to_json()
    return spec


def register(main: click.Group) -> None:
    @main.command()
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
        import logging

        from signing.sandbox import Limits, ValidatorPool, validate_sandboxed

        log = logging.getLogger("signing.validation")
        if diagnostics:
            log.addHandler(logging.StreamHandler(sys.stderr))
        else:  # a person at a terminal gets the report, not exception texts
            log.addHandler(logging.NullHandler())
            log.propagate = False

        settings = _settings()
        target = target.resolve()
        extra = tuple(p.resolve() for p in extra_trust)
        limits = Limits(seconds=timeout)
        if batch != target.is_dir():
            fail("use --batch with a directory, and a file without it", 2)
        if not batch:
            files = [target]
            reports = [
                validate_sandboxed(target, lambda: _trust_spec(settings, extra), online, limits)
            ]
        else:
            from concurrent.futures import ThreadPoolExecutor

            files = sorted(p for p in target.iterdir() if p.suffix.lower() == ".pdf")
            workers = max(1, min(jobs, len(files)))
            spec = _trust_spec(settings, extra)
            with (
                ValidatorPool(spec, online, limits, workers) as validators,
                ThreadPoolExecutor(workers) as pool,
            ):
                reports = list(pool.map(validators.validate, files))
        if as_json:
            out: Any = [
                {"path": str(f), **r.to_json()} for f, r in zip(files, reports, strict=True)
            ]
            click.echo(json.dumps(out if batch else out[0], ensure_ascii=False, indent=2))
        else:
            for f, r in zip(files, reports, strict=True):
                click.echo(summary(f, r))
        sys.exit(0 if all(r.valid for r in reports) else 1)

    @main.group()
    def trust() -> None:
        """The certificates this installation trusts (both Vietnamese regimes)."""

    @trust.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--all", "show_all", is_flag=True, help="Intermediates too.")
    def trust_list(as_json: bool, show_all: bool) -> None:
        """Trust anchors: state, regime, fingerprint, validity, confidence."""
        from .trust import anchors, missing_material

        settings = _settings()
        if (why := missing_material(settings)) is not None:
            click.echo(f"warning: {why}", err=True)
        items = [a for a in anchors(settings) if show_all or a.role == "root"]
        if as_json:
            click.echo(json.dumps([a.to_json() for a in items], ensure_ascii=False, indent=2))
            return
        for a in items:
            mark = "on " if a.enabled else "off"
            conf = " [medium: confirm first]" if a.confidence == "medium" else ""
            click.echo(
                f"{mark} {a.fingerprint[:16]} {a.regime:<8} {a.role:<12} "
                f"{a.not_after[:10]}  {a.subject}{conf}"
            )

    @trust.command("show")
    @click.argument("fingerprint")
    def trust_show(fingerprint: str) -> None:
        """Everything about one certificate, and where to confirm its fingerprint."""
        from .trust import find

        a = _run(lambda: find(_settings(), fingerprint))
        for key, value in a.to_json().items():
            click.echo(f"{key:<12} {value}")

    @trust.command("enable")
    @click.argument("fingerprint")
    @click.option("--note", default="", help="Why (kept in the audit trail).")
    def trust_enable(fingerprint: str, note: str) -> None:
        """Trust a certificate again."""
        _toggle(fingerprint, True, note)

    @trust.command("disable")
    @click.argument("fingerprint")
    @click.option("--note", default="", help="Why (kept in the audit trail).")
    def trust_disable(fingerprint: str, note: str) -> None:
        """Stop trusting a certificate."""
        _toggle(fingerprint, False, note)

    @trust.command("add")
    @click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--intermediate", is_flag=True, help="A CA certificate for path building, not an anchor."
    )
    @click.option(
        "--regime",
        type=click.Choice(["official", "public", "custom"]),
        default="custom",
        show_default=True,
    )
    @click.option("--note", default="")
    def trust_add(certificate: Path, intermediate: bool, regime: str, note: str) -> None:
        """Add a certificate (PEM or DER) as a trusted root or a pool intermediate."""
        from .system import System
        from .trust import add

        system = System(_settings())
        a = _run(
            lambda: add(
                system,
                "cli",
                certificate.read_bytes(),
                role="intermediate" if intermediate else "root",
                regime=regime,
                note=note,
            )
        )
        click.echo(f"added {a.fingerprint} {a.role} ({a.regime}): {a.subject}")


def _run(fn: Any) -> Any:
    from .errors import EdmsError

    try:
        return fn()
    except EdmsError as exc:
        fail(exc.message)


def _toggle(fingerprint: str, enabled: bool, note: str) -> None:
    from .system import System
    from .trust import set_enabled

    system = System(_settings())
    a = _run(lambda: set_enabled(system, "cli", fingerprint, enabled, note))
    click.echo(f"{'enabled' if a.enabled else 'disabled'} {a.fingerprint} {a.subject}")


@click.group()
def _fast() -> None:
    """The commands that start without the domain model (see edms.entry)."""


register(_fast)
FAST_COMMANDS = {"verify"}
