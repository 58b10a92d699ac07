"""The notices' pages: for administrators, the channels (``/quan-tri/thong-bao``: the e-mail
server as configured, a test mail, citizens' quiet hours, the webhooks with their secrets
shown once), the wording (``/quan-tri/thong-bao/mau``) and the delivery log with replay
(``/quan-tri/thong-bao/nhat-ky``); for everyone, their own choices
(``/thong-bao-cua-toi``). Every action goes through edms.notices, which checks and audits.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from edms.errors import EdmsError
from edms.notices import admin, catalog, delivery, webhooks
from edms.numbering import VN_TZ

from ..context import system
from .views import bp, has, login_required, me


def _admin_only() -> Any:
    return render_template("web/error.html", message="Trang này dành cho quản trị hệ thống."), 403


def _spec(form: Any) -> webhooks.WebhookSpec:
    return webhooks.WebhookSpec(
        form.get("ten", ""),
        form.get("dia_chi", ""),
        form.get("phuc_vu", "events"),
        tuple(form.getlist("su_kien")),
        form.get("hoat_dong") == "1",
    )


@bp.route("/quan-tri/thong-bao", methods=["GET", "POST"])
@login_required
def notices_admin() -> Any:
    if not has("admin"):
        return _admin_only()
    new_secret = None
    status = 200
    if request.method == "POST":
        f = request.form
        action = f.get("thao_tac", "")
        try:
            if action == "gio-yen-lang":
                admin.set_quiet_hours(system(), me(), f.get("bat_dau", ""), f.get("ket_thuc", ""))
                flash("Đã lưu giờ không gửi thông báo cho công dân.", "ok")
            elif action == "thu-thu":
                admin.send_test(system(), me(), f.get("dia_chi_thu", ""))
                flash("Đã xếp thư thử vào hàng đợi; xem kết quả ở nhật ký gửi.", "ok")
            elif action == "them-webhook":
                row, new_secret = webhooks.add(system(), me(), _spec(f))
                flash(
                    f"Đã thêm webhook {row.name}. Sao chép khóa bí mật dưới đây ngay: hệ "
                    "thống không hiển thị lại.",
                    "ok",
                )
            elif action == "sua-webhook":
                webhooks.update(system(), me(), int(f.get("webhook") or 0), _spec(f))
                flash("Đã lưu webhook.", "ok")
            elif action == "doi-khoa":
                new_secret = webhooks.rotate(system(), me(), int(f.get("webhook") or 0))
                flash(
                    "Đã cấp khóa bí mật mới; khóa cũ hết hiệu lực ngay. Sao chép khóa mới "
                    "dưới đây: hệ thống không hiển thị lại.",
                    "ok",
                )
            if new_secret is None:
                return redirect(url_for("web.notices_admin"), code=303)
        except ValueError:
            flash("Webhook không hợp lệ.", "error")
            status = 400
        except EdmsError as exc:
            flash(exc.message, "error")
            status = exc.status
    settings = system().settings
    hooks = webhooks.list_webhooks(system(), me())
    return render_template(
        "web/notices.html",
        settings=settings,
        quiet=admin.quiet_hours(system(), me()),
        hooks=hooks,
        events_of=lambda h: json.loads(h.events or "[]"),
        NOTICES=catalog.NOTICES,
        SERVES=webhooks.SERVES,
        new_secret=new_secret,
    ), status


@bp.route("/quan-tri/thong-bao/mau", methods=["GET", "POST"])
@login_required
def notice_wording() -> Any:
    if not has("admin"):
        return _admin_only()
    status = 200
    if request.method == "POST":
        f = request.form
        try:
            if f.get("thao_tac") == "mac-dinh":
                admin.reset_wording(system(), me(), f.get("su_kien", ""), f.get("dang", ""))
                flash("Đã dùng lại nội dung mặc định.", "ok")
            else:
                admin.save_wording(
                    system(),
                    me(),
                    f.get("su_kien", ""),
                    f.get("dang", ""),
                    f.get("tieu_de", ""),
                    f.get("noi_dung", ""),
                )
                flash("Đã lưu mẫu thông báo.", "ok")
            return redirect(
                url_for("web.notice_wording") + f"#{f.get('su_kien', '')}-{f.get('dang', '')}",
                code=303,
            )
        except EdmsError as exc:
            flash(exc.message, "error")
            status = exc.status
    return render_template(
        "web/notice_wording.html", items=admin.wordings(system(), me()), NOTICES=catalog.NOTICES
    ), status


@bp.get("/quan-tri/thong-bao/nhat-ky")
@login_required
def notice_log() -> Any:
    if not has("admin"):
        return _admin_only()
    state = request.args.get("trang-thai") or None
    event = request.args.get("su-kien") or None
    try:
        page = max(1, int(request.args.get("trang", "1")))
    except ValueError:
        page = 1
    total, rows = admin.log(system(), me(), state=state, notice=event, page=page)
    return render_template(
        "web/notice_log.html",
        total=total,
        rows=rows,
        page=page,
        state=state,
        event=event,
        STATES=admin.STATES_VI,
        CHANNELS=admin.CHANNELS_VI,
        NOTICES=catalog.NOTICES,
        VN_TZ=VN_TZ,
    )


@bp.route("/quan-tri/thong-bao/nhat-ky/<int:notice_id>", methods=["GET", "POST"])
@login_required
def notice_detail(notice_id: int) -> Any:
    if not has("admin"):
        return _admin_only()
    if request.method == "POST":
        try:
            delivery.replay(system(), me(), notice_id)
            flash("Đã xếp thông báo vào hàng đợi để gửi lại (cùng mã lần gửi).", "ok")
        except EdmsError as exc:
            flash(exc.message, "error")
        return redirect(url_for("web.notice_detail", notice_id=notice_id), code=303)
    try:
        n, attempts, hook = admin.detail(system(), me(), notice_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/notice.html",
        n=n,
        attempts=attempts,
        hook=hook,
        STATES=admin.STATES_VI,
        CHANNELS=admin.CHANNELS_VI,
        NOTICES=catalog.NOTICES,
        VN_TZ=VN_TZ,
    )


@bp.route("/thong-bao-cua-toi", methods=["GET", "POST"])
@login_required
def my_notices() -> Any:
    status = 200
    if request.method == "POST":
        f = request.form
        try:
            admin.save_preference(
                system(),
                me(),
                admin.Preference(
                    f.get("email", ""),
                    f.get("dien_thoai", ""),
                    tuple(f.getlist("kenh")),
                    f.get("bat_dau", ""),
                    f.get("ket_thuc", ""),
                    tuple(
                        n
                        for n, s in catalog.NOTICES.items()
                        if s.audience == catalog.STAFF and f.get(f"nhan_{n}") != "1"
                    ),
                ),
            )
            flash("Đã lưu lựa chọn nhận thông báo.", "ok")
            return redirect(url_for("web.my_notices"), code=303)
        except EdmsError as exc:
            flash(exc.message, "error")
            status = exc.status
    pref = admin.preference(system(), me())
    staff = {n: s for n, s in catalog.NOTICES.items() if s.audience == catalog.STAFF}
    return render_template(
        "web/my_notices.html", pref=pref, staff=staff, CHANNELS=admin.CHANNELS
    ), status
