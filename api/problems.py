"""RFC 7807 problem+json for every error the service returns."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from edms.errors import EdmsError
from storage import StorageError, StorageUnavailable

PROBLEM_BASE = "https://edms.example.gov.vn/problems/"
log = logging.getLogger("edms.api")


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
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(EdmsError)
    def _domain(exc: EdmsError) -> Response:
        return problem(exc.status, exc.title, exc.message, exc.type_slug, **exc.extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            detail = f"the request body is larger than the limit of {limit} bytes"
        resp = problem(status, exc.name, detail)
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
