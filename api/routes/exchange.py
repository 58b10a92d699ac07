"""The exchange over HTTP: the inbox other agencies deliver to (authenticated by the
package's XML signature, not by a login), this system's directory entry, the directory,
and each document's dispatches and statuses."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify, request

from edms import admin_queries
from edms.errors import ClientError
from edms.exchange import directory, inbox, outbox
from edms.exchange.edxml import PackageTooLarge

from ..context import system
from ..security import SECURITY, actor, requires

bp = APIBlueprint("exchange", __name__, tag="Exchange")

XML_TYPES = ("application/xml", "text/xml")


def _body(limit: int) -> bytes:
    if request.mimetype not in XML_TYPES:
        raise ClientError(
            f"an edXML package is sent as application/xml, not {request.mimetype or 'nothing'}"
        )
    if request.content_length is not None and request.content_length > limit:
        raise PackageTooLarge(
            f"the package is {request.content_length} bytes, over the limit of {limit}"
        )
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PackageTooLarge(f"the package is over the limit of {limit} bytes")
    if not data:
        raise ClientError("the request has no package")
    return data


@bp.post("/exchange/inbox")
@bp.doc(
    summary="Deliver an edXML package (document or status) from another agency",
    responses={
        200: "Accepted: the receiver's signed receipt (application/xml); a "
        "repeat of an earlier package gets the original receipt "
        "(header X-Exchange-Duplicate: true)",
        400: "Not an XML body",
        403: "Unknown sender or invalid signature",
        413: "Package too large",
        422: "Refused: malformed, hostile, not for this system, or a PDF that "
        "fails validation (statusCode 02 with the reason)",
    },
)
def deliver() -> Response:
    """Packages are checked in order (size, XML safety, sender in the directory, XML
    signature with the sender's registered certificates, structure, addressee, duplicates,
    every PDF's signatures) and either accepted with a signed receipt or refused with
    nothing stored."""
    limit = system().settings.exchange_max_mb * 1024 * 1024
    answer = inbox.accept(system(), _body(limit))
    resp = Response(answer.receipt, status=200, mimetype="application/xml")
    resp.headers["X-Exchange-Duplicate"] = "true" if answer.duplicate else "false"
    return resp


@bp.get("/exchange/self")
@bp.doc(
    summary="This system's directory entry, for the other agencies' directories", responses=[404]
)
def self_entry() -> Response:
    return jsonify(directory.own_entry(system()))


@bp.get("/exchange/directory")
@bp.doc(
    summary="Your agency's exchange directory (partners, endpoints, pinned "
    "certificate fingerprints)",
    security=SECURITY,
    responses=[401, 403],
)
@requires("read")
def list_directory() -> Response:
    return jsonify({"entries": [p.to_json() for p in directory.entries(system(), actor())]})


@bp.post("/exchange/directory")
@bp.doc(
    summary="Add or update entries of your agency's directory (administrators; JSON as "
    'exported by the partner\'s /exchange/self). An entry may carry "pin": the '
    "certificate fingerprints confirmed with the partner out of band",
    security=SECURITY,
    responses=[400, 401, 403],
)
@requires("admin")
def import_directory() -> Response:
    body: Any = request.get_json(silent=True)
    entries = body.get("entries") if isinstance(body, dict) else body
    if not isinstance(entries, list) or not entries:
        raise ClientError('send a JSON list of entries, or {"entries": [...]}')
    agency = body.get("agency") if isinstance(body, dict) else None
    written = directory.upsert(system(), actor(), entries, agency_code=agency)
    return jsonify({"written": [w["code"] for w in written], "entries": written})


@bp.get("/exchange/profile")
@bp.doc(
    summary="How your agency appears in the packages it sends (From)",
    security=SECURITY,
    responses=[401, 403],
)
@requires("read")
def get_profile() -> Response:
    return jsonify(admin_queries.exchange_profile(system(), actor()))


@bp.put("/exchange/profile")
@bp.doc(
    summary="Change your agency's exchange profile: in_charge, address, email, "
    "telephone, fax, website (its public website) — administrators",
    security=SECURITY,
    responses=[400, 401, 403],
)
@requires("admin")
def put_profile() -> Response:
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ClientError("send a JSON object of profile fields")
    return jsonify(directory.set_profile(system(), actor(), body))


@bp.post("/exchange/inspect")
@bp.doc(
    summary="Inspect an edXML package (application/xml) as the inbox would: header, "
    "attachments, signature, every refusal reason; nothing is stored "
    "(administrators)",
    security=SECURITY,
    responses=[400, 401, 403, 413],
)
@requires("admin")
def inspect_package() -> Response:
    from edms.exchange.inspect import inspect

    limit = system().settings.exchange_max_mb * 1024 * 1024
    return jsonify(inspect(_body(limit), system()).to_json())


@bp.get("/documents/<int:doc_id>/exchange")
@bp.doc(
    summary="The document's dispatches: per agency, delivery, receipt and statuses",
    security=SECURITY,
    responses=[401, 403, 404],
)
@requires("read")
def document_exchange(doc_id: int) -> Response:
    return jsonify(
        {"document_id": doc_id, "agencies": outbox.document_exchange(system(), actor(), doc_id)}
    )


@bp.post("/documents/<int:doc_id>/exchange/dispatch")
@bp.doc(
    summary="Send an issued document to recipients in the directory not yet served",
    security=SECURITY,
    responses=[401, 403, 404, 409],
)
@requires("write")
def dispatch(doc_id: int) -> Response:
    return jsonify({"queued": outbox.dispatch(system(), actor(), doc_id)})


@bp.post("/documents/<int:doc_id>/exchange/revocation")
@bp.doc(
    summary="Answer the sender's revocation request: accept (15) or refuse (16)",
    security=SECURITY,
    responses=[400, 401, 403, 404, 409],
)
@requires("write")
def answer_revocation(doc_id: int) -> Response:
    body: Any = request.get_json(silent=True) or {}
    if not isinstance(body, dict) or not isinstance(body.get("accept"), bool):
        raise ClientError('send {"accept": true|false, "reason": "..."}')
    doc = inbox.answer_revocation(
        system(), actor(), doc_id, body["accept"], str(body.get("reason") or "")
    )
    return jsonify({"document_id": doc.id, "frozen": doc.frozen})


@bp.get("/documents/<int:doc_id>/exchange/<agency>/<any(receipt, package):part>")
@bp.doc(
    summary="Evidence of a dispatch: the receiver's signed receipt, or the edXML "
    "package exactly as it was sent",
    security=SECURITY,
    responses=[401, 403, 404],
)
@requires("read")
def evidence(doc_id: int, agency: str, part: str) -> Response:
    sent, signed = outbox.evidence(system(), actor(), doc_id, agency)
    return Response(signed if part == "receipt" else sent, mimetype="application/xml")
