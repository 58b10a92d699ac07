"""People and the organisation as the adapters (REST API, web pages) show them: the acting
user, the users, units and agencies they may see, the signing choices a leader has, and
role checks for adapters that queue work.

Invariants: every function takes ``(system, actor)`` (or the acting user's name) and
answers only within the actor's own agency; another agency's users and units are never
listed. Answers are plain frozen views, never ORM rows, so no adapter touches the
database or the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .models import ROLES, Agency, OrgUnit, SigningKey, User
from .orgs import create_user, load_user, require_role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .system import System

__all__ = [
    "ROLES",
    "AgencyView",
    "UserView",
    "add_user",
    "agencies",
    "list_users",
    "require",
    "signing_choices",
    "units",
    "user_view",
]


@dataclass(frozen=True)
class UserView:
    username: str
    full_name: str
    title: str
    roles: tuple[str, ...]  # sorted
    agency: str  # the agency's code
    agency_name: str
    unit: str | None  # the unit's code

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "title": self.title,
            "roles": list(self.roles),
            "agency": self.agency,
            "unit": self.unit,
        }


@dataclass(frozen=True)
class AgencyView:
    code: str
    name: str
    abbreviation: str


def _view(s: Session, u: User) -> UserView:
    agency = s.get(Agency, u.agency_id)
    unit = s.get(OrgUnit, u.unit_id) if u.unit_id else None
    return UserView(
        username=u.username,
        full_name=u.full_name,
        title=u.title,
        roles=tuple(sorted(u.role_set)),
        agency=agency.code if agency else "",
        agency_name=agency.name if agency else "",
        unit=unit.code if unit else None,
    )


def user_view(system: System, actor: str) -> UserView:
    """The acting user (an unknown or deactivated user is refused: Forbidden)."""
    with system.sessions() as s:
        return _view(s, load_user(s, actor))


def require(system: System, actor: str, *roles: str, action: str) -> None:
    """Refuse (Forbidden) unless the actor has one of ``roles``."""
    with system.sessions() as s:
        require_role(load_user(s, actor), *roles, action=action)


def list_users(system: System, actor: str, *, active_only: bool = False) -> list[UserView]:
    """The users of the actor's agency, by user name."""
    with system.sessions() as s:
        me = load_user(s, actor)
        q = select(User).where(User.agency_id == me.agency_id)
        if active_only:
            q = q.where(User.active.is_(True))
        return [_view(s, u) for u in s.scalars(q.order_by(User.username))]


def add_user(
    system: System,
    actor: str,
    username: str,
    full_name: str,
    roles: str | list[str],
    *,
    title: str = "",
    unit_code: str | None = None,
    password: str | None = None,
) -> UserView:
    """Add a user to the actor's own agency (administrators); without a password they
    cannot log in until one is set."""
    from .auth import hash_password

    with system.sessions() as s:
        me = load_user(s, actor)
        require_role(me, "admin", action="add users")
        agency = s.get(Agency, me.agency_id)
        assert agency is not None
        code = agency.code
    user = create_user(
        system,
        code,
        username,
        full_name,
        roles,
        title=title,
        unit_code=unit_code,
        password_hash=hash_password(password) if password else None,
        actor=actor,
    )
    with system.sessions() as s:
        return _view(s, s.get(User, user.id) or user)


def agencies(system: System, actor: str) -> list[AgencyView]:
    """The agency directory (every agency of this installation), by code."""
    with system.sessions() as s:
        load_user(s, actor)
        return [
            AgencyView(a.code, a.name, a.abbreviation)
            for a in s.scalars(select(Agency).order_by(Agency.code))
        ]


def units(system: System, actor: str) -> list[tuple[str, str]]:
    """``(code, name)`` of the actor's agency's units, by code."""
    with system.sessions() as s:
        me = load_user(s, actor)
        return [
            (u.code, u.name)
            for u in s.scalars(
                select(OrgUnit).where(OrgUnit.agency_id == me.agency_id).order_by(OrgUnit.code)
            )
        ]


@dataclass(frozen=True)
class SigningChoices:
    remote_key: bool  # the actor's active key is held on their own token
    authority: list[tuple[str, str]]  # the signing authorities a leader may choose


def signing_choices(system: System, actor: str) -> SigningChoices:
    """How the actor signs: with a token-held key or not, and (leaders) the signing
    authority choices for their title and agency (:mod:`edms.authority`)."""
    from .authority import options_for

    with system.sessions() as s:
        me = load_user(s, actor)
        remote = s.scalars(
            select(SigningKey).where(SigningKey.user_id == me.id, SigningKey.active.is_(True))
        ).first()
        agency = s.get(Agency, me.agency_id)
        choices = (
            options_for(me.title, agency.name)
            if agency is not None and "leader" in me.role_set
            else []
        )
        return SigningChoices(remote is not None and remote.kind == "remote", choices)


def hosting_agency(system: System) -> str | None:
    """The name of the agency that runs this installation: the only one with user
    accounts (agencies served through the exchange have none); None when several have."""
    from sqlalchemy import func

    with system.sessions() as s:
        rows = s.execute(
            select(Agency.name)
            .join(User, User.agency_id == Agency.id)
            .group_by(Agency.id, Agency.name)
            .order_by(func.count(User.id).desc())
            .limit(2)
        ).all()
    return str(rows[0][0]) if len(rows) == 1 else None
