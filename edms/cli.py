"""The ``edms`` command line, for operators and clerks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cliutil import fail
from .config import ConfigError, Settings, load_dotenv_file
from .errors import EdmsError
from .system import System


class Context:
    def __init__(self) -> None:
        self._system: System | None = None

    @property
    def system(self) -> System:
        if self._system is None:
            try:
                self._system = System(Settings.from_env())
            except ConfigError as exc:
                fail(f"configuration: {exc}", 2)
        return self._system


pass_ctx = click.make_pass_decorator(Context, ensure=True)


class EdmsGroup(click.Group):
    """Turns domain and storage errors into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from storage import StorageError

        try:
            return super().invoke(ctx)
        except EdmsError as exc:
            fail(exc.message)
        except StorageError as exc:
            fail(f"storage: {exc}")
        except SQLAlchemyError as exc:
            fail(
                f"database: {type(exc).__name__}: {str(exc).splitlines()[0]} "
                "(is it reachable, and was `edms init` run?)"
            )


@click.group(cls=EdmsGroup)
@click.version_option(__version__, prog_name="edms")
def main() -> None:
    """EDMS: document management and digital signatures for Vietnamese agencies."""
    load_dotenv_file()


@main.command()
@click.option("--no-dev-pki", is_flag=True, help="Do not create the development PKI.")
@pass_ctx
def init(ctx: Context, no_dev_pki: bool) -> None:
    """Create the data directory, migrate the database and prepare the object store; in
    development mode also create the development PKI when it is missing."""
    from signing import devpki

    system = ctx.system
    s = system.settings
    system.init()
    click.echo(f"data directory   {s.data_dir.resolve()}")
    click.echo(f"database         {system.engine.dialect.name} (migrated to head)")
    click.echo(f"object store     {system.store.health().detail} ({s.storage_backend})")
    if s.is_development and not no_dev_pki:
        if not devpki.exists(s.pki_dir):
            devpki.generate(s.pki_dir)
            click.echo(f"development PKI  created in {s.pki_dir} (DEVELOPMENT ONLY)")
        else:
            click.echo(f"development PKI  {s.pki_dir}")
        from .orgs import seed_development

        if seed_development(system):
            from .auth import DEV_SIGNING_PIN

            click.echo(
                "development agency  seeded: users chutich, phochutich (leaders), "
                "vanthu (clerk), chuyenvien (officer), quantri (admin); the "
                f"leaders' signing PIN is {DEV_SIGNING_PIN} (DEVELOPMENT ONLY)"
            )


