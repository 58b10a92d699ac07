"""``edms digitize``: scans → agency-signed electronic copies, one or a whole batch."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .base import Context, acting_as, parse_date, pass_ctx


def _item_label(label: str | None) -> str | None:
    return label


@click.command("digitize")
@acting_as("Act as this clerk (or set EDMS_USER).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--dossier",
    required=True,
    help="Dossier code (mã hồ sơ); with --batch, '{name}' is replaced by "
    "each item's file or folder name.",
)
@click.option(
    "--type",
    "original_type",
    required=True,
    help="The original's type: 'Giấy chứng nhận đăng ký hộ kinh doanh'.",
)
@click.option("--procedure", default="", help="Procedure code (mã TTHC).")
@click.option("--result", "result_code", default="", help="Result code.")
@click.option("--holder", default="", help="The holder's full name.")
@click.option("--number", default="", help="The original's number/symbol.")
@click.option("--date", "original_date", default=None, help="The original's date.")
@click.option("--subject", default="")
@click.option(
    "--copy-type",
    type=click.Choice(["SAO Y", "SAO LỤC", "TRÍCH SAO"]),
    default="SAO Y",
    show_default=True,
)
@click.option("--no-qr", is_flag=True, help="Do not print the verification QR code.")
@click.option(
    "--batch", is_flag=True, help="Each PATH (file, folder or .zip) is a separate paper result."
)
@pass_ctx
def digitize_cmd(
    ctx: Context,
    actor: str,
    paths: tuple[Path, ...],
    dossier: str,
    original_type: str,
    procedure: str,
    result_code: str,
    holder: str,
    number: str,
    original_date: str | None,
    subject: str,
    copy_type: str,
    no_qr: bool,
    batch: bool,
) -> None:
    """Digitize paper scans (PDF, JPEG, PNG, TIFF; files, folders or .zip, in order)
    into PDF/A-2b with Vietnamese OCR, signed by the agency and registered."""
    from ..digitization.pipeline import (
        CopyRequest,
        digitize,
        digitize_batch,
        verify_url,
    )

    when = parse_date(original_date or None)

    def request(name: str) -> CopyRequest:
        return CopyRequest(
            dossier_code=dossier.replace("{name}", name),
            original_type=original_type,
            procedure_code=procedure,
            result_code=result_code,
            holder_name=holder,
            original_number=number,
            original_date=when,
            subject=subject,
            copy_type=copy_type,
            with_qr=not no_qr,
        )

    system = ctx.system
    if not batch:
        stages = ["intake", "ocr", "metadata", "sign", "store", "done"]
        with click.progressbar(length=len(stages), label="digitizing", file=sys.stderr) as bar:

            def stage_done(stage: str) -> None:
                bar.update(1)

            r = digitize(system, actor, list(paths), request(paths[0].stem), stage_done)
        for w in r.warnings:
            click.echo(f"warning: {w}", err=True)
        click.echo(
            f"{r.number}  document {r.document_id}  {r.pages} page(s), "
            f"{r.min_dpi} dpi  {verify_url(system, r.public_id)}"
        )
        return
    items = [(p.name, [p], request(p.stem if p.is_file() else p.name)) for p in paths]
    with click.progressbar(
        length=len(items),
        label="digitizing",
        file=sys.stderr,
        item_show_func=_item_label,
    ) as items_bar:

        def item_done(index: int, label: str) -> None:
            items_bar.update(1, label)

        outcome = digitize_batch(system, actor, items, item_done)
    for label, r in outcome.done:
        click.echo(
            f"ok      {label}: {r.number} document {r.document_id}, {r.pages} "
            f"page(s)  {verify_url(system, r.public_id)}"
        )
        for w in r.warnings:
            click.echo(f"        warning: {w}")
    for label, reason in outcome.failed:
        click.echo(f"FAILED  {label}: {reason}")
    click.echo(f"{len(outcome.done)} digitized, {len(outcome.failed)} failed")
    if outcome.failed:
        raise SystemExit(1)
