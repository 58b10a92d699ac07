"""``/healthz``: the state of each component, 200 when all are up, 503 naming what is down."""

from __future__ import annotations

from flask import Blueprint, Response, json

from edms import __version__

from .context import system

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    components = system().health()
    ok = all(h.ok for h in components.values())
    body = {
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
