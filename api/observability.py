"""Structured JSON logs with a request id, and Prometheus metrics at ``/metrics``.

``/metrics`` answers only a direct request from this machine or one carrying
``EDMS_METRICS_TOKEN`` (:func:`api.security.metrics_allowed`).

Every request gets an id (the caller's ``X-Request-ID`` if it is sane, else a new one),
echoed in the response and in every log line written while handling it. Metrics are
per process (each API process is a scrape target): requests by endpoint and status,
latencies, background jobs and signatures by kind.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from apiflask import APIFlask
from flask import Response, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("edms_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "edms_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS = Counter("edms_jobs_submitted_total", "Background jobs submitted", ["kind"])
SIGNATURES = Counter("edms_signatures_total", "Signatures applied", ["step"])
_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SIGNING_STEPS = {"step_sign", "step_seal", "remote_finalize"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = getattr(g, "request_id", None)
            entry["method"] = request.method
            entry["path"] = request.path
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)


def install(app: APIFlask) -> None:
    access = logging.getLogger("edms.access")

    @app.before_request
    def _start() -> None:
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _ID.match(sent) else secrets.token_hex(8)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(resp: Response) -> Response:
        endpoint = request.endpoint or "unmatched"
        elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
        REQUESTS.labels(request.method, endpoint, str(resp.status_code)).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        if resp.status_code < 300 and endpoint.split(".")[-1] in SIGNING_STEPS:
            SIGNATURES.labels(endpoint.split(".")[-1]).inc()
        if resp.status_code == 202:  # every 202 of the API answers with a queued job
            JOBS.labels(endpoint.split(".")[-1]).inc()
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        access.info(
            "%s %s %s %.1f ms", request.method, request.path, resp.status_code, elapsed * 1000
        )
        return resp

    @app.get("/metrics")
    @app.doc(hide=True)
    def metrics() -> Response:
        """Only for this machine (a direct request, not one through the proxy) or with
        ``Authorization: Bearer <EDMS_METRICS_TOKEN>``; anyone else finds nothing."""
        from werkzeug.exceptions import NotFound

        from .security import metrics_allowed

        if not metrics_allowed(app.extensions["edms"].settings):
            raise NotFound()
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
