"""Receiving a dossier at the desk and reprinting its receipt.

Invariants: the application is checked whole before anything is written (bad input is a
ClientError, nothing half-written); the dossier code comes from one atomic counter per
agency and day; the promised date is computed at reception in working or calendar days
from the day after; reprinting issues a new secret and voids the old one.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit, workdays
from ..errors import ClientError, InvalidTransition
from ..models import (
    Agency,
    DossierCounter,
    Procedure,
    ProcedureDossier,
    ProcedureDossierStep,
    User,
)
from ..orgs import load_user, require_role
from ..procedures import by_code as procedure_by_code
from ..system import System
from .common import (
    CHANNELS,
    EMAIL,
    PAPER_FORMS,
    PHONE,
    RECEIVED,
    Application,
    Paper,
    Receipt,
    _event,
    _load,
    _now,
    _run,
    _step,
    hash_secret,
    lookup_url,
    new_secret,
    vn_date,
)


def _check(app: Application) -> Application:
    name = " ".join(app.applicant_name.split())
    if not name or len(name) > 200:
        raise ClientError("the applicant's full name is required, up to 200 characters")
    phone = app.phone.strip()
    if phone and not PHONE.match(phone):
        raise ClientError(f"{phone[:30]!r} is not a telephone number")
    email = app.email.strip()
    if email and (len(email) > 200 or not EMAIL.match(email)):
        raise ClientError(f"{email[:60]!r} is not an e-mail address")
    channels = tuple(dict.fromkeys(c.strip() for c in app.channels if c.strip()))
    for c in channels:
        if c not in CHANNELS:
            raise ClientError(f"unknown channel {c!r} (email, sms, zalo)")
    if "email" in channels and not email:
        raise ClientError("notices by e-mail need the applicant's e-mail address")
    if {"sms", "zalo"} & set(channels) and not phone:
        raise ClientError("notices by SMS or Zalo need the applicant's telephone number")
    papers = []
    for p in app.papers:
        if not p.name.strip():
            continue
        if p.form not in PAPER_FORMS:
            raise ClientError(f"unknown form of paper {p.form!r} ({', '.join(PAPER_FORMS)})")
        if not 1 <= p.count <= 99:
            raise ClientError("a paper is handed in 1 to 99 times")
        papers.append(Paper(p.name.strip()[:300], p.form, p.count))
    if len(papers) > 60:
        raise ClientError("at most 60 papers on one receipt")
    for label, value, limit in (
        ("identity number", app.applicant_id, 20),
        ("address", app.address, 300),
        ("note", app.note, 1000),
    ):
        if len(value.strip()) > limit:
            raise ClientError(f"the {label} is longer than {limit} characters")
    return Application(
        app.procedure_code.strip(),
        name,
        app.applicant_id.strip(),
        " ".join(app.address.split()),
        phone,
        email,
        channels,
        tuple(papers),
        app.note.strip(),
    )


def _take_code(s: Session, agency: Agency, day: date) -> str:
    """The next code of the day: one atomic ``UPDATE … RETURNING`` per agency and day."""
    try:
        with s.begin_nested():
            s.add(DossierCounter(agency_id=agency.id, day=day, next_number=1))
    except IntegrityError:
        pass  # the day's counter exists
    n = (
        s.execute(
            update(DossierCounter)
            .where(DossierCounter.agency_id == agency.id, DossierCounter.day == day)
            .values(next_number=DossierCounter.next_number + 1)
            .returning(DossierCounter.next_number)
        ).scalar_one()
        - 1
    )
    return f"{agency.code}-{day:%y%m%d}-{n:04d}"


def _receipt(system: System, s: Session, d: ProcedureDossier, secret: str) -> Receipt:
    from ..procedures import time_vi

    agency = s.get(Agency, d.agency_id)
    proc = s.get(Procedure, d.procedure_id)
    clerk = s.get(User, d.received_by)
    assert agency is not None and proc is not None and clerk is not None
    return Receipt(
        d.code,
        secret,
        lookup_url(system, d.code),
        agency.name,
        agency.place,
        proc.code,
        proc.name,
        time_vi(d.days, d.day_kind),
        d.applicant_name,
        d.applicant_id,
        d.address,
        d.phone,
        d.email,
        [Paper(**p) for p in json.loads(d.papers or "[]")],
        d.received_at,
        d.promised_date,
        clerk.full_name,
        [c for c in d.channels.split(",") if c],
    )


def receive(system: System, actor: str, app: Application, at: datetime | None = None) -> Receipt:
    """Receive a citizen's dossier (the one-stop desk's clerks and officers): its code,
    the promised date, the look-up secret, the ``dossier.received`` event."""
    app = _check(app)

    def work(s: Session) -> Receipt:
        user = load_user(s, actor)
        require_role(user, "clerk", "officer", action="receive citizens' dossiers")
        proc = procedure_by_code(s, user.agency_id, app.procedure_code)
        if not proc.active:
            raise InvalidTransition(f"procedure {proc.code} is no longer received")
        agency = s.get(Agency, user.agency_id)
        assert agency is not None
        now = at or _now()
        day = vn_date(now)
        promised = workdays.due_date(s, day, proc.days, proc.day_kind)
        secret = new_secret()
        d = ProcedureDossier(
            agency_id=agency.id,
            code=_take_code(s, agency, day),
            procedure_id=proc.id,
            applicant_name=app.applicant_name,
            applicant_id=app.applicant_id,
            address=app.address,
            phone=app.phone,
            email=app.email,
            channels=",".join(app.channels),
            papers=json.dumps([vars(p) for p in app.papers], ensure_ascii=False),
            note=app.note,
            status=RECEIVED,
            received_at=now,
            received_by=user.id,
            days=proc.days,
            day_kind=proc.day_kind,
            promised_date=promised,
            secret_hash=hash_secret(secret),
            updated_at=now,
        )
        s.add(d)
        s.flush()
        _step(
            s,
            d,
            user.username,
            "receive",
            RECEIVED,
            details={"procedure": proc.code, "promised_date": promised.isoformat()},
        )
        _event(s, "dossier.received", d, user.username)
        return _receipt(system, s, d, secret)

    return _run(system, work)


def reissue_receipt(system: System, actor: str, code: str) -> Receipt:
    """A new receipt with a new look-up secret (the old one stops working): a citizen who
    lost theirs. Audited."""

    def work(s: Session) -> Receipt:
        user = load_user(s, actor)
        require_role(user, "clerk", "officer", action="reissue a receipt")
        d = _load(s, user, code)
        secret = new_secret()
        d.secret_hash, d.updated_at = hash_secret(secret), _now()
        s.flush()
        s.add(
            ProcedureDossierStep(
                dossier_id=d.id,
                at=_now(),
                actor=user.username,
                action="reissue",
                from_status=d.status,
                to_status=d.status,
                note="cấp lại phiếu, mã tra cứu mới",
            )
        )
        audit.record(
            s, user.username, "dossier.reissue", "procedure_dossier", str(d.id), {"code": d.code}
        )
        return _receipt(system, s, d, secret)

    return _run(system, work)
