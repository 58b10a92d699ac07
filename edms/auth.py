"""Authentication: passwords (argon2id), browser sessions (server-side, CSRF token), API
tokens (hashed, scoped, revocable, expiring), login rate limiting, and the leaders'
signing PIN.

Secrets are never stored: a session cookie or API token is 32 random bytes, and only its
SHA-256 is kept, so a leaked database does not log anyone in.

Invariants:

* Failed logins are limited per client address (the real one: the caller passes the
  address :func:`api.security.client_address` worked out behind trusted proxies) and,
  separately, per account. An account is never locked: after a few failures each further
  attempt must wait, the wait doubling up to a few minutes, so its owner can still get in.
  Refusals carry ``retry_after`` (seconds), sent as ``Retry-After``.
* A token is minted with no scope its creator's own credential lacks. A token for
  somebody else never carries ``sign``: signing is personal.
* A signature with a server-held key needs a :class:`SigningConsent`, made only by
  :func:`confirm_signing`: the leader's own session, or a token they minted themselves,
  plus their signing PIN. Wrong PINs slow further attempts down (doubling waits).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update

from . import audit
from .backoff import seconds_until, wait_after
from .db import transaction
from .errors import ClientError, Forbidden
from .models import ApiToken, LoginAttempt, User, WebSession
from .orgs import colleague, load_user, require_role
from .system import System

SCOPES = ("read", "write", "sign", "admin")
SESSION_HOURS = 10  # a working day
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_CLIENT = 30  # then that client waits until its failures age out
ACCOUNT_FREE_FAILURES = 5  # then each attempt for the account waits ...
ACCOUNT_FIRST_WAIT = 15  # ... this many seconds, doubling ...
ACCOUNT_MAX_WAIT = 300  # ... up to five minutes
PIN_FREE_FAILURES = 3  # wrong signing PINs before attempts wait
PIN_FIRST_WAIT = 30
PIN_MAX_WAIT = 3600
MIN_PASSWORD = 10
DEV_SIGNING_PIN = "123456"  # development seed only (`edms dev-seed` says so)

_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist takes as long as a real
# check: response times do not reveal which user names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Unauthenticated(ClientError):
    status = 401
    title = "Authentication required"
    type_slug = "unauthenticated"


class TooManyAttempts(ClientError):
    status = 429
    title = "Too many attempts"
    type_slug = "too-many-attempts"


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ClientError(f"a password has at least {MIN_PASSWORD} characters")
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
    credential: str = "session"  # what the audit names: "session" or "token:<prefix>"
    personal: bool = True  # a session, or a token its user minted themselves


def _identity(
    user: User,
    scopes: frozenset[str],
    via: str,
    csrf: str | None = None,
    credential: str = "session",
    personal: bool = True,
) -> Identity:
    return Identity(
        user.id,
        user.username,
        user.agency_id,
        user.role_set,
        scopes,
        via,
        csrf,
        credential,
        personal,
    )


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; not stored
    identity: Identity
    expires_at: datetime


def check_login_allowed(system: System, username: str, client: str) -> None:
    """Refuse (429, with ``retry_after``) while the client or the account must wait."""
    since = _now() - FAILURE_WINDOW
    with system.sessions() as s:
        failed = (LoginAttempt.at >= since) & LoginAttempt.success.is_(False)
        by_client = s.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                LoginAttempt.client == client, failed
            )
        ).one()
        by_user = s.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, failed
            )
        ).one()
    if by_client[0] >= MAX_FAILURES_PER_CLIENT:
        raise TooManyAttempts(
            "Địa chỉ này đã đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
            retry_after=seconds_until(by_client[1] + FAILURE_WINDOW, _now()),
        )
    wait = wait_after(by_user[0], ACCOUNT_FREE_FAILURES, ACCOUNT_FIRST_WAIT, ACCOUNT_MAX_WAIT)
    if wait and by_user[1] + timedelta(seconds=wait) > _now():
        wait_s = seconds_until(by_user[1] + timedelta(seconds=wait), _now())
        raise TooManyAttempts(
            f"Tài khoản đã đăng nhập sai nhiều lần: có thể thử lại sau {wait_s} giây.",
            retry_after=wait_s,
        )


def _check_password(system: System, username: str, password: str, client: str) -> User | None:
    """The active user with this password, or None; the attempt is recorded either way."""
    with transaction(system.sessions) as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        ok = False
        try:
            _hasher.verify(
                user.password_hash if user and user.password_hash else _DUMMY_HASH, password
            )
            ok = user is not None and user.password_hash is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        s.add(LoginAttempt(username=username, client=client, at=_now(), success=ok))
        if not ok or user is None:
            audit.record(
                s, username or "?", "auth.login_failed", "user", username, {"client": client}
            )
            return None
        s.expunge(user)
        return user


def login(system: System, username: str, password: str, client: str) -> NewSession:
    """Check a password; refused the same way for an unknown user, a wrong password or a
    deactivated account. While the client address or the account must wait after failed
    attempts, the attempt is refused before the password is even checked."""
    username = username.strip().lower()[:60]
    client = client[:64]
    check_login_allowed(system, username, client)
    user = _check_password(system, username, password, client)
    if user is None:
        raise Unauthenticated("wrong user name or password")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = _now() + timedelta(hours=SESSION_HOURS)
    with transaction(system.sessions) as s:
        s.add(
            WebSession(
                token_hash=_digest(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=_now(),
                expires_at=expires,
            )
        )
        audit.record(s, user.username, "auth.login", "user", user.username, {"client": client})
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
            audit.record(
                s,
                user.username if user else "?",
                "auth.logout",
                "user",
                user.username if user else "?",
            )


def check_csrf(identity: Identity, sent: str | None) -> None:
    if identity.via != "session":
        return
    if (
        not sent
        or identity.csrf_token is None
        or not hmac.compare_digest(sent, identity.csrf_token)
    ):
        raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")


# -- API tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once
    row: ApiToken


def _scopes(values: Iterable[str]) -> str:
    clean = sorted({v.strip().lower() for v in values if v.strip()})
    bad = [v for v in clean if v not in SCOPES]
    if bad or not clean:
        raise ClientError(f"scopes are {', '.join(SCOPES)} (got: {', '.join(bad) or 'none'})")
    return ",".join(clean)


def create_token(
    system: System,
    actor: str,
    name: str,
    scopes: list[str],
    days: int = 90,
    for_user: str | None = None,
    granted: frozenset[str] | None = None,
    credential: str = "cli",
) -> NewToken:
    """A token for the actor, or (admin) for another user of the same agency.

    ``granted`` is the scopes of the credential the actor uses now (None: the command
    line, acting with the installation's authority): a new token never carries a scope
    outside them, so a token cannot mint itself wider rights. A token for somebody else
    never carries ``sign``: only its holder can sign with a leader's key."""
    if not 1 <= days <= 730:
        raise ClientError("a token is valid for 1 to 730 days")
    if not name.strip():
        raise ClientError("name the token (what integration uses it)")
    scope_str = _scopes(scopes)
    wanted = frozenset(scope_str.split(","))
    if granted is not None and not wanted <= granted:
        raise Forbidden(
            "a token cannot carry scopes the credential creating it lacks ("
            + ", ".join(sorted(wanted - granted))
            + ")"
        )
    secret = secrets.token_urlsafe(32)
    prefix = secrets.token_hex(6)
    token = f"edms_{prefix}_{secret}"
    with transaction(system.sessions) as s:
        me = load_user(s, actor)
        owner = me
        if for_user and for_user.strip().lower() != me.username:
            require_role(me, "admin", action="create tokens for other users")
            owner = colleague(s, me, for_user)
            if "sign" in wanted:
                raise Forbidden(
                    "signing is personal: a token for someone else never "
                    "carries the 'sign' scope; its holder mints their own"
                )
        if "admin" in wanted and "admin" not in owner.role_set:
            raise Forbidden("the admin scope is only for admins")
        row = ApiToken(
            user_id=owner.id,
            name=name.strip()[:100],
            prefix=prefix,
            token_hash=_digest(token),
            scopes=scope_str,
            created_at=_now(),
            expires_at=_now() + timedelta(days=days),
            created_by=me.id,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            me.username,
            "token.create",
            "api_token",
            str(row.id),
            {"owner": owner.username, "scopes": scope_str, "days": days, "credential": credential},
        )
        return NewToken(token, row)


LAST_USED_RESOLUTION = timedelta(minutes=5)


def token_identity(system: System, token: str) -> Identity:
    """The identity of an API token: one read, no write (``last_used_at`` is updated at
    most every five minutes, by a separate conditional update)."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != "edms":
        raise Unauthenticated("not an EDMS API token")
    now = _now()
    with system.sessions() as s:
        found = s.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == _digest(token))
        ).first()
        if found is None or found[0].revoked_at is not None:
            raise Unauthenticated("unknown or revoked API token")
        row, user = found
        if row.expires_at <= now:
            raise Unauthenticated("the API token has expired")
        if not user.active:
            raise Unauthenticated("the token's user is deactivated")
        scopes = frozenset(row.scopes.split(","))
        if row.created_by != row.user_id:
            scopes -= {"sign"}  # never a signing token (see create_token)
        identity = _identity(
            user,
            scopes,
            "token",
            credential=f"token:{row.prefix}",
            personal=row.created_by == row.user_id,
        )
        stale = row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION
        token_id = row.id
    if stale:
        with system.engine.begin() as conn:
            conn.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at < now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
    return identity


def list_tokens(system: System, actor: str) -> list[ApiToken]:
    with system.sessions() as s:
        me = load_user(s, actor)
        q = select(ApiToken).join(User, User.id == ApiToken.user_id)
        q = (
            q.where(User.agency_id == me.agency_id)
            if "admin" in me.role_set
            else q.where(ApiToken.user_id == me.id)
        )
        return list(s.scalars(q.order_by(ApiToken.id)))


def revoke_token(system: System, actor: str, token_id: int) -> None:
    from .errors import NotFound

    with transaction(system.sessions) as s:
        me = load_user(s, actor)
        row = s.get(ApiToken, token_id)
        owner = s.get(User, row.user_id) if row else None
        visible = (
            row is not None
            and owner is not None
            and owner.agency_id == me.agency_id
            and (row.user_id == me.id or "admin" in me.role_set)
        )
        if not visible or row is None:
            raise NotFound(f"no token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = _now()
            audit.record(s, me.username, "token.revoke", "api_token", str(row.id))


# -- the signing PIN: a per-signature confirmation only the leader knows -----------------


def _check_pin_policy(pin: str) -> str:
    pin = pin.strip()
    if not (pin.isascii() and pin.isdigit() and 6 <= len(pin) <= 12):
        raise ClientError("a signing PIN is 6 to 12 digits")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if len(set(pin)) == 1 or steps in ({1}, {-1}):
        raise ClientError("this PIN is too easy to guess (repeated or consecutive digits)")
    return pin


def _store_pin(system: System, username: str, pin: str, actor: str) -> None:
    hashed = _hasher.hash(pin)
    with transaction(system.sessions) as s:
        user = load_user(s, username)
        require_role(user, "leader", action="hold a signing PIN")
        user.signing_pin_hash = hashed
        user.pin_failures, user.pin_failed_at = 0, None
        audit.record(s, actor, "user.signing_pin", "user", user.username)


def set_signing_pin(
    system: System,
    username: str,
    pin: str,
    *,
    actor: str,
    password: str | None = None,
    client: str = "?",
) -> None:
    """Set a leader's signing PIN. A person setting their own confirms it with their
    password (``password``; limited like a login); the command line acts with the
    installation's authority (``password`` None)."""
    pin = _check_pin_policy(pin)
    if password is not None:
        username = username.strip().lower()
        check_login_allowed(system, username, client)
        if _check_password(system, username, password, client) is None:
            raise Forbidden("wrong password: the signing PIN was not changed")
    _store_pin(system, username, pin, actor)


def seed_signing_pin(system: System, username: str) -> None:
    """Development seed only: :data:`DEV_SIGNING_PIN`, which the policy would refuse."""
    if not system.settings.is_development:
        raise ClientError("development PINs are only set with EDMS_ENV=development")
    _store_pin(system, username, DEV_SIGNING_PIN, "dev-seed")


@dataclass(frozen=True)
class PinConfirmation:
    """What a leader brings to a signing step: the PIN, and the credential it came
    through (None: the command line). The step checks it (:func:`confirm_signing`) after
    its own checks of the document, the role and the state."""

    pin: str | None
    identity: Identity | None = None


@dataclass(frozen=True)
class SigningConsent:
    """A leader's confirmation, checked by :func:`confirm_signing`, to sign ``documents``
    with their server-held key, and the credential it came through (for the audit)."""

    username: str
    credential: str  # "session", "token:<prefix>", "cli", "job:<id> ← ..."
    documents: frozenset[int]
    confirmed_at: datetime

    def check(self, actor: str, doc_id: int, max_age: timedelta = timedelta(hours=24)) -> None:
        if self.username != actor.strip().lower() or doc_id not in self.documents:
            raise Forbidden("this signing confirmation is for another person or document")
        if _now() - self.confirmed_at > max_age:
            raise Forbidden("the signing confirmation has expired; confirm again")

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "credential": self.credential,
            "documents": sorted(self.documents),
            "confirmed_at": self.confirmed_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], via: str) -> SigningConsent:
        return cls(
            str(data["username"]),
            f"{via} ← {data['credential']}",
            frozenset(int(d) for d in data["documents"]),
            datetime.fromisoformat(data["confirmed_at"]),
        )


