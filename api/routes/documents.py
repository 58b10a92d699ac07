"""Documents: create, read, download, and every lifecycle step (outgoing and incoming),
including signing with a server-held key and the remote flow for token-held keys."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from apiflask import APIBlueprint
from flask import Response, request

from edms import documents as docs
from edms import jobs
from edms.auth import PinConfirmation, confirm_signing
from edms.errors import ClientError

from .. import schemas as sc
from ..context import system
from ..files import send_blob
from ..security import SECURITY, actor, current, requires

bp = APIBlueprint("documents", __name__, tag="Documents")
DOC_ERRORS = [400, 401, 403, 404, 409, 413, 415, 422]


def out(doc: Any, **extra: Any) -> dict[str, Any]:
    return {**docs.document_json(doc), **extra}


def view(doc_id: int, **extra: Any) -> dict[str, Any]:
    return {**docs.view_json(docs.get_document(system(), actor(), doc_id)), **extra}


def _recipients(values: list[str]) -> tuple[docs.Recipient, ...]:
    result = []
    for v in values:
        code, sep, name = v.partition("=")
        result.append(
            docs.Recipient(name.strip(), code.strip() or None) if sep else docs.Recipient(v.strip())
        )
    return tuple(result)


def _meta(data: dict[str, Any], recipients: tuple[docs.Recipient, ...]) -> docs.DraftMeta:
    return docs.DraftMeta(
        type_code=data["type"],
        subject=data["subject"],
        recipients=recipients,
        drafting_unit=data.get("drafting_unit"),
        priority=data["priority"],
        secrecy=data["secrecy"],
        due_date=data.get("due_date"),
        issued_amount=data.get("issued_amount"),
        description=data["description"],
        response_for_id=data.get("response_for_id"),
        designated_signer=data.get("designated_signer"),
        approvers=tuple(data.get("approvers") or ()),
    )


@bp.get("/documents")
@bp.input(sc.ListQuery, location="query")
@bp.output(sc.DocumentPage)
@bp.doc(summary="List documents (work queues)", security=SECURITY, responses=[401, 403])
@requires("read")
def list_documents(query_data: dict[str, Any]) -> dict[str, Any]:
    """Documents of your agency, most urgent first; filter by direction and state
    (e.g. `state=approved`: waiting for signature)."""
    from edms.search import SearchFilters

    total, found = docs.search_documents(
        system(),
        actor(),
        "",
        SearchFilters(direction=query_data.get("direction"), states=tuple(query_data["state"])),
        query_data["page"],
        query_data["per_page"],
    )
    return {
        "total": total,
        "page": query_data["page"],
        "per_page": query_data["per_page"],
        "items": [docs.document_json(d) for d in found],
    }


@bp.post("/documents")
@bp.input(sc.DraftUpload, location="form_and_files", arg_name="form")
@bp.output(sc.DocumentOut, status_code=201)
@bp.doc(summary="Create an outgoing draft from a PDF", security=SECURITY, responses=DOC_ERRORS)
@requires("write")
def create_draft(form: dict[str, Any]) -> dict[str, Any]:
    """A PDF, a Word .docx or an OpenDocument .odt draft. The number and date are filled
    after the leader signs into the PDF's fields `SoKyHieu` and `NgayThang`, or, for a
    draft without them, into the blanks of its "Số:" and date lines, found from its
    text with the blank signing space of its signature block (422 when not found)."""
    f = form["file"]
    doc = docs.create_draft(
        system(), actor(), f.stream, f.filename or "draft.pdf", _meta(form, _recipients(form["to"]))
    )
    return out(doc)


@bp.post("/documents/from-template")
@bp.input(sc.TemplateDraftIn, arg_name="data")
@bp.output(sc.DocumentOut, status_code=201)
@bp.doc(
    summary="Create an outgoing draft in the Decree 30 layout",
    security=SECURITY,
    responses=DOC_ERRORS,
)
@requires("write")
def create_from_template(data: dict[str, Any]) -> dict[str, Any]:
    recipients = tuple(docs.Recipient(r["name"], r.get("organ_id")) for r in data["recipients"])
    parts = {
        k: data[k]
        for k in ("parent", "authority_line", "bases", "articles", "addressees")
        if data.get(k)
    }
    if not data["body"] and not data["articles"]:
        raise ClientError("the template needs a body or articles")
    doc = docs.create_from_template(
        system(), actor(), _meta(data, recipients), data["body"], parts=parts
    )
    return out(doc)


@bp.post("/incoming")
@bp.input(sc.IncomingUpload, location="form_and_files", arg_name="form")
@bp.output(sc.DocumentOut, status_code=201)
@bp.doc(summary="Receive an incoming document", security=SECURITY, responses=DOC_ERRORS)
@requires("write")
def receive(form: dict[str, Any]) -> dict[str, Any]:
    """Warnings name earlier documents with the same number, symbol and sender."""
    f = form["file"]
    meta = docs.IncomingMeta(
        type_code=form["type"],
        subject=form["subject"],
        organ_name=form["organ_name"],
        organ_id=form.get("organ_id"),
        code_number=form["number"],
        code_notation=form["notation"],
        issued_date=form["issued_date"],
        due_date=form.get("due_date"),
        priority=form["priority"],
        secrecy=form["secrecy"],
        signer_name=form["signer_name"],
        signer_position=form["signer_position"],
        to_places=form["to_places"],
    )
    result = docs.receive(system(), actor(), f.stream, f.filename or "received.pdf", meta)
    return out(result.document, warnings=result.warnings)


@bp.get("/documents/<int:doc_id>")
@bp.output(sc.DocumentView)
@bp.doc(
    summary="A document with its files, signatures and history",
    security=SECURITY,
    responses=[401, 403, 404],
)
@requires("read")
def get_document(doc_id: int) -> dict[str, Any]:
    return view(doc_id)


@bp.get("/documents/<int:doc_id>/content")
@bp.output(
    sc.BINARY, content_type="application/pdf", description="The current PDF (HTTP Range supported)."
)
@bp.doc(summary="Download the current PDF", security=SECURITY, responses=[401, 403, 404, 416])
@requires("read")
def content(doc_id: int) -> Response:
    f, blob = docs.open_file(system(), actor(), doc_id)
    return send_blob(blob, f.name)


@bp.get("/documents/<int:doc_id>/files/<int:file_id>")
@bp.output(
    sc.BINARY, content_type="application/pdf", description="The file (HTTP Range supported)."
)
@bp.doc(
    summary="Download one file of a document", security=SECURITY, responses=[401, 403, 404, 416]
)
@requires("read")
def file_content(doc_id: int, file_id: int) -> Response:
    f, blob = docs.open_file(system(), actor(), doc_id, file_id)
    return send_blob(blob, f.name)


@bp.post("/documents/<int:doc_id>/attachments")
@bp.input(sc.FileUpload, location="files", arg_name="files")
@bp.output(sc.DocumentView, status_code=201)
@bp.doc(summary="Attach a separate PDF to a draft", security=SECURITY, responses=DOC_ERRORS)
@requires("write")
def attach(doc_id: int, files: dict[str, Any]) -> dict[str, Any]:
    f = files["file"]
    docs.add_attachment(system(), actor(), doc_id, f.stream, f.filename or "attachment.pdf")
    return view(doc_id)


def _step(name: str, schema: type, summary: str, scope: str) -> None:
    def endpoint(doc_id: int, data: dict[str, Any]) -> dict[str, Any]:
        if name == "sign":  # the leader's PIN, through this request's own credential
            data["confirm"] = PinConfirmation(data.pop("pin", None), current())
        result = docs.perform(system(), actor(), doc_id, name, data)
        report = getattr(result, "report", None)
        extra = {"report": report.to_json()} if report is not None else {}
        warnings = getattr(result, "warnings", None)
        if warnings:
            extra["warnings"] = warnings
        return view(doc_id, **extra)

    endpoint.__name__ = f"step_{name}"
    endpoint.__doc__ = summary
    wrapped = requires(scope)(endpoint)
    wrapped = bp.doc(summary=summary, security=SECURITY, responses=DOC_ERRORS)(wrapped)
    wrapped = bp.output(sc.DocumentView)(wrapped)
    wrapped = bp.input(schema, arg_name="data")(wrapped)
    bp.post(f"/documents/<int:doc_id>/{name}")(wrapped)


for _name, _schema, _summary, _scope in (
    ("submit", sc.NoteIn, "Submit a draft for signature (trình ký)", "write"),
    ("approve", sc.NoteIn, "Approve a submitted draft (leader)", "write"),
    ("reject", sc.ReasonIn, "Send a draft back for revision (leader)", "write"),
    ("sign", sc.SignIn, "Sign as the competent person with your server-held key", "sign"),
    ("number", sc.NoteIn, "Give the signed document its number and date (clerk)", "write"),
    ("seal", sc.SignIn, "Apply the agency's signature (clerk)", "sign"),
    (
        "register",
        sc.RegisterStepIn,
        "Enter in the outgoing register, or give an incoming document its arrival number",
        "write",
    ),
    ("issue", sc.NoteIn, "Issue a registered document (clerk)", "write"),
    ("revoke", sc.ReasonIn, "Revoke an issued document (frozen, record kept)", "write"),
    ("verify", sc.NoteIn, "Check the signatures of an incoming document", "write"),
    ("return", sc.ReasonIn, "Return an incoming document to its sender", "write"),
    ("assign", sc.AssignIn, "Assign an incoming document for handling", "write"),
    ("handback", sc.ReasonIn, "Hand an incoming document back to be assigned again", "write"),
    ("progress", sc.NoteIn, "Start handling an assigned incoming document", "write"),
    ("complete", sc.NoteIn, "Complete the handling of an incoming document", "write"),
    ("hold", sc.HoldIn, "Place or lift a legal hold", "write"),
):
    _step(_name, _schema, _summary, _scope)


@bp.post("/documents/<int:doc_id>/remote-signing")
@bp.input(sc.RemotePrepareIn, arg_name="data")
@bp.output(sc.RemotePrepareOut, status_code=201)
@bp.doc(
    summary="Remote signing, step 1: prepare (key on your own token)",
    security=SECURITY,
    responses=DOC_ERRORS,
)
@requires("sign")
def remote_prepare(doc_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Returns the digest your token must sign (RSA PKCS#1 v1.5 or ECDSA, SHA-256) and a
    session id valid for 10 minutes. The certificate must be the one bound to you."""
    prepared = docs.remote_prepare(
        system(),
        actor(),
        doc_id,
        [c.encode() for c in data["certificate_chain"]],
        authority=data.get("authority"),
        level=data.get("level"),
    )
    b64 = base64.b64encode
    return {
        "session_id": prepared.session_id,
        "signed_attributes": b64(prepared.signed_attributes).decode(),
        "digest": b64(prepared.digest).decode(),
        "digest_algorithm": prepared.digest_algorithm,
        "signature_algorithm": prepared.signature_algorithm,
        "expires_at": prepared.expires_at.isoformat(timespec="seconds"),
    }


