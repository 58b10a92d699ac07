"""Who is calling: an API token (``Authorization: Bearer edms_…``) or a browser session
(cookie ``edms_session`` + the ``X-CSRF-Token`` header on every change). Each endpoint
declares the token scope it needs; roles and agency isolation are checked by the
``edms`` services themselves."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from edms.auth import Identity, Unauthenticated, check_csrf, session_identity, token_identity
from edms.errors import Forbidden

from .context import system

SESSION_COOKIE = "edms_session"
SECURITY: list[str | dict[str, list[Any]]] = [{"bearerAuth": []}, {"cookieAuth": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "An API token: `edms_<prefix>_<secret>` (POST /api/v1/tokens)."},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                   "description": "A browser session (POST /api/v1/sessions); changes also "
                                  "need the X-CSRF-Token header."},
}
F = TypeVar("F", bound=Callable[..., Any])


def identify() -> Identity:
    header = request.headers.get("Authorization", "")
    if header:
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use 'Authorization: Bearer <API token>'")
        return token_identity(system(), token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        identity = session_identity(system(), cookie)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf(identity, request.headers.get("X-CSRF-Token"))
        return identity
    raise Unauthenticated("log in (POST /api/v1/sessions) or send an API token")


def current() -> Identity:
    identity: Identity = g.identity
    return identity


def actor() -> str:
    return current().username


def requires(scope: str) -> Callable[[F], F]:
    """Authenticate the request and require ``scope`` of its credential."""
    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = identify()
            if scope not in identity.scopes:
                raise Forbidden(f"this API token lacks the '{scope}' scope")
            g.identity = identity
            return fn(*args, **kwargs)
        wrapper._edms_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return deco
