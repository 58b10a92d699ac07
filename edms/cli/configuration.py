"""``edms config ...``: the effective configuration."""

from __future__ import annotations

import json

import click

from ..config import ConfigError, Settings
from .base import fail


@click.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True)
def config_show(as_json: bool) -> None:
    """Print the effective configuration, secrets masked."""
    try:
        values = Settings.from_env().masked()
    except ConfigError as exc:
        fail(f"configuration: {exc}", 2)
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    width = max(len(k) for k in values)
    for k, v in values.items():
        click.echo(f"{k:{width}}  {v if v is not None else '(not set)'}")