def confirm_signing(
    system: System,
    username: str,
    pin: str | None,
    documents: Iterable[int],
    identity: Identity | None = None,
) -> SigningConsent:
    """Check the leader's signing PIN, through ``identity`` (None: the command line).

    Only the leader's own session or a token they minted themselves, with the ``sign``
    scope, can sign; a token someone else minted cannot, whatever it carries. After
    :data:`PIN_FREE_FAILURES` wrong PINs every attempt waits, the wait doubling up to an
    hour (429 with ``retry_after``); a right PIN resets the count."""
    username = username.strip().lower()
    credential = "cli" if identity is None else identity.credential
    if identity is not None:
        if identity.username != username:
            raise Forbidden("a leader signs only for themselves")
        if not identity.personal or "sign" not in identity.scopes:
            raise Forbidden(
                "signing needs the leader's own session or an API token the "
                "leader minted with the 'sign' scope"
            )
    if not pin:
        raise Forbidden(
            "signing with your key needs your signing PIN (mã PIN ký số)", pin_required=True
        )
    with system.sessions() as s:
        user = load_user(s, username)
        require_role(user, "leader", action="sign as the competent person")
        pin_hash, failures, failed_at, user_id = (
            user.signing_pin_hash,
            user.pin_failures,
            user.pin_failed_at,
            user.id,
        )
    if pin_hash is None:
        raise Forbidden(
            f"{username} has no signing PIN yet: set one first (web: Mã PIN ký "
            "số; API: PUT /api/v1/me/signing-pin; CLI: edms user signing-pin)"
        )
    wait = wait_after(failures, PIN_FREE_FAILURES, PIN_FIRST_WAIT, PIN_MAX_WAIT)
    if wait and failed_at is not None and failed_at + timedelta(seconds=wait) > _now():
        wait_s = seconds_until(failed_at + timedelta(seconds=wait), _now())
        raise TooManyAttempts(
            f"Đã nhập sai mã PIN ký số nhiều lần: có thể thử lại sau {wait_s} giây.",
            retry_after=wait_s,
        )
    ok: bool
    try:
        ok = _hasher.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        ok = False
    with transaction(system.sessions) as s:
        if not ok:
            s.execute(
                update(User)
                .where(User.id == user_id)
                .values(pin_failures=User.pin_failures + 1, pin_failed_at=_now())
            )
            audit.record(
                s, username, "sign.pin_failed", "user", username, {"credential": credential}
            )
        elif failures:
            s.execute(
                update(User).where(User.id == user_id).values(pin_failures=0, pin_failed_at=None)
            )
    if not ok:
        raise Forbidden("wrong signing PIN; nothing was signed")
    return SigningConsent(username, credential, frozenset(documents), _now())
