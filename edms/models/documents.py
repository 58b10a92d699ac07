"""Documents and what hangs off them: types, dossiers (hồ sơ công việc), files, signatures
recorded, validation results, assignments, the status history and digitized copies.

Invariants: a document belongs to one agency; its files reference blobs by SHA-256, so
the bytes of a stored version never change; status events only ever get appended.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
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
    # outgoing: the leader the draft is submitted to for signing (None: any leader of the
    # agency, as before designation existed) and the people who must approve it first
    # (JSON list of user ids, in order)
    designated_signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approver_ids: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
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
    # the person in charge (người chủ trì) and co-operating people (người phối hợp, JSON
    # list of user ids); None / "[]" when the leader named units only
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    co_user_ids: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
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
