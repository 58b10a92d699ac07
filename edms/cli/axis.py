"""``edms axis``: this installation as an exchange axis (hub mode, ``/vdxp``): the systems
that connect to it, the agencies each serves, and the packages that went through."""

from __future__ import annotations

import json
import sys

import click

from .base import Context, fail, pass_ctx

ACTOR = "cli"  # the operator on the server


def _secret(value: str | None) -> str | None:
    if value == "-":
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("no secret on standard input")
        return line
    return value


def _agency(value: str) -> tuple[str, str]:
    code, _, name = value.partition("=")
    return code.strip(), name.strip()


def _show(view: object) -> None:
    from ..axis.systems import SystemView

    assert isinstance(view, SystemView)
    seen = (
        view.last_seen_at.astimezone().strftime("%d/%m/%Y %H:%M") if view.last_seen_at else "never"
    )
    click.echo(f"{view.code:<24} {'active' if view.active else 'DISABLED':<8} {view.name}")
    click.echo(
        f"{'':<24} agencies: {', '.join(c for c, _ in view.agencies) or '—'}; "
        f"waiting {view.waiting}; last call {seen}"
    )


@click.group("axis")
def axis() -> None:
    """This installation as an exchange axis (EDMS_AXIS_HUB): connected systems."""


@axis.group("system")
def system_group() -> None:
    """The document systems that connect to this axis (system id + secret)."""


@system_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The system's (or its agency's) name.")
@click.option(
    "--secret",
    default=None,
    help="Its shared secret (at least 16 characters; '-' reads it from "
    "standard input). Without it one is generated and shown once.",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    metavar="CODE[=NAME]",
    help="An agency the system serves (repeatable). Default: CODE itself.",
)
@pass_ctx
def system_add(
    ctx: Context, code: str, name: str, secret: str | None, agencies: tuple[str, ...]
) -> None:
    """Connect the system CODE (its XroadVnpt-systemid) to this axis."""
    from ..axis.systems import add_system, fingerprint

    view, used = add_system(
        ctx.system, ACTOR, code, name, _secret(secret), [_agency(a) for a in agencies]
    )
    _show(view)
    if secret is None:
        click.echo(f"secret (shown once, give it to the system's operator): {used}")
    click.echo(f"secret fingerprint {fingerprint(used)} (compare by phone)")
    if not ctx.system.settings.axis_hub:
        click.echo("note: EDMS_AXIS_HUB is off: /vdxp is not served yet", err=True)


@system_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def system_list(ctx: Context, as_json: bool) -> None:
    """The connected systems, their agencies and what waits for them."""
    from ..axis.systems import list_systems

    views = list_systems(ctx.system)
    if as_json:
        click.echo(json.dumps([v.to_json() for v in views], ensure_ascii=False, indent=2))
        return
    for v in views:
        _show(v)
    if not views:
        click.echo("no system is connected (edms axis system add)")


@system_group.command("disable")
@click.argument("code")
@pass_ctx
def system_disable(ctx: Context, code: str) -> None:
    """Refuse every call of the system CODE from now on (its data is kept)."""
    from ..axis.systems import set_active

    _show(set_active(ctx.system, ACTOR, code, False))


@system_group.command("enable")
@click.argument("code")
@pass_ctx
def system_enable(ctx: Context, code: str) -> None:
    """Serve the system CODE again."""
    from ..axis.systems import set_active

    _show(set_active(ctx.system, ACTOR, code, True))


@system_group.command("rotate-secret")
@click.argument("code")
@click.option(
    "--secret",
    default=None,
    help="The new secret ('-': standard input). Without it one is generated and shown once.",
)
@pass_ctx
def system_rotate(ctx: Context, code: str, secret: str | None) -> None:
    """Give the system CODE a new secret; the old one stops working at once."""
    from ..axis.systems import fingerprint, rotate_secret

    view, used = rotate_secret(ctx.system, ACTOR, code, _secret(secret))
    _show(view)
    if secret is None:
        click.echo(f"new secret (shown once): {used}")
    click.echo(f"secret fingerprint {fingerprint(used)}")


@axis.group("agency")
def agency_group() -> None:
    """Which system serves which agency (routing by To/OrganId)."""


@agency_group.command("add")
@click.argument("system_code")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--parent", default="", help="The parent agency's code.")
@pass_ctx
def agency_add(ctx: Context, system_code: str, code: str, name: str, parent: str) -> None:
    """Give agency CODE to the system SYSTEM_CODE."""
    from ..axis.systems import add_agency

    _show(add_agency(ctx.system, ACTOR, system_code, code, name, parent))


@agency_group.command("remove")
@click.argument("code")
@pass_ctx
def agency_remove(ctx: Context, code: str) -> None:
    """Stop routing to agency CODE (marked deleted for getSynchronizeUnit)."""
    from ..axis.systems import remove_agency

    remove_agency(ctx.system, ACTOR, code)
    click.echo(f"agency {code} removed")


@axis.command("packages")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def packages_cmd(ctx: Context, limit: int, as_json: bool) -> None:
    """The latest packages through the axis, with each receiver's status."""
    from ..axis.hub import packages

    items = packages(ctx.system, limit)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for p in items:
        code = f" {p['statusCode']}" if p["statusCode"] else ""
        click.echo(
            f"{p['at']}  {p['kind']}{code}  {p['from']} → "
            f"{', '.join(r['to'] + ' (' + r['status'] + ')' for r in p['receivers'])}"
            f"  {p['documentKey']}  sha256 {p['sha256'][:16]}…"
        )
