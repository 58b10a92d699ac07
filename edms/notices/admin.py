"""Administering notices: the agency's wording and quiet hours, each person's preferences,
the delivery log, a test mail. Administrators of an agency see and change only their
agency's; every person edits only their own preferences. Changes are audited."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit, events
from ..db import transaction
from ..errors import ClientError, NotFound
from ..models import (
    Notice,
    NoticeAttempt,
    NoticePreference,
    NoticeSettings,
    NoticeTemplate,
    NoticeWebhook,
)
from ..orgs import load_user, require_role
from ..reception import CHANNELS, EMAIL, PHONE
from ..system import System
from . import catalog
from .outbox import _clock, wording

STATES_VI = {"pending": "Đang chờ gửi", "delivered": "Đã gửi", "failed": "Gửi không được"}
CHANNELS_VI = {**CHANNELS, "webhook": "Webhook tích hợp"}


def _now() -> datetime:
    return datetime.now(UTC)


def _admin(s: Session, actor: str) -> int:
    user = load_user(s, actor)
    require_role(user, "admin", action="administer notices")
    return user.agency_id


def _quiet(start: str, end: str) -> tuple[str, str]:
    start, end = start.strip(), end.strip()
    if not start and not end:
        return "", ""
    a, b = _clock(start), _clock(end)
    if a is None or b is None or not (start[:2].isdigit() and len(start) == 5 and len(end) == 5):
        raise ClientError("quiet hours are two times HH:MM (e.g. 21:00 and 07:00), or none")
    return start, end


# -- the agency's settings and wording -------------------------------------------------------


def quiet_hours(system: System, actor: str) -> tuple[str, str]:
    """Citizens' quiet hours (default 21:00–07:00)."""
    with system.sessions() as s:
        row = s.get(NoticeSettings, load_user(s, actor).agency_id)
        return (row.quiet_start, row.quiet_end) if row else ("21:00", "07:00")


def set_quiet_hours(system: System, actor: str, start: str, end: str) -> None:
    start, end = _quiet(start, end)
    with transaction(system.sessions) as s:
        agency_id = _admin(s, actor)
        row = s.get(NoticeSettings, agency_id)
        if row is None:
            row = NoticeSettings(agency_id=agency_id)
            s.add(row)
        row.quiet_start, row.quiet_end = start, end
        row.updated_by, row.updated_at = actor, _now()
        audit.record(
            s, actor, "notice.quiet_hours", "agency", str(agency_id), {"start": start, "end": end}
        )


@dataclass(frozen=True)
class Wording:
    notice: str
    form: str
    subject: str
    body: str
    custom: bool


def wordings(system: System, actor: str) -> list[Wording]:
    """Every notice's wording in both forms, the agency's or the default."""
    with system.sessions() as s:
        agency_id = _admin(s, actor)
        custom = {
            (t.event, t.form)
            for t in s.scalars(select(NoticeTemplate).where(NoticeTemplate.agency_id == agency_id))
        }
        return [
            Wording(name, form, *wording(s, agency_id, name, form), (name, form) in custom)
            for name in catalog.NOTICES
            for form in catalog.FORMS
        ]


def save_wording(
    system: System, actor: str, notice: str, form: str, subject: str, body: str
) -> None:
    subject, body = catalog.check_template(notice, form, subject, body)
    with transaction(system.sessions) as s:
        agency_id = _admin(s, actor)
        row = s.get(NoticeTemplate, (agency_id, notice, form))
        if row is None:
            row = NoticeTemplate(agency_id=agency_id, event=notice, form=form)
            s.add(row)
        row.subject, row.body, row.updated_by, row.updated_at = subject, body, actor, _now()
        audit.record(
            s, actor, "notice.template", "notice_template", f"{notice}/{form}", {"subject": subject}
        )


def reset_wording(system: System, actor: str, notice: str, form: str) -> None:
    catalog.spec(notice)
    with transaction(system.sessions) as s:
        agency_id = _admin(s, actor)
        row = s.get(NoticeTemplate, (agency_id, notice, form))
        if row is not None:
            s.delete(row)
            audit.record(s, actor, "notice.template_reset", "notice_template", f"{notice}/{form}")


