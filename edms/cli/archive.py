"""``edms archive``: long-term archive status and timestamp renewal (edms.archive)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .base import Context, fail, pass_ctx


def _date(value: str | None) -> str:
    return value[:10] if value else "-"


@click.group()
def archive() -> None:
    """Long-term archive: what keeps signed documents verifiable, and its renewal."""


def _agency_id(ctx: Context, code: str | None) -> int | None:
    if code is None:
        return None
    from ..orgs import agency_by_code

    with ctx.system.sessions() as s:
        return agency_by_code(s, code).id


@archive.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="List every document, not only those needing attention.",
)
@click.option(
    "--due-within",
    type=click.IntRange(0, 36500),
    default=None,
    help="Days before the end of protection a document is due (default: EDMS_ARCHIVE_RENEW_DAYS).",
)
@click.option("--agency", "agency_code", default=None, help="Only this agency's documents.")
@pass_ctx
def archive_status(
    ctx: Context, as_json: bool, show_all: bool, due_within: int | None, agency_code: str | None
) -> None:
    """Per kept signed document: level, last timestamp, its TSA certificate's expiry,
    the algorithms it rests on and what is due. Exit 1 if anything needs attention."""
    from .. import archive, maintenance

    st = archive.status(
        ctx.system, agency_id=_agency_id(ctx, agency_code), due_within_days=due_within
    )
    tasks = maintenance.task_states(ctx.system)
    if as_json:
        out: dict[str, Any] = st.to_json()
        out["scheduled"] = json.loads(json.dumps(tasks, default=str))
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        sys.exit(0 if st.healthy else 1)
    rows = st.documents if show_all else [d for d in st.documents if d.status != "ok"]
    if rows:
        click.echo(
            f"{'DOC':>6}  {'STATUS':13} {'LEVEL':6} {'TS':>2}  {'LAST TS':10}  "
            f"{'TSA EXPIRES':11}  {'DUE':10}  NUMBER / REASON"
        )
    for d in rows:
        click.echo(
            f"{d.document_id:>6}  {d.status:13} {d.level:6} "
            f"{d.document_timestamps:>2}  "
            f"{_date(archive._iso(d.last_timestamp_at)):10}  "
            f"{_date(archive._iso(d.tsa_expires_at)):11}  "
            f"{_date(archive._iso(d.due_at)):10}  {d.number or '-'}"
            + (f"  {d.reason}" if d.reason else "")
            + (f"  [{','.join(d.algorithms)}]" if show_all else "")
        )
    s = st.summary()
    click.echo(
        f"{s['documents']} kept signed document(s): {s['ok']} ok, {s['due']} due, "
        f"{s['expired']} expired, {s['not_renewable']} not renewable, "
        f"{s['unreadable']} unreadable; {s['unsigned']} unsigned, "
        f"{s['in_workflow']} still in their workflow"
    )
    click.echo(f"renewal window {s['renew_before_days']} days; next due {_date(s['next_due'])}")
    run = tasks.get("archive_renew", {})
    last = run.get("last_finished_at")
    click.echo(
        "automatic renewal: "
        + (
            "off (EDMS_ARCHIVE_RENEW_EVERY_HOURS=0)"
            if not run.get("period_hours")
            else f"every {run['period_hours']:g} h, last completed "
            f"{last.isoformat(timespec='seconds') if last else 'never'}"
            + (f"; last attempt failed: {run['last_error']}" if run.get("last_error") else "")
        )
    )
    sys.exit(0 if st.healthy else 1)


@archive.command("renew")
@click.option(
    "--due-within",
    type=click.IntRange(0, 36500),
    default=None,
    help="Renew documents whose protection ends within this many days "
    "(default: EDMS_ARCHIVE_RENEW_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="List what would be renewed; change nothing.")
@click.option("--agency", "agency_code", default=None, help="Only this agency's documents.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def archive_renew(
    ctx: Context, due_within: int | None, dry_run: bool, agency_code: str | None, as_json: bool
) -> None:
    """Add validation data for the latest timestamp and a new document timestamp to
    every document due (a new stored version; the previous one is kept; audited).
    Exit 1 if a document failed or the TSA cannot be used."""
    from .. import archive
    from ..errors import ServiceUnavailable

    def say(o: archive.RenewOutcome) -> None:
        if not as_json:
            click.echo(
                f"{o.action.upper():12} document {o.document_id} {o.number or ''}  {o.detail}"
            )

    try:
        report = archive.renew(
            ctx.system,
            due_within_days=due_within,
            dry_run=dry_run,
            actor="cli",
            agency_id=_agency_id(ctx, agency_code),
            progress=say,
        )
    except ServiceUnavailable as exc:
        if as_json and "report" in exc.extra:
            click.echo(json.dumps(exc.extra["report"], ensure_ascii=False, indent=2))
        fail(exc.message)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for item in report.not_renewable:
            click.echo(
                f"{item['status'].upper():12} document {item['document_id']} "
                f"{item['number'] or ''}  {item['reason']}"
            )
        if report.tsa:
            click.echo(
                f"TSA {report.tsa['name']}: certificate expires "
                f"{_date(report.tsa['certificate_expires'])}, algorithms "
                f"{', '.join(report.tsa['algorithms'])}"
            )
        if report.error:
            click.echo(report.error)
        verb = "would renew" if dry_run else "renewed"
        n = report.count("would_renew" if dry_run else "renewed")
        click.echo(
            f"{verb} {n} document(s); {report.count('failed')} failed, "
            f"{report.count('skipped')} skipped, {len(report.not_renewable)} "
            "not renewable" + (" (dry run: nothing was changed)" if dry_run else "")
        )
    if report.error or report.count("failed"):
        sys.exit(1)
