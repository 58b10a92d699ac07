"""The root ``edms`` group: the table of commands, loaded lazily, and the one place where
domain, storage and database errors become a one-line message and exit code 1.

Invariants:

* Importing this module loads click and :mod:`edms.errors` only (the configuration is
  read when a command runs).
  ``edms --version`` and ``edms --help`` therefore import neither pyHanko, SQLAlchemy,
  Alembic, MinIO, aiohttp, Flask nor the domain model (tests/test_cli_startup.py).
* A command's module is imported when the command runs or its own help is shown, never
  before; ``edms --help`` lists every command from :data:`COMMANDS` (name, module, and its
  one-line help, which a test keeps equal to the command's own).
* Command modules import :mod:`edms.cli.base`, never this module (no cycle).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NamedTuple

import click

from .. import __version__
from ..errors import EdmsError
from .base import fail


class Lazy(NamedTuple):
    """A command of the root group: ``module:attribute`` under :mod:`edms.cli`, and the
    one-line help ``edms --help`` shows without importing it."""

    target: str
    help: str


COMMANDS: dict[str, Lazy] = {
    # installation and operations
    "init": Lazy(
        "admin:init",
        "Create the data directory, migrate the database and prepare the object store; in "
        "development mode also create the development PKI when it is missing.",
    ),
    "serve": Lazy(
        "serve:serve",
        "Run the HTTP service under gunicorn (a production WSGI server, threaded workers).",
    ),
    "worker": Lazy("serve:worker", "Run background jobs from the Redis queue (EDMS_REDIS_URL)."),
    "config": Lazy("configuration:config", "Configuration."),
    "storage": Lazy("admin:storage", "Stored originals: put, get, verify."),
    "audit": Lazy("admin:audit", "The tamper-evident audit trail."),
    "backup": Lazy(
        "backup:backup",
        "Backups taken while the service runs: `edms backup TARGET` (a directory or "
        "s3://BUCKET), `edms backup verify SOURCE`, `edms backup list SOURCE`.",
    ),
    "restore": Lazy(
        "backup:restore",
        "Restore a backup into this empty installation (database, objects), checking the "
        "manifest, every object's hash and the audit chain before reporting success.",
    ),
    "archive": Lazy(
        "archive:archive",
        "Long-term archive: what keeps signed documents verifiable, and its renewal.",
    ),
    # development
    "dev-pki": Lazy(
        "dev:dev_pki",
        "Generate the development PKI: CA, leaders, agency seal certificate, TSA, OCSP, CRLs, "
        "signature and seal images.",
    ),
    "dev-seed": Lazy(
        "dev:dev_seed",
        "Create the development agency, its units, users and keys (development only).",
    ),
    "dev-services": Lazy(
        "dev:dev_services", "Serve the development TSA, OCSP and CRLs (DEVELOPMENT ONLY)."
    ),
    # signatures
    "sign": Lazy("sign:sign", "Sign SOURCE (PAdES, Decree-30 appearance) into OUTPUT."),
    "extend": Lazy("sign:extend", "Raise the signatures of SOURCE to B-LT or B-LTA."),
    "fill-fields": Lazy(
        "sign:fill_fields_cmd", "Fill text fields (number/symbol, date) in an incremental update."
    ),
    "verify": Lazy("verify:verify", "Validate the signatures of TARGET; exit 0 only when valid."),
    "trust": Lazy(
        "trust:trust", "The certificates this installation trusts (both Vietnamese regimes)."
    ),
    # organisation
    "agency": Lazy("people:agency", "Agencies (cơ quan)."),
    "unit": Lazy("people:unit", "Organisational units (phòng, ban)."),
    "user": Lazy("people:user", "Users and their roles (leader, clerk, officer, admin)."),
    "key": Lazy("people:key", "Signing keys bound to leaders and to agencies (the seal)."),
    "doctype": Lazy("people:doctype", "The 29 document types and their retention periods."),
    # documents and records
    "doc": Lazy("doc:doc", "Document lifecycles (văn bản đi / văn bản đến)."),
    "register": Lazy("records:register_group", "Registers (sổ đăng ký) of Appendix IV."),
    "search": Lazy(
        "records:search_cmd",
        "Full-text search, without diacritics or case mattering: 'quyet dinh'.",
    ),
    "deadlines": Lazy(
        "records:deadlines_cmd", "Incoming documents near their deadline, and overdue."
    ),
    "stats": Lazy("records:stats_cmd", "Handled early / on time / late, per lead unit."),
    "dossier": Lazy("records:dossier", "Dossiers (hồ sơ)."),
    "digitize": Lazy(
        "digitize:digitize_cmd",
        "Digitize paper scans (PDF, JPEG, PNG, TIFF; files, folders or .zip, in order) into "
        "PDF/A-2b with Vietnamese OCR, signed by the agency and registered.",
    ),
    # exchange
    "exchange": Lazy(
        "exchange:exchange", "Inter-agency exchange (liên thông): edXML packages between agencies."
    ),
    "axis": Lazy(
        "axis:axis", "This installation as an exchange axis (EDMS_AXIS_HUB): connected systems."
    ),
    # citizens' one-stop desk
    "procedure": Lazy(
        "citizens:procedure",
        "Administrative procedures (thủ tục hành chính) dossiers are received for.",
    ),
    "holiday": Lazy(
        "citizens:holiday",
        "The working-day calendar: holidays, days off and weekend days worked.",
    ),
    "desk": Lazy(
        "citizens:desk", "The one-stop desk: citizens' dossiers (hồ sơ thủ tục hành chính)."
    ),
    "notices": Lazy(
        "citizens:notices",
        "Notices by e-mail and webhooks: delivery, the daily checks, the log.",
    ),
}


def load(name: str) -> click.Command:
    """Import the command ``name`` of :data:`COMMANDS`."""
    module, attr = COMMANDS[name].target.split(":")
    command = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
    assert isinstance(command, click.Command), COMMANDS[name].target
    return command


def _known_failure(exc: Exception) -> str | None:
    """The one-line message of a storage or database failure, else None. Their classes are
    looked up only if their package was imported: an error of a package never loaded
    cannot have been raised."""
    storage = sys.modules.get("storage")
    if storage is not None and isinstance(exc, storage.StorageError):
        return f"storage: {exc}"
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        return (
            f"database: {type(exc).__name__}: {str(exc).splitlines()[0]} "
            "(is it reachable, and was `edms init` run?)"
        )
    return None


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from :data:`COMMANDS`; domain,
    storage and database errors become ``error: ...`` and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                stand_in = click.Command(name, help=COMMANDS[name].help)
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdmsError as exc:
            fail(exc.message)
        except Exception as exc:
            message = _known_failure(exc)
            if message is None:
                raise
            fail(message)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="edms")
def main() -> None:
    """EDMS: document management and digital signatures for Vietnamese agencies."""
    from ..config import load_dotenv_file

    load_dotenv_file()
