"""Document exchange with partners (edms.exchange): the per-agency directory, the
exchange profile, every message sent or received and the inbox polls.

Invariants: a partner's certificates are pinned by SHA-256 fingerprints in the directory
of the agency that trusts them; a message's package is a stored blob.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


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