# -- a person's preferences -------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    email: str = ""
    phone: str = ""
    channels: tuple[str, ...] = ()
    quiet_start: str = ""
    quiet_end: str = ""
    muted: tuple[str, ...] = ()


def preference(system: System, actor: str) -> Preference:
    with system.sessions() as s:
        row = s.get(NoticePreference, load_user(s, actor).id)
        if row is None:
            return Preference()
        return Preference(
            row.email,
            row.phone,
            tuple(c for c in row.channels.split(",") if c),
            row.quiet_start,
            row.quiet_end,
            tuple(json.loads(row.muted)),
        )


def save_preference(system: System, actor: str, pref: Preference) -> None:
    """A member of staff's own choices (any role)."""
    email, phone = pref.email.strip(), pref.phone.strip()
    if email and (len(email) > 200 or not EMAIL.match(email)):
        raise ClientError(f"{email[:60]!r} is not an e-mail address")
    if phone and not PHONE.match(phone):
        raise ClientError(f"{phone[:30]!r} is not a telephone number")
    channels = tuple(dict.fromkeys(pref.channels))
    for c in channels:
        if c not in CHANNELS:
            raise ClientError(f"unknown channel {c!r} (email, sms, zalo)")
    if "email" in channels and not email:
        raise ClientError("notices by e-mail need your e-mail address")
    if {"sms", "zalo"} & set(channels) and not phone:
        raise ClientError("notices by SMS or Zalo need your telephone number")
    muted = [m for m in dict.fromkeys(pref.muted)]
    for m in muted:
        if catalog.spec(m).audience != catalog.STAFF:
            raise ClientError(f"{m} is not a notice for staff")
    start, end = _quiet(pref.quiet_start, pref.quiet_end)
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        row = s.get(NoticePreference, user.id)
        if row is None:
            row = NoticePreference(user_id=user.id)
            s.add(row)
        row.email, row.phone, row.channels = email, phone, ",".join(channels)
        row.quiet_start, row.quiet_end = start, end
        row.muted, row.updated_at = json.dumps(muted), _now()
        audit.record(
            s,
            user.username,
            "notice.preference",
            "user",
            user.username,
            {"channels": list(channels), "muted": muted, "quiet": [start, end] if start else None},
        )


# -- the delivery log -------------------------------------------------------------------------


def log(
    system: System,
    actor: str,
    *,
    state: str | None = None,
    notice: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[int, list[Notice]]:
    with system.sessions() as s:
        agency_id = _admin(s, actor)
        q = select(Notice).where(Notice.agency_id == agency_id)
        if state:
            q = q.where(Notice.state == state)
        if notice:
            q = q.where(Notice.event == notice)
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(
            s.scalars(
                q.order_by(Notice.id.desc()).offset((max(page, 1) - 1) * per_page).limit(per_page)
            )
        )
        return int(total), rows


def detail(
    system: System, actor: str, notice_id: int
) -> tuple[Notice, list[NoticeAttempt], NoticeWebhook | None]:
    with system.sessions() as s:
        agency_id = _admin(s, actor)
        n = s.get(Notice, notice_id)
        if n is None or n.agency_id != agency_id:
            raise NotFound(f"no notice {notice_id}")
        attempts = list(
            s.scalars(
                select(NoticeAttempt)
                .where(NoticeAttempt.notice_id == n.id)
                .order_by(NoticeAttempt.id)
            )
        )
        hook = s.get(NoticeWebhook, n.webhook_id) if n.webhook_id else None
        return n, attempts, hook


def send_test(system: System, actor: str, address: str) -> str:
    """Queue a test e-mail to ``address`` (the delivery log shows how it went). Returns
    the event id."""
    address = address.strip()
    if not EMAIL.match(address) or len(address) > 200:
        raise ClientError(f"{address[:60]!r} is not an e-mail address")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        require_role(user, "admin", action="send a test e-mail")
        event = events.Event(
            "notice.test",
            user.agency_id,
            f"user:{user.username}",
            user.username,
            {"address": address},
        )
        events.emit(s, event)
        audit.record(
            s, user.username, "notice.test", "agency", str(user.agency_id), {"address": address}
        )
        return event.id
