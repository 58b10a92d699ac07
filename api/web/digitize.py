"""Digitizing paper results (scans into an agency-signed electronic copy) as a background
job, and the page following a job."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from edms import jobs
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, has, login_required, me

# -- digitization ---------------------------------------------------------------------------------


@bp.route("/so-hoa", methods=["GET", "POST"])
@login_required
def digitize() -> Any:
    from edms.blobs import staging, store_upload
    from edms.digitization.intake import SCAN_TYPES
    from edms.dossiers import CODE

    if request.method == "GET":
        return render_template("web/digitize.html", form={})
    f = request.form
    try:
        if not has("clerk"):
            raise ClientError("chỉ văn thư được số hóa kết quả giấy")
        files = [x for x in request.files.getlist("files") if x.filename]
        if not files:
            raise ClientError("chọn ít nhất một tệp ảnh quét")
        if not f.get("dossier_code", "").strip() or not f.get("original_type", "").strip():
            raise ClientError("cần mã hồ sơ và loại giấy tờ gốc")
        if not CODE.match(f.get("dossier_code", "").strip()) or len(f["dossier_code"]) > 50:
            raise ClientError(
                "mã hồ sơ chỉ gồm chữ cái không dấu, chữ số, '.', '_' hoặc '-' (tối đa 50 ký tự)"
            )
        request_body: dict[str, Any] = {
            k: f.get(k, "").strip()
            for k in (
                "dossier_code",
                "original_type",
                "procedure_code",
                "result_code",
                "holder_name",
                "original_number",
                "subject",
            )
        }
        request_body.update(copy_type=f.get("copy_type", "SAO Y"), with_qr=True)
        # Staged: a refused file leaves none of the scans stored before it.
        with staging(system()) as staged:
            stored = []
            for x in files:
                kept = store_upload(
                    system(),
                    x.stream,  # type: ignore[arg-type]
                    filename=x.filename,
                    allowed=(*SCAN_TYPES, "application/zip"),
                    retention_years=0,
                )
                staged.append(kept.sha256)
                stored.append({"sha256": kept.sha256, "name": x.filename})
            job = jobs.submit(
                system(), me(), "digitize", {"files": stored, "request": request_body}, total=6
            )
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
