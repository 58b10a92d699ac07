"""The HTTP layer's security: who is calling, and what is refused before any work is done.

* **Credentials.** An API token (``Authorization: Bearer edms_…``) or a browser session
  (cookie ``edms_session`` + the ``X-CSRF-Token`` header on every change). Each endpoint
  declares the token scope it needs (:func:`requires`); roles and agency isolation are
  checked by the ``edms`` services themselves. A protected endpoint authenticates the
  request *before its body is read*: an anonymous upload is refused at once, whatever its
  size.
* **Client address** (:func:`client_address`): ``X-Forwarded-For`` is believed only from
  the reverse proxies named in ``EDMS_TRUSTED_PROXIES``; rate limits key on the result.
* **Public work** (:class:`PublicGate`): the anonymous pages that validate files
  (``/xac-thuc``, ``/verify/{id}``) take one upload size (``EDMS_PUBLIC_UPLOAD_MB``,
  checked from ``Content-Length`` and again while the body streams, before anything is
  parsed) and run at most ``EDMS_PUBLIC_CONCURRENCY`` at a time per process, with a short
  queue (``EDMS_PUBLIC_QUEUE`` waiting at most ``EDMS_PUBLIC_QUEUE_SECONDS``); beyond it
  429 or 503 with ``Retry-After``. The slot is taken before the body is read, so slow
  uploads count too, and the server's other threads stay for ``/healthz`` and logged-in
  work (``edms serve --threads`` keeps at least four more). The exchange inbox, where
  other agencies' systems deliver packages before anything proves who they are, has a gate
  of its own with the same limits and its own size (``EDMS_EXCHANGE_MAX_MB``).
* **Redirects** go to same-site paths only (:func:`same_site_path`).
* **Headers** on every answer (:func:`install`): a Content-Security-Policy without inline
  script and with ``frame-ancestors 'none'``, ``nosniff``, ``Referrer-Policy``, HSTS in
  production, ``no-store`` on personal answers; every cookie ``HttpOnly``,
  ``SameSite=Lax`` and, in production, ``Secure``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import threading
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from werkzeug.wrappers import Response as BaseResponse

from edms.auth import (
    SESSION_HOURS,
    Identity,
    Unauthenticated,
    check_csrf,
    session_identity,
    token_identity,
)
from edms.config import Settings
from edms.errors import EdmsError, Forbidden, UploadTooLarge

from .context import system

SESSION_COOKIE = "edms_session"
SECURITY: list[str | dict[str, list[Any]]] = [{"bearerAuth": []}, {"cookieAuth": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: `edms_<prefix>_<secret>` (POST /api/v1/tokens).",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A browser session (POST /api/v1/sessions); changes also "
        "need the X-CSRF-Token header.",
    },
}
F = TypeVar("F", bound=Callable[..., Any])

# Anonymous endpoints that validate an uploaded or stored file: bounded and gated.
PUBLIC_CHECKS = {"web.verify": ("POST",), "public.verify_copy": ("GET", "HEAD", "POST")}
# Other agencies' systems deliver here; who they are is proven only by the package.
INBOX = "exchange.deliver"
# Anonymous endpoints taking a small form or JSON body (logging in).
SMALL_BODIES = {"web.login", "admin.login"}
SMALL_BODY = 64 * 1024
MULTIPART_SLACK = 64 * 1024  # form fields and part headers around the file


# -- credentials ------------------------------------------------------------------------------


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


def start_session(resp: BaseResponse, token: str) -> BaseResponse:
    """Set the browser session's cookie (HttpOnly, SameSite=Lax, Secure outside
    development), lasting as long as the session (REST login and the login page)."""
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=not system().settings.is_development,
        max_age=SESSION_HOURS * 3600,
        path="/",
    )
    return resp


def end_session(resp: BaseResponse) -> BaseResponse:
    """Remove the browser session's cookie (logging out)."""
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def current() -> Identity:
    identity: Identity = g.identity
    return identity


def actor() -> str:
    return current().username


