"""Shared helpers of the `edms` command line."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and exit (1: failure, 2: usage)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
