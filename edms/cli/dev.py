"""``edms dev-pki``, ``edms dev-seed`` and ``edms dev-services``: the development PKI, agency
and TSA/OCSP/CRL responder. DEVELOPMENT ONLY."""

from __future__ import annotations

from pathlib import Path

import click

from .base import Context, fail, pass_ctx, settings


@click.command("dev-pki")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Target directory (default: EDMS_PKI_DIR, certs-dev).",
)
@click.option(
    "--url-prefix",
    default=None,
    help="Base URL of the TSA/OCSP/CRL responder written into the certificates "
    "(default http://127.0.0.1:8790).",
)
@click.option("--force", is_flag=True, help="Replace an existing development PKI.")
@click.option(
    "--agency-code",
    default=None,
    help="The development agency's identifier (default 000.00.00.H41).",
)
@click.option(
    "--agency-name", default=None, help="Its name (default Ủy ban nhân dân tỉnh Tuyên Quang)."
)
@click.option("--agency-short", default=None, help="Its abbreviation in symbols (UBND).")
@click.option("--agency-city", default=None, help="Its place for the date line (Tuyên Quang).")
def dev_pki(
    directory: Path | None,
    url_prefix: str | None,
    force: bool,
    agency_code: str | None,
    agency_name: str | None,
    agency_short: str | None,
    agency_city: str | None,
) -> None:
    """Generate the development PKI: CA, leaders, agency seal certificate, TSA, OCSP, CRLs,
    signature and seal images. DEVELOPMENT ONLY. A second development agency (to try the
    exchange between two instances) gets its own PKI with other --agency-* values."""
    from signing import devpki

    target = directory or settings().pki_dir
    d = devpki.DEFAULT_AGENCY
    agency = devpki.DevAgency(
        agency_code or d.code, agency_name or d.name, agency_short or d.short, agency_city or d.city
    )
    try:
        pki = devpki.generate(
            target, url_prefix=url_prefix or devpki.DEFAULT_URL_PREFIX, force=force, agency=agency
        )
    except FileExistsError as exc:
        fail(f"{exc} (use --force to replace it)")
    click.echo(f"development PKI written to {pki.directory} (DEVELOPMENT ONLY)")
    for label, info in pki.signers.items():
        click.echo(f"  {label:15} {info['common_name']}  [{info['state']}]  {info['p12']}")
    click.echo(f"  TSA  {pki.tsa_url}\n  OCSP {pki.ocsp_url}")


@click.command("dev-seed")
@pass_ctx
def dev_seed(ctx: Context) -> None:
    """Create the development agency, its units, users and keys (development only)."""
    from ..auth import DEV_SIGNING_PIN
    from ..devseed import DEV_LEADERS, DEV_USER_PASSWORD, seed_development

    if not ctx.system.settings.is_development:
        fail("dev-seed only runs with EDMS_ENV=development")
    created = seed_development(ctx.system)
    click.echo("development agency seeded" if created else "already seeded")
    if created:
        click.echo(
            f"  users' password: {DEV_USER_PASSWORD}; leaders "
            f"{', '.join(DEV_LEADERS)} sign with the PIN {DEV_SIGNING_PIN} "
            "(DEVELOPMENT ONLY)"
        )


@click.command("dev-services")
def dev_services() -> None:
    """Serve the development TSA, OCSP and CRLs (DEVELOPMENT ONLY)."""
    from signing import devpki, devservices

    s = settings()
    if not devpki.exists(s.pki_dir):
        fail(f"no development PKI in {s.pki_dir}: run `edms dev-pki`")
    pki = devpki.load(s.pki_dir)
    click.echo(
        f"development TSA/OCSP/CRL responder on {pki.url_prefix} (DEVELOPMENT ONLY)", err=True
    )
    devservices.serve_forever(pki)