def requires(scope: str) -> Callable[[F], F]:
    """Authenticate the request (already done, before the body was read, by the hook
    :func:`install` adds) and require ``scope`` of its credential."""

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = g.get("identity") or identify()
            if scope not in identity.scopes:
                raise Forbidden(f"this API token lacks the '{scope}' scope")
            g.identity = identity
            return fn(*args, **kwargs)

        wrapper._edms_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco


# -- the client's address ------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _in(address: str, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(settings: Settings | None = None) -> str:
    """The address of the client: the connecting peer, or, when the peer is one of
    ``EDMS_TRUSTED_PROXIES``, the nearest address in ``X-Forwarded-For`` that is not a
    trusted proxy itself (proxies append, so the leftmost entries are the client's own
    claims and are not believed past an untrusted hop)."""
    peer = request.environ.get("REMOTE_ADDR") or "?"
    trusted = _networks((settings or system().settings).trusted_proxies)
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [
        h.strip()
        for v in request.headers.getlist("X-Forwarded-For")
        for h in v.split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def forwarded() -> bool:
    """Whether the request came through a proxy (it says so)."""
    return bool(request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"))


# -- redirects --------------------------------------------------------------------------------


def same_site_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default``. Browsers drop tabs and
    newlines from URLs and read ``\\`` as ``/``, so ``/\\t/evil.com`` or ``/\\evil.com``
    would leave the site: anything with a control character, a backslash, a scheme or a
    host is refused."""
    if not value or value != value.strip() or "\\" in value:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# -- public work: bounded and gated ----------------------------------------------------------


class PublicBusy(EdmsError):
    """Too many public checks at once (429: the queue is full; 503: waited in vain)."""

    status = 429
    title = "Too many checks at once"
    type_slug = "busy"


class PublicGate:
    """At most ``concurrency`` public checks at a time, ``queue`` more waiting up to
    ``wait`` seconds each; others are refused at once."""

    def __init__(self, concurrency: int, queue: int, wait: float) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._waiting = 0
        self.queue, self.wait = queue, wait

    def acquire(self) -> None:
        if self._slots.acquire(blocking=False):
            return
        with self._lock:
            if self._waiting >= self.queue:
                raise PublicBusy(
                    "too many documents are being checked right now; try again in a few seconds",
                    retry_after=5,
                )
            self._waiting += 1
        try:
            got = self._slots.acquire(timeout=self.wait)
        finally:
            with self._lock:
                self._waiting -= 1
        if not got:
            busy = PublicBusy(
                "the checking service is busy; try again shortly",
                retry_after=max(5, int(self.wait)),
            )
            busy.status = 503
            busy.title = "Service busy"
            raise busy

    def release(self) -> None:
        self._slots.release()


def public_limit(settings: Settings) -> int:
    """The one upload size of every public endpoint, in bytes."""
    return settings.public_upload_mb * 1024 * 1024


def _bound_body(limit: int) -> None:
    """Refuse a body over ``limit`` from its Content-Length; werkzeug refuses it again
    while it streams (a chunked body has no Content-Length)."""
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise UploadTooLarge(
            f"the request body is {request.content_length} bytes, over "
            f"the limit of {limit} bytes for this page; nothing was read",
            limit=limit,
        )


def _before() -> None:
    """Before the body is read: bound public bodies, gate public checks, authenticate
    protected endpoints."""
    settings = system().settings
    endpoint = request.endpoint or ""
    if request.method in PUBLIC_CHECKS.get(endpoint, ()) or (
        endpoint == INBOX and request.method == "POST"
    ):
        if endpoint == INBOX:
            _bound_body(settings.exchange_max_mb * 1024 * 1024)
        elif request.method == "POST":
            _bound_body(public_limit(settings) + MULTIPART_SLACK)
        gate: PublicGate = current_app.extensions[
            "edms_inbox_gate" if endpoint == INBOX else "edms_public_gate"
        ]
        gate.acquire()
        g.public_slot = gate
        return
    if endpoint in SMALL_BODIES:
        _bound_body(SMALL_BODY)
        return
    view = current_app.view_functions.get(endpoint)
    if view is not None and getattr(view, "_edms_scope", None):
        g.identity = identify()


def _release(_exc: BaseException | None) -> None:
    gate = g.pop("public_slot", None)
    if gate is not None:
        gate.release()


# -- headers ----------------------------------------------------------------------------------

_INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def _sha(text: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text).digest()).decode() + "'"


def _template_style_hashes(app: Flask) -> list[str]:
    """Hashes of the fixed inline styles of the templates (a ``<style>`` block or a
    ``style=""`` attribute without template code): allowed by the policy, while any
    other inline style, and every inline script, is not."""
    found: set[str] = set()
    for folder in (Path(app.root_path) / "templates", Path(app.root_path) / "web" / "templates"):
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for css in [*_INLINE_STYLE.findall(text), *_STYLE_ATTR.findall(text)]:
                if "{{" not in css and "{%" not in css:
                    found.add(_sha(css.encode()))
    return sorted(found)


def _policy(
    style_hashes: list[str], scripts: list[str] | None = None, docs_page: bool = False
) -> str:
    script = " ".join(["'self'", *(scripts or [])])
    style = (
        "'self' 'unsafe-inline'"
        if docs_page
        else " ".join(["'self'", "'unsafe-hashes'", *style_hashes])
    )
    return (
        "default-src 'self'; "
        f"script-src {script}; style-src {style}; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _docs_scripts(resp: Response, app: Flask) -> list[str]:
    """The interactive API page: its own inline start-up script (from the library's
    template, no user data), and the CDN its files come from when not installed."""
    out = [_sha(m) for m in _INLINE_SCRIPT.findall(resp.get_data())]
    bundle = str(app.config.get("SWAGGER_UI_BUNDLE_JS", ""))
    if bundle.startswith("https://"):
        parts = urlsplit(bundle)
        out.append(f"{parts.scheme}://{parts.netloc}")
    return out


def _secure_cookies(resp: Response, production: bool) -> None:
    cookies = resp.headers.getlist("Set-Cookie")
    if not cookies:
        return
    resp.headers.remove("Set-Cookie")
    for c in cookies:
        low = c.lower()
        if "httponly" not in low:
            c += "; HttpOnly"
        if "samesite" not in low:
            c += "; SameSite=Lax"
        if production and "; secure" not in low:
            c += "; Secure"
        resp.headers.add("Set-Cookie", c)


def install(app: Flask) -> None:
    """The hooks: bounds and authentication before the body is read, the gate's release,
    and the security headers on every answer."""
    settings: Settings = app.extensions["edms"].settings
    production = not settings.is_development
    for gate in ("edms_public_gate", "edms_inbox_gate"):
        app.extensions[gate] = PublicGate(
            settings.public_concurrency, settings.public_queue, settings.public_queue_seconds
        )
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_NAME="edms_form",
    )
    style_hashes = _template_style_hashes(app)
    app.before_request(_before)
    app.teardown_request(_release)

    @app.after_request
    def _headers(resp: Response) -> Response:
        docs_page = request.endpoint == "openapi.docs"
        scripts = _docs_scripts(resp, app) if docs_page else None
        h = resp.headers
        h["Content-Security-Policy"] = _policy(style_hashes, scripts, docs_page)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if production:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        static = request.path.startswith(("/static/", "/api/v1/docs/assets/"))
        if "Cache-Control" not in h and not static:
            h["Cache-Control"] = "no-store"
        if resp.status_code in (401, 413, 429, 503) and request.content_length:
            resp.headers["Connection"] = "close"  # do not read the rest of a refused body
        _secure_cookies(resp, production)
        return resp


def metrics_allowed(settings: Settings) -> bool:
    """``/metrics``: from this machine directly (not through the proxy), or with the
    bearer token ``EDMS_METRICS_TOKEN``."""
    header = request.headers.get("Authorization", "")
    if settings.metrics_token and header.lower().startswith("bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), settings.metrics_token.encode())
    peer = request.environ.get("REMOTE_ADDR") or ""
    return not forwarded() and _in(peer, _networks(("127.0.0.0/8", "::1/128")))
