"""The axis page (``/quan-tri/truc-lien-thong``): this installation as an exchange axis
(hub mode) — the systems connected to it, the agencies each serves, what waits for them,
and the latest packages with each receiver's status; connecting a system, suspending it
and giving it a new secret. The axis is installation-wide: only the installation's
administrators (``EDMS_INSTALLATION_ADMINS``) see or change it. A secret is shown once, on
the page that set it (never kept in a cookie or a log). Changes go through
:mod:`edms.axis.systems`, which audits them."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from edms.axis import hub, systems
from edms.errors import EdmsError

from ..context import system
from .views import bp, has, login_required, me

KIND_VI = {"edoc": "Văn bản", "status": "Trạng thái"}


def _installation_admin() -> bool:
    return has("admin") and me() in system().settings.installation_admins


def _page(**extra: Any) -> Any:
    settings = system().settings
    return render_template(
        "web/axis.html",
        systems=systems.list_systems(system()),
        packages=hub.packages(system(), 30),
        hub_on=settings.axis_hub,
        endpoint=settings.public_url + "/vdxp",
        KIND_VI=KIND_VI,
        STATUS_VI=hub.RECEIVE_STATUSES,
        **extra,
    )


@bp.route("/quan-tri/truc-lien-thong", methods=["GET", "POST"])
@login_required
def axis_page() -> Any:
    if not _installation_admin():
        return render_template(
            "web/error.html",
            message=(
                "Trang trục liên thông dành cho quản trị viên cài đặt (EDMS_INSTALLATION_ADMINS)."
            ),
        ), 403
    if request.method == "GET":
        return _page()
    action = request.form.get("action", "")
    code = request.form.get("code", "").strip()
    try:
        if action == "add":
            agency = request.form.get("agency", "").strip()
            name = request.form.get("name", "")
            view, secret = systems.add_system(
                system(),
                me(),
                code,
                name,
                None,
                [(agency, request.form.get("agency_name", "") or name)] if agency else None,
            )
            return _page(
                done=f"Đã kết nối hệ thống {view.code}.",
                secret=secret,
                secret_for=view.code,
                fingerprint=systems.fingerprint(secret),
            )
        if action in ("disable", "enable"):
            view = systems.set_active(system(), me(), code, action == "enable")
            return _page(
                done=f"Hệ thống {view.code} "
                + ("hoạt động trở lại." if view.active else "đã tạm ngừng.")
            )
        if action == "rotate":
            view, secret = systems.rotate_secret(system(), me(), code)
            return _page(
                done=f"Đã đổi khóa bí mật của {view.code}; khóa cũ hết hiệu lực.",
                secret=secret,
                secret_for=view.code,
                fingerprint=systems.fingerprint(secret),
            )
        return _page(error="Thao tác không hợp lệ."), 400
    except EdmsError as exc:
        return _page(error=exc.message), exc.status
