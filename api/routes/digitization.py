"""Digitization over HTTP: the scans are stored by hash and the pipeline runs as a
background job (any worker can fetch the scans from the object store)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

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
    from edms.digitization.pipeline import CopyRequest
    from edms.digitization.queueing import submit

    fields = {k: v for k, v in form.items() if k != "files"}
    if fields.get("with_qr") is None:
        fields["with_qr"] = True
    scans = [(f.stream, f.filename or "") for f in form["files"]]
    job = submit(system(), actor(), scans, CopyRequest(**fields))
    resp = jsonify(job_json(job))
    resp.status_code = 202
    resp.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return resp
