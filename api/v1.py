"""``/api/v1``: the versioned REST API."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from edms import __version__

bp = Blueprint("v1", __name__)


@bp.get("/")
def root() -> ResponseReturnValue:
    return jsonify(
        name="EDMS",
        version=__version__,
        api="v1",
        links={"health": "/healthz"},
    )
