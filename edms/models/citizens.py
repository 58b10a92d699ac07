"""Citizens' side (issue 21): administrative procedures, dossiers received from citizens
with their documents and steps, counters and lookups, working days (holidays) and notices
with their templates, webhooks, preferences and delivery attempts.

Invariants: dossier numbers come from :class:`DossierCounter` (one sequence per agency and
year); every delivery attempt of a notice is logged, replays included.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

# -- citizens: procedures, dossiers received, working days, notices (issue 21) ---------------


class Holiday(Base):
    """A day that breaks the Monday–Friday week (edms.workdays): a holiday or day off
    (``off``), or a weekend day worked in exchange (``work``). Installation-wide."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))  # off | work
    name: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(8), default="admin")  # seeded | admin
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HolidayYear(Base):
    """A year whose holidays were seeded (never again by itself: administrators' changes
    stay), and who confirmed it against the Government's announcement."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seeded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seeded_by: Mapped[str] = mapped_column(String(100), default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[str] = mapped_column(String(100), default="")


class Procedure(Base):
    """An administrative procedure (thủ tục hành chính) the agency receives dossiers for:
    its code (MaTTHC), its processing time and the papers a citizen hands in."""

    __tablename__ = "procedures"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(500))
    field: Mapped[str] = mapped_column(String(200), default="")  # lĩnh vực
    days: Mapped[int] = mapped_column(Integer)
    day_kind: Mapped[str] = mapped_column(String(8), default="working")  # working | calendar
    papers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of paper names
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcedureDossier(Base):
    """A citizen's dossier received for a procedure (hồ sơ TTHC), with its code (MaHoSo),
    the promised date and the hash of the look-up secret printed on the receipt (never the
    secret). ``version`` serialises concurrent steps."""

    __tablename__ = "procedure_dossiers"
    __table_args__ = (Index("ix_procedure_dossiers_open", "agency_id", "status", "promised_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    code: Mapped[str] = mapped_column(String(50), unique=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id: Mapped[str] = mapped_column(String(20), default="")  # CCCD, tax code
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    channels: Mapped[str] = mapped_column(String(50), default="")  # email,sms,zalo
    papers: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{name, form, count}]
    note: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16))
    status_note: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    days: Mapped[int] = mapped_column(Integer)
    day_kind: Mapped[str] = mapped_column(String(8))
    promised_date: Mapped[date] = mapped_column(Date)
    secret_hash: Mapped[str] = mapped_column(String(200))
    result_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's API)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcedureDossierDocument(Base):
    """A document handled for a dossier (``handled``), or its result (``result``)."""

    __tablename__ = "procedure_dossier_documents"
    __table_args__ = (Index("ix_procedure_dossier_documents_document", "document_id"),)

    dossier_id: Mapped[int] = mapped_column(ForeignKey("procedure_dossiers.id"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))  # handled | result
    added_by: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcedureDossierStep(Base):
    """The history of a dossier: each step, who took it, and its note."""

    __tablename__ = "procedure_dossier_steps"
    __table_args__ = (Index("ix_procedure_dossier_steps_dossier", "dossier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("procedure_dossiers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class DossierCounter(Base):
    """The daily sequence of dossier codes (``{agency}-{yyMMdd}-{nnnn}``)."""

    __tablename__ = "procedure_dossier_counters"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class DossierLookup(Base):
    """A public look-up (``/tra-cuu``), kept a day for rate limiting: by client address
    and by the code typed, whether or not such a dossier exists."""

    __tablename__ = "dossier_lookups"
    __table_args__ = (
        Index("ix_dossier_lookups_client_at", "client", "at"),
        Index("ix_dossier_lookups_code_at", "code", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(60))
    success: Mapped[bool] = mapped_column(Boolean)


class NoticeSettings(Base):
    """An agency's notice settings: the quiet hours of citizens' notices (Vietnam time)."""

    __tablename__ = "notice_settings"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")  # "" : none
    quiet_end: Mapped[str] = mapped_column(String(5), default="07:00")
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoticeTemplate(Base):
    """An administrator's wording of one notice (``email``: subject and body; ``text``: the
    short message SMS and Zalo gateways send). Events without a row use the default."""

    __tablename__ = "notice_templates"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    form: Mapped[str] = mapped_column(String(8), primary_key=True)  # email | text
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoticeWebhook(Base):
    """A receiver of signed JSON notices: an SMS or Zalo gateway (``serves`` sms / zalo:
    it gets each person's notice on that channel) or an integration (``events``: every
    event listed, or all). Its HMAC secret is kept sealed (edms.notices.webhooks)."""

    __tablename__ = "notice_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret_box: Mapped[str] = mapped_column(Text)
    serves: Mapped[str] = mapped_column(String(8))  # events | sms | zalo
    events: Mapped[str] = mapped_column(Text, default="[]")  # JSON; [] = every event
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoticePreference(Base):
    """How a member of staff wants to be told: addresses, channels, quiet hours, and the
    notices they turned off."""

    __tablename__ = "notice_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    channels: Mapped[str] = mapped_column(String(50), default="")  # email,sms,zalo
    quiet_start: Mapped[str] = mapped_column(String(5), default="")
    quiet_end: Mapped[str] = mapped_column(String(5), default="")
    muted: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of events
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notice(Base):
    """One notice to deliver (the notification outbox), written in the transaction of the
    event it tells of. ``delivery_id`` (from the event id, the recipient and the channel)
    is the same at every retry and replay: receivers deduplicate on it."""

    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_due", "state", "next_attempt_at"),
        Index("ix_notices_agency", "agency_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(40))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    subject_ref: Mapped[str] = mapped_column(String(80), default="")  # dossier:…, document:…
    channel: Mapped[str] = mapped_column(String(8))  # email | sms | zalo | webhook
    recipient: Mapped[str] = mapped_column(String(60), default="")  # citizen:… | user:… | ""
    address: Mapped[str] = mapped_column(String(300), default="")  # e-mail or phone
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("notice_webhooks.id"))
    context: Mapped[str] = mapped_column(Text, default="{}")  # the event's values (JSON)
    # composed at the first attempt, then the same at every retry and replay
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str] = mapped_column(Text, default="")  # the webhook's JSON, as sent
    state: Mapped[str] = mapped_column(String(10))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NoticeAttempt(Base):
    """The delivery log: one row per attempt (or replay) of a notice."""

    __tablename__ = "notice_attempts"
    __table_args__ = (Index("ix_notice_attempts_notice", "notice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="")  # HTTP or SMTP code
    detail: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
