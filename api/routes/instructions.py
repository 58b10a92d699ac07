"""The leader's instructions and the clerk's release over REST: the queue of incoming
documents awaiting an instruction, the documents assigned to me by name, the handling
sheet (Phiếu giải quyết văn bản đến) as data, and the one-action release of a signed
outgoing document (its plan, then the run). The instruction itself is the ``assign`` step
(``POST /documents/{id}/assign`` with ``lead_user`` and ``co_users``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from apiflask import APIBlueprint, Schema, fields
from apiflask.validators import Length

from edms import documents as docs
from edms.documents import instructions as handling
from edms.documents import release as releasing

from .. import schemas as sc
from ..context import system
from ..security import SECURITY, actor, requires

bp = APIBlueprint("instructions", __name__, tag="Documents")


class DocumentItems(Schema):
    items = fields.List(fields.Nested(sc.DocumentOut), required=True)


class TaskOut(sc.DocumentOut):
    lead = fields.Boolean(
        required=True, metadata={"description": "I am the person in charge (else co-operating)."}
    )
    deadline = fields.Date(allow_none=True, required=True)
    instruction = fields.String(required=True)


class TaskItems(Schema):
    items = fields.List(fields.Nested(TaskOut), required=True)


class SheetEntryOut(Schema):
    at = fields.String(required=True)
    action = fields.String(required=True)
    who = fields.String(required=True)
    note = fields.String(required=True)


class HandlingSheetOut(Schema):
    agency = fields.String(required=True)
    agency_place = fields.String(required=True)
    document_id = fields.Integer(required=True)
    type_name = fields.String(required=True)
    organ_name = fields.String(required=True)
    number_and_symbol = fields.String(required=True)
    issued_date = fields.String(allow_none=True, required=True)
    subject = fields.String(required=True)
    arrival_number = fields.Integer(allow_none=True, required=True)
    arrival_at = fields.String(allow_none=True, required=True)
    priority = fields.String(required=True)
    secrecy = fields.String(required=True)
    pages = fields.Integer(allow_none=True, required=True)
    state = fields.String(required=True)
    instruction = fields.String(required=True)
    instructed_by = fields.String(required=True)
    instructed_at = fields.String(allow_none=True, required=True)
    lead_unit = fields.String(required=True)
    co_units = fields.List(fields.String(), required=True)
    lead_person = fields.String(required=True)
    co_people = fields.List(fields.String(), required=True)
    deadline = fields.String(allow_none=True, required=True)
    progress = fields.List(fields.Nested(SheetEntryOut), required=True)
    completed_at = fields.String(allow_none=True, required=True)
    result = fields.String(required=True)


class ReleasePlanOut(Schema):
    document_id = fields.Integer(required=True)
    subject = fields.String(required=True)
    state = fields.String(required=True)
    state_vi = fields.String(required=True)
    remaining = fields.List(fields.String(), required=True)
    number_and_symbol = fields.String(
        required=True, metadata={"description": "Taken, or the one it will take (not reserved)."}
    )
    number_taken = fields.Boolean(required=True)
    recipients = fields.List(fields.String(), required=True)
    seal_level = fields.String(required=True)
    seal_key = fields.Boolean(required=True)
    holder = fields.String(required=True)


class ReleaseIn(sc._In):
    holder = fields.String(load_default="", validate=Length(0, 200))
    note = fields.String(load_default="", validate=Length(0, 2000))


class ReleaseOut(Schema):
    document_id = fields.Integer(required=True)
    done = fields.List(fields.String(), required=True)
    failed = fields.String(allow_none=True, required=True)
    reason = fields.String(required=True)
    reason_vi = fields.String(required=True)
    state = fields.String(required=True)
    number_and_symbol = fields.String(required=True)
    complete = fields.Boolean(required=True)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@bp.get("/documents/awaiting-instruction")
@bp.output(DocumentItems)
@bp.doc(
    summary="Incoming documents awaiting the leader's instruction",
    security=SECURITY,
    responses=[401, 403],
)
@requires("read")
def list_awaiting_instruction() -> dict[str, Any]:
    """Registered and not yet assigned (or handed back): leaders and clerks."""
    return {
        "items": [docs.document_json(d) for d in handling.awaiting_instruction(system(), actor())]
    }


@bp.get("/documents/assigned-to-me")
@bp.output(TaskItems)
@bp.doc(summary="Incoming documents assigned to me by name", security=SECURITY, responses=[401])
@requires("read")
def list_assigned_to_me() -> dict[str, Any]:
    """As the person in charge (`lead: true`) or a co-operating person; nearest deadline
    first."""
    return {
        "items": [
            {
                **docs.document_json(t.document),
                "lead": t.lead,
                "deadline": t.deadline,
                "instruction": t.instruction,
            }
            for t in handling.assigned_to_me(system(), actor())
        ]
    }


@bp.get("/documents/<int:doc_id>/handling-sheet")
@bp.output(HandlingSheetOut)
@bp.doc(
    summary="The handling sheet (Phiếu giải quyết văn bản đến) of an incoming document",
    security=SECURITY,
    responses=[400, 401, 403, 404],
)
@requires("read")
def get_handling_sheet(doc_id: int) -> dict[str, Any]:
    sheet = handling.handling_sheet(system(), actor(), doc_id)
    return dict(_plain(asdict(sheet)))


@bp.get("/documents/<int:doc_id>/release")
@bp.output(ReleasePlanOut)
@bp.doc(
    summary="What releasing a signed outgoing document will do (clerk)",
    security=SECURITY,
    responses=[401, 403, 404, 409],
)
@requires("read")
def get_release_plan(doc_id: int) -> dict[str, Any]:
    """The steps left, the number and symbol it will take (peeked, not reserved), the
    recipients and the seal's level."""
    plan = releasing.release_plan(system(), actor(), doc_id)
    return {**asdict(plan), "remaining": list(plan.remaining), "recipients": list(plan.recipients)}


@bp.post("/documents/<int:doc_id>/release")
@bp.input(ReleaseIn, arg_name="data")
@bp.output(ReleaseOut)
@bp.doc(
    summary="Release a signed outgoing document: number, seal, register, issue (clerk)",
    security=SECURITY,
    responses=[400, 401, 403, 404, 409, 422],
)
@requires("sign")
def release_document(doc_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Runs the remaining steps in order, each recorded on its own; stops at the first
    that fails (`failed`, `reason`) and keeps the state reached; call again to continue."""
    outcome = releasing.release(system(), actor(), doc_id, holder=data["holder"], note=data["note"])
    return {**asdict(outcome), "complete": outcome.complete}