@bp.post("/documents/<int:doc_id>/remote-signing/<session_id>")
@bp.input(sc.RemoteFinalizeIn, arg_name="data")
@bp.output(sc.DocumentView)
@bp.doc(
    summary="Remote signing, step 2: finalize with the token's signature value",
    security=SECURITY,
    responses=DOC_ERRORS,
)
@requires("sign")
def remote_finalize(doc_id: int, session_id: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        value = base64.b64decode(data["signature"], validate=True)
    except (binascii.Error, ValueError):
        raise ClientError("the signature is not valid base64") from None
    result = docs.remote_finalize(system(), actor(), doc_id, session_id, value)
    return view(doc_id, report=result.report.to_json() if result.report else {})


@bp.get("/documents/<int:doc_id>/verification")
@bp.output(sc.VerifyOut)
@bp.doc(
    summary="Validate the document's current PDF now", security=SECURITY, responses=[401, 403, 404]
)
@requires("read")
def verification(doc_id: int) -> dict[str, Any]:
    report = docs.verify_current(system(), actor(), doc_id)
    return {
        "valid": report.valid,
        "changed_after_signing": report.changed_after_signing,
        "report": report.to_json(),
    }


@bp.post("/jobs/batch-sign")
@bp.input(sc.BatchSignIn, arg_name="data")
@bp.output(sc.JobOut, status_code=202)
@bp.doc(
    summary="Sign several approved documents in the background (leader)",
    security=SECURITY,
    responses=[400, 401, 403, 422],
)
@requires("sign")
def batch_sign(data: dict[str, Any]) -> Any:
    """The leader's signing PIN confirms exactly these documents; the job signs them with
    that confirmation (the audit names the job and the credential)."""
    from .admin import job_json

    consent = confirm_signing(system(), actor(), data.get("pin"), data["document_ids"], current())
    job = jobs.submit(
        system(),
        actor(),
        "batch_sign",
        {
            "document_ids": data["document_ids"],
            "authority": data.get("authority"),
            "level": data.get("level"),
            "consent": consent.to_json(),
        },
        total=len(data["document_ids"]),
    )
    return job_json(job), 202, {"Location": f"{request.script_root}/api/v1/jobs/{job.id}"}
