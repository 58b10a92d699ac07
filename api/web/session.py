"""Signing in and out, and a leader's signing PIN.

The login form carries its own CSRF token (kept in the signed form cookie) and redirects
only to same-site paths; failed logins are limited per client (its real address behind
trusted proxies) and per account. A leader signs with their signing PIN, typed for every
signature."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import flash, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from edms import auth
from edms.errors import ClientError, EdmsError

from ..context import system
from ..security import SESSION_COOKIE, client_address, end_session, same_site_path, start_session
from .views import bp, has, login_required, me, pin_refused

# -- logging in and out ----------------------------------------------------------------------------


def _login_csrf(renew: bool = False) -> str:
    """The login form's own CSRF token, kept in the signed form cookie."""
    if renew or "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(24)
    return str(session["login_csrf"])


def _login_refused(exc: EdmsError) -> str:
    if isinstance(exc, auth.TooManyAttempts):
        return (
            f"Đăng nhập sai nhiều lần: vui lòng thử lại sau "
            f"{exc.extra.get('retry_after', 60)} giây."
        )
    if isinstance(exc, auth.Unauthenticated):
        return "Sai tên đăng nhập hoặc mật khẩu."
    return exc.message


@bp.route("/dang-nhap", methods=["GET", "POST"])
def login() -> Any:
    nxt = same_site_path(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        return render_template("web/login.html", next=nxt, login_csrf=_login_csrf())
    username = request.form.get("username", "")
    expected = session.get("login_csrf")
    if not expected or not hmac.compare_digest(request.form.get("csrf", ""), str(expected)):
        return render_template(
            "web/login.html",
            next=nxt,
            username=username,
            login_csrf=_login_csrf(renew=True),
            error="Trang đăng nhập đã hết hạn; vui lòng đăng nhập lại.",
        ), 400
    try:
        new = auth.login(system(), username, request.form.get("password", ""), client_address())
    except EdmsError as exc:
        page = make_response(
            render_template(
                "web/login.html",
                next=nxt,
                error=_login_refused(exc),
                username=username,
                login_csrf=_login_csrf(),
            ),
            exc.status,
        )
        if exc.extra.get("retry_after"):
            page.headers["Retry-After"] = str(exc.extra["retry_after"])
        return page
    session.pop("login_csrf", None)
    return start_session(redirect(nxt, code=303), new.token)


@bp.post("/dang-xuat")
@login_required
def logout() -> BaseResponse:
    auth.logout(system(), request.cookies.get(SESSION_COOKIE, ""))
    return end_session(redirect(url_for("web.login"), code=303))


@bp.route("/ma-pin-ky-so", methods=["GET", "POST"])
@login_required
def signing_pin() -> Any:
    """A leader sets their signing PIN, confirming it with their password."""
    if not has("leader"):
        return render_template("web/error.html", message="Chỉ lãnh đạo có mã PIN ký số."), 403
    if request.method == "GET":
        return render_template("web/pin.html")
    f = request.form
    try:
        if f.get("pin", "") != f.get("pin2", ""):
            raise ClientError("Hai lần nhập mã PIN không giống nhau.")
        auth.set_signing_pin(
            system(),
            me(),
            f.get("pin", ""),
            actor=me(),
            password=f.get("password", ""),
            client=client_address(),
        )
    except EdmsError as exc:
        flash(pin_refused(exc), "error")
        return render_template("web/pin.html"), exc.status
    flash("Đã đặt mã PIN ký số.", "ok")
    return redirect(url_for("web.home"), code=303)
