"""Citizens' dossiers (hồ sơ thủ tục hành chính) at the one-stop desk: reception with a
receipt, handling, the result, and the citizen's own look-up.

Lifecycle::

    received → in_progress → result_ready → delivered
         ↘__________↘ refused (with the reason)

Invariants:

* **A code and a secret.** A dossier's code is ``{agency code}-{yyMMdd}-{nnnn}`` (MaHoSo:
  the day it was received and that day's sequence, one atomic counter per agency and day).
  The receipt also carries a short look-up secret (8 characters, 40 bits, no look-alike
  letters). Only a slow salted hash of the secret is stored (scrypt), so the database
  never holds it; reprinting a receipt issues a new secret and voids the old one.
* **The public look-up tells nothing to a stranger.** It needs the code *and* the secret;
  a wrong secret and an unknown code get the same answer, after the same work (a hash is
  computed against a dummy when the code is unknown; the comparison is constant-time).
  Attempts are limited per client address and per code typed, existing or not, and the
  answer holds the status, the promised date, whether it is late and the result — nothing
  about the applicant.
* **The promised date** is computed at reception from the procedure's time, in working
  days over the holidays (edms.workdays) or in calendar days, counted from the day after
  the reception day (Civil Code, Art. 147); it is kept with the time it was computed from.
* **The result** is a document of the agency that was issued: a digitized, agency-signed
  copy made for this dossier code (linked by edms.digitization.pipeline when it is made),
  or an outgoing document set as the result (ready when it is issued). The dossier is then
  ``result_ready`` and the citizen downloads the signed file from the look-up.
* Every step commits with its history entry, its audit event and its domain event
  (``dossier.received``, ``dossier.result_ready``) in one transaction; concurrent steps
  on one dossier are serialised by its ``version`` (the second is refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit, events, workdays
from .auth import TooManyAttempts
from .db import transaction
from .errors import Conflict, EdmsError, InvalidTransition, NotFound
from .models import (
    Agency,
    Blob,
    DigitizedCopy,
    Document,
    DocumentFile,
    DossierCounter,
    DossierLookup,
    Procedure,
    ProcedureDossier,
    ProcedureDossierDocument,
    ProcedureDossierStep,
    User,
)
from .numbering import VN_TZ
from .orgs import load_user, may_see, require_role
from .procedures import by_code as procedure_by_code
from .system import System

T = TypeVar("T")

RECEIVED, IN_PROGRESS, READY, DELIVERED, REFUSED = (
    "received",
    "in_progress",
    "result_ready",
    "delivered",
    "refused",
)
STATUS_VI = {
    RECEIVED: "Đã tiếp nhận",
    IN_PROGRESS: "Đang giải quyết",
    READY: "Đã có kết quả",
    DELIVERED: "Đã trả kết quả",
    REFUSED: "Từ chối giải quyết",
}
OPEN = (RECEIVED, IN_PROGRESS)
STEP_VI = {
    "receive": "Tiếp nhận",
    "start": "Chuyển giải quyết",
    "result": "Có kết quả",
    "deliver": "Trả kết quả",
    "refuse": "Từ chối giải quyết",
    "reissue": "In lại phiếu, cấp mã tra cứu mới",
}
CHANNELS = {"email": "Thư điện tử", "sms": "Tin nhắn SMS", "zalo": "Zalo"}
PAPER_FORMS = {
    "original": "Bản chính",
    "copy": "Bản sao",
    "certified": "Bản sao chứng thực",
    "electronic": "Bản điện tử",
}
STAFF = ("clerk", "officer", "leader", "admin")

SECRET_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's: no I, L, O, U
SECRET_LENGTH = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY_SALT = b"edms-lookup-dummy-salt"
LOOKUP_WINDOW = timedelta(minutes=15)
MAX_FAILED_PER_CLIENT = 20
MAX_FAILED_PER_CODE = 10
MAX_PER_CLIENT = 120
PHONE = re.compile(r"^\+?[0-9 .-]{8,20}$")
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")


def _now() -> datetime:
    return datetime.now(UTC)


def vn_date(t: datetime) -> date:
    return t.astimezone(VN_TZ).date()


# -- the look-up secret ---------------------------------------------------------------------


def new_secret() -> str:
    raw = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_secret(value: str) -> str:
    """As typed: any case, spaces and dashes ignored, O read as 0 and I or L as 1."""
    v = re.sub(r"[\s-]+", "", value or "").upper()
    return v.translate(str.maketrans("OIL", "011"))[:64]


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        normalise_secret(secret).encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT
    )


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return (
        "scrypt$"
        + base64.b64encode(salt).decode()
        + "$"
        + base64.b64encode(_scrypt(secret, salt)).decode()
    )


def secret_matches(stored: str | None, secret: str) -> bool:
    """Constant-time; does the same work whether ``stored`` exists or not."""
    try:
        _kind, salt_b64, digest_b64 = (stored or "").split("$")
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        salt, digest = _DUMMY_SALT, b"\0" * 32
    ok = hmac.compare_digest(_scrypt(secret, salt), digest)
    return ok and stored is not None


# -- reception ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paper:
    name: str
    form: str = "copy"
    count: int = 1


@dataclass(frozen=True)
class Application:
    """What the clerk enters at the desk."""

    procedure_code: str
    applicant_name: str
    applicant_id: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    channels: tuple[str, ...] = ()
    papers: tuple[Paper, ...] = ()
    note: str = ""


@dataclass
class Receipt:
    """A dossier just received (or its receipt reissued): everything the receipt prints,
    with the look-up secret, which exists only here."""

    code: str
    secret: str
    lookup_url: str
    agency_name: str
    agency_place: str
    procedure_code: str
    procedure_name: str
    time_vi: str
    applicant_name: str
    applicant_id: str
    address: str
    phone: str
    email: str
    papers: list[Paper]
    received_at: datetime
    promised_date: date
    clerk_name: str
    channels: list[str] = field(default_factory=list)


def lookup_url(system: System, code: str) -> str:
    return f"{system.settings.public_url}/tra-cuu?ma={code}"


def _check(app: Application) -> Application:
    name = " ".join(app.applicant_name.split())
    if not name or len(name) > 200:
        raise EdmsError("the applicant's full name is required, up to 200 characters")
    phone = app.phone.strip()
    if phone and not PHONE.match(phone):
        raise EdmsError(f"{phone[:30]!r} is not a telephone number")
    email = app.email.strip()
    if email and (len(email) > 200 or not EMAIL.match(email)):
        raise EdmsError(f"{email[:60]!r} is not an e-mail address")
    channels = tuple(dict.fromkeys(c.strip() for c in app.channels if c.strip()))
    for c in channels:
        if c not in CHANNELS:
            raise EdmsError(f"unknown channel {c!r} (email, sms, zalo)")
    if "email" in channels and not email:
        raise EdmsError("notices by e-mail need the applicant's e-mail address")
    if {"sms", "zalo"} & set(channels) and not phone:
        raise EdmsError("notices by SMS or Zalo need the applicant's telephone number")
    papers = []
    for p in app.papers:
        if not p.name.strip():
            continue
        if p.form not in PAPER_FORMS:
            raise EdmsError(f"unknown form of paper {p.form!r} ({', '.join(PAPER_FORMS)})")
        if not 1 <= p.count <= 99:
            raise EdmsError("a paper is handed in 1 to 99 times")
        papers.append(Paper(p.name.strip()[:300], p.form, p.count))
    if len(papers) > 60:
        raise EdmsError("at most 60 papers on one receipt")
    for label, value, limit in (
        ("identity number", app.applicant_id, 20),
        ("address", app.address, 300),
        ("note", app.note, 1000),
    ):
        if len(value.strip()) > limit:
            raise EdmsError(f"the {label} is longer than {limit} characters")
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


def _step(
    s: Session,
    d: ProcedureDossier,
    actor: str,
    action: str,
    to: str,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    before = d.status if d.id is not None and action != "receive" else None
    d.status, d.updated_at = to, _now()
    if note:
        d.status_note = note
    s.flush()
    s.add(
        ProcedureDossierStep(
            dossier_id=d.id,
            at=_now(),
            actor=actor,
            action=action,
            from_status=before,
            to_status=to,
            note=note,
        )
    )
    audit.record(
        s,
        actor,
        f"dossier.{action}",
        "procedure_dossier",
        str(d.id),
        {
            "code": d.code,
            "from": before,
            "to": to,
            **({"note": note} if note else {}),
            **(details or {}),
        },
    )


def _event(s: Session, name: str, d: ProcedureDossier, actor: str, **data: Any) -> None:
    events.emit(
        s,
        events.Event(
            name,
            d.agency_id,
            f"dossier:{d.code}",
            actor,
            {"dossier_id": d.id, "code": d.code, **data},
        ),
    )


def _receipt(system: System, s: Session, d: ProcedureDossier, secret: str) -> Receipt:
    from .procedures import time_vi

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


def _run(system: System, work: Callable[[Session], T]) -> T:
    try:
        with transaction(system.sessions) as s:
            return work(s)
    except StaleDataError:
        raise Conflict(
            "the dossier was changed by someone else meanwhile; reload it and try again"
        ) from None


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


def _load(s: Session, user: User, code: str) -> ProcedureDossier:
    d = s.scalars(select(ProcedureDossier).where(ProcedureDossier.code == code.strip())).first()
    if d is None or d.agency_id != user.agency_id:
        raise NotFound(f"no dossier {code.strip()[:60]}")
    return d


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
        raise EdmsError("a reason is required to refuse a dossier")
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


# -- documents handled for the dossier, and its result --------------------------------------


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
        raise EdmsError("a document is linked as 'handled' or as the 'result'")

    def work(s: Session) -> ProcedureDossier:
        user = load_user(s, actor)
        require_role(user, *STAFF, action="link documents to a dossier")
        d = _load(s, user, code)
        doc = s.get(Document, doc_id)
        if doc is None or not may_see(s, user, doc):
            raise NotFound(f"no document {doc_id}")
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


# -- reading, for staff --------------------------------------------------------------------------


def is_late(d: ProcedureDossier, today: date | None = None) -> bool:
    """Late: its result (or refusal) came after the promised date, or it is still open
    past it."""
    done = d.result_at or (d.finished_at if d.status == REFUSED else None)
    return (vn_date(done) if done else today or vn_date(_now())) > d.promised_date


@dataclass
class DossierView:
    dossier: ProcedureDossier
    procedure: Procedure
    steps: list[ProcedureDossierStep]
    documents: list[tuple[ProcedureDossierDocument, Document]]
    received_by: str
    late: bool


def get(system: System, actor: str, code: str) -> DossierView:
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        d = _load(s, user, code)
        proc = s.get(Procedure, d.procedure_id)
        clerk = s.get(User, d.received_by)
        assert proc is not None and clerk is not None
        links = list(
            s.execute(
                select(ProcedureDossierDocument, Document)
                .join(Document, Document.id == ProcedureDossierDocument.document_id)
                .where(ProcedureDossierDocument.dossier_id == d.id)
                .order_by(ProcedureDossierDocument.added_at)
            ).all()
        )
        steps = list(
            s.scalars(
                select(ProcedureDossierStep)
                .where(ProcedureDossierStep.dossier_id == d.id)
                .order_by(ProcedureDossierStep.id)
            )
        )
        audit.record(
            s, user.username, "dossier.read", "procedure_dossier", str(d.id), {"code": d.code}
        )
        return DossierView(
            d,
            proc,
            steps,
            [(a, b) for a, b in links if may_see(s, user, b)],
            clerk.full_name,
            is_late(d),
        )


def list_dossiers(
    system: System,
    actor: str,
    *,
    status: str | None = None,
    late_only: bool = False,
    query: str = "",
    limit: int = 200,
) -> list[tuple[ProcedureDossier, str]]:
    """The agency's dossiers (newest first) with their procedure's name; ``late_only``:
    open ones past their promised date."""
    with system.sessions() as s:
        user = load_user(s, actor)
        require_role(user, *STAFF, action="list citizens' dossiers")
        q = (
            select(ProcedureDossier, Procedure.name)
            .join(Procedure, Procedure.id == ProcedureDossier.procedure_id)
            .where(ProcedureDossier.agency_id == user.agency_id)
        )
        if status:
            if status not in STATUS_VI:
                raise EdmsError(f"unknown status {status!r}")
            q = q.where(ProcedureDossier.status == status)
        if late_only:
            q = q.where(
                ProcedureDossier.status.in_(OPEN), ProcedureDossier.promised_date < vn_date(_now())
            )
        text = query.strip()[:100]
        if text:
            like = f"%{text}%"
            q = q.where(
                ProcedureDossier.code.ilike(like) | ProcedureDossier.applicant_name.ilike(like)
            )
        rows = s.execute(
            q.order_by(ProcedureDossier.received_at.desc()).limit(min(max(limit, 1), 1000))
        ).all()
        return [(d, name) for d, name in rows]


@dataclass(frozen=True)
class Stats:
    received: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    open_on_time: int = 0
    open_late: int = 0


def statistics(system: System, actor: str, start: date, end: date) -> Stats:
    """Dossiers received in [start, end]: handled early, on time, late; open ones on time
    or late today (the figures one-stop centres publish)."""
    with system.sessions() as s:
        user = load_user(s, actor)
        rows = list(
            s.scalars(select(ProcedureDossier).where(ProcedureDossier.agency_id == user.agency_id))
        )
    today = vn_date(_now())
    counts = {"received": 0, "early": 0, "on_time": 0, "late": 0, "open_on_time": 0, "open_late": 0}
    for d in rows:
        if not start <= vn_date(d.received_at) <= end:
            continue
        counts["received"] += 1
        done = d.result_at or (d.finished_at if d.status == REFUSED else None)
        if done is None:
            counts["open_late" if today > d.promised_date else "open_on_time"] += 1
        else:
            day = vn_date(done)
            key = (
                "early"
                if day < d.promised_date
                else "on_time"
                if day == d.promised_date
                else "late"
            )
            counts[key] += 1
    return Stats(**counts)


# -- the citizen's look-up ----------------------------------------------------------------------


class LookupFailed(NotFound):
    """No dossier with this code and secret (one answer for both causes)."""

    title = "Not found"
    type_slug = "not-found"


LOOKUP_FAILED_VI = (
    "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này. Hãy kiểm tra lại "
    "hai mã in trên Phiếu tiếp nhận và hẹn trả kết quả."
)


@dataclass(frozen=True)
class PublicStatus:
    """All the look-up shows."""

    code: str
    status: str
    status_vi: str
    promised_date: date
    late: bool
    result_available: bool


def _limit(s: Session, client: str, code: str) -> None:
    since = _now() - LOOKUP_WINDOW
    recent = DossierLookup.at >= since
    failed = recent & DossierLookup.success.is_(False)
    by_client = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(
            DossierLookup.client == client, recent
        )
    ).one()
    failed_client = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(
            DossierLookup.client == client, failed
        )
    ).one()
    failed_code = s.execute(
        select(func.count(), func.min(DossierLookup.at)).where(DossierLookup.code == code, failed)
    ).one()
    for (count, first), limit in (
        (by_client, MAX_PER_CLIENT),
        (failed_client, MAX_FAILED_PER_CLIENT),
        (failed_code, MAX_FAILED_PER_CODE),
    ):
        if count >= limit:
            wait = max(1, int((first + LOOKUP_WINDOW - _now()).total_seconds()) + 1)
            raise TooManyAttempts("too many look-ups; try again later", retry_after=wait)


def _find(
    system: System, code: str, secret: str, client: str
) -> tuple[ProcedureDossier, Document | None]:
    """The dossier for ``code`` and ``secret``, the attempt recorded; else LookupFailed."""
    code = (code or "").strip().upper()[:60]
    client = (client or "?")[:64]
    with system.sessions() as s:
        _limit(s, client, code)
        d = (
            s.scalars(select(ProcedureDossier).where(ProcedureDossier.code == code)).first()
            if code
            else None
        )
    ok = secret_matches(d.secret_hash if d is not None else None, secret)
    with transaction(system.sessions) as s:
        s.add(DossierLookup(at=_now(), client=client, code=code, success=ok))
    if not ok or d is None:
        raise LookupFailed("no dossier with this code and look-up secret")
    with system.sessions() as s:
        doc = s.get(Document, d.result_document_id) if d.result_document_id else None
        if doc is not None:
            revoked = s.scalars(
                select(DigitizedCopy.revoked_at).where(DigitizedCopy.document_id == doc.id)
            ).first()
            if doc.state != "issued" or doc.frozen or revoked is not None:
                doc = None  # a revoked result is not handed out
    return d, doc


def lookup(system: System, code: str, secret: str, client: str) -> PublicStatus:
    """The citizen's look-up (no login): see the module's invariants."""
    d, doc = _find(system, code, secret, client)
    with transaction(system.sessions) as s:
        audit.record(
            s, "public", "dossier.lookup", "procedure_dossier", str(d.id), {"client": client[:64]}
        )
    return PublicStatus(
        d.code,
        d.status,
        STATUS_VI[d.status],
        d.promised_date,
        is_late(d),
        doc is not None and d.status in (READY, DELIVERED),
    )


def result_file(system: System, code: str, secret: str, client: str) -> tuple[Blob, str]:
    """The signed result file (its stored blob and a download name), for the holder of
    the code and secret."""
    d, doc = _find(system, code, secret, client)
    if doc is None or d.status not in (READY, DELIVERED):
        raise NotFound("the result of this dossier is not available yet")
    with transaction(system.sessions) as s:
        f = s.scalars(
            select(DocumentFile)
            .where(DocumentFile.document_id == doc.id, DocumentFile.role == "main")
            .order_by(DocumentFile.id.desc())
        ).first()
        blob = s.get(Blob, f.sha256) if f is not None else None
        if blob is None:
            raise NotFound("the result of this dossier is not available yet")
        audit.record(
            s,
            "public",
            "dossier.result_download",
            "procedure_dossier",
            str(d.id),
            {"document": doc.id, "sha256": blob.sha256, "client": client[:64]},
        )
        s.expunge(blob)
    return blob, f"ket-qua-{d.code}.pdf"


def purge_lookups(system: System, older_than: timedelta = timedelta(days=1)) -> int:
    """Look-up attempts are kept only as long as rate limiting needs them."""
    from sqlalchemy import delete

    with transaction(system.sessions) as s:
        return int(
            s.execute(delete(DossierLookup).where(DossierLookup.at < _now() - older_than)).rowcount
            or 0
        )  # type: ignore[attr-defined]
