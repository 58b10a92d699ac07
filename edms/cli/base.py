"""What every command module of the ``edms`` command line shares: the error exit, the lazy
:class:`Context` holding the :class:`~edms.system.System`, ``--as USER`` and date parsing.

Invariant: importing this module loads only click; the configuration, the domain model,
SQLAlchemy and pyHanko are imported by the commands that use them, when they run.
Command modules import from here, never from :mod:`edms.cli.root` (no cycle).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

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


def as_user(f: F) -> F:
    """The ``--as USERNAME`` option (or ``$EDMS_USER``) of commands acting as a user."""
    return click.option(
        "--as",
        "actor",
        envvar="EDMS_USER",
        required=True,
        help="Act as this user (or set EDMS_USER).",
    )(f)


def parse_date(value: str | None) -> date | None:
    """``YYYY-MM-DD`` or None; anything else exits 2 with a message."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date (YYYY-MM-DD)", 2)


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
