"""The database model (SQLAlchemy 2.0, typed). Each change comes with an Alembic migration
in ``edms/migrations/versions``; a test checks that the two agree on every backend."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime, utcnow


class Blob(Base):
    """A stored original: bytes in the object store, content-addressed by SHA-256."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(127))
    original_name: Mapped[str | None] = mapped_column(String(255))
    version_id: Mapped[str | None] = mapped_column(String(128))
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Agency(Base):
    """An agency (cơ quan): identifier in either form of QCVN 102:2016 / Decision 20."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    abbreviation: Mapped[str] = mapped_column(String(30))
    place: Mapped[str] = mapped_column(String(100), default="")  # the date line's place name


class Register(Base):
    """A numbering series (sổ đăng ký): per agency, kind and year."""

    __tablename__ = "registers"
    __table_args__ = (UniqueConstraint("agency_id", "kind", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[str] = mapped_column(String(16))  # outgoing | incoming | copies | secret
    year: Mapped[int] = mapped_column(Integer)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class AuditEvent(Base):
    """One event of the tamper-evident audit trail: each carries the hash of the one before,
    so an edited or deleted event breaks the chain."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's head (a single row): appending takes its row lock first, so events are
    numbered and chained strictly one after another on every database."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


# -- organisation: units, users, keys ------------------------------------------------------

ROLES = ("leader", "clerk", "officer", "admin")


class OrgUnit(Base):
    """An organisational unit (phòng, ban, bộ phận) of an agency: a drafting unit, a lead or
    co-operating unit for incoming documents."""

    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    abbreviation: Mapped[str] = mapped_column(String(30), default="")


class User(Base):
    """A person who works in the System, with roles (``leader``, ``clerk``, ``officer``,
    ``admin``; comma-separated) and the title shown under their signature."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100), default="")
    roles: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A leader's signing PIN (argon2id), confirmed for every signature with a server-held
    # key; consecutive wrong PINs slow further attempts down (edms.auth).
    signing_pin_hash: Mapped[str | None] = mapped_column(String(255))
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class SigningKey(Base):
    """A signing key bound to its holder: a leader's personal key (``user_id``) or the
    agency's seal key (``agency_id``, used by the clerk's office). ``locator`` (JSON) says
    where the key lives (development PKI label, PKCS#12 file, PKCS#11 token); the bound
    certificate's SHA-256 is checked on every use, so a key cannot be swapped silently."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[str] = mapped_column(String(10))  # dev | p12 | pkcs11
    locator: Mapped[str] = mapped_column(Text)
    cert_sha256: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(400))
    authority: Mapped[str] = mapped_column(String(100), default="")
    image_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- documents --------------------------------------------------------------------------------


class DocType(Base):
    """The 29 document types of Decree 30 (Appendix III) with their retention period
    (``retention_years``; NULL: permanent, vĩnh viễn)."""

    __tablename__ = "document_types"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    abbreviation: Mapped[str | None] = mapped_column(String(10))
    retention_years: Mapped[int | None] = mapped_column(Integer)


