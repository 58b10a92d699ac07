"""The database model (SQLAlchemy 2.0, typed). Each change comes with an Alembic migration
in ``edms/migrations/versions``; a test checks that the two agree on every backend."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String
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
