"""``/healthz``: the state of each component, 200 when all are up, 503 naming what is down."""

from __future__ import annotations

import shutil
from typing import Any

from flask import Blueprint, Response, json

from edms import __version__
from edms.config import Settings
from storage import Health

from .context import system

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    components = system().health()
    components["disk"] = disk_health(system().settings)
    redis_url = system().settings.redis_url
    if redis_url:
        components["queue"] = queue_health(redis_url)
    ok = all(h.ok for h in components.values())
    body: dict[str, Any] = {
        "status": "ok" if ok else "unavailable",
        "version": __version__,
        "components": {
            name: {"status": "ok" if h.ok else "down", "backend": h.backend, "detail": h.detail}
            for name, h in components.items()
        },
    }
    if not ok:
        body["down"] = [name for name, h in components.items() if not h.ok]
    return Response(json.dumps(body), status=200 if ok else 503, mimetype="application/json")


def disk_health(settings: Settings) -> Health:
    """Free space on the data directory's disk (SQLite, the local store, work files)."""
    where = settings.data_dir
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Health(False, "filesystem", f"{where}: {exc.strerror or exc}")
    free_mb = usage.free // (1024 * 1024)
    if free_mb < settings.disk_min_free_mb:
        return Health(
            False,
            "filesystem",
            f"{where}: only {free_mb} MB free (below "
            f"EDMS_DISK_MIN_FREE_MB={settings.disk_min_free_mb})",
        )
    return Health(True, "filesystem", f"{where}: {free_mb} MB free")


def queue_health(url: str) -> Health:
    """The Redis job queue answers (only when EDMS_REDIS_URL is set)."""
    from redis import Redis

    try:
        Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # health must report, not raise
        return Health(False, "redis", f"{type(exc).__name__}: {exc}")
    return Health(True, "redis", "answers")
