"""Organisation and sign-in: units, users with their roles, signing keys, login attempts,
web sessions and API tokens.

Invariants: every user and unit belongs to one agency; a role is one of :data:`ROLES`;
secrets (passwords, session and token values) are stored only as hashes.
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


# -- authentication ------------------------------------------------------------------------


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
