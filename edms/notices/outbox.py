"""The notification outbox: domain events become notices, in the event's transaction.

:func:`on_event` (subscribed in :data:`edms.events.SUBSCRIBERS`) maps a domain event to a
notice of the catalogue, finds its recipients — the citizen of a dossier, or the staff
concerned — and writes one ``notices`` row per recipient and channel:

* ``email``: to the person's address, when the installation has an SMTP server;
* ``sms`` / ``zalo``: to every active webhook of the agency serving that channel (a
  gateway), with the person's telephone number;
* ``webhook``: once per event to every active integration webhook (``events``) that
  listens to it, whoever the recipients are.

A person is told only on the channels they chose (a citizen at reception, staff on their
preferences page), never of a notice they turned off, never of their own action; a notice
made in their quiet hours waits for the end of them (integrations have none). Each row's
``delivery_id`` is derived from the event id, the recipient and the channel, so an event
seen twice (a daily check run twice) yields the same rows once.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..events import Event
from ..models import (
    Agency,
    Assignment,
    Document,
    Notice,
    NoticePreference,
    NoticeSettings,
    NoticeTemplate,
    NoticeWebhook,
    Procedure,
    ProcedureDossier,
    User,
)
from ..numbering import VN_TZ
from . import catalog

log = logging.getLogger("edms.notices")
_NAMESPACE = uuid.UUID("3f7f3f0e-2d7a-4b7e-9a43-6a1b7e0c9d55")

# Domain event -> notice of the catalogue.
MAPPING = {
    "dossier.received": "dossier.received",
    "dossier.result_ready": "dossier.result_ready",
    "dossier.late": "dossier.late",
    "document.assign": "document.assigned",
    "document.submit": "document.awaiting_signature",
    "document.approve": "document.awaiting_signature",
    "document.due_tomorrow": "document.due_tomorrow",
    "document.overdue": "document.overdue",
    "exchange.refused": "exchange.refused",
    "notice.test": "notice.test",
}


@dataclass(frozen=True)
class Recipient:
    key: str  # citizen:<dossier id> | user:<id> | address:<e-mail> (a test mail)
    name: str
    email: str
    phone: str
    channels: tuple[str, ...]
    quiet: tuple[str, str] | None
    muted: frozenset[str] = frozenset()


def _now() -> datetime:
    return datetime.now(UTC)


def _clock(value: str) -> time | None:
    try:
        h, m = value.split(":")
        return time(int(h), int(m))
    except ValueError:
        return None


def after_quiet(now: datetime, quiet: tuple[str, str] | None) -> datetime:
    """``now``, or the end of the quiet hours (Vietnam time) if ``now`` is inside them."""
    if not quiet:
        return now
    start, end = _clock(quiet[0]), _clock(quiet[1])
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(VN_TZ)
    t = local.time()
    if start < end:
        inside, end_day = start <= t < end, local.date()
    else:  # over midnight, e.g. 21:00–07:00
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return now
    return datetime.combine(end_day, end, VN_TZ).astimezone(UTC)


def _day(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else "(không có)"


# -- recipients and values --------------------------------------------------------------------


def _staff(s: Session, users: list[User], notice: str, actor: str) -> list[Recipient]:
    out = []
    for u in users:
        if not u.active or u.username == actor:
            continue
        pref = s.get(NoticePreference, u.id)
        if pref is None:
            continue
        muted = frozenset(json.loads(pref.muted or "[]"))
        out.append(
            Recipient(
                f"user:{u.id}",
                u.full_name,
                pref.email,
                pref.phone,
                tuple(c for c in pref.channels.split(",") if c),
                (pref.quiet_start, pref.quiet_end) if pref.quiet_start else None,
                muted,
            )
        )
    return [r for r in out if notice not in r.muted]


def _citizen(s: Session, d: ProcedureDossier) -> Recipient:
    st = s.get(NoticeSettings, d.agency_id)
    quiet = (st.quiet_start, st.quiet_end) if st is not None else ("21:00", "07:00")
    return Recipient(
        f"citizen:{d.id}",
        d.applicant_name,
        d.email,
        d.phone,
        tuple(c for c in d.channels.split(",") if c),
        quiet if quiet[0] else None,
    )


def _unit_users(s: Session, agency_id: int, unit_ids: set[int]) -> list[User]:
    if not unit_ids:
        return []
    return list(
        s.scalars(select(User).where(User.agency_id == agency_id, User.unit_id.in_(unit_ids)))
    )


def _with_role(s: Session, agency_id: int, role: str) -> list[User]:
    return [
        u for u in s.scalars(select(User).where(User.agency_id == agency_id)) if role in u.role_set
    ]


def _document_values(s: Session, doc: Document) -> dict[str, str]:
    from ..documents import STATE_NAMES_VI

    a = s.scalars(
        select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
    ).first()
    due = a.deadline if a is not None and a.deadline else doc.due_date
    return {
        "so_ky_hieu": f"{doc.code_number}/{doc.code_notation}"
        if doc.code_number
        else f"(chưa có số, mã {doc.id})",
        "trich_yeu": doc.subject,
        "noi_gui": doc.organ_name,
        "han_xu_ly": _day(due),
        "trang_thai": STATE_NAMES_VI.get(doc.state, doc.state),
        "link_van_ban": f"/van-ban/{doc.id}",
    }


def _dossier_values(s: Session, d: ProcedureDossier) -> dict[str, str]:
    from ..reception import STATUS_VI, vn_date

    proc = s.get(Procedure, d.procedure_id)
    today = vn_date(_now())
    return {
        "ma_ho_so": d.code,
        "thu_tuc": proc.name if proc else "",
        "nguoi_nop": d.applicant_name,
        "ngay_tiep_nhan": _day(vn_date(d.received_at)),
        "ngay_hen_tra": _day(d.promised_date),
        "trang_thai": STATUS_VI[d.status],
        "link_tra_cuu": "/tra-cuu",
        "so_ngay_qua_han": str(max(0, (today - d.promised_date).days)),
    }


def audience(
    s: Session, event: Event, notice: str
) -> tuple[list[Recipient], dict[str, str], dict[str, Any]]:
    """Who receives ``notice`` for ``event``, the template values, and the data the
    integrations get."""
    data: dict[str, Any] = {k: v for k, v in event.data.items() if k != "address"}
    if notice.startswith("dossier."):
        d = s.get(ProcedureDossier, event.data["dossier_id"])
        if d is None:
            return [], {}, data
        values = _dossier_values(s, d)
        data.update(
            code=d.code,
            status=d.status,
            promised_date=d.promised_date.isoformat(),
            lookup_url=f"/tra-cuu?ma={d.code}",
        )
        people = [_citizen(s, d)]
        if notice == "dossier.late":
            clerk = s.get(User, d.received_by)
            people += _staff(s, [clerk] if clerk else [], notice, event.actor)
        return people, values, data
    if notice == "notice.test":
        address = str(event.data.get("address", ""))
        return [Recipient(f"address:{address}", address, address, "", ("email",), None)], {}, data
    doc = s.get(Document, event.data.get("document_id") or 0)
    if doc is None:
        return [], {}, data
    values = _document_values(s, doc)
    data.update(
        document_id=doc.id,
        number=values["so_ky_hieu"],
        subject=doc.subject,
        deadline=values["han_xu_ly"],
        state=doc.state,
    )
    if notice in ("document.assigned", "document.due_tomorrow", "document.overdue"):
        a = s.scalars(
            select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
        ).first()
        units = set() if a is None else {a.lead_unit_id, *json.loads(a.co_unit_ids)}
        users = _unit_users(s, doc.agency_id, units)
        if notice == "document.overdue" and a is not None:
            leader = s.get(User, a.assigned_by)
            users += [leader] if leader is not None and leader not in users else []
        return _staff(s, users, notice, event.actor), values, data
    if notice == "document.awaiting_signature":
        from ..documents.designation import waiting_for  # the person named, if any

        named = waiting_for(s, doc)
        person = s.get(User, named) if named is not None else None
        users = [person] if person is not None else _with_role(s, doc.agency_id, "leader")
        return _staff(s, users, notice, event.actor), values, data
    if notice == "exchange.refused":
        values.update(
            co_quan_nhan=str(event.data.get("peer", "")),
            ly_do=str(event.data.get("reason", "")) or "(không nêu)",
        )
        creator = s.get(User, doc.created_by)
        users = _with_role(s, doc.agency_id, "clerk")
        users += [creator] if creator is not None and creator not in users else []
        return _staff(s, users, notice, event.actor), values, data
    return [], values, data


# -- writing the rows ----------------------------------------------------------------------------


def wording(s: Session, agency_id: int, notice: str, form: str) -> tuple[str, str]:
    """The agency's (subject, body) of ``notice`` in ``form``: an administrator's, else
    the default."""
    row = s.get(NoticeTemplate, (agency_id, notice, form))
    return (row.subject, row.body) if row is not None else catalog.default(notice, form)


def delivery_id(event_id: str, recipient: str, channel: str, target: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}|{recipient}|{channel}|{target}"))


def on_event(s: Session, event: Event) -> None:
    """Subscriber (edms.events): the event's notices, written in its transaction. What
    they say is composed at their first delivery attempt (:func:`compose`), from the
    values kept here."""
    notice = MAPPING.get(event.name)
    if notice is None:
        return
    agency = s.get(Agency, event.agency_id)
    if agency is None:
        return
    people, values, data = audience(s, event, notice)
    webhooks = list(
        s.scalars(
            select(NoticeWebhook).where(
                NoticeWebhook.agency_id == agency.id, NoticeWebhook.active.is_(True)
            )
        )
    )
    now = _now()
    rows: list[Notice] = []

    def row(
        channel: str,
        person: Recipient | None,
        address: str,
        hook: NoticeWebhook | None,
        due: datetime,
    ) -> None:
        key = person.key if person is not None else ""
        did = delivery_id(event.id, key, channel, address if hook is None else f"webhook:{hook.id}")
        context = {
            "values": values,
            "data": data,
            "occurred_at": event.at.astimezone(VN_TZ).isoformat(timespec="seconds"),
            "recipient": None
            if person is None
            else {
                "name": person.name,
                "phone": person.phone,
                "email": person.email,
                "kind": key.split(":")[0],
            },
        }
        rows.append(
            Notice(
                delivery_id=did,
                event_id=event.id,
                event=notice,
                agency_id=agency.id,
                subject_ref=event.subject[:80],
                channel=channel,
                recipient=key,
                address=address[:300],
                webhook_id=hook.id if hook else None,
                context=json.dumps(context, ensure_ascii=False, default=str),
                state="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
        )

    for person in people:
        due = after_quiet(now, person.quiet)
        for channel in person.channels:
            if channel == "email" and person.email:
                row("email", person, person.email, None, due)
            elif channel in ("sms", "zalo") and person.phone:
                for hook in webhooks:
                    if hook.serves == channel:
                        row(channel, person, person.phone, hook, due)
    for hook in webhooks:
        wanted = json.loads(hook.events or "[]")
        if hook.serves == "events" and notice != "notice.test" and (not wanted or notice in wanted):
            row("webhook", None, "", hook, now)
    _insert(s, rows)


def compose(s: Session, n: Notice, settings: Settings) -> None:
    """Fill in what ``n`` says, once (the same words and bytes at every later attempt):
    the agency's wording of the notice, links made absolute with ``EDMS_PUBLIC_URL``, and
    for a webhook the JSON body it signs."""
    if n.body:
        return
    agency = s.get(Agency, n.agency_id)
    assert agency is not None
    context = json.loads(n.context or "{}")
    base = settings.public_url
    values = {
        k: (base + v if k.startswith("link_") else v) for k, v in context.get("values", {}).items()
    }
    values["co_quan"] = agency.name
    person = context.get("recipient")
    if person:
        values["nguoi_nhan"] = person["name"]
    data = dict(context.get("data", {}))
    if "lookup_url" in data:
        data["lookup_url"] = base + data["lookup_url"]
    subject_t, body_t = wording(s, agency.id, n.event, "email" if n.channel == "email" else "text")
    n.subject = catalog.render(subject_t, values)[:300]
    n.body = catalog.render(body_t, values)
    if n.webhook_id is not None:
        n.payload = json.dumps(
            {
                "id": n.delivery_id,
                "event_id": n.event_id,
                "event": n.event,
                "occurred_at": context.get("occurred_at"),
                "agency": {"code": agency.code, "name": agency.name},
                "channel": n.channel,
                "recipient": person,
                "message": {
                    "subject": n.subject,
                    "text": n.body,
                    "text_ascii": catalog.ascii_text(n.body),
                },
                "data": data,
            },
            ensure_ascii=False,
            sort_keys=True,
        )


def _insert(s: Session, rows: list[Notice]) -> None:
    """Add the rows not written yet (the same event seen again writes nothing). No flush
    here: this may run inside one (an event seen on rows being flushed, edms.events)."""
    if not rows:
        return
    existing = set(
        s.scalars(
            select(Notice.delivery_id).where(Notice.delivery_id.in_([r.delivery_id for r in rows]))
        )
    )
    s.add_all(r for r in rows if r.delivery_id not in existing)
