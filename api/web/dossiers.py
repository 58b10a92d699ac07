"""The one-stop desk's pages: citizens' dossiers (``/ho-so``: the list with the published
figures, reception with its printed receipt, one dossier with its steps), and the admin
pages of procedures (``/quan-tri/thu-tuc``) and holidays (``/quan-tri/ngay-nghi``).

Receiving a dossier answers with its receipt (PDF, to print at once): the receipt carries
the look-up secret, which is not kept anywhere, so it is never shown again; reprinting a
receipt issues a new secret (the old one stops working). Every action calls the
``edms`` services (edms.reception, edms.procedures, edms.workdays), which check the
roles, and audit."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from flask import Response, flash, redirect, render_template, request, url_for

from edms import procedures, receipts, reception, workdays
from edms.errors import EdmsError
from edms.numbering import VN_TZ

from ..context import system
from .views import bp, has, login_required, me

DESK = ("clerk", "officer", "leader", "admin")


def _forbidden(message: str = "Trang này dành cho cán bộ của cơ quan.") -> Any:
    return render_template("web/error.html", message=message), 403


def _receipt_pdf(receipt: reception.Receipt, paper: str) -> Response:
    data = receipts.render(receipt, paper if paper in receipts.PAPERS else "A4")
    name = f"phieu-tiep-nhan-{receipt.code}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


# -- citizens' dossiers -----------------------------------------------------------------------


@bp.get("/ho-so")
@login_required
def dossiers() -> Any:
    if not has(*DESK):
        return _forbidden()
    status = request.args.get("trang-thai") or None
    late = request.args.get("qua-han") == "1"
    query = request.args.get("q", "")
    today = date.today()
    try:
        rows = reception.list_dossiers(system(), me(), status=status, late_only=late, query=query)
        stats = reception.statistics(system(), me(), date(today.year, 1, 1), today)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/dossiers.html",
        rows=rows,
        stats=stats,
        status=status,
        late=late,
        query=query,
        STATUS_VI=reception.STATUS_VI,
        is_late=reception.is_late,
        VN_TZ=VN_TZ,
    )


@bp.route("/ho-so/tiep-nhan", methods=["GET", "POST"])
@login_required
def dossier_receive() -> Any:
    if not has("clerk", "officer"):
        return _forbidden("Chỉ cán bộ Bộ phận tiếp nhận và trả kết quả tiếp nhận hồ sơ.")
    chosen = request.values.get("thu-tuc", "")
    procs = procedures.list_procedures(system(), me(), active_only=True)
    proc = next((p for p in procs if p.code == chosen), None)

    def page(status: int = 200) -> Any:
        return render_template(
            "web/dossier_receive.html",
            procs=procs,
            proc=proc,
            form=request.form,
            papers=procedures.papers_of(proc) if proc else [],
            FORMS=reception.PAPER_FORMS,
            CHANNELS=reception.CHANNELS,
            time_vi=procedures.time_vi,
        ), status

    if request.method == "GET" or proc is None:
        if request.method == "POST":
            flash("Chọn thủ tục hành chính.", "error")
            return page(400)
        return page()
    f = request.form
    try:
        papers = []
        for i, name in enumerate(procedures.papers_of(proc)):
            if f.get(f"giay_{i}"):
                papers.append(
                    reception.Paper(
                        name, f.get(f"hinh_thuc_{i}", "copy"), int(f.get(f"so_luong_{i}") or 1)
                    )
                )
        for line in f.get("giay_khac", "").splitlines():
            if line.strip():
                papers.append(reception.Paper(line.strip(), "copy", 1))
        app = reception.Application(
            proc.code,
            f.get("ho_ten", ""),
            f.get("so_dinh_danh", ""),
            f.get("dia_chi", ""),
            f.get("dien_thoai", ""),
            f.get("email", ""),
            tuple(f.getlist("kenh")),
            tuple(papers),
            f.get("ghi_chu", ""),
        )
        receipt = reception.receive(system(), me(), app)
    except ValueError:
        flash("Số lượng giấy tờ phải là số.", "error")
        return page(400)
    except EdmsError as exc:
        flash(exc.message, "error")
        return page(exc.status)
    return _receipt_pdf(receipt, f.get("kho_giay", "A4"))


@bp.get("/ho-so/<code>")
@login_required
def dossier(code: str) -> Any:
    if not has(*DESK):
        return _forbidden()
    try:
        view = reception.get(system(), me(), code)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/dossier.html",
        v=view,
        d=view.dossier,
        STATUS_VI=reception.STATUS_VI,
        FORMS=reception.PAPER_FORMS,
        CHANNELS=reception.CHANNELS,
        time_vi=procedures.time_vi,
        papers=_papers(view.dossier.papers),
        VN_TZ=VN_TZ,
        STEP_VI=reception.STEP_VI,
    )


def _papers(raw: str) -> list[dict[str, Any]]:
    import json

    return list(json.loads(raw or "[]"))


@bp.post("/ho-so/<code>/<action>")
@login_required
def dossier_step(code: str, action: str) -> Any:
    target = url_for("web.dossier", code=code)
    f = request.form
    try:
        if action == "bat-dau":
            reception.start(system(), me(), code, f.get("ghi_chu", ""))
            flash("Đã chuyển hồ sơ sang giải quyết.", "ok")
        elif action == "tu-choi":
            reception.refuse(system(), me(), code, f.get("ly_do", ""))
            flash("Đã ghi nhận từ chối giải quyết.", "ok")
        elif action == "tra-ket-qua":
            reception.deliver(system(), me(), code, f.get("ghi_chu", ""))
            flash("Đã trả kết quả.", "ok")
        elif action == "gan-van-ban":
            reception.link_document(
                system(),
                me(),
                code,
                int(f.get("van_ban") or 0),
                "result" if f.get("vai_tro") == "result" else "handled",
            )
            flash("Đã gắn văn bản với hồ sơ.", "ok")
        elif action == "in-lai-phieu":
            return _receipt_pdf(
                reception.reissue_receipt(system(), me(), code), f.get("kho_giay", "A4")
            )
        else:
            return render_template("web/error.html", message="Không có thao tác này."), 404
    except ValueError:
        flash("Mã văn bản phải là số.", "error")
    except EdmsError as exc:
        flash(exc.message, "error")
    return redirect(target, code=303)


# -- procedures and holidays (administrators) -----------------------------------------------------


@bp.route("/quan-tri/thu-tuc", methods=["GET", "POST"])
@login_required
def procedures_admin() -> Any:
    if not has("admin"):
        return _forbidden("Trang này dành cho quản trị hệ thống.")
    status = 200
    if request.method == "POST":
        f = request.form
        try:
            procedures.save(
                system(),
                me(),
                procedures.ProcedureSpec(
                    f.get("ma", ""),
                    f.get("ten", ""),
                    int(f.get("so_ngay") or -1),
                    f.get("loai_ngay", "working"),
                    f.get("linh_vuc", ""),
                    tuple(f.get("giay_to", "").splitlines()),
                    f.get("dang_ap_dung") == "1",
                ),
            )
            flash("Đã lưu thủ tục.", "ok")
            return redirect(url_for("web.procedures_admin"), code=303)
        except ValueError:
            flash("Thời hạn giải quyết là một số ngày.", "error")
            status = 400
        except EdmsError as exc:
            flash(exc.message, "error")
            status = exc.status
    rows = procedures.list_procedures(system(), me())
    edit = next((p for p in rows if p.code == request.args.get("sua")), None)
    return render_template(
        "web/procedures.html",
        rows=rows,
        edit=edit,
        papers_of=procedures.papers_of,
        time_vi=procedures.time_vi,
        DAY_KINDS=workdays.DAY_KINDS_VI,
        form=request.form,
    ), status


@bp.route("/quan-tri/ngay-nghi", methods=["GET", "POST"])
@login_required
def holidays_admin() -> Any:
    if not has("admin"):
        return _forbidden("Trang này dành cho quản trị hệ thống.")
    try:
        year = int(request.values.get("nam") or date.today().year)
    except ValueError:
        year = date.today().year
    if request.method == "POST":
        f = request.form
        try:
            action = f.get("thao_tac")
            if action == "luu":
                workdays.set_day(
                    system(),
                    me(),
                    date.fromisoformat(f.get("ngay", "")),
                    f.get("loai", "off"),
                    f.get("ten", ""),
                )
                flash("Đã lưu ngày.", "ok")
            elif action == "xoa":
                workdays.remove_day(system(), me(), date.fromisoformat(f.get("ngay", "")))
                flash("Đã xóa ngày khỏi danh sách.", "ok")
            elif action == "xac-nhan":
                workdays.confirm_year(system(), me(), year)
                flash(f"Đã xác nhận danh sách ngày nghỉ năm {year}.", "ok")
            elif action == "khoi-tao-lai":
                workdays.reseed_year(system(), me(), year)
                flash(f"Đã khởi tạo lại ngày nghỉ năm {year} theo Bộ luật Lao động.", "ok")
        except ValueError:
            flash("Ngày không hợp lệ.", "error")
        except EdmsError as exc:
            flash(exc.message, "error")
        return redirect(url_for("web.holidays_admin", nam=year), code=303)
    try:
        view = workdays.year_view(system(), year)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/holidays.html",
        view=view,
        year=year,
        KINDS=workdays.KINDS_VI,
        VN_TZ=VN_TZ,
        WEEKDAYS=receipts.WEEKDAYS_VI,
    )
