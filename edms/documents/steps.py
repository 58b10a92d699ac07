"""One entry for every step by name (:func:`perform`), and ``register``, which picks the
outgoing or incoming register step from the document's direction.

Invariants: unknown step names are :class:`NotFound`; each step is the same function the
CLI, the API and the web interface call directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    NotFound,
)
from ..models import (
    Document,
)
from ..orgs import (
    load_user,
)
from ..system import System
from .incoming import (
    assign,
    complete,
    hand_back,
    register_incoming,
    return_to_sender,
    start_progress,
    verify,
)
from .issuing import issue, number, register_outgoing, revoke, seal
from .keeping import set_legal_hold
from .labels import INCOMING
from .lifecycle import StepResult, load_document
from .outgoing import approve, reject, submit
from .signing import sign


def register(system: System, actor: str, doc_id: int, note: str = "", holder: str = "") -> Document:
    """Enter an outgoing document in its register, or give an incoming one its arrival
    number, whichever the document is."""
    with system.sessions() as s:
        doc = load_document(s, load_user(s, actor), doc_id)
        incoming = doc.direction == INCOMING
    if incoming:
        return register_incoming(system, actor, doc_id, note)
    return register_outgoing(system, actor, doc_id, holder=holder, note=note)


def perform(
    system: System, actor: str, doc_id: int, name: str, data: Mapping[str, Any]
) -> Document | StepResult:
    """Run lifecycle step ``name`` with its inputs (``note``, ``reason``, ``holder``,
    ``authority``, ``level``, ``lead_unit``, ``co_units``, ``lead_user``, ``co_users``,
    ``instruction``, ``deadline``, ``on``, and for ``sign`` the leader's ``confirm``), as the
    API and the web interface both do."""
    note, reason = str(data.get("note") or ""), str(data.get("reason") or "")
    calls: dict[str, Callable[[], Document | StepResult]] = {
        "submit": lambda: submit(system, actor, doc_id, note),
        "approve": lambda: approve(system, actor, doc_id, note),
        "reject": lambda: reject(system, actor, doc_id, reason),
        "sign": lambda: sign(
            system,
            actor,
            doc_id,
            authority=data.get("authority"),
            level=data.get("level"),
            confirm=data.get("confirm"),
        ),
        "number": lambda: number(system, actor, doc_id),
        "seal": lambda: seal(system, actor, doc_id, level=data.get("level")),
        "register": lambda: register(system, actor, doc_id, note, str(data.get("holder") or "")),
        "issue": lambda: issue(system, actor, doc_id, note),
        "revoke": lambda: revoke(system, actor, doc_id, reason),
        "verify": lambda: verify(system, actor, doc_id),
        "return": lambda: return_to_sender(system, actor, doc_id, reason),
        "assign": lambda: assign(
            system,
            actor,
            doc_id,
            str(data.get("lead_unit") or ""),
            tuple(data.get("co_units") or ()),
            str(data.get("instruction") or ""),
            data.get("deadline"),
            lead_user=str(data.get("lead_user") or ""),
            co_users=tuple(data.get("co_users") or ()),
        ),
        "handback": lambda: hand_back(system, actor, doc_id, reason),
        "progress": lambda: start_progress(system, actor, doc_id, note),
        "complete": lambda: complete(system, actor, doc_id, note),
        "hold": lambda: set_legal_hold(system, actor, doc_id, bool(data.get("on")), reason),
    }
    if name not in calls:
        raise NotFound(f"no step {name!r}")
    return calls[name]()
