"""``/verify/{public id}``: the page a digitized copy's QR code opens. Anyone may open it,
without logging in. It states first, in one sentence, whether the copy is authentic (or
that it was revoked), then the issuing agency, the date, the copy's SHA-256 and its
signature, and lets the visitor drop the file they hold to check that very file. Nothing
else about the copy (holder, dossier, content) is shown.

Every check here is public work: bounded and gated by :mod:`api.security` before this code
runs (one upload size, a few checks at a time, 429/503 with ``Retry-After`` beyond), and
the uploaded file lives in a private work folder only while it is checked.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from edms.blobs import workdir
from edms.digitization.revocation import public_status
from edms.errors import ClientError, EdmsError
from edms.filetypes import detect, ensure_allowed

from .context import system

bp = Blueprint("public", __name__, template_folder="templates")


@bp.route("/verify/<public_id>", methods=["GET", "POST"])
def verify_copy(public_id: str) -> Response | str | tuple[str, int]:
    try:
        if request.method == "POST":
            f = request.files.get("file")
            if f is None or not f.filename:
                raise ClientError("chọn tệp PDF cần kiểm tra (choose the PDF to check)")
            head = f.stream.read(65536)
            ensure_allowed(detect(head), ("application/pdf",), f.filename)
            f.stream.seek(0)
            with workdir(system(), "public") as d:
                path = d / "upload.pdf"
                f.save(path)
                result = public_status(system(), public_id, path)
        else:
            result = public_status(system(), public_id)
    except EdmsError as exc:
        if request.accept_mimetypes.best == "application/json":
            raise
        return render_template(
            "verify_copy.html", result=None, error=exc.message, public_id=public_id
        ), exc.status
    if request.accept_mimetypes.best == "application/json":
        return jsonify(vars(result))
    return render_template("verify_copy.html", result=result, error=None, public_id=public_id)
