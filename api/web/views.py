"""The web interface's blueprint and what every page shares: who is signed in
(:func:`login_required`, :func:`me`, :func:`has`), the words shown for roles, priorities,
steps and states, Vietnam time, and the refusals shown on a page. The pages themselves are
in the sibling modules (:mod:`.session`, :mod:`.documents`, :mod:`.incoming`,
:mod:`.digitize`, :mod:`.records`, :mod:`.admin`, :mod:`.verify`, ...), each registering
its routes on this one ``web`` blueprint, so every endpoint keeps its ``web.<name>``.

Thin: each view reads the form, calls an ``edms`` service, and renders or redirects;
refusals from the domain become a message on the page (with the 4xx status). No page
touches the database: the signed-in user is read through :mod:`edms.accounts`."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edms import accounts, auth
from edms import documents as docs
from edms.errors import EdmsError
from edms.numbering import VN_TZ

from ..context import system
from ..security import SESSION_COOKIE

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/web",
)
F = TypeVar("F", bound=Callable[..., Any])

ROLE_VI = {"leader": "Lãnh đạo", "clerk": "Văn thư", "officer": "Chuyên viên", "admin": "Quản trị"}
PRIORITY_VI = docs.PRIORITY_VI
STEP_VI = {
    "submit": "Trình ký",
    "approve": "Duyệt",
    "reject": "Trả lại để sửa",
    "sign": "Ký số",
    "number": "Cấp số",
    "seal": "Ký số cơ quan",
    "register": "Vào sổ",
    "issue": "Ban hành",
    "revoke": "Thu hồi",
    "verify": "Kiểm tra chữ ký",
    "return": "Trả lại nơi gửi",
    "assign": "Phân công xử lý",
    "handback": "Trả lại để phân công lại",
    "progress": "Bắt đầu xử lý",
    "complete": "Hoàn thành",
}


# -- who is here ---------------------------------------------------------------------------------


def _identity() -> auth.Identity | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return auth.session_identity(system(), token)
    except EdmsError:
        return None


def login_required(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        identity = _identity()
        if identity is None:
            return redirect(url_for("web.login", next=request.path))
        if request.method == "POST":
            try:
                auth.check_csrf(identity, request.form.get("csrf"))
            except EdmsError:
                abort(403)
        g.web_identity = identity
        user = accounts.user_view(system(), identity.username)
        g.user = {
            "username": user.username,
            "full_name": user.full_name,
            "roles": list(user.roles),
            "title": user.title,
            "agency": user.agency_name,
            "agency_code": user.agency,
        }
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def me() -> str:
    return str(g.web_identity.username)


def has(*roles: str) -> bool:
    return bool(set(roles) & set(g.user["roles"]))


@bp.app_context_processor
def _context() -> dict[str, Any]:
    identity = getattr(g, "web_identity", None)
    return {
        "csrf": identity.csrf_token if identity else "",
        "user": getattr(g, "user", None),
        "ROLE_VI": ROLE_VI,
        "PRIORITY_VI": PRIORITY_VI,
        "STEP_VI": STEP_VI,
        "STATE_VI": docs.STATE_NAMES_VI,
        "has": has if identity else (lambda *_r: False),
        "vn_time": vn_time,
    }


def vn_time(value: str | None) -> str:
    """ISO time → ``22/11/2026 16:30`` in Vietnam time."""
    if not value:
        return ""
    from datetime import datetime

    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is None:
        return t.strftime("%d/%m/%Y")
    return t.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def refused(exc: EdmsError, target: str) -> BaseResponse:
    flash(exc.message, "error")
    return redirect(target, code=303)


def pin_refused(exc: EdmsError) -> str:
    """The signing PIN's refusals, in Vietnamese."""
    if isinstance(exc, auth.TooManyAttempts):
        return f"Nhập sai nhiều lần: vui lòng thử lại sau {exc.extra.get('retry_after', 60)} giây."
    if exc.extra.get("pin_required"):
        return "Nhập mã PIN ký số để ký."
    if exc.message.startswith("wrong signing PIN"):
        return "Mã PIN ký số không đúng; văn bản chưa được ký."
    if exc.message.startswith("wrong password"):
        return "Mật khẩu không đúng; mã PIN chưa được đổi."
    if "no signing PIN" in exc.message:
        return "Bạn chưa có mã PIN ký số: hãy đặt mã PIN trước (Mã PIN ký số)."
    if "6 to 12 digits" in exc.message:
        return "Mã PIN gồm 6 đến 12 chữ số."
    if "too easy" in exc.message:
        return "Mã PIN quá dễ đoán (các chữ số giống nhau hoặc liên tiếp)."
    return exc.message


def with_verdict(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report with ``changed_after_signing`` worked out, as the validator defines it."""
    if report is None:
        return None
    from signing.sandbox import report_from_json

    return {**report, "changed_after_signing": report_from_json(report).changed_after_signing}


@bp.app_template_filter("b64")
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@bp.app_template_filter("roles_vi")
def _roles_vi(roles: list[str]) -> str:
    return ", ".join(ROLE_VI.get(r, r) for r in roles)
