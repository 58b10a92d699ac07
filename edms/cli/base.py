"""What every command module of the ``edms`` command line shares: the error exit, the lazy
:class:`Context` holding the :class:`~edms.system.System`, ``--as USER``, the options naming
a signing key, and date parsing.

Invariant: importing this module loads only click; the configuration, the domain model,
SQLAlchemy and pyHanko are imported by the commands that use them, when they run.
Command modules import from here, never from :mod:`edms.cli.root` (no cycle).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

import click

if TYPE_CHECKING:
    from ..config import Settings
    from ..system import System

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit (1: failure, 2: usage)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings() -> Settings:
    """The configuration from the environment; a bad value exits 2 with its message."""
    from ..config import ConfigError, Settings

    try:
        return Settings.from_env()
    except ConfigError as exc:
        fail(f"configuration: {exc}", 2)


class Context:
    """Per invocation: the system, built on first use (a command that needs no database
    never opens one)."""

    def __init__(self) -> None:
        self._system: System | None = None

    @property
    def system(self) -> System:
        if self._system is None:
            from ..system import System

            self._system = System(settings())
        return self._system


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def acting_as(help: str = "Act as this user (or set EDMS_USER).") -> Callable[[F], F]:
    """The ``--as USERNAME`` option (or ``$EDMS_USER``), passed as ``actor``; ``help`` says
    who may act (``acting_as("A clerk.")``)."""
    return click.option("--as", "actor", envvar="EDMS_USER", required=True, help=help)


as_user = acting_as()
"""``--as USERNAME`` with the general help."""

_SIGNER_OPTIONS = (
    click.option("--signer", "label", help="A signer of the development PKI (leader1, ...)."),
    click.option("--p12", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--p12-password-env", help="Environment variable holding the password."),
    click.option("--pkcs11-lib", help="PKCS#11 module of the token or HSM."),
    click.option("--pkcs11-token", help="Token label."),
    click.option("--pkcs11-key", help="Key (and certificate) label on the token."),
    click.option(
        "--pkcs11-pin-env",
        default="EDMS_PKCS11_PIN",
        show_default=True,
        help="Environment variable holding the PIN.",
    ),
)


def signer_options(f: F) -> F:
    """The options naming a signing key: ``--signer LABEL``, ``--p12 FILE``
    (``--p12-password-env``) or ``--pkcs11-lib/-token/-key`` (``--pkcs11-pin-env``). Their
    parameters are the fields of :class:`edms.signatures.SignerRef`: the command takes them
    as ``**key_ref`` and builds ``SignerRef(**key_ref)``."""
    for option in reversed(_SIGNER_OPTIONS):
        f = option(f)
    return f


@overload
def parse_date(value: str) -> date: ...
@overload
def parse_date(value: str | None) -> date | None: ...
def parse_date(value: str | None) -> date | None:
    """``YYYY-MM-DD`` (None stays None); anything else exits 2 with a message."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date (YYYY-MM-DD)", 2)


def parse_years(text: str) -> int | None:
    """A retention: ``permanent`` (or ``vinh-vien``) is None, else a whole number of years,
    at least one; anything else exits 2 with a message."""
    if text.lower() in ("permanent", "vinh-vien"):
        return None
    try:
        years = int(text)
    except ValueError:
        years = 0
    if years < 1:
        fail("retention is at least one year, or 'permanent'", 2)
    return years


def doc_line(d: Any) -> str:
    """One document on one line: id, direction, state, number, urgency, subject."""
    from ..documents import PRIORITY_VI, STATE_NAMES_VI

    num = f"{d.code_number}/{d.code_notation}" if d.code_number else "—"
    arr = f" đến số {d.arrival_number:02d}" if d.arrival_number else ""
    urgent = f" [{PRIORITY_VI[d.priority]}]" if d.priority else ""
    return (
        f"{d.id:>6}  {d.direction:<8} {STATE_NAMES_VI[d.state]:<16} {num:<16}{arr}"
        f"{urgent}  {d.subject[:70]}"
    )
