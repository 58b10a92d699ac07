"""The Flask application (factory + blueprints). Thin: it translates HTTP to ``edms`` calls."""

from __future__ import annotations

import logging
import secrets

from flask import Flask

from edms import __version__
from edms.config import Settings
from edms.system import System

from .health import bp as health_bp
from .problems import register_problem_handlers
from .v1 import bp as v1_bp


def create_app(system: System | None = None) -> Flask:
    system = system or System(Settings.from_env())
    app = Flask(__name__)
    settings = system.settings
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
        EDMS_VERSION=__version__,
    )
    app.extensions["edms"] = system
    logging.basicConfig(level=settings.log_level)
    register_problem_handlers(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(v1_bp, url_prefix="/api/v1")
    return app
