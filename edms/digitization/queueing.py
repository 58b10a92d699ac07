"""Queueing a digitization for the adapters (REST, web): the clerk's scans are stored by
hash and one ``digitize`` job is queued for them (:mod:`edms.jobs` runs
:func:`edms.digitization.pipeline.digitize` on any worker).

Invariants: only a clerk may queue one, and the request is checked as the pipeline checks
it, both before anything is stored; every scan needs a file name and a scan type (or a
.zip of scans); a refused file or a job that cannot be queued leaves none of the scans
stored before it (:func:`edms.blobs.staging`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from ..errors import ClientError

if TYPE_CHECKING:
    from ..jobs import JobView
    from ..system import System
    from .pipeline import CopyRequest

STAGES = 6  # intake, ocr, metadata, sign, store, done: the job's progress steps


def submit(
    system: System, actor: str, scans: Sequence[tuple[IO[bytes], str]], request: CopyRequest
) -> JobView:
    """Store ``scans`` (``(stream, file name)`` in page order) and queue their digitization
    into an agency-signed electronic copy; the job's result names the copy."""
    from .. import jobs
    from ..accounts import require
    from ..blobs import staging, store_upload
    from .intake import SCAN_TYPES
    from .pipeline import check_request

    require(system, actor, "clerk", action="digitize paper results")
    check_request(request)
    if not scans:
        raise ClientError("digitizing needs at least one scan")
    if not all(name for _, name in scans):
        raise ClientError("every file part needs a file name")
    params: dict[str, Any] = asdict(request)
    if request.original_date is not None:
        params["original_date"] = request.original_date.isoformat()
    stored = []
    with staging(system) as staged:
        for stream, name in scans:
            kept = store_upload(
                system,
                cast(BinaryIO, stream),
                filename=name,
                allowed=(*SCAN_TYPES, "application/zip"),
                retention_years=0,
            )
            staged.append(kept.sha256)
            stored.append({"sha256": kept.sha256, "name": name})
        return jobs.submit(
            system, actor, "digitize", {"files": stored, "request": params}, total=STAGES
        )
