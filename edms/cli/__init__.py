"""The ``edms`` command line, for operators and clerks.

Layout (modelled on pyHanko's ``cli``): :mod:`edms.cli.root` holds the root group and the
table of commands, each loaded lazily from its own module (``admin``, ``serve``, ``dev``,
``configuration``, ``sign``, ``verify``, ``trust``, ``people``, ``doc``, ``records``,
``digitize``, ``exchange``, ``axis``, ``archive``, ``backup``, ``citizens``), which import
:mod:`edms.cli.base` and never the root. ``edms --version`` and ``edms --help`` load no
command module. To add a command: write it in its group's module; a new top-level
command or group also gets one line in :data:`edms.cli.root.COMMANDS` (a test fails
without it).
"""

from __future__ import annotations

from .root import main

__all__ = ["main"]
