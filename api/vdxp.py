"""``/vdxp/<operation>``: this installation as an exchange axis (hub mode, registered when
``EDMS_AXIS_HUB=true``), speaking the VDXP protocol of VNPT's client SDK. Thin: the body is
read within the operation's limit (never past it: a larger one is refused from its
``Content-Length``; the server discards what the client sends anyway before the next
request on the connection), and everything else is
:func:`edms.axis.hub.handle`'s. Answers are always the JSON the SDK reads, never a
problem+json (the SDK would not understand one); the HTTP status says the same thing for
people and proxies (the SDK ignores it)."""

from __future__ import annotations

from flask import Blueprint, Response, json, request

from edms.axis import hub
from edms.exchange.vdxp import Code, answer

from .context import system
from .security import client_address

bp = Blueprint("vdxp", __name__)


@bp.route("/vdxp/<path:operation>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@bp.route("/vdxp/", defaults={"operation": ""}, methods=["GET", "POST"])
def call(operation: str) -> Response:
    if request.method != "POST":
        return _refuse(
            operation,
            405,
            Code.BAD_REQUEST,
            f"{request.method}: every operation of the axis is a POST",
        )
    limit = hub.body_limit(system(), operation)
    declared = request.content_length
    if declared is not None and declared > limit:
        return _refuse(
            operation,
            413,
            Code.TOO_LARGE,
            f"the body is {declared} bytes, over the limit of {limit} bytes; nothing was read",
        )
    data = request.stream.read(limit + 1)
    if len(data) > limit:  # no Content-Length (chunked): cut at the limit
        return _refuse(
            operation,
            413,
            Code.TOO_LARGE,
            f"the body is over the limit of {limit} bytes; nothing was stored",
        )
    status, body = hub.handle(system(), operation, _headers(), data, client_address())
    return _reply(status, body)


def _headers() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


def _refuse(operation: str, status: int, code: str, reason: str) -> Response:
    hub.audit_refusal(system(), operation, _headers(), code, reason, client_address())
    return _reply(status, answer(code, reason, **hub.empty_fields(operation)))


def _reply(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body, ensure_ascii=True), status=status, mimetype="application/json")