class Dossier(Base):
    """A dossier (hồ sơ), Appendix VI: documents grouped for keeping and handing over."""

    __tablename__ = "dossiers"
    __table_args__ = (UniqueConstraint("agency_id", "file_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    file_code: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(500))
    maintenance: Mapped[str] = mapped_column(String(30))  # "10 năm", "Vĩnh viễn"
    retention_years: Mapped[int | None] = mapped_column(Integer)
    rights: Mapped[str] = mapped_column(String(30), default="")
    creator: Mapped[str] = mapped_column(String(30), default="")
    language: Mapped[str] = mapped_column(String(50), default="Tiếng Việt")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(500), default="")
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Document(Base):
    """An official document, outgoing (văn bản đi) or incoming (văn bản đến), with the
    Appendix VI metadata. ``version`` grows with every state change: a transition is an
    ``UPDATE ... WHERE state = :expected AND version = :seen``, so two clerks cannot both
    apply it."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("register_id", "number"),
        UniqueConstraint("arrival_register_id", "arrival_number"),
        Index("ix_documents_agency_state", "agency_id", "direction", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    direction: Mapped[str] = mapped_column(String(8))  # outgoing | incoming
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy's API)
    type_code: Mapped[str] = mapped_column(ForeignKey("document_types.code"))
    # secrecy: 0 none, 1 mật, 2 tối mật, 3 tuyệt mật; priority: 0 thường, 1 khẩn,
    # 2 thượng khẩn, 3 hỏa tốc (QCVN 102 Priority)
    secrecy: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(500), default="")
    language: Mapped[str] = mapped_column(String(30), default="Tiếng Việt")
    page_amount: Mapped[int | None] = mapped_column(Integer)
    # number and symbol: the agency's own (outgoing) or the sender's (incoming)
    register_id: Mapped[int | None] = mapped_column(ForeignKey("registers.id"))
    number: Mapped[int | None] = mapped_column(Integer)
    code_number: Mapped[str | None] = mapped_column(String(11))
    code_notation: Mapped[str | None] = mapped_column(String(30))
    issued_date: Mapped[date | None] = mapped_column(Date)
    organ_id: Mapped[str | None] = mapped_column(String(35))  # issuing agency's identifier
    organ_name: Mapped[str] = mapped_column(String(200), default="")
    signer_position: Mapped[str] = mapped_column(String(100), default="")
    signer_name: Mapped[str] = mapped_column(String(50), default="")
    # the authority the competent person signed under (TM./KT./Q./TL./TUQ. line, edXML
    # SignerInfo/Competence), chosen when signing; "" for documents signed before it existed
    signer_competence: Mapped[str] = mapped_column(String(100), default="", server_default="")
    recipients: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{organ_id, name}]
    issued_amount: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(200), default="")  # keeps the file copy
    due_date: Mapped[date | None] = mapped_column(Date)
    drafting_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    # incoming
    arrival_register_id: Mapped[int | None] = mapped_column(ForeignKey("registers.id"))
    arrival_number: Mapped[int | None] = mapped_column(Integer)
    arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    to_places: Mapped[str] = mapped_column(String(1000), default="")
    passed_on_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # keeping
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    response_for_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DocumentFile(Base):
    """One file of a document, stored by hash: the draft, each signed version, attachments,
    a received original. The newest ``main`` version is the document's current PDF."""

    __tablename__ = "document_files"
    __table_args__ = (Index("ix_document_files_document", "document_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    role: Mapped[str] = mapped_column(String(16))  # main | attachment
    stage: Mapped[str] = mapped_column(String(16))  # draft | signed | numbered | sealed | received
    attachment_of: Mapped[int | None] = mapped_column(ForeignKey("document_files.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SignatureRecord(Base):
    """A signature the System applied, with who, when, the level and our validator's
    report on the file it produced."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("document_files.id"))
    profile: Mapped[str] = mapped_column(String(16))
    field_name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signing_key_id: Mapped[int] = mapped_column(ForeignKey("signing_keys.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(8))
    valid: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[str] = mapped_column(Text)


class ValidationRecord(Base):
    """The full validation report of a file as checked (incoming documents: on arrival)."""

    __tablename__ = "validation_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    file_id: Mapped[int] = mapped_column(ForeignKey("document_files.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    valid: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[str] = mapped_column(Text)


class Assignment(Base):
    """Who handles an incoming document: lead unit, co-operating units, the leader's
    instruction and a deadline. A new assignment supersedes the previous one."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    co_unit_ids: Mapped[str] = mapped_column(Text, default="[]")
    instruction: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    assigned_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    current: Mapped[bool] = mapped_column(Boolean, default=True)


class StatusEvent(Base):
    """The processing history of a document (the TraceHeaderList equivalent); ``code`` is
    the QCVN 102 status code the step corresponds to, where there is one."""

    __tablename__ = "document_status"
    __table_args__ = (Index("ix_document_status_document", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(2))
    note: Mapped[str] = mapped_column(Text, default="")


# -- authentication and background jobs ------------------------------------------------------


class LoginAttempt(Base):
    """Login attempts, for rate limiting (per user name and per client address)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(60))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class WebSession(Base):
    """A browser session, server-side: the cookie carries a random token whose SHA-256 is
    stored here, with the CSRF token the pages send back on every change."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """An API token for an integration: shown once, stored as its SHA-256, scoped,
    revocable, with an expiry. It acts as its user, within its scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who minted it: only a token its own user minted may carry the ``sign`` scope.
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Job(Base):
    """A background job (batch signing, large verification, ...): its state and progress
    are here whichever runner executes it (local pool or Redis queue)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_user", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(12))  # queued | running | succeeded | failed
    worker: Mapped[str | None] = mapped_column(String(80))  # host:pid running it
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- digitization ---------------------------------------------------------------------------


class DigitizedCopy(Base):
    """An electronic copy of a paper result (bản sao điện tử), tied to its administrative
    procedure dossier (Decree 45/2020, Circular 01/2023): the codes, the holder, the
    original's identification, the scan facts, and the public id its QR code points to."""

    __tablename__ = "digitized_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    dossier_code: Mapped[str] = mapped_column(String(50))  # MaHoSo
    procedure_code: Mapped[str] = mapped_column(String(50), default="")  # MaTTHC
    result_code: Mapped[str] = mapped_column(String(50), default="")
    holder_name: Mapped[str] = mapped_column(String(100), default="")
    original_type: Mapped[str] = mapped_column(String(200))
    original_number: Mapped[str] = mapped_column(String(50), default="")
    original_date: Mapped[date | None] = mapped_column(Date)
    copy_type: Mapped[str] = mapped_column(String(20), default="SAO Y")
    pages: Mapped[int] = mapped_column(Integer)
    min_dpi: Mapped[int] = mapped_column(Integer)
    ocr_language: Mapped[str] = mapped_column(String(20))
    signed_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Revoked (thu hồi): the public page then says so, whatever the file's signature.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class DirectoryEntry(Base):
    """A partner in one agency's exchange directory: who it is, where its inbox is, and the
    certificates it signs packages with, pinned by their SHA-256 fingerprints. Each agency
    keeps its own directory; a sender not listed in the addressee's cannot deliver."""

    __tablename__ = "exchange_directory"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))  # whose directory
    code: Mapped[str] = mapped_column(String(35))  # either identifier form
    alt_code: Mapped[str | None] = mapped_column(String(35))  # the other form, if known
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(500))  # base URL of its EDMS API
    certificates: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of PEM
    fingerprints: Mapped[str] = mapped_column(Text, default="[]")  # JSON: their SHA-256
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExchangeProfile(Base):
    """How an agency presents itself in the packages it sends (``From``): governing body,
    address, contacts and its public website (never the EDMS server's own address)."""

    __tablename__ = "exchange_profiles"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    in_charge: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    telephone: Mapped[str] = mapped_column(String(100), default="")
    fax: Mapped[str] = mapped_column(String(100), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExchangeMessage(Base):
    """One edXML package sent (``out``: an outbox entry with its delivery attempts) or
    received (``in``). Documents received are unique per sender and DocumentId."""

    __tablename__ = "exchange_messages"
    __table_args__ = (
        Index("ix_exchange_out_due", "direction", "state", "next_attempt_at"),
        Index("ix_exchange_document", "document_id"),
        Index(
            "uq_exchange_received_document",
            "agency_id",
            "peer_code",
            "document_key",
            unique=True,
            sqlite_where=text("direction = 'in' AND kind = 'document'"),
            postgresql_where=text("direction = 'in' AND kind = 'document'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))  # our agency
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    kind: Mapped[str] = mapped_column(String(8))  # document | status
    peer_code: Mapped[str] = mapped_column(String(35))  # the other agency
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    document_key: Mapped[str] = mapped_column(String(200))  # edXML DocumentId
    business_type: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str] = mapped_column(Text, default="")
    package_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    # out: pending | delivered | refused | failed;  in: accepted
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(Text)  # the signed receipt, as received/sent
    # the transport's handle (the axis's DocId: sender's for out, receiver's for in)
    transport_ref: Mapped[str | None] = mapped_column(String(64))
    packet_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the packet's own time
    staff: Mapped[str] = mapped_column(String(100), default="", server_default="")  # who
    staff_unit: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ExchangePoll(Base):
    """A polled transport's lease (one process polls the axis at a time) and last round."""

    __tablename__ = "exchange_polls"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str] = mapped_column(String(200), default="")
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


# -- this installation as an exchange axis (hub mode, edms.axis) -----------------------------


class AxisSystem(Base):
    """A document system that connects to this installation's axis (``/vdxp``) with its
    system id and shared secret; the secret is kept sealed (edms.axis.systems)."""

    __tablename__ = "axis_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # XroadVnpt-systemid
    name: Mapped[str] = mapped_column(String(200))
    secret_box: Mapped[str] = mapped_column(Text)  # AES-GCM sealed secret, base64
    secret_set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AxisAgency(Base):
    """An agency reached through the axis, and the system that serves it."""

    __tablename__ = "axis_agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("axis_systems.id"))
    code: Mapped[str] = mapped_column(String(35), unique=True)
    parent_code: Mapped[str] = mapped_column(String(35), default="")
    name: Mapped[str] = mapped_column(String(200))
    mail: Mapped[str] = mapped_column(String(200), default="")
    mobile: Mapped[str] = mapped_column(String(50), default="")
    fax: Mapped[str] = mapped_column(String(50), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AxisPackage(Base):
    """One package sent through the axis (``sendEdoc``), stored in the object store; the
    same bytes from the same system again are the same package (its first DocId)."""

    __tablename__ = "axis_packages"
    __table_args__ = (UniqueConstraint("sender_system_id", "package_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(36), unique=True)  # the sender's DocId
    sender_system_id: Mapped[int] = mapped_column(ForeignKey("axis_systems.id"))
    from_code: Mapped[str] = mapped_column(String(35))
    service_type: Mapped[str] = mapped_column(String(20), default="eDoc")
    message_type: Mapped[str] = mapped_column(String(10))  # edoc | status
    document_key: Mapped[str] = mapped_column(String(200))
    status_code: Mapped[str | None] = mapped_column(String(2))
    title: Mapped[str] = mapped_column(String(500), default="")
    notation: Mapped[str] = mapped_column(String(100), default="")
    package_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AxisDelivery(Base):
    """A package for one receiving agency, under the receiver's own DocId; its status is
    what the receiver reports (``updateStatus``) and the sender reads."""

    __tablename__ = "axis_deliveries"
    __table_args__ = (
        Index("ix_axis_deliveries_inbox", "receiver_system_id", "status"),
        UniqueConstraint("package_id", "to_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(36), unique=True)  # the receiver's DocId
    package_id: Mapped[int] = mapped_column(ForeignKey("axis_packages.id"), index=True)
    receiver_system_id: Mapped[int] = mapped_column(ForeignKey("axis_systems.id"))
    to_code: Mapped[str] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(20), default="initial")
    status_desc: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AxisNonce(Base):
    """A signed request already served (SHA-256 of its operation and MAC), kept while its
    timestamp is fresh: the same request again is a replay."""

    __tablename__ = "axis_nonces"

    system_id: Mapped[int] = mapped_column(ForeignKey("axis_systems.id"), primary_key=True)
    mac: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# -- long-term archiving and scheduled maintenance -------------------------------------------


class ArchiveFile(Base):
    """What a stored signed file's long-term proof rests on (edms.archive): read once per
    file (content-addressed, so the facts never change), with the last renewal refusal."""

    __tablename__ = "archive_files"

    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    level: Mapped[str] = mapped_column(String(8))  # none | B-B | B-T | B-LT | B-LTA
    signatures: Mapped[int] = mapped_column(Integer, default=0)
    document_timestamps: Mapped[int] = mapped_column(Integer, default=0)
    last_timestamp_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tsa: Mapped[str] = mapped_column(String(200), default="")
    tsa_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    algorithms: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    problem: Mapped[str | None] = mapped_column(Text)  # the file could not be read
    renew_error: Mapped[str | None] = mapped_column(Text)  # why the last renewal failed
    renew_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScheduledTask(Base):
    """A maintenance task run once per period by whichever process takes its lease first
    (edms.maintenance): when it last ran, and what it found."""

    __tablename__ = "scheduled_tasks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    worker: Mapped[str | None] = mapped_column(String(80))
    last_result: Mapped[str] = mapped_column(Text, default="{}")
    last_error: Mapped[str | None] = mapped_column(Text)


class TrustAnchorSetting(Base):
    """An administrator's decision about a trust certificate (edms.trust): a shipped one
    enabled or disabled, or one added with its PEM. Shipped certificates without a row
    keep their default (enabled)."""

    __tablename__ = "trust_anchors"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex
    role: Mapped[str] = mapped_column(String(12))  # root | intermediate
    regime: Mapped[str] = mapped_column(String(16))  # official | public | custom
    origin: Mapped[str] = mapped_column(String(8))  # shipped | added
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pem: Mapped[str | None] = mapped_column(Text)  # added certificates only
    subject: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


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


# Domain events raised from rows other modules write (a refusal recorded by the exchange)
# are watched by edms.events, registered with the models so every process has them.
from . import events as _events  # noqa: E402, F401
