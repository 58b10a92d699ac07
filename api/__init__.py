"""The Flask application (APIFlask: Flask with OpenAPI and request validation), built by a
factory from blueprints. Thin: it translates HTTP to ``edms`` calls.

* ``/api/v1/...``: the REST API; its OpenAPI 3.1 document at ``/api/v1/openapi.json`` and
  an interactive page at ``/api/v1/docs``;
* ``/healthz``, ``/metrics`` (this machine only, or with ``EDMS_METRICS_TOKEN``);
* the web pages (:mod:`api.web`) and the public verify page (:mod:`api.public`).

What is refused before any work (bounds, gates, authentication before the body is read)
and the headers every answer carries are in :mod:`api.security`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Flask, Response, json, request, send_from_directory
from werkzeug.routing import IntegerConverter, Map

from edms import __version__
from edms.config import Settings
from edms.system import System

from .health import bp as health_bp
from .observability import configure_logging, install
from .openapi import finish_spec, name_operations
from .problems import PROBLEM_BASE, register_problem_handlers
from .public import bp as public_bp
from .schemas import Problem
from .security import SECURITY_SCHEMES
from .security import install as install_security
from .v1 import bp as v1_bp

DESCRIPTION = """\
EDMS — document management and PAdES digital signatures for Vietnamese public agencies.

Authenticate with an API token (`Authorization: Bearer edms_…`, created at `POST /tokens`)
or a browser session (`POST /sessions`, then the `X-CSRF-Token` header on changes). Every
user and token sees only its own agency's documents: another agency's document is
*not found*. Errors are RFC 7807 `application/problem+json`. Times are ISO 8601 in
Vietnam time (+07:00).
"""


def create_app(system: System | None = None) -> Flask:
    system = system or System(Settings.from_env())
    settings = system.settings
    configure_logging(settings.log_level)
    app = APIFlask(
        __name__,
        title="EDMS API",
        version=__version__,
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key or _local_secret(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
        EDMS_VERSION=__version__,
        EDMS_VERIFY_INLINE=settings.verify_inline_mb * 1024 * 1024,
        OPENAPI_VERSION="3.1.0",
        DESCRIPTION=DESCRIPTION,
        SECURITY_SCHEMES=SECURITY_SCHEMES,
        HTTP_ERROR_SCHEMA=Problem,
        VALIDATION_ERROR_SCHEMA=Problem,
        VALIDATION_ERROR_STATUS_CODE=422,
        AUTO_404_RESPONSE=True,
        AUTO_VALIDATION_ERROR_RESPONSE=True,
        TAGS=[
            {"name": "Documents"},
            {"name": "Records"},
            {"name": "Exchange"},
            {"name": "Access and administration"},
        ],
        DOCS_UI="swagger-ui",
        SERVERS=[{"url": settings.public_url}],
        LOCAL_SPEC_JSON_INDENT=1,
    )
    app.extensions["edms"] = system
    # Identifiers in paths are database integers: out of range is "not found", not a
    # database overflow.
    app.url_map.converters["int"] = DatabaseId
    register_problem_handlers(app)

    @app.error_processor
    def _problem(error: HTTPError) -> Response:
        """APIFlask's own errors (request validation: 422) as problem+json."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE
            + ("invalid-request" if error.status_code == 422 else "bad-request"),
            "title": "Invalid request" if error.status_code == 422 else error.message,
            "status": error.status_code,
            "detail": _detail(error),
            "instance": request.path,
        }
        if error.detail:
            body["errors"] = error.detail
        return Response(
            json.dumps(body),
            status=error.status_code,
            mimetype="application/problem+json",
            headers=dict(error.headers or {}),
        )

    app.spec_processor(finish_spec)

    _serve_docs_assets(app)
    install(app)
    install_security(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(public_bp)
    from .lookup import bp as lookup_bp

    app.register_blueprint(lookup_bp)
    from .web import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(v1_bp, url_prefix="/api/v1")
    from .routes import admin, digitization, documents, exchange, instructions, records

    for bp in (documents.bp, instructions.bp, digitization.bp, records.bp, exchange.bp, admin.bp):
        app.register_blueprint(bp, url_prefix="/api/v1")
    name_operations(app)
    if settings.axis_hub:  # this installation as an exchange axis (VDXP, /vdxp)
        from .vdxp import bp as vdxp_bp

        app.register_blueprint(vdxp_bp)
    return app


def _local_secret(settings: Settings) -> str:
    """Without EDMS_SECRET_KEY (development): one random key kept in the data directory,
    so every process of this installation signs the web pages' messages alike."""
    path = settings.data_dir / ".secret_key"
    try:
        return path.read_text().strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_suffix(f".{os.getpid()}")
    tmp.write_text(key)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # the first process to get here wins; the others read its key
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink()
    return key


ASSETS = Path(
    os.environ.get("EDMS_ASSETS_DIR")
    or Path(__file__).resolve().parent.parent / "assets" / "node_modules"
)


def _serve_docs_assets(app: APIFlask) -> None:
    """The interactive API page (Swagger UI 5, OpenAPI 3.1) from files installed by
    `make setup` (assets/package.json), so it works without Internet access. Without them
    the page loads Swagger UI from its CDN."""
    dist = ASSETS / "swagger-ui-dist"
    if not (dist / "swagger-ui-bundle.js").is_file():
        return
    base = "/api/v1/docs/assets"
    app.config.update(
        SWAGGER_UI_CSS=f"{base}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{base}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{base}/swagger-ui-standalone-preset.js",
        DOCS_FAVICON=f"{base}/favicon-32x32.png",
    )

    @app.get(f"{base}/<path:name>")
    @app.doc(hide=True)
    def docs_asset(name: str) -> Response:
        return send_from_directory(dist, name, max_age=86400)


class DatabaseId(IntegerConverter):
    """``<int:...>`` in every route: 1 … 2**31-1."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _detail(error: HTTPError) -> str:
    if error.status_code == 422 and isinstance(error.detail, dict):
        parts = []
        for location, fields in error.detail.items():
            if isinstance(fields, dict):
                for name, msgs in fields.items():
                    text = "; ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
                    parts.append(f"{location}.{name}: {text}")
        return "; ".join(parts) or "the request does not match its schema"
    return str(error.message)
