"""Background work and long-term keeping: jobs, the long-term archive facts of signed
files, scheduled maintenance tasks and administrators' trust-anchor decisions.

Invariants: a job's state is here whichever runner executes it; archive facts are keyed
by the file's SHA-256 (content-addressed, so they never go stale); a scheduled task runs
only under the lease of the process that took it.
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
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


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
