"""``edms register export``, ``search``, ``deadlines``, ``stats`` and ``dossier``: what the
registers, the follow-up of deadlines and the dossiers show.

Every command acts as a user (``--as USERNAME`` or ``$EDMS_USER``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from .base import Context, as_user, doc_line, fail, parse_date, parse_years, pass_ctx


@click.group("register")
def register_group() -> None:
    """Registers (sổ đăng ký) of Appendix IV."""


@register_group.command("export")
@as_user
@click.argument("kind", type=click.Choice(["outgoing", "incoming", "follow-up"]))
@click.option("--from", "start", required=True, help="YYYY-MM-DD")
@click.option("--to", "end", required=True, help="YYYY-MM-DD")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="A .pdf (print-ready A4) or .csv file.",
)
@pass_ctx
def register_export(
    ctx: Context, actor: str, kind: str, start: str, end: str, output: Path
) -> None:
    from .. import registers

    lo, hi = parse_date(start), parse_date(end)
    assert lo is not None and hi is not None
    export = registers.collect(ctx.system, actor, kind, lo, hi)
    if output.suffix.lower() == ".csv":
        output.write_bytes(registers.to_csv(export))
    elif output.suffix.lower() == ".pdf":
        registers.write_pdf(export, output)
    else:
        fail("the output must end in .pdf or .csv", 2)
    click.echo(f"{output}: {len(export.rows)} rows")


@click.command("search")
@as_user
@click.argument("query", default="")
@click.option("--type", "type_code")
@click.option(
    "--register",
    "register_kind",
    type=click.Choice(["outgoing", "incoming", "copies", "secret"]),
)
@click.option("--state")
@click.option("--from-agency", "organ", help="Issuing agency: identifier or name part.")
@click.option("--since", default=None, help="YYYY-MM-DD")
@click.option("--until", default=None, help="YYYY-MM-DD")
@click.option("--page", default=1, show_default=True)
@click.option("--per-page", default=20, show_default=True)
@pass_ctx
def search_cmd(
    ctx: Context,
    actor: str,
    query: str,
    type_code: str | None,
    register_kind: str | None,
    state: str | None,
    organ: str | None,
    since: str | None,
    until: str | None,
    page: int,
    per_page: int,
) -> None:
    """Full-text search, without diacritics or case mattering: 'quyet dinh'."""
    from ..search import SearchFilters

    filters = SearchFilters(
        type_code=type_code,
        register_kind=register_kind,
        state=state,
        organ=organ,
        date_from=parse_date(since),
        date_to=parse_date(until),
    )
    from ..documents import search_documents

    total, found = search_documents(ctx.system, actor, query, filters, page, per_page)
    click.echo(f"{total} found (page {page})")
    for document in found:
        click.echo(doc_line(document))


@click.command("deadlines")
@as_user
@click.option("--within", default=3, show_default=True, help="Days ahead.")
@pass_ctx
def deadlines_cmd(ctx: Context, actor: str, within: int) -> None:
    """Incoming documents near their deadline, and overdue."""
    from ..tracking import deadlines

    lists = deadlines(ctx.system, actor, within)
    for title, items in (
        ("QUÁ HẠN (overdue)", lists.overdue),
        ("SẮP ĐẾN HẠN (due soon)", lists.near),
    ):
        click.echo(f"{title}: {len(items)}")
        for i in items:
            click.echo(
                f"  {i.document_id:>6}  hạn {i.deadline:%d/%m/%Y} "
                f"({i.days_left:+d} ngày)  {i.lead_unit:<24} {i.subject[:60]}"
            )


@click.command("stats")
@as_user
@click.option(
    "--period",
    type=click.Choice(["month", "quarter", "year"]),
    default="month",
    show_default=True,
)
@click.option("--from", "start", default=None)
@click.option("--to", "end", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def stats_cmd(
    ctx: Context, actor: str, period: str, start: str | None, end: str | None, as_json: bool
) -> None:
    """Handled early / on time / late, per lead unit."""
    from ..tracking import handling_stats
    from ..tracking import period as period_of

    lo, hi = period_of(period)
    lo, hi = parse_date(start) or lo, parse_date(end) or hi
    rows = handling_stats(ctx.system, actor, lo, hi)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "from": lo.isoformat(),
                    "to": hi.isoformat(),
                    "units": [asdict(r) for r in rows],
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{lo:%d/%m/%Y} – {hi:%d/%m/%Y}")
    click.echo(f"{'đơn vị':<28} {'sớm':>5} {'đúng':>5} {'trễ':>5} {'đang/hạn':>9} {'quá hạn':>8}")
    for r in rows:
        click.echo(
            f"{r.unit[:28]:<28} {r.early:>5} {r.on_time:>5} {r.late:>5} "
            f"{r.open_on_time:>9} {r.open_overdue:>8}"
        )


@click.group()
def dossier() -> None:
    """Dossiers (hồ sơ)."""


@dossier.command("create")
@as_user
@click.argument("file_code")
@click.option("--title", required=True)
@click.option(
    "--keep",
    "years",
    default="permanent",
    show_default=True,
    help="Retention: years, or 'permanent'.",
)
@pass_ctx
def dossier_create(ctx: Context, actor: str, file_code: str, title: str, years: str) -> None:
    from .. import dossiers

    value = parse_years(years)
    keep = "Vĩnh viễn" if value is None else f"{value} năm"
    d = dossiers.create(ctx.system, actor, dossiers.DossierMeta(file_code, title, keep, value))
    click.echo(f"dossier {d.file_code}: {d.title}")


@dossier.command("add")
@as_user
@click.argument("file_code")
@click.argument("doc_ids", nargs=-1, type=int, required=True)
@pass_ctx
def dossier_add(ctx: Context, actor: str, file_code: str, doc_ids: tuple[int, ...]) -> None:
    from .. import dossiers

    dossiers.add_documents(ctx.system, actor, file_code, list(doc_ids))
    click.echo(f"{len(doc_ids)} document(s) filed in {file_code}")


@dossier.command("export")
@as_user
@click.argument("file_code")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@pass_ctx
def dossier_export(ctx: Context, actor: str, file_code: str, output: Path) -> None:
    """A ZIP: hoso.xml and the documents' PDFs in time order."""
    from .. import dossiers

    dossiers.export(ctx.system, actor, file_code, output)
    click.echo(str(output))
