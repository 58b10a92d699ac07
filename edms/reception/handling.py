"""Handling a dossier: starting, refusing (with the reason), delivering, and linking the
documents that handle it or are its result.

Invariants: a step applies only in the states its transition allows (otherwise
InvalidTransition); the result is an issued document of the agency (an outgoing document
or a digitized, agency-signed copy made for this dossier code), and linking it makes the
dossier ``result_ready`` with its domain event in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, events
from ..documents.lifecycle import load_document
from ..errors import ClientError, InvalidTransition
from ..models import (
    Document,
    ProcedureDossier,
    ProcedureDossierDocument,
)
from ..orgs import load_user, require_role
from ..system import System
from .common import (
    DELIVERED,
    IN_PROGRESS,
    OPEN,
    READY,
    RECEIVED,
    REFUSED,
    STAFF,
    STATUS_VI,
    _event,
    _load,
    _now,
    _run,
    _step,
)


def _transition(
    system: System,
    actor: str,
    code: str,
    action: str,
    allowed: tuple[str, ...],
    to: str,
    note: str = "",
    roles: tuple[str, ...] = STAFF,
    **changes: Any,
) -> ProcedureDossier:
    def work(s: Session) -> ProcedureDossier:
        user = load_user(s, actor)
        require_role(user, *roles, action=f"{action} a dossier")
        d = _load(s, user, code)
        if d.status not in allowed:
            raise InvalidTransition(
                f"dossier {d.code} is {STATUS_VI[d.status].lower()}: this step needs it "
                + " or ".join(STATUS_VI[a].lower() for a in allowed)
            )
        for k, v in changes.items():
            setattr(d, k, v)
        _step(s, d, user.username, action, to, note)
        return d

    return _run(system, work)


def start(system: System, actor: str, code: str, note: str = "") -> ProcedureDossier:
    """Handling starts (the dossier went to the unit that handles it)."""
    return _transition(system, actor, code, "start", (RECEIVED,), IN_PROGRESS, note.strip())


def refuse(system: System, actor: str, code: str, reason: str) -> ProcedureDossier:
    """The dossier cannot be handled (with the reason, given to the citizen)."""
    if not reason.strip():
        raise ClientError("a reason is required to refuse a dossier")
    return _transition(
        system,
        actor,
        code,
        "refuse",
        OPEN,
        REFUSED,
        reason.strip()[:2000],
        roles=("clerk", "leader", "officer"),
        finished_at=_now(),
    )


def deliver(system: System, actor: str, code: str, note: str = "") -> ProcedureDossier:
    """The result was handed to the citizen (trả kết quả)."""
    return _transition(
        system,
        actor,
        code,
        "deliver",
        (READY,),
        DELIVERED,
        note.strip(),
        roles=("clerk", "officer"),
        finished_at=_now(),
    )


def _result_ready(s: Session, d: ProcedureDossier, doc: Document, actor: str) -> None:
    d.result_document_id, d.result_at = doc.id, _now()
    _step(s, d, actor, "result", READY, details={"document": doc.id})
    _event(s, "dossier.result_ready", d, actor, document_id=doc.id)


def _link(s: Session, d: ProcedureDossier, doc: Document, role: str, actor: str) -> None:
    row = s.get(ProcedureDossierDocument, (d.id, doc.id))
    if row is None:
        s.add(
            ProcedureDossierDocument(
                dossier_id=d.id, document_id=doc.id, role=role, added_by=actor, added_at=_now()
            )
        )
    else:
        row.role = role if role == "result" else row.role


def link_document(
    system: System, actor: str, code: str, doc_id: int, role: str = "handled"
) -> ProcedureDossier:
    """File a document as handled for the dossier, or as its result (``role`` result):
    an issued one makes the dossier ready now; a draft one, when it is issued."""
    if role not in ("handled", "result"):
        raise ClientError("a document is linked as 'handled' or as the 'result'")

    def work(s: Session) -> ProcedureDossier:
        user = load_user(s, actor)
        require_role(user, *STAFF, action="link documents to a dossier")
        d = _load(s, user, code)
        doc = load_document(s, user, doc_id)
        if role == "result":
            if d.status not in OPEN:
                raise InvalidTransition(
                    f"dossier {d.code} is {STATUS_VI[d.status].lower()}: its result is set"
                )
            if doc.direction == "incoming" or doc.frozen or doc.secrecy:
                raise InvalidTransition(
                    f"document {doc_id} cannot be a dossier's result "
                    "(it must be this agency's own, not frozen nor "
                    "secret)"
                )
        _link(s, d, doc, role, user.username)
        audit.record(
            s,
            user.username,
            "dossier.link",
            "procedure_dossier",
            str(d.id),
            {"code": d.code, "document": doc.id, "role": role},
        )
        if role == "result" and doc.state == "issued":
            _result_ready(s, d, doc, user.username)
        return d

    return _run(system, work)


def link_digitized(s: Session, doc: Document, dossier_code: str, actor: str) -> None:
    """Called by the digitization pipeline in its transaction: a copy made for one of the
    agency's open dossiers is that dossier's result."""
    d = s.scalars(
        select(ProcedureDossier).where(
            ProcedureDossier.code == dossier_code, ProcedureDossier.agency_id == doc.agency_id
        )
    ).first()
    if d is None:
        return
    _link(s, d, doc, "result", actor)
    if d.status in OPEN:
        _result_ready(s, d, doc, actor)


def on_event(s: Session, event: events.Event) -> None:
    """Subscriber (edms.events): a document set as a dossier's result is issued."""
    if event.name != "document.issue":
        return
    doc = s.get(Document, event.data["document_id"])
    if doc is None:
        return
    for link in s.scalars(
        select(ProcedureDossierDocument).where(
            ProcedureDossierDocument.document_id == doc.id,
            ProcedureDossierDocument.role == "result",
        )
    ):
        d = s.get(ProcedureDossier, link.dossier_id)
        if d is not None and d.status in OPEN:
            _result_ready(s, d, doc, event.actor)
