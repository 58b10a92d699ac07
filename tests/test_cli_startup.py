"""The `edms` command line starts without loading what it does not use: `edms --version`
and `edms --help` import none of the heavy libraries nor the domain model, and a command
imports only its own module (edms/cli/root.py). Import-based, not timed (bench/cli.py
measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

HEAVY = ("sqlalchemy", "pyhanko", "flask", "apiflask", "minio", "alembic", "aiohttp")
DOMAIN = ("edms.documents", "edms.models", "edms.system", "edms.db", "signing", "storage", "api")

_PROBE = """
import json, sys
from edms.cli import main
try:
    main(sys.argv[1:], prog_name="edms")
except SystemExit:
    pass
json.dump(sorted(sys.modules), sys.stderr)
"""


def _modules_after(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_version_and_help_import_nothing_heavy(args: tuple[str, ...]) -> None:
    modules = _modules_after(*args)
    assert "click" in modules and "edms.cli.root" in modules  # the probe did run
    assert _loaded(modules, HEAVY) == []
    assert _loaded(modules, DOMAIN) == []
    commands = sorted(m for m in modules if m.startswith("edms.cli.") and m != "edms.cli.root")
    assert commands == ["edms.cli.base"]


def test_verify_help_loads_only_its_module() -> None:
    modules = _modules_after("verify", "--help")
    assert "edms.cli.verify" in modules
    assert _loaded(modules, HEAVY) == []
    assert not {"edms.cli.doc", "edms.cli.sign", "edms.cli.people"} & modules


def test_lazy_table_matches_the_commands() -> None:
    """Each entry of the table loads a command of that name whose one-line help is the one
    `edms --help` shows without loading it."""
    from edms.cli.root import COMMANDS, load

    for name, entry in COMMANDS.items():
        command = load(name)
        assert command.name == name, entry.target
        listed = click.Command(name, help=entry.help).get_short_help_str(200)
        assert listed == command.get_short_help_str(200), name


def test_help_lists_every_command() -> None:
    from click.testing import CliRunner

    from edms.cli import main
    from edms.cli.root import COMMANDS

    out = CliRunner().invoke(main, ["--help"]).output
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)


def test_every_command_of_the_modules_is_in_the_table() -> None:
    """No command is written in a module of edms/cli/ and left out of the table (it would
    never run): each one is an entry of COMMANDS or below one."""
    import importlib
    import pkgutil

    import edms.cli
    from edms.cli.root import COMMANDS, load

    def below(command: click.Command) -> list[click.Command]:
        subs = command.commands.values() if isinstance(command, click.Group) else ()
        return [command, *(c for sub in subs for c in below(sub))]

    reachable = {id(c) for name in COMMANDS for c in below(load(name))}
    defined = {
        f"{info.name}.{attr}"
        for info in pkgutil.iter_modules(edms.cli.__path__)
        if info.name != "__main__"
        for attr, value in vars(importlib.import_module(f"edms.cli.{info.name}")).items()
        if isinstance(value, click.Command) and id(value) not in reachable
    }
    assert defined == {"root.main"}