@main.command("dev-pki")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Target directory (default: EDMS_PKI_DIR, certs-dev).",
)
@click.option(
    "--url-prefix",
    default=None,
    help="Base URL of the TSA/OCSP/CRL responder written into the certificates "
    "(default http://127.0.0.1:8790).",
)
@click.option("--force", is_flag=True, help="Replace an existing development PKI.")
@click.option(
    "--agency-code",
    default=None,
    help="The development agency's identifier (default 000.00.00.H41).",
)
@click.option(
    "--agency-name", default=None, help="Its name (default Ủy ban nhân dân tỉnh Tuyên Quang)."
)
@click.option("--agency-short", default=None, help="Its abbreviation in symbols (UBND).")
@click.option("--agency-city", default=None, help="Its place for the date line (Tuyên Quang).")
def dev_pki(
    directory: Path | None,
    url_prefix: str | None,
    force: bool,
    agency_code: str | None,
    agency_name: str | None,
    agency_short: str | None,
    agency_city: str | None,
) -> None:
    """Generate the development PKI: CA, leaders, agency seal certificate, TSA, OCSP, CRLs,
    signature and seal images. DEVELOPMENT ONLY. A second development agency (to try the
    exchange between two instances) gets its own PKI with other --agency-* values."""
    from signing import devpki

    target = directory or Settings.from_env().pki_dir
    d = devpki.DEFAULT_AGENCY
    agency = devpki.DevAgency(
        agency_code or d.code, agency_name or d.name, agency_short or d.short, agency_city or d.city
    )
    try:
        pki = devpki.generate(
            target, url_prefix=url_prefix or devpki.DEFAULT_URL_PREFIX, force=force, agency=agency
        )
    except FileExistsError as exc:
        fail(f"{exc} (use --force to replace it)")
    click.echo(f"development PKI written to {pki.directory} (DEVELOPMENT ONLY)")
    for label, info in pki.signers.items():
        click.echo(f"  {label:15} {info['common_name']}  [{info['state']}]  {info['p12']}")
    click.echo(f"  TSA  {pki.tsa_url}\n  OCSP {pki.ocsp_url}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(2, 512),
    help="Request threads per worker. Public checks (and, apart, the exchange "
    "inbox) never take more than EDMS_PUBLIC_CONCURRENCY + EDMS_PUBLIC_QUEUE "
    "of them each: the others stay for /healthz and logged-in work (raised "
    "if needed to keep four).",
)
@click.option(
    "--timeout",
    default=300,
    show_default=True,
    type=int,
    help="Seconds before a silent worker is restarted.",
)
def serve(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Run the HTTP service under gunicorn (a production WSGI server, threaded workers).
    Work folders left by killed processes are removed first."""
    try:
        settings = Settings.from_env()  # fail early, with a clear message, on bad config
    except ConfigError as exc:
        fail(f"configuration: {exc}", 2)
    from .storage_check import remove_stale_work

    removed, size = remove_stale_work(System(settings))
    if removed:
        click.echo(f"removed {removed} stale work folder(s) ({size} bytes)", err=True)
    if os.environ.get("EDMS_FORWARDED_ALLOW_IPS"):
        click.echo(
            "EDMS_FORWARDED_ALLOW_IPS is no longer read: set EDMS_TRUSTED_PROXIES "
            "to the reverse proxy's address",
            err=True,
        )
    # Two gates (public checks, the exchange inbox) of concurrency + queue threads each.
    threads = max(threads, 2 * (settings.public_concurrency + settings.public_queue) + 4)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        ",".join(settings.trusted_proxies),
        "--control-socket",
        _control_socket(settings, host, port),
        "api.wsgi:app",
    ]
    click.echo(f"EDMS {__version__} listening on http://{host}:{port}")
    os.execv(sys.executable, argv)


def _control_socket(settings: Settings, host: str, port: int) -> str:
    """Each `edms serve` its own gunicorn control socket (mode 0600), in the data
    directory, or in the temporary directory when that path is too long for a socket."""
    import hashlib
    import tempfile

    name = f"gunicorn-{host.replace(':', '_')}-{port}.ctl"
    run = (settings.data_dir / "run").resolve()
    if len(str(run / name)) < 100:
        run.mkdir(parents=True, exist_ok=True)
        return str(run / name)
    tag = hashlib.sha256(str(run).encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"edms-{tag}-{name}")


# -- storage -----------------------------------------------------------------------------


@main.group()
def storage() -> None:
    """Stored originals: put, get, verify."""


@storage.command("put")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--name", help="Original file name to record (default: FILE's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def storage_put(ctx: Context, file: Path, name: str | None, as_json: bool) -> None:
    """Store FILE (or - for standard input) by its SHA-256, after checking its real type."""
    from .blobs import store_upload

    system = ctx.system
    system.init()
    if str(file) == "-":
        stored = store_upload(system, sys.stdin.buffer, filename=name)
    else:
        if not file.is_file():
            fail(f"{file}: no such file", 2)
        with open(file, "rb") as f:
            stored = store_upload(system, f, filename=name or file.name)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "sha256": stored.sha256,
                    "size": stored.size,
                    "media_type": stored.media_type,
                    "key": stored.storage_key,
                    "new": stored.new,
                    "retain_until": stored.retain_until.isoformat()
                    if stored.retain_until
                    else None,
                }
            )
        )
        return
    click.echo(stored.sha256)
    state = "stored" if stored.new else "already stored"
    click.echo(
        f"{state}: {stored.size} bytes, {stored.media_type}, key {stored.storage_key}", err=True
    )


@storage.command("get")
@click.argument("sha256")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def storage_get(ctx: Context, sha256: str, output: Path) -> None:
    """Write the stored object SHA256 to a file, checking its hash on the way."""
    from .blobs import export_to_file

    stored = export_to_file(ctx.system, sha256, output)
    click.echo(f"{output}: {stored.size} bytes, SHA-256 verified", err=True)


_OLDER_THAN = click.option(
    "--older-than",
    default=3600,
    show_default=True,
    type=click.IntRange(0),
    help="Leave alone uploads, objects and work folders younger than this many seconds "
    "(work may still be using them).",
)


@storage.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
@_OLDER_THAN
@pass_ctx
def storage_verify(ctx: Context, as_json: bool, workers: int, older_than: int) -> None:
    """Re-hash every object; report missing, corrupted, orphaned and unreferenced ones and
    stale work folders (exit 1 if any)."""
    from .storage_check import verify_storage

    system = ctx.system
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(
            length=max(total, 1),
            label="Hashing",
            file=sys.stderr,
            show_pos=False,
            show_percent=True,
        )
        bar.__enter__()

    try:
        report = verify_storage(
            system,
            workers=workers,
            on_total=on_total,
            on_progress=lambda n: bar.update(n) if bar else None,
            older_than=older_than,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for p in report.problems:
            click.echo(f"{p.kind.upper():10} {p.key}  {p.detail}")
        summary = (
            f"{report.checked} objects, {report.bytes_checked} bytes checked; "
            f"{len(report.problems)} problem(s)"
        )
        if report.incomplete_uploads:
            summary += (
                f"; {report.incomplete_uploads} incomplete upload(s) "
                "(`edms storage cleanup` removes stale ones)"
            )
        click.echo(("clean: " if report.clean else "NOT CLEAN: ") + summary)
    sys.exit(0 if report.clean else 1)


@storage.command("cleanup")
@_OLDER_THAN
@pass_ctx
def storage_cleanup(ctx: Context, older_than: int) -> None:
    """Remove what failed or interrupted work left behind: incomplete uploads,
    unreferenced objects, stale work folders (never a referenced object, nor one under
    retention or legal hold; orphaned objects are left to the operator)."""
    from .storage_check import cleanup

    click.echo(cleanup(ctx.system, older_than).summary())


# -- audit ---------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Recompute the hash chain; name every edited, deleted or missing event (exit 1)."""
    from .audit import verify_chain

    with ctx.system.sessions() as session:
        checked, problems = verify_chain(session)
    for p in problems:
        click.echo(f"EVENT {p.seq}: {p.detail}")
    if problems:
        click.echo(f"NOT INTACT: {checked} events checked, {len(problems)} problem(s)")
        sys.exit(1)
    click.echo(f"intact: {checked} events, chain verified")


# -- configuration -----------------------------------------------------------------------


@main.group()
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


from .cli_archive import register as _register_archive  # noqa: E402
from .cli_axis import register as _register_axis  # noqa: E402
from .cli_backup import register as _register_backup  # noqa: E402
from .cli_citizens import register as _register_citizens  # noqa: E402
from .cli_digitize import register as _register_digitize  # noqa: E402
from .cli_docs import register as _register_docs  # noqa: E402
from .cli_exchange import register as _register_exchange  # noqa: E402
from .cli_signing import register as _register_signing  # noqa: E402
from .cli_verify import register as _register_verify  # noqa: E402

_register_signing(main)
_register_verify(main)
_register_docs(main)
_register_digitize(main)
_register_exchange(main)
_register_archive(main)
_register_backup(main)
_register_citizens(main)
_register_axis(main)

if __name__ == "__main__":
    main()
