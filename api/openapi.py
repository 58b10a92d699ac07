"""The OpenAPI contract of ``/api/v1`` as clients generate code from it.

* Every operation has a readable, unique ``operationId`` (``list_documents``,
  ``download_document``, ...): the view function's name unless :data:`OPERATION_IDS` names
  it better; and the tag of its blueprint (one of the declared ``TAGS``).
* Every error response is ``application/problem+json``; integer path identifiers are
  1 … 2**31-1 (:class:`api.DatabaseId`).
* Request bodies are required (a missing body is refused, never taken as empty); the
  bodies the views read themselves (edXML packages, JSON objects) are declared too.
* Files are ``type: string, format: binary`` with their media type.
* ``X-CSRF-Token``: a browser session changes nothing without it (:func:`api.security.
  identify`), so every unsafe operation open to ``cookieAuth`` requires the ``csrfToken``
  scheme with it; API tokens (``bearerAuth``) need no CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

API_BLUEPRINTS = ("documents", "instructions", "digitization", "records", "exchange", "admin")
UNSAFE = ("post", "put", "patch", "delete")

# endpoint -> operationId, where the view function's name does not say what it does
OPERATION_IDS = {
    "documents.create_from_template": "create_draft_from_template",
    "documents.receive": "receive_incoming",
    "documents.content": "download_document",
    "documents.file_content": "download_document_file",
    "documents.attach": "add_attachment",
    "documents.remote_prepare": "prepare_remote_signing",
    "documents.remote_finalize": "finalize_remote_signing",
    "documents.verification": "validate_document",
    "documents.step_verify": "verify_incoming_document",
    "documents.step_progress": "start_handling_document",
    "documents.step_hold": "set_legal_hold",
    "digitization.digitize": "digitize_scans",
    "records.deadlines": "list_deadlines",
    "records.statistics": "get_statistics",
    "records.add_to_dossier": "add_documents_to_dossier",
    "exchange.deliver": "deliver_package",
    "exchange.self_entry": "get_own_directory_entry",
    "exchange.get_profile": "get_exchange_profile",
    "exchange.put_profile": "set_exchange_profile",
    "exchange.document_exchange": "get_document_exchange",
    "exchange.dispatch": "dispatch_document",
    "exchange.evidence": "download_exchange_evidence",
    "admin.login": "create_session",
    "admin.logout": "delete_session",
    "admin.me": "get_me",
    "admin.agencies": "list_agencies",
    "admin.audit_events": "list_audit_events",
    "admin.verify": "verify_pdf",
}

_XML = {"schema": {"type": "string"}}
_JSON_OBJECT = {"schema": {"type": "object", "additionalProperties": True}}
_JSON_ANSWER = {"application/json": _JSON_OBJECT}
# operationId -> the request body a view reads itself (not through @input)
READ_BODIES: dict[str, dict[str, Any]] = {
    "deliver_package": {"application/xml": _XML, "text/xml": _XML},
    "inspect_package": {"application/xml": _XML, "text/xml": _XML},
    "import_directory": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": {"type": "object"}},
                    {"type": "object", "additionalProperties": True},
                ]
            }
        }
    },
    "set_exchange_profile": {"application/json": _JSON_OBJECT},
    "answer_revocation": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"accept": {"type": "boolean"}, "reason": {"type": "string"}},
                "required": ["accept"],
            }
        }
    },
}
BINARY = {"schema": {"type": "string", "format": "binary"}}
# operationId -> the files its 200 answer may be, beside or instead of JSON
FILE_ANSWERS: dict[str, tuple[str, ...]] = {
    "export_register": ("application/pdf", "text/csv"),
    "download_exchange_evidence": ("application/xml",),
    "deliver_package": ("application/xml",),
}

# operationIds whose view answers a JSON object it builds itself (not through @output)
JSON_ANSWERS = (
    "get_own_directory_entry",
    "list_directory",
    "import_directory",
    "get_exchange_profile",
    "set_exchange_profile",
    "inspect_package",
    "get_document_exchange",
    "dispatch_document",
    "answer_revocation",
)

CSRF_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-CSRF-Token",
    "description": "The session's CSRF token (the `csrf_token` of POST /api/v1/sessions): "
    "required with `cookieAuth` on every change; API tokens do not need it.",
}


def name_operations(app: Flask) -> None:
    """Give every API view its operationId and its blueprint's tag (before the spec is
    generated; the view functions keep their endpoint names)."""
    for endpoint, view in app.view_functions.items():
        blueprint = endpoint.partition(".")[0]
        spec = getattr(view, "_spec", None)
        if blueprint not in API_BLUEPRINTS or spec is None:
            continue
        name = endpoint.partition(".")[2]
        if blueprint == "documents" and name.startswith("step_"):  # step_sign: sign_document
            name = f"{name.removeprefix('step_')}_document"
        spec["operation_id"] = OPERATION_IDS.get(endpoint, name)
        tag = getattr(app.blueprints[blueprint], "tag", None)
        if tag and not spec.get("tags"):
            spec["tags"] = [tag["name"] if isinstance(tag, dict) else tag]


def finish_spec(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """The spec processor: problem+json errors, bounded integer ids, required and declared
    request bodies, binary files, the CSRF header."""
    if not isinstance(spec, dict):
        return spec
    spec.setdefault("components", {}).setdefault("securitySchemes", {})["csrfToken"] = CSRF_SCHEME
    for path in spec.get("paths", {}).values():
        for method, op in path.items():
            _operation(method, op)
    return spec


def _operation(method: str, op: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        if param.get("in") == "path" and param["schema"].get("type") == "integer":
            param["schema"].update(minimum=1, maximum=2**31 - 1)
    for status, resp in op.get("responses", {}).items():
        content = resp.get("content")
        if str(status)[0] in "45" and content and "application/json" in content:
            resp["content"] = {"application/problem+json": content["application/json"]}
    name = op.get("operationId", "")
    if name in READ_BODIES:
        op["requestBody"] = {"content": READ_BODIES[name]}
    if "requestBody" in op:
        op["requestBody"]["required"] = True
    if name in FILE_ANSWERS:
        ok = op["responses"].setdefault("200", {"description": "Successful response"})
        content = ok.setdefault("content", {})
        if content.get("application/json", {}).get("schema") in ({}, None):
            content.pop("application/json", None)  # an undocumented JSON answer: none
        for media in FILE_ANSWERS[name]:
            content[media] = BINARY
    if name in JSON_ANSWERS and "200" not in op["responses"]:
        op["responses"]["200"] = {"description": "Successful response", "content": _JSON_ANSWER}
    if method in UNSAFE and "security" in op:
        op["security"] = [
            {**alt, "csrfToken": []} if "cookieAuth" in alt else alt
            for alt in op.get("security", [])
        ]
