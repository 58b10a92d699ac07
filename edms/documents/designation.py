"""Who acts next on an outgoing draft: its designated signer (người ký) and the people who
approve it first (người duyệt, in order).

Invariants: the designated signer is an active leader of the draft's agency; approvers are
active users of that agency, each named once and never the signer. A submitted draft waits
for the first approver who has not approved since the last submission, then for the signer
(who approves it when nobody else is named). Only that person approves or sends it back
(a named approver needs no leader role); only the designated signer signs. A draft with
neither (documents made before designation existed) keeps the older rule: any leader
approves, sends back and signs. Refusals are :class:`Forbidden`, in Vietnamese.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ClientError, Forbidden, InvalidTransition
from ..models import Document, StatusEvent, User
from ..orgs import require_role
from .labels import OUTGOING, STATE_NAMES_VI
from .lifecycle import STEPS, Step, check_step


def _colleague(s: Session, agency_id: int, username: str, what: str) -> User:
    user = s.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active or user.agency_id != agency_id:
        raise ClientError(f'{what} "{username.strip()[:60]}" không phải người dùng của cơ quan')
    return user


def resolve_people(
    s: Session, agency_id: int, signer: str | None, approvers: Sequence[str]
) -> tuple[int | None, list[int]]:
    """The user ids of the designated signer and the approvers, checked (see the module's
    invariants); ``signer`` None or "" designates nobody."""
    signer_id = None
    if signer and signer.strip():
        leader = _colleague(s, agency_id, signer, "Người ký")
        if "leader" not in leader.role_set:
            raise ClientError(
                f'Người ký "{leader.full_name}" không phải lãnh đạo của cơ quan: '
                "chỉ lãnh đạo ký văn bản"
            )
        signer_id = leader.id
    ids: list[int] = []
    for name in (a for a in approvers if a and a.strip()):
        person = _colleague(s, agency_id, name, "Người duyệt")
        if person.id in ids:
            raise ClientError(f'"{person.full_name}" được chọn duyệt hai lần')
        if person.id == signer_id:
            raise ClientError(
                f'"{person.full_name}" là người ký: không cần chọn thêm làm người duyệt'
            )
        ids.append(person.id)
    return signer_id, ids


def approver_ids(doc: Document) -> list[int]:
    return [int(i) for i in json.loads(doc.approver_ids or "[]")]


def approvals_done(s: Session, doc: Document) -> int:
    """How many approvals the draft has had since it was last submitted."""
    events = list(
        s.scalars(
            select(StatusEvent)
            .where(StatusEvent.document_id == doc.id)
            .order_by(StatusEvent.id.desc())
        )
    )
    done = 0
    for ev in events:
        if ev.action == "submit":
            break
        if ev.action == "approve":
            done += 1
    return done


def waiting_for(s: Session, doc: Document) -> int | None:
    """The user the draft waits for now (None: any leader, or nobody)."""
    if doc.direction != OUTGOING:
        return None
    if doc.state == "submitted":
        named = approver_ids(doc)
        done = approvals_done(s, doc)
        if done < len(named):
            return named[done]
        return doc.designated_signer_id
    if doc.state == "approved":
        return doc.designated_signer_id
    return None


def _name(s: Session, user_id: int | None) -> str:
    user = s.get(User, user_id) if user_id is not None else None
    return user.full_name if user is not None else "người khác"


_DOING = {"approve": "duyệt dự thảo", "reject": "trả lại dự thảo"}


def _open(doc: Document, step: Step) -> None:
    """The frozen and state checks of :func:`.lifecycle.check_step`, for a named approver
    (who is not checked for the leader role)."""
    if doc.frozen:
        raise InvalidTransition(
            f"document {doc.id} is frozen ({doc.frozen_reason}); nothing can be changed"
        )
    if doc.state not in step.from_states:
        raise InvalidTransition(
            f"Không thể {_DOING[step.name]}: văn bản {doc.id} đang ở trạng thái "
            f"{STATE_NAMES_VI[doc.state]}"
        )


def check_approve(s: Session, user: User, doc: Document) -> Step:
    """The approval step for this user now: the last approval moves the draft to
    ``approved``; an earlier one leaves it ``submitted`` for the next approver."""
    step = STEPS[(OUTGOING, "approve")]
    named = approver_ids(doc)
    if not named and doc.designated_signer_id is None:
        return check_step(user, doc, "approve")  # the older rule: any leader
    if user.id not in named:
        check_step(user, doc, "approve")  # the signer is a leader
    else:
        _open(doc, step)
    expected = waiting_for(s, doc)
    if expected is not None and expected != user.id:
        raise Forbidden(
            f"Dự thảo đang chờ {_name(s, expected)} duyệt; bạn không phải người được giao "
            "duyệt ở bước này."
        )
    if doc.state == "submitted" and approvals_done(s, doc) + 1 < len(named):
        return dataclasses.replace(step, to_state="submitted")
    return step


def check_reject(s: Session, user: User, doc: Document) -> Step:
    """Sending back: by the person the draft waits for, or by its designated signer."""
    step = STEPS[(OUTGOING, "reject")]
    if not approver_ids(doc) and doc.designated_signer_id is None:
        return check_step(user, doc, "reject")
    expected = waiting_for(s, doc)
    if user.id in (expected, doc.designated_signer_id):
        if "leader" in user.role_set:
            return check_step(user, doc, "reject")
        _open(doc, step)
        return step
    require_role(user, *step.roles, action=step.label)
    _open(doc, step)
    raise Forbidden(
        f"Chỉ {_name(s, expected or doc.designated_signer_id)} (người được giao) mới trả "
        "lại dự thảo này."
    )


def check_signer(s: Session, user: User, doc: Document) -> None:
    """Only the designated signer signs a draft that names one."""
    if doc.designated_signer_id is not None and doc.designated_signer_id != user.id:
        raise Forbidden(
            f"Văn bản này được trình {_name(s, doc.designated_signer_id)} ký; bạn không phải "
            "người ký được giao."
        )


def may_act(s: Session, user: User, doc: Document) -> bool:
    """Whether the draft waits for this user now (their "Chờ tôi ký" and "Chờ duyệt")."""
    expected = waiting_for(s, doc)
    if expected is not None:
        return expected == user.id
    if doc.state == "submitted" and approver_ids(doc):
        return False
    return "leader" in user.role_set and doc.designated_signer_id is None
