"""Authentication: passwords (argon2id), browser sessions (server-side, CSRF token), API
tokens (hashed, scoped, revocable, expiring) and login rate limiting.

Secrets are never stored: a session cookie or API token is 32 random bytes, and only its
SHA-256 is kept, so a leaked database does not log anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from . import audit
from .db import transaction
from .errors import EdmsError, Forbidden, NotFound
from .models import ApiToken, LoginAttempt, User, WebSession
from .orgs import load_user, require_role
from .system import System

SCOPES = ("read", "write", "sign", "admin")
SESSION_HOURS = 10  # a working day
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 30
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist takes as long as a real
# check: response times do not reveal which user names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Unauthenticated(EdmsError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class TooManyAttempts(EdmsError):
    status = 429
    title = "Too many login attempts"
    type_slug = "too-many-attempts"


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise EdmsError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def set_password(system: System, username: str, password: str, actor: str = "system") -> None:
    hashed = hash_password(password)
    with transaction(system.sessions) as s:
        user = load_user(s, username)
        user.password_hash = hashed
        # Changing a password ends every session of the user.
        s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        audit.record(s, actor, "user.password", "user", user.username)


@dataclass(frozen=True)
class Identity:
    """Who makes a request: the user, and the scopes of the credential used."""

    user_id: int
    username: str
    agency_id: int
    roles: frozenset[str]
    scopes: frozenset[str]
    via: str  # "session" | "token"
    csrf_token: str | None = None


def _identity(user: User, scopes: frozenset[str], via: str, csrf: str | None = None
              ) -> Identity:
    return Identity(user.id, user.username, user.agency_id, user.role_set, scopes, via, csrf)


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; not stored
    identity: Identity
    expires_at: datetime


def login(system: System, username: str, password: str, client: str) -> NewSession:
    """Check a password; refused the same way for an unknown user, a wrong password or a
    deactivated account. Too many recent failures for the user name or the client address
    are refused before the password is even checked."""
    username = username.strip().lower()[:60]
    client = client[:64]
    since = _now() - FAILURE_WINDOW
    with system.sessions() as s:
        by_user = s.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.username == username, LoginAttempt.at >= since,
            LoginAttempt.success.is_(False))) or 0
        by_client = s.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.client == client, LoginAttempt.at >= since,
            LoginAttempt.success.is_(False))) or 0
    if by_user >= MAX_FAILURES_PER_USER or by_client >= MAX_FAILURES_PER_CLIENT:
        raise TooManyAttempts("too many failed logins; try again in 15 minutes",
                              retry_after=int(FAILURE_WINDOW.total_seconds()))
    with transaction(system.sessions) as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        ok = False
        try:
            _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH,
                           password)
            ok = user is not None and user.password_hash is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        s.add(LoginAttempt(username=username, client=client, at=_now(), success=ok))
        if not ok or user is None:
            audit.record(s, username or "?", "auth.login_failed", "user", username,
                         {"client": client})
    if not ok or user is None:
        raise Unauthenticated("wrong user name or password")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = _now() + timedelta(hours=SESSION_HOURS)
    with transaction(system.sessions) as s:
        s.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf,
                         created_at=_now(), expires_at=expires))
        audit.record(s, user.username, "auth.login", "user", user.username,
                     {"client": client})
    return NewSession(token, _identity(user, frozenset(SCOPES), "session", csrf), expires)


def session_identity(system: System, token: str) -> Identity:
    with system.sessions() as s:
        row = s.get(WebSession, _digest(token))
        if row is None or row.expires_at <= _now():
            raise Unauthenticated("the session has expired; log in again")
        user = s.get(User, row.user_id)
        if user is None or not user.active:
            raise Unauthenticated("the account is deactivated")
        return _identity(user, frozenset(SCOPES), "session", row.csrf_token)


def logout(system: System, token: str) -> None:
    with transaction(system.sessions) as s:
        row = s.get(WebSession, _digest(token))
        if row is not None:
            user = s.get(User, row.user_id)
            s.delete(row)
            audit.record(s, user.username if user else "?", "auth.logout", "user",
                         user.username if user else "?")


def check_csrf(identity: Identity, sent: str | None) -> None:
    if identity.via != "session":
        return
    if not sent or identity.csrf_token is None or not hmac.compare_digest(
            sent, identity.csrf_token):
        raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")


# -- API tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once
    row: ApiToken


def _scopes(values: list[str] | tuple[str, ...]) -> str:
    clean = sorted({v.strip().lower() for v in values if v.strip()})
    bad = [v for v in clean if v not in SCOPES]
    if bad or not clean:
        raise EdmsError(f"scopes are {', '.join(SCOPES)} (got: {', '.join(bad) or 'none'})")
    return ",".join(clean)


def create_token(system: System, actor: str, name: str, scopes: list[str],
                 days: int = 90, for_user: str | None = None) -> NewToken:
    """A token for the actor, or (admin) for another user of the same agency."""
    if not 1 <= days <= 730:
        raise EdmsError("a token is valid for 1 to 730 days")
    if not name.strip():
        raise EdmsError("name the token (what integration uses it)")
    scope_str = _scopes(scopes)
    secret = secrets.token_urlsafe(32)
    prefix = secrets.token_hex(6)
    token = f"edms_{prefix}_{secret}"
    with transaction(system.sessions) as s:
        me = load_user(s, actor)
        owner = me
        if for_user and for_user.strip().lower() != me.username:
            require_role(me, "admin", action="create tokens for other users")
            owner = load_user(s, for_user)
            if owner.agency_id != me.agency_id:
                raise NotFound(f"no user {for_user!r}")
        if "admin" in scope_str.split(",") and "admin" not in owner.role_set:
            raise Forbidden("the admin scope is only for admins")
        row = ApiToken(user_id=owner.id, name=name.strip()[:100], prefix=prefix,
                       token_hash=_digest(token), scopes=scope_str, created_at=_now(),
                       expires_at=_now() + timedelta(days=days))
        s.add(row)
        s.flush()
        audit.record(s, me.username, "token.create", "api_token", str(row.id),
                     {"owner": owner.username, "scopes": scope_str, "days": days})
        return NewToken(token, row)


def token_identity(system: System, token: str) -> Identity:
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "edms":
        raise Unauthenticated("not an EDMS API token")
    with transaction(system.sessions) as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("unknown or revoked API token")
        if row.expires_at <= _now():
            raise Unauthenticated("the API token has expired")
        user = s.get(User, row.user_id)
        if user is None or not user.active:
            raise Unauthenticated("the token's user is deactivated")
        if row.last_used_at is None or _now() - row.last_used_at > timedelta(minutes=5):
            row.last_used_at = _now()
        return _identity(user, frozenset(row.scopes.split(",")), "token")


def list_tokens(system: System, actor: str) -> list[ApiToken]:
    with system.sessions() as s:
        me = load_user(s, actor)
        q = select(ApiToken).join(User, User.id == ApiToken.user_id)
        q = q.where(User.agency_id == me.agency_id) if "admin" in me.role_set \
            else q.where(ApiToken.user_id == me.id)
        return list(s.scalars(q.order_by(ApiToken.id)))


def revoke_token(system: System, actor: str, token_id: int) -> None:
    with transaction(system.sessions) as s:
        me = load_user(s, actor)
        row = s.get(ApiToken, token_id)
        owner = s.get(User, row.user_id) if row else None
        visible = row is not None and owner is not None and owner.agency_id == me.agency_id \
            and (row.user_id == me.id or "admin" in me.role_set)
        if not visible or row is None:
            raise NotFound(f"no token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = _now()
            audit.record(s, me.username, "token.revoke", "api_token", str(row.id))
