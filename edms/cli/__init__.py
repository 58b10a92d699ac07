"""The ``edms`` command line, for operators and clerks.

Layout (modelled on pyHanko's ``cli``): :mod:`edms.cli.root` holds the root group and the
table of commands, each loaded lazily from its own module (``admin``, ``serve``, ``dev``,
``configuration``, ``sign``, ``verify``, ``trust``, ``people``, ``doc``, ``records``,
``digitize``, ``exchange``, ``axis``, ``archive``, ``backup``, ``citizens``), which import
:mod:`edms.cli.base` and never the root. ``edms --version`` and ``edms --help`` load no
command module. To add a command: write it in its group's module and add one line to
:data:`edms.cli.root.COMMANDS`.
"""

from __future__ import annotations

from typing import Any

from .root import main

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    """Names that used to live in the single ``edms/cli.py`` module."""
    if name == "_control_socket":
        from .serve import _control_socket

        return _control_socket
    if name in ("Context", "pass_ctx"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
