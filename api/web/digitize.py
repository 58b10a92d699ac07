"""Digitizing paper results (scans into an agency-signed electronic copy) as a background
job, and the page following a job."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from edms import jobs
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, login_required, me


@bp.route("/so-hoa", methods=["GET", "POST"])
@login_required
def digitize() -> Any:
    from edms.digitization.pipeline import CopyRequest
    from edms.digitization.queueing import submit
    from edms.dossiers import CODE

    if request.method == "GET":
        return render_template("web/digitize.html", form={})
    f = request.form
    try:
        scans = [(x.stream, x.filename) for x in request.files.getlist("files") if x.filename]
        if not scans:
            raise ClientError("chọn ít nhất một tệp ảnh quét")
        if not f.get("dossier_code", "").strip() or not f.get("original_type", "").strip():
            raise ClientError("cần mã hồ sơ và loại giấy tờ gốc")
        if not CODE.match(f.get("dossier_code", "").strip()) or len(f["dossier_code"]) > 50:
            raise ClientError(
                "mã hồ sơ chỉ gồm chữ cái không dấu, chữ số, '.', '_' hoặc '-' (tối đa 50 ký tự)"
            )
        copy = CopyRequest(
            dossier_code=f["dossier_code"].strip(),
            original_type=f["original_type"].strip(),
            procedure_code=f.get("procedure_code", "").strip(),
            result_code=f.get("result_code", "").strip(),
            holder_name=f.get("holder_name", "").strip(),
            original_number=f.get("original_number", "").strip(),
            subject=f.get("subject", "").strip(),
            copy_type=f.get("copy_type", "SAO Y"),
        )
        job = submit(system(), me(), scans, copy)
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/digitize.html", form=f), exc.status
    return redirect(url_for("web.job", job_id=job.id), code=303)


@bp.get("/cong-viec/<job_id>")
@login_required
def job(job_id: str) -> Any:
    try:
        j = jobs.get(system(), me(), job_id)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/job.html", job=j, result=j.result or None)
