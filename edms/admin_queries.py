"""What administrators (and, for the audit trail, leaders) read: the administration page's
users, units, signing keys and agencies; the agency's audit events; the long-term
archive's health; the agency's exchange profile; and the audited check of an uploaded
PDF.

Invariants: every function takes ``(system, actor)`` and answers only about the actor's
own agency (a key is listed when the agency or one of its users holds it; audit events
are those :func:`edms.audit.events_for_agency` lets the agency read). Role checks are made
here, whatever the adapter already checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .models import Agency, SigningKey, User
from .orgs import load_user, require_role

if TYPE_CHECKING:
    from signing.validation import Report

    from .archive import ArchiveStatus
    from .system import System


def admin_overview(system: System, actor: str) -> dict[str, Any]:
    """The administration page: the agency's active users, its units, the active signing
    keys of the agency and its active users, and the agency directory (administrators)."""
    from sqlalchemy import or_

    from .accounts import agencies, list_users, units

    with system.sessions() as s:
        me = load_user(s, actor)
        require_role(me, "admin", action="open the administration page")
        agency = s.get(Agency, me.agency_id)
        agency_name = agency.name if agency is not None else ""
        owners = {
            u.id: u.full_name
            for u in s.scalars(
                select(User).where(User.agency_id == me.agency_id, User.active.is_(True))
            )
        }
        keys = s.scalars(
            select(SigningKey)
            .where(
                SigningKey.active.is_(True),
                or_(SigningKey.agency_id == me.agency_id, SigningKey.user_id.in_(list(owners))),
            )
            .order_by(SigningKey.id)
        )
        key_rows = [
            {
                "id": k.id,
                "kind": k.kind,
                "subject": k.subject,
                "owner": owners.get(k.user_id or -1) or agency_name,
                "sha": k.cert_sha256[:16],
                "image": bool(k.image_sha256),
            }
            for k in keys
        ]
    return {
        "users": list_users(system, actor, active_only=True),
        "units": units(system, actor),
        "keys": key_rows,
        "agencies": [(a.code, a.name) for a in agencies(system, actor)],
    }


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    hash: str


def audit_events(
    system: System,
    actor: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[int, list[AuditEntry]]:
    """The agency's audit events, newest first (administrators and leaders)."""
    from .audit import events_for_agency

    with system.sessions() as s:
        me = load_user(s, actor)
        require_role(me, "admin", "leader", action="read the audit trail")
        total, rows = events_for_agency(
            s,
            me.agency_id,
            object_type=object_type,
            object_id=object_id,
            page=page,
            per_page=per_page,
        )
        return total, [
            AuditEntry(
                e.seq,
                e.at,
                e.actor,
                e.action,
                e.object_type,
                e.object_id,
                json.loads(e.details),
                e.hash,
            )
            for e in rows
        ]


def archive_status(system: System, actor: str) -> ArchiveStatus:
    """The long-term archive's state for the actor's agency (administrators)."""
    from .archive import status

    with system.sessions() as s:
        me = load_user(s, actor)
        require_role(me, "admin", action="read the archive's state")
        agency_id = me.agency_id
    return status(system, agency_id=agency_id)


def exchange_profile(system: System, actor: str) -> dict[str, str]:
    """How the actor's agency appears in the packages it sends (From)."""
    from .exchange import directory

    with system.sessions() as s:
        return directory.profile(s, directory.agency_of(s, actor))


def verify_upload(system: System, actor: str, path: Path) -> Report:
    """Validate an uploaded PDF in the sandboxed validator and record that ``actor``
    checked it (``verify.file``, with the verdict)."""
    from . import audit
    from .db import transaction
    from .signatures import validate_sandboxed

    report = validate_sandboxed(system.settings, path)
    with transaction(system.sessions) as s:
        audit.record(
            s,
            actor,
            "verify.file",
            "file",
            report.file.get("sha256") or "?",
            {"valid": report.valid},
        )
    return report
