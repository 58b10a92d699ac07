"""Access to the System from a request."""

from __future__ import annotations

from flask import current_app

from edms.system import System


def system() -> System:
    return current_app.extensions["edms"]  # type: ignore[no-any-return]
