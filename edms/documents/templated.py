"""Outgoing drafts from the structured template (Quyết định, Công văn... in the Decree 30
layout, :mod:`edms.templates`): create one, read back its text, revise its text.

Invariants: the template's text (``body`` and ``parts``) is recorded with the audit
event of each version it made (``document.create``, ``document.revise``), so the drafter
edits what they wrote, not text extracted from the PDF, and the record says what each
version was made from; a revision keeps the draft's type, subject, recipients and levels;
recording goes through :mod:`.outgoing` (one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .. import search
from ..models import Agency, AuditEvent, Document, OrgUnit
from ..orgs import load_user, require_role, unit_by_code
from ..system import System
from ..templates import content_for, render_draft
from .files import pdf_facts, workdir
from .lifecycle import doc_type, load_document
from .outgoing import (
    DraftMeta,
    Recipient,
    commit_revision,
    new_outgoing,
)


def create_from_template(
    system: System,
    actor: str,
    meta: DraftMeta,
    body: list[str],
    *,
    parts: Mapping[str, Any] | None = None,
) -> Document:
    """A new outgoing document whose draft is generated in the Decree 30 layout
    (:mod:`edms.templates`); ``parts`` gives the structured parts (``parent``,
    ``authority_line``, ``bases``, ``articles``, ``addressees``). The template's text is
    recorded with the draft, for revising it later."""
    with workdir(system) as wd:
        path, name = _render_template(system, actor, meta, body, parts, wd)
        pages = pdf_facts(path, need_fields=True)
        return new_outgoing(
            system,
            actor,
            path,
            name,
            meta,
            pages,
            search.extract_pdf_text(path),
            template=_text(body, parts),
        )


def _text(body: list[str], parts: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"body": [str(p) for p in body], "parts": dict(parts or {})}


def _render_template(
    system: System,
    actor: str,
    meta: DraftMeta,
    body: list[str],
    parts: Mapping[str, Any] | None,
    wd: Path,
) -> tuple[Path, str]:
    """The draft in the Decree 30 layout, and its file name."""
    from ..authority import agency_facts

    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, "officer", "leader", "clerk", action="create a draft")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        t = doc_type(s, meta.type_code)
        unit = unit_by_code(s, agency.id, meta.drafting_unit) if meta.drafting_unit else None
        path = render_draft(
            wd / "draft.pdf",
            content_for(
                issuer=agency.name,
                type_name=t.name.split(" (")[0],
                is_cong_van=t.abbreviation is None,
                subject=meta.subject,
                body=body,
                recipients=[r.name for r in meta.recipients],
                head_title=agency_facts(agency.name).head_title,
                archive_unit=unit.abbreviation if unit else "",
                copies=meta.issued_amount,
                priority=meta.priority,
                secrecy=meta.secrecy,
                parts=dict(parts or {}),
            ),
        )
        return path, f"du-thao-{t.code}.pdf"


def revise_from_template(
    system: System,
    actor: str,
    doc_id: int,
    body: list[str],
    *,
    parts: Mapping[str, Any] | None = None,
    designated_signer: str | None = None,
    approvers: Sequence[str] | None = None,
) -> Document:
    """A new version of a template draft with its text edited (the type, subject,
    recipients and levels stay those of the draft)."""
    with workdir(system) as wd:
        with system.sessions() as s:
            user = load_user(s, actor)
            old = load_document(s, user, doc_id)
            unit = s.get(OrgUnit, old.drafting_unit_id) if old.drafting_unit_id else None
            meta = DraftMeta(
                old.type_code,
                old.subject,
                recipients=tuple(
                    Recipient(r["name"], r.get("organ_id")) for r in json.loads(old.recipients)
                ),
                drafting_unit=unit.code if unit else None,
                priority=old.priority,
                secrecy=old.secrecy,
                issued_amount=old.issued_amount,
            )
        path, name = _render_template(system, actor, meta, body, parts, wd)
        return commit_revision(
            system,
            actor,
            doc_id,
            path,
            name,
            designated_signer,
            approvers,
            template=_text(body, parts),
        )


def template_text(system: System, actor: str, doc_id: int) -> dict[str, Any] | None:
    """The text a template draft was last made from (``body``, ``parts``), or None for a
    draft made from a file."""
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        event = s.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "document",
                AuditEvent.object_id == str(doc.id),
                AuditEvent.action.in_(("document.create", "document.revise")),
            )
            .order_by(AuditEvent.seq.desc())
        ).first()
        details = json.loads(event.details) if event is not None else {}
        text = details.get("template")
        return text if isinstance(text, dict) else None
