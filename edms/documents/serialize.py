"""JSON forms of documents and document views, for the API and the web interface.

Invariants: pure functions of the loaded objects (no queries); times are ISO 8601 UTC;
labels people read are Vietnamese.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..models import (
    Document,
)
from ..numbering import VN_TZ
from .labels import STATE_NAMES_VI
from .queries import DocumentView


def document_json(doc: Document) -> dict[str, Any]:
    """The document's metadata as JSON (Appendix VI names where they exist)."""
    return {
        "id": doc.id,
        "direction": doc.direction,
        "state": doc.state,
        "state_vi": STATE_NAMES_VI[doc.state],
        "version": doc.version,
        "type": doc.type_code,
        "subject": doc.subject,
        "description": doc.description,
        "code_number": doc.code_number,
        "code_notation": doc.code_notation,
        "number_and_symbol": (
            f"{doc.code_number}/{doc.code_notation}"
            if doc.code_number and doc.code_notation
            else None
        ),
        "issued_date": doc.issued_date.isoformat() if doc.issued_date else None,
        "organ_id": doc.organ_id,
        "organ_name": doc.organ_name,
        "signer": {
            "position": doc.signer_position,
            "full_name": doc.signer_name,
            "competence": doc.signer_competence,
        },
        "recipients": json.loads(doc.recipients),
        "priority": doc.priority,
        "secrecy": doc.secrecy,
        "page_amount": doc.page_amount,
        "issued_amount": doc.issued_amount,
        "due_date": doc.due_date.isoformat() if doc.due_date else None,
        "arrival_number": doc.arrival_number,
        "arrival_at": _iso(doc.arrival_at),
        "completed_at": _iso(doc.completed_at),
        "sent_at": _iso(doc.sent_at),
        "frozen": doc.frozen,
        "frozen_reason": doc.frozen_reason,
        "legal_hold": doc.legal_hold,
        "retain_until": _iso(doc.retain_until),
        "replaces_id": doc.replaces_id,
        "response_for_id": doc.response_for_id,
        "dossier_id": doc.dossier_id,
        "designated_signer_id": doc.designated_signer_id,
        "approver_ids": json.loads(doc.approver_ids or "[]"),
        "created_at": _iso(doc.created_at),
        "updated_at": _iso(doc.updated_at),
    }


def _iso(t: datetime | None) -> str | None:
    """UTC in storage, Vietnam time (+07:00) when shown."""
    return None if t is None else t.astimezone(VN_TZ).isoformat(timespec="seconds")


def _person(view: DocumentView, user_id: int | None) -> dict[str, Any] | None:
    """Who a view names: their full name and position (never only a user name)."""
    if user_id is None or user_id not in view.people:
        return None
    username, full_name, title = view.people[user_id]
    return {"id": user_id, "username": username, "full_name": full_name, "title": title}


def view_json(view: DocumentView) -> dict[str, Any]:
    a = view.assignment
    doc = view.document
    return {
        **document_json(doc),
        "designated_signer": _person(view, doc.designated_signer_id),
        "approvers": [_person(view, int(i)) for i in json.loads(doc.approver_ids or "[]")],
        "waiting_for": _person(view, view.waiting_for),
        "created_by": _person(view, doc.created_by),
        "files": [
            {
                "id": f.id,
                "role": f.role,
                "stage": f.stage,
                "name": f.name,
                "sha256": f.sha256,
                "attachment_of": f.attachment_of,
                "created_at": _iso(f.created_at),
            }
            for f in view.files
        ],
        "signatures": [
            {
                "profile": s.profile,
                "field": s.field_name,
                "level": s.level,
                "valid": s.valid,
                "signed_at": _iso(s.signed_at),
                "file_id": s.file_id,
            }
            for s in view.signatures
        ],
        "history": [
            {
                "at": _iso(h.at),
                "action": h.action,
                "from": h.from_state,
                "to": h.to_state,
                "code": h.code,
                "note": h.note,
                "actor": _person(view, h.actor_id),
            }
            for h in view.history
        ],
        "assignment": None
        if a is None
        else {
            "lead_unit_id": a.lead_unit_id,
            "co_unit_ids": json.loads(a.co_unit_ids),
            "instruction": a.instruction,
            "deadline": a.deadline.isoformat() if a.deadline else None,
        },
        "digitized": None
        if view.digitized is None
        else {
            "public_id": view.digitized.public_id,
            "dossier_code": view.digitized.dossier_code,
            "procedure_code": view.digitized.procedure_code,
            "result_code": view.digitized.result_code,
            "holder_name": view.digitized.holder_name,
            "original_type": view.digitized.original_type,
            "original_number": view.digitized.original_number,
            "original_date": (
                view.digitized.original_date.isoformat() if view.digitized.original_date else None
            ),
            "copy_type": view.digitized.copy_type,
            "pages": view.digitized.pages,
            "min_dpi": view.digitized.min_dpi,
        },
        "validation": None
        if view.validation is None
        else {
            "valid": view.validation.valid,
            "checked_at": _iso(view.validation.checked_at),
            "report": json.loads(view.validation.report),
        },
    }
