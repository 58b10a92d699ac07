"""The trust page (``/quan-tri/tin-cay``): which certificate authorities this installation
trusts to validate signatures — both Vietnamese regimes by default — with each anchor's
fingerprint and where to confirm it.

Trust is installation-wide, so an agency's administrator only reads it; enabling,
disabling or adding a certificate from here needs a user named in
``EDMS_INSTALLATION_ADMINS`` (everyone else uses ``edms trust`` on the server). Changes go
through :mod:`edms.trust`, which audits them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from edms import trust
from edms.errors import EdmsError

from ..context import system
from .views import bp, has, login_required, me

CONFIDENCE_VI = {
    "high": "cao (cùng bản ở nhiều nguồn độc lập)",
    "medium": "trung bình — cần đối chiếu mã băm trước khi tin",
    "follows its root (signature verifies under it)": "theo chứng thư gốc",
    "added by an administrator": "do quản trị viên bổ sung",
    "configured bundle": "từ cấu hình",
}
ROLE_VI = {"root": "Chứng thư gốc", "intermediate": "Chứng thư trung gian"}


def _may_change() -> bool:
    return trust.may_change(system(), me())


def _change_refused() -> tuple[str, int]:
    message = (
        "Chỉ quản trị viên cài đặt (EDMS_INSTALLATION_ADMINS) được thay đổi danh sách tin cậy."
    )
    return render_template("web/error.html", message=message), 403


@bp.get("/quan-tri/tin-cay")
@login_required
def trust_page() -> Any:
    if not has("admin"):
        return render_template(
            "web/error.html", message="Trang này dành cho quản trị hệ thống."
        ), 403
    show_all = request.args.get("tat-ca") == "1"
    items = [a for a in trust.anchors(system().settings) if show_all or a.role == "root"]
    items.sort(key=lambda a: (a.regime, a.role, a.subject))
    return render_template(
        "web/trust.html",
        anchors=items,
        may_change=_may_change(),
        missing=trust.missing_material(system().settings) is not None,
        show_all=show_all,
        CONFIDENCE_VI=CONFIDENCE_VI,
        ROLE_VI=ROLE_VI,
        REGIMES=trust.REGIMES,
    )


@bp.post("/quan-tri/tin-cay/<fingerprint>")
@login_required
def trust_toggle(fingerprint: str) -> Any:
    if not _may_change():
        return _change_refused()
    enable = request.form.get("action") == "enable"
    try:
        a = trust.set_enabled(
            system(), me(), fingerprint, enable, request.form.get("note", "").strip()[:500]
        )
        flash(("Đã tin cậy: " if enable else "Đã ngừng tin cậy: ") + a.subject, "ok")
    except EdmsError as exc:
        flash(exc.message, "error")
    return redirect(url_for("web.trust_page"))


@bp.post("/quan-tri/tin-cay")
@login_required
def trust_add() -> Any:
    if not _may_change():
        return _change_refused()
    upload = request.files.get("certificate")
    data = upload.read(64 * 1024) if upload else b""
    try:
        a = trust.add(
            system(),
            me(),
            data,
            role="intermediate" if request.form.get("role") == "intermediate" else "root",
            regime=request.form.get("regime", "custom"),
            note=request.form.get("note", "").strip()[:500],
        )
        flash(f"Đã thêm {ROLE_VI[a.role].lower()}: {a.subject}", "ok")
    except EdmsError as exc:
        flash(exc.message, "error")
    return redirect(url_for("web.trust_page"))
