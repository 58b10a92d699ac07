"""``edms config show`` and ``edms config example``: the effective configuration with where
each value comes from, and ``.env.example``, both derived from the declarations in
:mod:`edms.config`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import SETTINGS, env_example, sources
from .base import settings


@click.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True)
def config_show(as_json: bool) -> None:
    """Print the effective configuration, secrets masked, and where each value comes from
    (env: the environment, .env: the .env file, default)."""
    values = settings().masked()
    origin = sources()
    if as_json:
        click.echo(
            json.dumps(
                {
                    s.attr: {"value": values[s.attr], "source": origin[s.attr], "env": s.env}
                    for s in SETTINGS
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    width = max(len(k) for k in values)
    for k, v in values.items():
        click.echo(f"{k:{width}}  {origin[k]:<7}  {v if v is not None else '(not set)'}")


@config.command("example")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (e.g. .env.example) instead of standard output.",
)
def config_example(output: Path | None) -> None:
    """Print (or write) .env.example: every setting with its help and default."""
    text = env_example()
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"{output}: {len(SETTINGS)} settings", err=True)
