"""``edms init``, ``edms storage ...`` and ``edms audit verify``: preparing an installation
and checking what it stores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .base import Context, fail, pass_ctx


@click.command()
@click.option("--no-dev-pki", is_flag=True, help="Do not create the development PKI.")
@pass_ctx
def init(ctx: Context, no_dev_pki: bool) -> None:
    """Create the data directory, migrate the database and prepare the object store; in
    development mode also create the development PKI when it is missing."""
    from signing import devpki

    system = ctx.system
    s = system.settings
    system.init()
    click.echo(f"data directory   {s.data_dir.resolve()}")
    click.echo(f"database         {system.engine.dialect.name} (migrated to head)")
    click.echo(f"object store     {system.store.health().detail} ({s.storage_backend})")
    if s.is_development and not no_dev_pki:
        if not devpki.exists(s.pki_dir):
            devpki.generate(s.pki_dir)
            click.echo(f"development PKI  created in {s.pki_dir} (DEVELOPMENT ONLY)")
        else:
            click.echo(f"development PKI  {s.pki_dir}")
        from ..devseed import seed_development

        if seed_development(system):
            from ..auth import DEV_SIGNING_PIN

            click.echo(
                "development agency  seeded: users chutich, phochutich (leaders), "
                "vanthu (clerk), chuyenvien (officer), quantri (admin); the "
                f"leaders' signing PIN is {DEV_SIGNING_PIN} (DEVELOPMENT ONLY)"
            )


# -- storage -----------------------------------------------------------------------------


@click.group()
def storage() -> None:
    """Stored originals: put, get, verify."""


@storage.command("put")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--name", help="Original file name to record (default: FILE's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def storage_put(ctx: Context, file: Path, name: str | None, as_json: bool) -> None:
    """Store FILE (or - for standard input) by its SHA-256, after checking its real type."""
    from ..blobs import store_upload

    system = ctx.system
    system.init()
    if str(file) == "-":
        stored = store_upload(system, sys.stdin.buffer, filename=name)
    else:
        if not file.is_file():
            fail(f"{file}: no such file", 2)
        with open(file, "rb") as f:
            stored = store_upload(system, f, filename=name or file.name)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sha256": stored.sha256,
                    "size": stored.size,
                    "media_type": stored.media_type,
                    "key": stored.storage_key,
                    "new": stored.new,
                    "retain_until": stored.retain_until.isoformat()
                    if stored.retain_until
                    else None,
                }
            )
        )
        return
    click.echo(stored.sha256)
    state = "stored" if stored.new else "already stored"
    click.echo(
        f"{state}: {stored.size} bytes, {stored.media_type}, key {stored.storage_key}", err=True
    )


@storage.command("get")
@click.argument("sha256")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def storage_get(ctx: Context, sha256: str, output: Path) -> None:
    """Write the stored object SHA256 to a file, checking its hash on the way."""
    from ..blobs import export_to_file

    stored = export_to_file(ctx.system, sha256, output)
    click.echo(f"{output}: {stored.size} bytes, SHA-256 verified", err=True)


_OLDER_THAN = click.option(
    "--older-than",
    default=3600,
    show_default=True,
    type=click.IntRange(0),
    help="Leave alone uploads, objects and work folders younger than this many seconds "
    "(work may still be using them).",
)


@storage.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
@_OLDER_THAN
@pass_ctx
def storage_verify(ctx: Context, as_json: bool, workers: int, older_than: int) -> None:
    """Re-hash every object; report missing, corrupted, orphaned and unreferenced ones and
    stale work folders (exit 1 if any)."""
    from ..storage_check import verify_storage

    system = ctx.system
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(
            length=max(total, 1),
            label="Hashing",
            file=sys.stderr,
            show_pos=False,
            show_percent=True,
        )
        bar.__enter__()

    try:
        report = verify_storage(
            system,
            workers=workers,
            on_total=on_total,
            on_progress=lambda n: bar.update(n) if bar else None,
            older_than=older_than,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for p in report.problems:
            click.echo(f"{p.kind.upper():10} {p.key}  {p.detail}")
        summary = (
            f"{report.checked} objects, {report.bytes_checked} bytes checked; "
            f"{len(report.problems)} problem(s)"
        )
        if report.incomplete_uploads:
            summary += (
                f"; {report.incomplete_uploads} incomplete upload(s) "
                "(`edms storage cleanup` removes stale ones)"
            )
        click.echo(("clean: " if report.clean else "NOT CLEAN: ") + summary)
    sys.exit(0 if report.clean else 1)


@storage.command("cleanup")
@_OLDER_THAN
@pass_ctx
def storage_cleanup(ctx: Context, older_than: int) -> None:
    """Remove what failed or interrupted work left behind: incomplete uploads,
    unreferenced objects, stale work folders (never a referenced object, nor one under
    retention or legal hold; orphaned objects are left to the operator)."""
    from ..storage_check import cleanup

    click.echo(cleanup(ctx.system, older_than).summary())


# -- audit ---------------------------------------------------------------------------------


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Recompute the hash chain; name every edited, deleted or missing event (exit 1)."""
    from ..audit import verify_chain

    with ctx.system.sessions() as session:
        checked, problems = verify_chain(session)
    for p in problems:
        click.echo(f"EVENT {p.seq}: {p.detail}")
    if problems:
        click.echo(f"NOT INTACT: {checked} events checked, {len(problems)} problem(s)")
        sys.exit(1)
    click.echo(f"intact: {checked} events, chain verified")
