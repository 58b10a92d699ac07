"""``edms agency``, ``unit``, ``user``, ``key`` and ``doctype``: the organisation, its people,
their signing keys and the document types' retention.

Every command goes through the same ``edms`` services, checks and audit events as the API
and the web UI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .base import Context, parse_years, pass_ctx, signer_options

# -- organisation --------------------------------------------------------------------


@click.group()
def agency() -> None:
    """Agencies (cơ quan)."""


@agency.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--abbreviation", required=True, help="e.g. UBND, BNV")
@click.option("--place", default="", help="Place name of the date line: 'Hà Giang'.")
@pass_ctx
def agency_add(ctx: Context, code: str, name: str, abbreviation: str, place: str) -> None:
    """Add an agency; CODE in either identifier form (000.00.00.H41 or H37.02.02)."""
    from ..orgs import create_agency

    a = create_agency(ctx.system, code, name, abbreviation, place, actor="cli")
    click.echo(f"agency {a.code} {a.name}")


@click.group()
def unit() -> None:
    """Organisational units (phòng, ban)."""


@unit.command("add")
@click.argument("agency_code")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--abbreviation", default="")
@pass_ctx
def unit_add(ctx: Context, agency_code: str, code: str, name: str, abbreviation: str) -> None:
    from ..orgs import create_unit

    u = create_unit(ctx.system, agency_code, code, name, abbreviation, actor="cli")
    click.echo(f"unit {u.code} {u.name}")


@click.group()
def user() -> None:
    """Users and their roles (leader, clerk, officer, admin)."""


@user.command("add")
@click.argument("agency_code")
@click.argument("username")
@click.option("--name", "full_name", required=True)
@click.option("--roles", required=True, help="Comma-separated: leader,clerk,officer,admin")
@click.option("--title", default="")
@click.option("--unit", "unit_code", default=None)
@pass_ctx
def user_add(
    ctx: Context,
    agency_code: str,
    username: str,
    full_name: str,
    roles: str,
    title: str,
    unit_code: str | None,
) -> None:
    from ..orgs import create_user

    u = create_user(
        ctx.system,
        agency_code,
        username,
        full_name,
        roles,
        title=title,
        unit_code=unit_code,
        actor="cli",
    )
    click.echo(f"user {u.username} ({u.roles})")


@click.group()
def key() -> None:
    """Signing keys bound to leaders and to agencies (the seal)."""


@key.command("bind")
@click.option("--user", "username", help="Bind a leader's personal key.")
@click.option("--agency", "agency_code", help="Bind the agency's seal key.")
@signer_options
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signature image (leader) or seal image (agency), PNG.",
)
@click.option("--authority", default="", help="Line above the title: 'KT. CHỦ TỊCH'.")
@pass_ctx
def key_bind(
    ctx: Context,
    username: str | None,
    agency_code: str | None,
    image: Path | None,
    authority: str,
    **key_ref: Any,
) -> None:
    from ..orgs import bind_key
    from ..signatures import SignerRef

    k = bind_key(
        ctx.system,
        SignerRef(**key_ref),
        username=username,
        agency_code=agency_code,
        image=image,
        authority=authority,
        actor="cli",
    )
    click.echo(f"key {k.id} bound: {k.subject} (certificate SHA-256 {k.cert_sha256})")


@key.command("bind-certificate")
@click.option("--user", "username", required=True, help="The leader.")
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The certificate of the key on the leader's token (PEM or DER).",
)
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The leader's signature image (PNG).",
)
@click.option("--authority", default="")
@pass_ctx
def key_bind_certificate(
    ctx: Context, username: str, certificate: Path, image: Path, authority: str
) -> None:
    """Bind a token-held key: the leader signs through the remote flow."""
    from ..orgs import bind_certificate

    k = bind_certificate(
        ctx.system, username, certificate.read_bytes(), image, authority, actor="cli"
    )
    click.echo(f"certificate bound: {k.subject} (SHA-256 {k.cert_sha256})")


@user.command("password")
@click.argument("username")
@click.password_option("--password", prompt="New password")
@pass_ctx
def user_password(ctx: Context, username: str, password: str) -> None:
    """Set a user's password (ends their sessions)."""
    from ..auth import set_password

    set_password(ctx.system, username, password, actor="cli")
    click.echo(f"password of {username} set")


@user.command("signing-pin")
@click.argument("username")
@pass_ctx
def user_signing_pin(ctx: Context, username: str) -> None:
    """Set a leader's signing PIN (6 to 12 digits), asked twice on the terminal; the
    leader confirms every signature with a server-held key with it."""
    from ..auth import set_signing_pin

    pin = click.prompt("New signing PIN", hide_input=True, confirmation_prompt=True)
    set_signing_pin(ctx.system, username, pin, actor="cli")
    click.echo(f"signing PIN of {username} set")


@click.group()
def doctype() -> None:
    """The 29 document types and their retention periods."""


@doctype.command("list")
@pass_ctx
def doctype_list(ctx: Context) -> None:
    from ..doctypes import stored_types

    for t in stored_types(ctx.system):
        keep = "vĩnh viễn" if t.retention_years is None else f"{t.retention_years} năm"
        click.echo(f"{t.code:<16} {t.abbreviation or '—':<5} {t.name:<28} {keep}")


@doctype.command("retention")
@click.argument("code")
@click.argument("years")
@pass_ctx
def doctype_retention(ctx: Context, code: str, years: str) -> None:
    """Set a type's retention: a number of years, or 'permanent'."""
    from ..doctypes import set_retention

    value = parse_years(years)
    set_retention(ctx.system, "cli", code, value)
    click.echo(f"{code}: {'permanent' if value is None else f'{value} years'}")


# -- documents -------------------------------------------------------------------------
