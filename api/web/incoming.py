"""Receiving an incoming document (văn bản đến) on paper or by e-mail: the clerk uploads
its PDF with the metadata read from it."""

from __future__ import annotations

from datetime import date
from typing import Any, BinaryIO, cast

from flask import flash, redirect, render_template, request, url_for

from edms import documents as docs
from edms.errors import ClientError, EdmsError

from ..context import system
from .views import bp, login_required, me

# -- incoming --------------------------------------------------------------------------------------


@bp.route("/van-ban-den/tiep-nhan", methods=["GET", "POST"])
@login_required
def receive() -> Any:
    from edms.doctypes import DOCUMENT_TYPES

    if request.method == "GET":
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form={})
    f = request.form
    upload = request.files.get("file")
    try:
        number, _, notation = f.get("number", "").partition("/")
        if not upload or not upload.filename:
            raise ClientError("chọn tệp PDF văn bản đến")
        meta = docs.IncomingMeta(
            type_code=f.get("type", ""),
            subject=f.get("subject", ""),
            organ_name=f.get("organ_name", ""),
            code_number=number.strip(),
            code_notation=notation.strip(),
            issued_date=date.fromisoformat(f.get("issued_date", "")),
            organ_id=f.get("organ_id", "").strip() or None,
            priority=int(f.get("priority", "0") or 0),
            due_date=date.fromisoformat(f["due_date"]) if f.get("due_date") else None,
        )
        result = docs.receive(
            system(),
            me(),
            cast(BinaryIO, upload.stream),
            upload.filename,  # type: ignore[arg-type]
            meta,
        )
    except ValueError:
        flash("Ngày hoặc mức độ khẩn không hợp lệ.", "error")
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form=f), 400
    except EdmsError as exc:
        flash(exc.message, "error")
        return render_template("web/receive.html", types=DOCUMENT_TYPES, form=f), exc.status
    for w in result.warnings:
        flash(w, "warn")
    flash("Đã tiếp nhận văn bản đến.", "ok")
    return redirect(url_for("web.document", doc_id=result.document.id), code=303)
