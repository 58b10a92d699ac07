"""Verifying, for anyone: drop a PDF and see at once whether it is authentic and unchanged
(no login). Public work: bounded and gated before this runs (:mod:`api.security`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import flash, render_template, request

from edms import documents as docs

from ..context import system
from ..security import public_limit
from .views import bp, with_verdict

# -- verifying, for anyone --------------------------------------------------------------------


@bp.route("/xac-thuc", methods=["GET", "POST"])
def verify() -> Any:
    """Drop a PDF and see at once whether it is authentic and unchanged (no login). Public
    work: bounded and gated before this runs (:mod:`api.security`)."""
    if request.method == "GET":
        return render_template("web/verify.html", report=None)
    from edms.filetypes import detect
    from edms.signatures import validate_sandboxed

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Chọn một tệp PDF để kiểm tra.", "error")
        return render_template("web/verify.html", report=None), 400
    limit = public_limit(system().settings)
    with docs.workdir(system()) as wd:
        path: Path = wd / "upload.pdf"
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            flash(
                f"Tệp lớn hơn {limit // 1024 // 1024} MB: hãy đăng nhập và dùng API "
                "/api/v1/verify.",
                "error",
            )
            return render_template("web/verify.html", report=None), 413
        kind = detect(data[:65536])
        if kind.mime != "application/pdf":
            flash(f"{upload.filename} không phải là tệp PDF ({kind.description}).", "error")
            return render_template("web/verify.html", report=None), 415
        path.write_bytes(data)
        report = validate_sandboxed(system().settings, path)
    return render_template(
        "web/verify.html", report=with_verdict(report.to_json()), filename=upload.filename
    )
