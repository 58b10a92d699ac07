"""Release (phát hành) of a signed outgoing document by the clerk in one confirmed action:
number → seal → register → issue.

Invariants:

* Each step is the lifecycle's own step (:mod:`.issuing`), run in its own transaction, so
  each is recorded separately (status history + audit) exactly as when taken one by one.
* :func:`release` starts from the document's current state: a release that stopped at a
  step continues from that step; a step already done is never run again, so a number is
  never taken twice, and a refused step gives its number back (:mod:`edms.numbering`).
* When a step fails the document stays in the state of the last successful step and the
  outcome names the step that failed; nothing after it runs.
* :func:`release_plan` only reads: the next number it shows is peeked, not reserved.
* Refusals known before anything is done (not a clerk, wrong state, no recipients) are
  raised before the first step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import audit
from ..db import transaction
from ..doctypes import number_and_symbol
from ..errors import (
    ClientError,
    EdmsError,
    Forbidden,
    InvalidTransition,
    ServiceUnavailable,
    UpstreamUnavailable,
)
from ..models import Document
from ..numbering import peek_number
from ..orgs import active_key, load_user, require_role
from ..system import System
from .issuing import issue, number, outgoing_symbol, register_kind, register_outgoing, seal
from .labels import OUTGOING, STATE_NAMES_VI, now_utc
from .lifecycle import STEPS, load_document

# the steps of a release, the state each starts from (the lifecycle's), and their names for
# a person
ORDER = ("number", "seal", "register", "issue")
FROM_STATE = {name: STEPS[(OUTGOING, name)].from_states[0] for name in ORDER}
STEP_NAMES_VI = {
    "number": "cấp số",
    "seal": "ký số cơ quan",
    "register": "vào sổ",
    "issue": "ban hành",
}


@dataclass(frozen=True)
class ReleasePlan:
    """What a release will do, shown before the clerk confirms."""

    document_id: int
    subject: str
    state: str
    state_vi: str
    remaining: tuple[str, ...]  # the steps still to run, in order
    number_and_symbol: str  # the number taken, or the one it will take (peeked)
    number_taken: bool
    recipients: tuple[str, ...]
    seal_level: str
    seal_key: bool  # an active seal key is bound to the agency
    holder: str


@dataclass
class ReleaseOutcome:
    document_id: int
    done: list[str] = field(default_factory=list)
    failed: str | None = None  # the step that failed
    reason: str = ""  # the refusal as the step raised it
    reason_vi: str = ""  # what happened, for a person
    state: str = ""
    number_and_symbol: str = ""

    @property
    def complete(self) -> bool:
        return self.failed is None

    @property
    def state_vi(self) -> str:
        return STATE_NAMES_VI.get(self.state, self.state)


def _remaining(doc: Document) -> tuple[str, ...]:
    if doc.direction != OUTGOING or doc.frozen or doc.state not in FROM_STATE.values():
        raise InvalidTransition(
            f"document {doc.id} cannot be released: it is {STATE_NAMES_VI[doc.state]} "
            f"({doc.state}); a release needs a signed outgoing document"
        )
    start = next(i for i, s in enumerate(ORDER) if FROM_STATE[s] == doc.state)
    return ORDER[start:]


def release_plan(system: System, actor: str, doc_id: int) -> ReleasePlan:
    """The release page's facts: the steps to run, the number and symbol the document
    will take (peeked, not reserved), the recipients and the seal's level."""
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        require_role(user, "clerk", action="release documents")
        remaining = _remaining(doc)
        if doc.number is not None:
            shown, taken = number_and_symbol(doc.number, doc.code_notation or ""), True
        else:
            n = peek_number(s, doc.agency_id, register_kind(doc), now_utc())
            shown, taken = number_and_symbol(n, outgoing_symbol(s, doc)), False
        try:
            active_key(s, agency_id=doc.agency_id)
            has_key = True
        except Forbidden:
            has_key = False
        return ReleasePlan(
            document_id=doc.id,
            subject=doc.subject,
            state=doc.state,
            state_vi=STATE_NAMES_VI[doc.state],
            remaining=remaining,
            number_and_symbol=shown,
            number_taken=taken,
            recipients=tuple(str(r.get("name", "")) for r in json.loads(doc.recipients)),
            seal_level=system.settings.sign_level_seal,
            seal_key=has_key,
            holder=doc.holder,
        )


def release(
    system: System, actor: str, doc_id: int, *, holder: str = "", note: str = ""
) -> ReleaseOutcome:
    """Run the remaining steps of the release in order, each recorded on its own; stop at
    the first that fails and say which (the document keeps the last state reached)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        require_role(user, "clerk", action="release documents")
        remaining = _remaining(doc)
        if not json.loads(doc.recipients):
            raise ClientError(f"document {doc_id} has no recipients (nơi nhận) to issue it to")
    runs: dict[str, Callable[[], object]] = {
        "number": lambda: number(system, actor, doc_id),
        "seal": lambda: seal(system, actor, doc_id),
        "register": lambda: register_outgoing(system, actor, doc_id, holder=holder, note=note),
        "issue": lambda: issue(system, actor, doc_id, note),
    }
    outcome = ReleaseOutcome(doc_id)
    for name in remaining:
        try:
            runs[name]()
        except EdmsError as exc:
            outcome.failed, outcome.reason = name, exc.message
            outcome.reason_vi = _reason_vi(name, exc)
            break
        outcome.done.append(name)
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        doc = load_document(s, user, doc_id)
        outcome.state = doc.state
        if doc.number is not None:
            outcome.number_and_symbol = number_and_symbol(doc.number, doc.code_notation or "")
        audit.record(
            s,
            user.username,
            "document.release",
            "document",
            str(doc_id),
            {
                "done": outcome.done,
                **({"failed": outcome.failed, "reason": outcome.reason} if outcome.failed else {}),
            },
        )
    return outcome


def _reason_vi(step: str, exc: EdmsError) -> str:
    """Why a step failed, in words a clerk acts on."""
    text = exc.message.lower()
    if step == "seal" and "seal key" in text:
        return (
            "Cơ quan chưa có khóa ký số (con dấu điện tử): quản trị cần gắn khóa ký số của cơ quan."
        )
    if isinstance(exc, UpstreamUnavailable | ServiceUnavailable):
        return (
            "Dịch vụ liên quan (dấu thời gian, kiểm tra chứng thư, kho lưu trữ) tạm thời "
            "không trả lời."
        )
    if isinstance(exc, InvalidTransition):
        return "Tình trạng văn bản đã thay đổi trong lúc thực hiện."
    if isinstance(exc, ClientError):
        return "Thông tin của văn bản chưa đủ để thực hiện bước này."
    return "Hệ thống gặp lỗi khi thực hiện bước này."
