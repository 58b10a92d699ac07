"""Administration pages: users, units, signing keys and the agency directory; binding a
leader's token certificate; packages of the exchange that did not get through and the
inspection of any edXML package."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edms import accounts, admin_queries, orgs
from edms import documents as docs
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, has, login_required, me, refused

# -- administration --------------------------------------------------------------------------------


@bp.route("/quan-tri", methods=["GET", "POST"])
@login_required
def admin() -> Any:
    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    if request.method == "POST":
        f = request.form
        try:
            accounts.add_user(
                system(),
                me(),
                f.get("username", ""),
                f.get("full_name", ""),
                request.form.getlist("roles"),
                title=f.get("title", ""),
                unit_code=f.get("unit") or None,
                password=f.get("password") or None,
            )
            flash("Đã thêm người dùng.", "ok")
        except EdmsError as exc:
            flash(exc.message, "error")
        return redirect(url_for("web.admin"), code=303)
    from edms.exchange.directory import entries

    data = admin_queries.admin_overview(system(), me())
    return render_template("web/admin.html", **data, directory=entries(system(), me()))


@bp.post("/quan-tri/chung-thu")
@login_required
def bind_certificate() -> BaseResponse:
    """Bind a leader's USB-token certificate and signature image (admins)."""
    target = url_for("web.admin")
    cert, image = request.files.get("certificate"), request.files.get("image")
    if cert is None or not cert.filename or image is None or not image.filename:
        return refused(ClientError("chọn tệp chứng thư và ảnh chữ ký"), target)
    with docs.workdir(system()) as wd:
        path = wd / "chu-ky.png"
        image.save(path)
        try:
            orgs.bind_certificate(
                system(),
                request.form.get("username", ""),
                cert.read(200_000),
                path,
                authority=request.form.get("authority", "").strip(),
                actor=me(),
                admin=me(),
            )
        except EdmsError as exc:
            return refused(exc, target)
    flash("Đã gắn chứng thư và ảnh chữ ký.", "ok")
    return redirect(target, code=303)


@bp.route("/quan-tri/lien-thong", methods=["GET", "POST"])
@login_required
def exchange_inspect() -> Any:
    """Admins: the agency's packages that did not get through, and the inspection of any
    edXML package (one a partner's inbox refused, one ours refused): nothing is stored."""
    from edms.exchange.inspect import inspect, troubled

    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    result, status = None, 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Chọn một tệp gói tin edXML.", "error")
            status = 400
        else:
            limit = system().settings.exchange_max_mb * 1024 * 1024
            result = inspect(upload.stream.read(limit + 1), system())
    return render_template(
        "web/exchange_inspect.html", result=result, facts=None, troubled=troubled(system(), me())
    ), status


@bp.get("/quan-tri/lien-thong/<int:msg_id>")
@login_required
def exchange_message(msg_id: int) -> Any:
    """Admins: one package the agency sent, with its delivery and its inspection."""
    from edms.exchange.inspect import inspect_message

    try:
        facts, result = inspect_message(system(), me(), msg_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/exchange_inspect.html", result=result, facts=facts, troubled=None)
