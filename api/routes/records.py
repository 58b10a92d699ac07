"""Search, registers, deadlines, statistics and dossiers."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint
from flask import Response

from edms import documents as docs
from edms import dossiers, registers, tracking
from edms.search import SearchFilters

from .. import schemas as sc
from ..context import system
from ..security import SECURITY, actor, requires

bp = APIBlueprint("records", __name__, tag="Records")


@bp.get("/search")
@bp.input(sc.SearchQuery, location="query")
@bp.output(sc.DocumentPage)
@bp.doc(
    summary="Full-text search, insensitive to diacritics and case",
    security=SECURITY,
    responses=[400, 401, 403, 422],
)
@requires("read")
def search_documents(query_data: dict[str, Any]) -> dict[str, Any]:
    """`q=quyet dinh` finds `Quyết định`: every word must match (the last also as a
    prefix), in the subject, metadata and the PDF's text."""
    q = query_data
    filters = SearchFilters(
        type_code=q.get("type"),
        register_kind=q.get("register"),
        state=q.get("state"),
        direction=q.get("direction"),
        organ=q.get("organ"),
        date_from=q.get("since"),
        date_to=q.get("until"),
    )
    total, found = docs.search_documents(
        system(), actor(), q["q"], filters, q["page"], q["per_page"]
    )
    return {
        "total": total,
        "page": q["page"],
        "per_page": q["per_page"],
        "items": [docs.document_json(d) for d in found],
    }


@bp.get("/registers/<any(outgoing, incoming, 'follow-up'):kind>")
@bp.input(sc.RegisterQuery, location="query")
@bp.output(
    sc.RegisterOut,
    description="JSON rows; `format=pdf` (print-ready A4) and "
    "`format=csv` return the file instead.",
)
@bp.doc(
    summary="Export a register of Appendix IV", security=SECURITY, responses=[400, 401, 403, 422]
)
@requires("read")
def export_register(kind: str, query_data: dict[str, Any]) -> Any:
    export = registers.collect(system(), actor(), kind, query_data["from_"], query_data["to"])
    name = f"so-{kind}-{export.start:%Y%m%d}-{export.end:%Y%m%d}"
    if query_data["format"] == "csv":
        return Response(
            registers.to_csv(export),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if query_data["format"] == "pdf":
        with tempfile.TemporaryDirectory() as d:
            data = registers.write_pdf(export, Path(d) / "r.pdf").read_bytes()
        return Response(
            data,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return {
        "kind": kind,
        "title": export.layout.title,
        "columns": list(export.layout.columns),
        "rows": export.rows,
    }


@bp.get("/deadlines")
@bp.input(sc.DeadlineQuery, location="query")
@bp.output(sc.DeadlinesOut)
@bp.doc(
    summary="Incoming documents near their deadline and overdue",
    security=SECURITY,
    responses=[401, 403, 422],
)
@requires("read")
def deadlines(query_data: dict[str, Any]) -> dict[str, Any]:
    lists = tracking.deadlines(system(), actor(), query_data["within"])

    def item(i: tracking.DeadlineItem) -> dict[str, Any]:
        return {**asdict(i), "deadline": i.deadline.isoformat()}

    return {
        "today": lists.today.isoformat(),
        "near": [item(i) for i in lists.near],
        "overdue": [item(i) for i in lists.overdue],
    }


@bp.get("/statistics")
@bp.input(sc.StatsQuery, location="query")
@bp.output(sc.StatsOut)
@bp.doc(
    summary="Handled early, on time and late per lead unit",
    security=SECURITY,
    responses=[400, 401, 403, 422],
)
@requires("read")
def statistics(query_data: dict[str, Any]) -> dict[str, Any]:
    rows = tracking.handling_stats(system(), actor(), query_data["from_"], query_data["to"])
    return {"units": [{**asdict(r), "completed": r.completed} for r in rows]}


def _dossier_json(code: str) -> dict[str, Any]:
    return dossiers.view(system(), actor(), code)


@bp.post("/dossiers")
@bp.input(sc.DossierIn, arg_name="data")
@bp.output(sc.DossierOut, status_code=201)
@bp.doc(summary="Open a dossier (hồ sơ)", security=SECURITY, responses=[400, 401, 403, 409, 422])
@requires("write")
def create_dossier(data: dict[str, Any]) -> dict[str, Any]:
    years = data.get("retention_years")
    d = dossiers.create(
        system(),
        actor(),
        dossiers.DossierMeta(
            data["file_code"],
            data["title"],
            "Vĩnh viễn" if years is None else f"{years} năm",
            years,
            description=data["description"],
        ),
    )
    return _dossier_json(d.file_code)


@bp.get("/dossiers/<code>")
@bp.output(sc.DossierOut)
@bp.doc(summary="A dossier and its documents", security=SECURITY, responses=[401, 403, 404])
@requires("read")
def get_dossier(code: str) -> dict[str, Any]:
    return _dossier_json(code)


@bp.post("/dossiers/<code>/documents")
@bp.input(sc.DossierAddIn, arg_name="data")
@bp.output(sc.DossierOut)
@bp.doc(
    summary="File documents in a dossier",
    security=SECURITY,
    responses=[400, 401, 403, 404, 409, 422],
)
@requires("write")
def add_to_dossier(code: str, data: dict[str, Any]) -> dict[str, Any]:
    dossiers.add_documents(system(), actor(), code, data["document_ids"])
    return _dossier_json(code)


@bp.get("/dossiers/<code>/export")
@bp.output(
    sc.BINARY,
    content_type="application/zip",
    description="hoso.xml and the documents' PDFs in time order.",
)
@bp.doc(summary="Export a dossier", security=SECURITY, responses=[401, 403, 404])
@requires("read")
def export_dossier(code: str) -> Response:
    with tempfile.TemporaryDirectory() as d:
        data = dossiers.export(system(), actor(), code, Path(d) / "hoso.zip").read_bytes()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": 'attachment; filename="hoso.zip"'},
    )
