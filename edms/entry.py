"""Kept for console scripts installed before the ``edms`` entry point moved to
:func:`edms.cli.main` (``pip install -e .`` rewrites them): ``edms.entry:main`` is it."""

from __future__ import annotations

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
