"""``edms serve`` (the HTTP service under gunicorn) and ``edms worker`` (background jobs)."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import click

from .. import __version__
from ..config import Settings
from .base import Context, pass_ctx, settings


@click.command()
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
    config = settings()  # fail early, with a clear message, on bad config
    from ..storage_check import remove_stale_work
    from ..system import System

    removed, size = remove_stale_work(System(config))
    if removed:
        click.echo(f"removed {removed} stale work folder(s) ({size} bytes)", err=True)
    if os.environ.get("EDMS_FORWARDED_ALLOW_IPS"):
        click.echo(
            "EDMS_FORWARDED_ALLOW_IPS is no longer read: set EDMS_TRUSTED_PROXIES "
            "to the reverse proxy's address",
            err=True,
        )
    # Two gates (public checks, the exchange inbox) of concurrency + queue threads each.
    threads = max(threads, 2 * (config.public_concurrency + config.public_queue) + 4)
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
        ",".join(config.trusted_proxies),
        "--control-socket",
        _control_socket(config, host, port),
        "api.wsgi:app",
    ]
    click.echo(f"EDMS {__version__} listening on http://{host}:{port}")
    os.execv(sys.executable, argv)


def _control_socket(config: Settings, host: str, port: int) -> str:
    """Each `edms serve` its own gunicorn control socket (mode 0600), in the data
    directory, or in the temporary directory when that path is too long for a socket."""
    name = f"gunicorn-{host.replace(':', '_')}-{port}.ctl"
    run = (config.data_dir / "run").resolve()
    if len(str(run / name)) < 100:
        run.mkdir(parents=True, exist_ok=True)
        return str(run / name)
    tag = hashlib.sha256(str(run).encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"edms-{tag}-{name}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@pass_ctx
def worker(ctx: Context, burst: bool) -> None:
    """Run background jobs from the Redis queue (EDMS_REDIS_URL)."""
    from ..worker import run_worker

    if ctx.system.settings.exchange_pump and not burst:
        from ..exchange.outbox import Pump

        Pump(ctx.system).start()  # the exchange's delivery loop runs in workers too
    run_worker(ctx.system, burst=burst)
