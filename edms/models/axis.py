"""This installation acting as an exchange axis (hub mode, edms.axis): connected systems,
the agencies they speak for, packages, deliveries and the nonces that stop replays.

Invariants: a package is stored once as a blob and delivered once per receiving system;
a (system, MAC) nonce is accepted only once until it expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

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
