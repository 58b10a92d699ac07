"""Digitization over HTTP: the scans are stored by hash and the pipeline runs as a
background job (any worker can fetch the scans from the object store)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from edms import jobs
from edms.blobs import staging, store_upload
from edms.digitization.intake import SCAN_TYPES
from edms.errors import ClientError

from .. import schemas as sc
from ..context import system
from ..security import SECURITY, actor, requires
from .admin import job_json

bp = APIBlueprint("digitization", __name__, tag="Documents")


@bp.post("/digitizations")
@bp.input(sc.DigitizeUpload, location="form_and_files", arg_name="form")
@bp.output(sc.JobOut, status_code=202)
@bp.doc(
    summary="Digitize paper scans into an agency-signed electronic copy (a job)",
    security=SECURITY,
    responses=[400, 401, 403, 413, 415, 422],
)
@requires("write")
def digitize(form: dict[str, Any]) -> Response:
    """The job's result names the registered copy (`document_id`, `number`), its
    `public_id` and `verify_url` (the QR code's page), and any resolution warnings.
    Refused scans (below 200 dpi, damaged, not a scan) make the job fail with the reason."""
    from edms.accounts import require
    from edms.dossiers import validate_code

    require(system(), actor(), "clerk", action="digitize paper results")
    validate_code(form["dossier_code"], "dossier code (mã hồ sơ)", 50)
    if form.get("with_qr") is None:
        form["with_qr"] = True
    stored = []
    request = {
        k: form[k]
        for k in (
            "dossier_code",
            "original_type",
            "procedure_code",
            "result_code",
            "holder_name",
            "original_number",
            "subject",
            "copy_type",
            "with_qr",
        )
    }
    if form.get("original_date"):
        request["original_date"] = form["original_date"].isoformat()
    # Staged: a refused file or job leaves none of the scans stored before it.
    with staging(system()) as staged:
        for f in form["files"]:
            if not f.filename:
                raise ClientError("every file part needs a file name")
            kept = store_upload(
                system(),
                f.stream,
                filename=f.filename,
                allowed=(*SCAN_TYPES, "application/zip"),
                retention_years=0,
            )
            staged.append(kept.sha256)
            stored.append({"sha256": kept.sha256, "name": f.filename})
        job = jobs.submit(
            system(), actor(), "digitize", {"files": stored, "request": request}, total=6
        )
    resp = jsonify(job_json(job))
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return resp
