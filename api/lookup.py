"""``/tra-cuu``: the citizen's look-up of a dossier (no login). The receipt's QR code opens
it with the dossier code filled in; the citizen types the look-up secret printed beside
it and sees the dossier's status, the promised date, whether it is late, and downloads
the signed electronic result when there is one. Nothing else is shown.

A wrong secret and an unknown code get the same page, with the same status (404), after
the same work (edms.reception). Look-ups are public work: gated like the public checks
(:class:`api.security.PublicGate`: a few at a time, 429/503 with ``Retry-After`` beyond),
their bodies bounded to a small form, and limited per client address and per code typed
(429 with ``Retry-After``). ``Accept: application/json`` (or a JSON body) gets the same
answer as JSON, for apps.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, g, jsonify, make_response, render_template, request

from edms import reception
from edms.auth import TooManyAttempts
from edms.errors import EdmsError, UploadTooLarge

from .context import system
from .files import send_blob
from .security import SMALL_BODY, client_address

# an APIBlueprint kept out of the OpenAPI document: APIFlask reads every blueprint's
# before_request hooks when it builds the spec, and a plain Blueprint has no such flag
bp = APIBlueprint("lookup", __name__, template_folder="templates", enable_openapi=False)


@bp.before_request
def _gate() -> None:
    """A small body, then a slot of the public gate (released by api.security's
    teardown)."""
    if request.method != "POST":
        return
    request.max_content_length = SMALL_BODY
    if request.content_length is not None and request.content_length > SMALL_BODY:
        raise UploadTooLarge("a look-up is a small form; nothing was read", limit=SMALL_BODY)
    gate = current_app.extensions["edms_public_gate"]
    gate.acquire()
    g.public_slot = gate


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _fields() -> tuple[str, str]:
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    data = data if isinstance(data, dict) or hasattr(data, "get") else {}
    code = str(data.get("ma") or data.get("code") or "")[:80]
    secret = str(data.get("ma_tra_cuu") or data.get("secret") or "")[:80]
    return code.strip(), secret


def _page(
    code: str,
    status: reception.PublicStatus | None = None,
    secret: str = "",
    error: str | None = None,
    http: int = 200,
    retry_after: int | None = None,
) -> Any:
    resp = make_response(
        render_template("lookup.html", code=code, status=status, secret=secret, error=error), http
    )
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _too_many(code: str, exc: TooManyAttempts) -> Any:
    """The page saying the client (or the code) looked up too often, and when to retry."""
    wait = exc.extra.get("retry_after", 60)
    return _page(
        code,
        error=f"Bạn đã tra cứu quá nhiều lần; vui lòng thử lại sau {wait} giây.",
        http=429,
        retry_after=exc.extra.get("retry_after"),
    )


@bp.get("/tra-cuu")
def lookup_form() -> Any:
    code = request.args.get("ma", "").strip()[:80]
    return _page(code)


@bp.post("/tra-cuu")
def lookup() -> Any:
    code, secret = _fields()
    try:
        found = reception.lookup(system(), code, secret, client_address())
    except TooManyAttempts as exc:
        if _wants_json():
            raise
        return _too_many(code, exc)
    except EdmsError as exc:
        if _wants_json():
            raise
        return _page(code, error=reception.LOOKUP_FAILED_VI, http=exc.status)
    if _wants_json():
        return jsonify(
            {
                "code": found.code,
                "status": found.status,
                "status_vi": found.status_vi,
                "promised_date": found.promised_date.isoformat(),
                "late": found.late,
                "result_available": found.result_available,
            }
        )
    return _page(found.code, found, secret)


@bp.post("/tra-cuu/ket-qua")
def result() -> Any:
    """The signed result (PDF), for the holder of the code and the secret."""
    code, secret = _fields()
    try:
        blob, name = reception.result_file(system(), code, secret, client_address())
    except TooManyAttempts as exc:
        if _wants_json():
            raise
        return _too_many(code, exc)
    except reception.LookupFailed:
        if _wants_json():
            raise
        return _page(code, error=reception.LOOKUP_FAILED_VI, http=404)
    except EdmsError as exc:
        if _wants_json():
            raise
        return _page(code, error="Hồ sơ chưa có kết quả điện tử để tải về.", http=exc.status)
    return send_blob(blob, name)
