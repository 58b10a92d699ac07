"""``edms trust ...``: the certificates this installation trusts, and changing that.

Invariant: importing this module loads neither pyHanko nor SQLAlchemy; the commands that
change the trust open the system when they run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ..errors import EdmsError
from .base import fail, settings

T = TypeVar("T")


@click.group()
def trust() -> None:
    """The certificates this installation trusts (both Vietnamese regimes)."""


@trust.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "show_all", is_flag=True, help="Intermediates too.")
def trust_list(as_json: bool, show_all: bool) -> None:
    """Trust anchors: state, regime, fingerprint, validity, confidence."""
    from ..trust import anchors, missing_material

    s = settings()
    if (why := missing_material(s)) is not None:
        click.echo(f"warning: {why}", err=True)
    items = [a for a in anchors(s) if show_all or a.role == "root"]
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
    from ..trust import find

    a = _run(lambda: find(settings(), fingerprint))
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
    from ..system import System
    from ..trust import add

    system = System(settings())
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


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except EdmsError as exc:
        fail(exc.message)


def _toggle(fingerprint: str, enabled: bool, note: str) -> None:
    from ..system import System
    from ..trust import set_enabled

    system = System(settings())
    a = _run(lambda: set_enabled(system, "cli", fingerprint, enabled, note))
    click.echo(f"{'enabled' if a.enabled else 'disabled'} {a.fingerprint} {a.subject}")
