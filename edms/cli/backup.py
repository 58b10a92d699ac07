"""``edms backup TARGET``, ``edms backup verify SOURCE``, ``edms backup list SOURCE`` and
``edms restore SOURCE`` (edms.backup)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .base import Context, fail, pass_ctx


class _BackupGroup(click.Group):
    """``edms backup TARGET`` is ``edms backup create TARGET``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


def _bar(label: str) -> tuple[Any, Any]:
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in state and total:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        if "bar" in state:
            state["bar"].update(done - state.get("done", 0))
            state["done"] = done

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return progress, close


@click.group(cls=_BackupGroup)
def backup() -> None:
    """Backups taken while the service runs: `edms backup TARGET` (a directory or
    s3://BUCKET), `edms backup verify SOURCE`, `edms backup list SOURCE`."""


@backup.command("create")
@click.argument("target")
@click.option(
    "--agency",
    "agency_code",
    default=None,
    help="The agency whose seal key signs the manifest (default: the first "
    "agency with a seal key).",
)
@click.option(
    "--rescan",
    is_flag=True,
    help="List every object in TARGET instead of trusting its newest "
    "snapshot's list (after objects were removed from TARGET by hand).",
)
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def backup_create(
    ctx: Context,
    target: str,
    agency_code: str | None,
    rescan: bool,
    workers: int,
    as_json: bool,
) -> None:
    """Back up the database and every stored object into TARGET (incremental: objects
    already there are not copied again). Exit 1 if the store could not provide every
    object intact."""
    from .. import backup as bk

    progress, close = _bar("Copying objects")
    try:
        result = bk.backup(
            ctx.system,
            target,
            actor="cli",
            agency_code=agency_code,
            workers=workers,
            rescan=rescan,
            progress=None if as_json else progress,
        )
    finally:
        close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(
            f"snapshot {result.snapshot} in {result.target}: {result.database} "
            f"database, {result.objects} objects ({result.objects_copied} new, "
            f"{result.bytes_copied} bytes copied), audit events up to "
            f"{result.audit_seq}; manifest "
            + (
                f"signed by {result.signed_by}"
                if result.signed_by
                else "NOT signed (no agency seal key is bound)"
            )
        )
        for p in result.source_problems:
            click.echo(f"PROBLEM object {p['sha256']}: {p['problem']}")
    if not result.complete:
        fail(
            "the backup is incomplete: the store could not provide every object "
            "intact; run `edms storage verify`"
        )


@backup.command("verify")
@click.argument("source")
@click.option("--snapshot", default=None, help="Snapshot id (default: the newest).")
@click.option(
    "--quick", is_flag=True, help="Check that every object is present, without re-hashing it."
)
@click.option("--allow-unsigned", is_flag=True, help="Accept an unsigned manifest.")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def backup_verify(
    ctx: Context,
    source: str,
    snapshot: str | None,
    quick: bool,
    allow_unsigned: bool,
    workers: int,
) -> None:
    """Check a backup without restoring it: manifest hash and signature, database
    file, audit chain against the recorded head, every object's hash. Exit 1 on any
    problem."""
    from .. import backup as bk

    progress, close = _bar("Hashing objects")
    try:
        snap, check = bk.verify(
            ctx.system,
            source,
            snapshot=snapshot,
            quick=quick,
            allow_unsigned=allow_unsigned,
            workers=workers,
            progress=progress,
        )
    finally:
        close()
    for n in check.notes:
        click.echo(f"  {n}")
    for p in check.problems:
        click.echo(f"PROBLEM {p}")
    m = snap.manifest
    summary = (
        f"snapshot {snap.id} of {m['created_at']}: {m['objects']['count']} "
        f"objects, {m['database']['kind']} database"
    )
    if not check.ok:
        click.echo(f"NOT OK: {summary}; {len(check.problems)} problem(s)")
        sys.exit(1)
    click.echo(f"ok: {summary}" + (" (objects present, not re-hashed)" if quick else ""))


@backup.command("list")
@click.argument("source")
@pass_ctx
def backup_list(ctx: Context, source: str) -> None:
    """The snapshots in SOURCE, oldest first (incomplete ones marked)."""
    from .. import backup as bk

    target = bk.open_target(ctx.system, source)
    done, incomplete = bk.list_snapshots(target)
    for sid in done:
        m = bk.load_snapshot(target, sid).manifest
        click.echo(
            f"{sid}  {m['database']['kind']:10}  {m['objects']['count']:>8} objects"
            f"  {m['objects']['bytes']:>14} bytes  signed by "
            f"{m.get('signed_by') or '-'}"
        )
    for sid in incomplete:
        click.echo(f"{sid}  INCOMPLETE (interrupted; never restored)")
    if not done and not incomplete:
        click.echo(f"no backup in {target.description}")


@click.command("restore")
@click.argument("source")
@click.option("--snapshot", default=None, help="Snapshot id (default: the newest).")
@click.option("--allow-unsigned", is_flag=True, help="Accept an unsigned manifest.")
@click.option("--workers", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def restore(
    ctx: Context, source: str, snapshot: str | None, allow_unsigned: bool, workers: int
) -> None:
    """Restore a backup into this empty installation (database, objects), checking
    the manifest, every object's hash and the audit chain before reporting success."""
    from .. import backup as bk

    progress, close = _bar("Restoring objects")
    try:
        result = bk.restore(
            ctx.system,
            source,
            snapshot=snapshot,
            allow_unsigned=allow_unsigned,
            actor="cli",
            workers=workers,
            progress=progress,
        )
    except bk.BackupError as exc:
        for p in exc.extra.get("problems", [])[:50]:
            click.echo(f"PROBLEM {p}")
        fail(exc.message)
    finally:
        close()
    for n in result.check.notes:
        click.echo(f"  {n}")
    click.echo(
        f"restored snapshot {result.snapshot}: {result.objects} objects, audit "
        f"events up to {result.audit_seq}, every hash and the audit chain "
        "checked"
    )
