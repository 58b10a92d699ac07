"""RFC 7807 problem+json for every error the service returns (``Retry-After`` when the
error says when to try again); the pages outside ``/api/`` get the same refusals as a
Vietnamese page when a browser asks."""

from __future__ import annotations

import errno
import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from edms.errors import EdmsError
from storage import StorageError, StorageUnavailable

PROBLEM_BASE = "https://edms.example.gov.vn/problems/"
log = logging.getLogger("edms.api")


# What a person reads on a page when the service refuses before the page's own code runs.
PAGE_MESSAGES = {
    413: "Tệp gửi lên lớn hơn giới hạn cho phép{limit}; chưa có gì được đọc hay lưu.",
    429: "Hệ thống đang kiểm tra nhiều văn bản cùng lúc. Vui lòng thử lại sau {retry} giây.",
    503: "Hệ thống đang bận. Vui lòng thử lại sau {retry} giây.",
}


def _page(status: int, extra: dict[str, Any]) -> Response | None:
    """A Vietnamese page instead of JSON, for a browser on a page outside the API."""
    if status not in PAGE_MESSAGES or request.path.startswith("/api/"):
        return None
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) != "text/html":
        return None
    from flask import render_template

    limit = extra.get("limit")
    message = PAGE_MESSAGES[status].format(
        retry=extra.get("retry_after") or 5,
        limit=f" ({int(limit) // (1024 * 1024)} MB)" if limit else "",
    )
    return Response(
        render_template("web/error.html", message=message), status=status, mimetype="text/html"
    )


def problem(
    status: int, title: str, detail: str, slug: str | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = _page(status, extra) or Response(
        json.dumps(body), status=status, mimetype="application/problem+json"
    )
    if extra.get("retry_after"):
        resp.headers["Retry-After"] = str(int(extra["retry_after"]))
    return resp


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(EdmsError)
    def _domain(exc: EdmsError) -> Response:
        resp = problem(exc.status, exc.title, exc.message, exc.type_slug, **exc.extra)
        return _with_retry(resp) if exc.status == 503 else resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or exc.name
        extra: dict[str, Any] = {}
        if status == 413:
            limit = request.max_content_length or app.config.get("MAX_CONTENT_LENGTH")
            detail = f"the request body is larger than the limit of {limit} bytes"
            extra["limit"] = limit
        resp = problem(status, exc.name, detail, **extra)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError) -> Response:
        down = unavailable_component(exc)
        if down is not None:
            return _unavailable(exc, *down)
        log.exception("storage error")
        return _with_retry(
            problem(503, "Storage error", str(exc), "storage-error", component="storage")
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        down = unavailable_component(exc)
        if down is not None:
            return _unavailable(exc, *down)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500, "Internal Server Error", "an unexpected error occurred; it has been logged"
        )


# -- a component down: 503 naming it ------------------------------------------------------

COMPONENT_DETAIL = {
    "database": "the database cannot be reached; nothing was changed; try again later",
    "storage": "the object store cannot be reached; nothing was changed; try again later",
    "disk": "the disk of the data directory is full; nothing was changed; an administrator "
    "must free space",
    "queue": "the job queue (Redis) cannot be reached; nothing was queued; try again later",
}
RETRY_AFTER_SECONDS = 30


def unavailable_component(exc: BaseException) -> tuple[str, str] | None:
    """``(component, technical detail)`` when ``exc`` or one of its causes says that the
    database, the object store, the job queue or the data disk is down or full; None for
    any other error. The components are those ``/healthz`` reports."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    from edms.db import is_unavailable

    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < 10:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return "disk", str(seen)
        if isinstance(seen, StorageUnavailable):
            return "storage", str(seen)
        if isinstance(seen, RedisConnectionError | RedisTimeout):
            return "queue", str(seen)
        database = is_unavailable(seen)
        if database is not None:
            return database, str(seen).splitlines()[0]
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return None


def _with_retry(resp: Response) -> Response:
    resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return resp


def _unavailable(exc: BaseException, component: str, technical: str) -> Response:
    log.error("%s unavailable on %s %s: %s", component, request.method, request.path, technical)
    return _with_retry(
        problem(
            503,
            f"{component.capitalize()} unavailable",
            COMPONENT_DETAIL[component],
            f"{component}-unavailable",
            component=component,
        )
    )
