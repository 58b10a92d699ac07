"""RFC 7807 problem+json for every error the service returns (``Retry-After`` when the
error says when to try again); the pages outside ``/api/`` get the same refusals as a
Vietnamese page when a browser asks."""

from __future__ import annotations

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
        limit=f" ({int(limit) // (1024 * 1024)} MB)" if limit else "")
    return Response(render_template("web/error.html", message=message), status=status,
                    mimetype="text/html")


def problem(status: int, title: str, detail: str, slug: str | None = None,
            **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = _page(status, extra) or Response(json.dumps(body), status=status,
                                            mimetype="application/problem+json")
    if extra.get("retry_after"):
        resp.headers["Retry-After"] = str(int(extra["retry_after"]))
    return resp


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(EdmsError)
    def _domain(exc: EdmsError) -> Response:
        return problem(exc.status, exc.title, exc.message, exc.type_slug, **exc.extra)

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

    @app.errorhandler(StorageUnavailable)
    def _storage_down(exc: StorageUnavailable) -> Response:
        log.error("storage unavailable: %s", exc)
        return problem(503, "Storage unavailable", "the object store cannot be reached; "
                       "try again later", "storage-unavailable")

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError) -> Response:
        log.exception("storage error")
        return problem(503, "Storage error", str(exc), "storage-error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal Server Error",
                       "an unexpected error occurred; it has been logged")
