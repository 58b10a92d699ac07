"""Agencies, organisational units, users and the signing keys bound to them, and who may
see which document.

A leader signs only with their own key: the key is bound to the user, and its certificate
fingerprint is checked on every use. The agency's seal key is bound to the agency and used
only by its clerks (văn thư).

A user of another agency, an inactive user and a user that does not exist are refused
with the same answer (:func:`colleague`), so user names cannot be probed across agencies.
Secret documents (mật, tối mật, tuyệt mật) are seen by the agency's leaders and clerks,
and by anyone else only when they created the document or their unit is assigned to it
(:func:`may_see`, :func:`visible_documents`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .blobs import export_to_file, staging, store_upload
from .db import transaction
from .doctypes import validate_agency_code
from .errors import ClientError, Conflict, Forbidden, NotFound
from .models import ROLES, Agency, Assignment, Document, OrgUnit, SigningKey, User
from .signatures import SignerProfile, SignerRef, resolve
from .system import System


def create_agency(
    system: System, code: str, name: str, abbreviation: str, place: str = "", actor: str = "system"
) -> Agency:
    code = validate_agency_code(code)
    if not name.strip() or not abbreviation.strip():
        raise ClientError("an agency needs a name and an abbreviation (e.g. UBND)")
    try:
        with transaction(system.sessions) as s:
            agency = Agency(
                code=code, name=name.strip(), abbreviation=abbreviation.strip(), place=place.strip()
            )
            s.add(agency)
            s.flush()
            audit.record(s, actor, "agency.create", "agency", code, {"name": agency.name})
            return agency
    except IntegrityError:
        raise Conflict(f"agency {code} already exists") from None


def agency_by_code(session: Session, code: str) -> Agency:
    agency = session.scalars(select(Agency).where(Agency.code == code.strip().upper())).first()
    if agency is None:
        raise NotFound(f"no agency {code!r}")
    return agency


def create_unit(
    system: System,
    agency_code: str,
    code: str,
    name: str,
    abbreviation: str = "",
    actor: str = "system",
) -> OrgUnit:
    try:
        with transaction(system.sessions) as s:
            agency = agency_by_code(s, agency_code)
            unit = OrgUnit(
                agency_id=agency.id,
                code=code.strip().upper(),
                name=name.strip(),
                abbreviation=(abbreviation or code).strip().upper(),
            )
            s.add(unit)
            s.flush()
            audit.record(
                s,
                actor,
                "unit.create",
                "unit",
                str(unit.id),
                {"agency": agency.code, "code": unit.code, "name": unit.name},
            )
            return unit
    except IntegrityError:
        raise Conflict(f"unit {code!r} already exists in {agency_code}") from None


def unit_by_code(session: Session, agency_id: int, code: str) -> OrgUnit:
    unit = session.scalars(
        select(OrgUnit).where(OrgUnit.agency_id == agency_id, OrgUnit.code == code.strip().upper())
    ).first()
    if unit is None:
        raise NotFound(f"no unit {code!r} in this agency")
    return unit


def parse_roles(roles: str | list[str] | tuple[str, ...]) -> str:
    items = roles.split(",") if isinstance(roles, str) else list(roles)
    clean = sorted({r.strip().lower() for r in items if r.strip()})
    unknown = [r for r in clean if r not in ROLES]
    if unknown:
        raise ClientError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    if not clean:
        raise ClientError(f"a user needs at least one role ({', '.join(ROLES)})")
    return ",".join(clean)


def create_user(
    system: System,
    agency_code: str,
    username: str,
    full_name: str,
    roles: str | list[str],
    *,
    title: str = "",
    unit_code: str | None = None,
    password_hash: str | None = None,
    actor: str = "system",
) -> User:
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ClientError("a username uses letters, digits, '.', '_' or '-'")
    role_str = parse_roles(roles)
    try:
        with transaction(system.sessions) as s:
            agency = agency_by_code(s, agency_code)
            unit_id = unit_by_code(s, agency.id, unit_code).id if unit_code else None
            user = User(
                agency_id=agency.id,
                unit_id=unit_id,
                username=username,
                full_name=full_name.strip(),
                title=title.strip(),
                roles=role_str,
                password_hash=password_hash,
                active=True,
            )
            s.add(user)
            s.flush()
            audit.record(
                s,
                actor,
                "user.create",
                "user",
                username,
                {"agency": agency.code, "roles": role_str, "unit": unit_code},
            )
            return user
    except IntegrityError:
        raise Conflict(f"user {username!r} already exists") from None


def load_user(session: Session, username: str) -> User:
    """The acting user; unknown and deactivated users are refused alike."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active:
        raise Forbidden(f"no active user {username!r}")
    return user


def colleague(session: Session, me: User, username: str) -> User:
    """An active user of ``me``'s agency; anyone else is "not found", in the same words
    whether they belong to another agency, are deactivated or do not exist."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None or not user.active or user.agency_id != me.agency_id:
        raise NotFound(f"no user {username.strip().lower()[:60]!r} in your agency")
    return user


def require_role(user: User, *roles: str, action: str) -> None:
    if not user.role_set & set(roles):
        need = " or ".join(roles)
        raise Forbidden(
            f"{user.username} may not {action}: that needs the {need} role "
            f"(has: {user.roles or 'none'})"
        )


# -- signing keys -------------------------------------------------------------------------


def _locator(ref: SignerRef) -> tuple[str, str]:
    data = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in asdict(ref).items()
        if v not in (None, "") and k not in ("image", "authority")
    }
    kind = "pkcs11" if ref.pkcs11_lib else "p12" if ref.p12 else "dev"
    return kind, json.dumps(data, sort_keys=True)


def bind_key(
    system: System,
    ref: SignerRef,
    *,
    username: str | None = None,
    agency_code: str | None = None,
    image: Path | None = None,
    authority: str = "",
    actor: str = "system",
) -> SigningKey:
    """Bind a key to a leader (``username``) or as an agency's seal key (``agency_code``).
    The key is opened once now to read its certificate; its fingerprint is kept."""
    if (username is None) == (agency_code is None):
        raise ClientError("bind a key to either a user or an agency")
    profile = resolve(system.settings, ref)
    cert = profile.key.cert
    image = image or profile.image
    kind, locator = _locator(ref)
    with staging(system) as staged:  # the image is not kept if the key is not bound
        image_sha = _stored_image(system, image, staged)
        with transaction(system.sessions) as s:
            if username is not None:
                user = load_user(s, username)
                if "leader" not in user.role_set:
                    raise Forbidden(
                        f"{username} is not a leader: personal signing keys are bound to leaders"
                    )
                owner = {"user_id": user.id}
                target = f"user:{user.username}"
            else:
                agency = agency_by_code(s, agency_code or "")
                owner = {"agency_id": agency.id}
                target = f"agency:{agency.code}"
            for old in s.scalars(select(SigningKey).filter_by(active=True, **owner)):
                old.active = False
            key = SigningKey(
                kind=kind,
                locator=locator,
                cert_sha256=cert.sha256.hex(),
                subject=cert.subject.human_friendly[:400],
                authority=authority or profile.authority,
                image_sha256=image_sha,
                active=True,
                **owner,
            )
            s.add(key)
            s.flush()
            audit.record(
                s,
                actor,
                "key.bind",
                "signing_key",
                str(key.id),
                {
                    "owner": target,
                    "kind": kind,
                    "certificate_sha256": key.cert_sha256,
                    "subject": key.subject,
                },
            )
            return key


def _stored_image(system: System, image: Path | None, staged: list[str]) -> str | None:
    """Store a signature or seal image (PNG, checked by its content), staged."""
    if image is None:
        return None
    with open(image, "rb") as f:
        sha = store_upload(
            system, f, filename=image.name, allowed=("image/png",), retention_years=0
        ).sha256
    staged.append(sha)
    return sha


def active_key(
    session: Session, *, user_id: int | None = None, agency_id: int | None = None
) -> SigningKey:
    query = select(SigningKey).where(SigningKey.active.is_(True))
    query = (
        query.where(SigningKey.user_id == user_id)
        if user_id is not None
        else query.where(SigningKey.agency_id == agency_id)
    )
    key = session.scalars(query.order_by(SigningKey.id.desc())).first()
    if key is None:
        who = "this leader" if user_id is not None else "this agency (seal key)"
        raise Forbidden(f"no signing key is bound to {who}: bind one with `edms key bind`")
    return key


def key_image(system: System, key: SigningKey) -> Path | None:
    """The bound signature or seal image as a local file (a content-addressed cache)."""
    if not key.image_sha256:
        return None
    cache = system.settings.data_dir / "cache" / "images"
    cache.mkdir(parents=True, exist_ok=True)
    image = cache / f"{key.image_sha256}.png"
    if not image.exists():
        export_to_file(system, key.image_sha256, image)
    return image


def bind_certificate(
    system: System,
    username: str,
    certificate: bytes,
    image: Path,
    authority: str = "",
    actor: str = "system",
    admin: str | None = None,
) -> SigningKey:
    """Bind the certificate of a key held on the leader's own token (USB token, smart
    card): the server keeps only the certificate and the signature image, and the leader
    signs through the remote flow (prepare → sign the digest on the token → finalize)."""
    from signing.trust import CertificateError, parse_certificates

    try:
        cert = parse_certificates([certificate])[0]
    except CertificateError as exc:
        raise ClientError(str(exc)) from None
    if admin is not None:  # a person (web, API): an admin of the leader's own agency
        with system.sessions() as s:
            by = load_user(s, admin)
            require_role(by, "admin", action="bind signing certificates")
            colleague(s, by, username)
    with staging(system) as staged:  # the image is not kept if the key is not bound
        image_sha = _stored_image(system, image, staged)
        with transaction(system.sessions) as s:
            user = load_user(s, username)
            if "leader" not in user.role_set:
                raise Forbidden(
                    f"{username} is not a leader: personal signing keys are bound to leaders"
                )
            for old in s.scalars(select(SigningKey).filter_by(active=True, user_id=user.id)):
                old.active = False
            key = SigningKey(
                user_id=user.id,
                kind="remote",
                locator=json.dumps({"certificate": cert.dump().hex()}),
                cert_sha256=cert.sha256.hex(),
                subject=cert.subject.human_friendly[:400],
                authority=authority,
                image_sha256=image_sha,
                active=True,
            )
            s.add(key)
            s.flush()
            audit.record(
                s,
                actor,
                "key.bind",
                "signing_key",
                str(key.id),
                {
                    "owner": f"user:{user.username}",
                    "kind": "remote",
                    "certificate_sha256": key.cert_sha256,
                    "subject": key.subject,
                },
            )
            return key


def open_key(system: System, key: SigningKey) -> SignerProfile:
    """The bound key, opened, with its image; refused if the certificate changed."""
    data = json.loads(key.locator)
    for p in ("p12",):
        if p in data:
            data[p] = Path(data[p])
    if key.kind == "remote":
        raise ClientError("this key is on the holder's own token: it signs through the remote flow")
    ref = SignerRef(image=key_image(system, key), authority=key.authority, **data)
    profile = resolve(system.settings, ref)
    if profile.key.cert.sha256.hex() != key.cert_sha256:
        raise Conflict(
            "the key found no longer holds the bound certificate "
            f"({key.subject}); bind the new certificate first"
        )
    return profile


# -- who sees which document ------------------------------------------------------------------

SECRET_READERS = frozenset({"leader", "clerk"})


def _unit_patterns(unit_id: int) -> list[str]:
    """``co_unit_ids`` (and ``co_user_ids``) is a JSON list written by ``json.dumps``:
    ``[3, 12]``."""
    return [f"[{unit_id}]", f"[{unit_id}, %", f"%, {unit_id}, %", f"%, {unit_id}]"]


def visible_documents(user: User) -> ColumnElement[bool]:
    """The documents of the user's agency that this user may see, as an SQL condition."""
    own = Document.agency_id == user.agency_id
    if user.role_set & SECRET_READERS:
        return own
    allowed: list[ColumnElement[bool]] = [Document.secrecy == 0, Document.created_by == user.id]
    # named in the current assignment: the person in charge or a co-operating person
    named: list[ColumnElement[bool]] = [
        Assignment.lead_user_id == user.id,
        *(Assignment.co_user_ids.like(p) for p in _unit_patterns(user.id)),
    ]
    if user.unit_id is not None:
        named += [
            Assignment.lead_unit_id == user.unit_id,
            *(Assignment.co_unit_ids.like(p) for p in _unit_patterns(user.unit_id)),
        ]
    allowed.append(
        Document.id.in_(
            select(Assignment.document_id).where(Assignment.current.is_(True), or_(*named))
        )
    )
    return own & or_(*allowed)


def may_see(session: Session, user: User, doc: Document) -> bool:
    """Whether ``user`` may see ``doc`` (same rule as :func:`visible_documents`)."""
    if doc.agency_id != user.agency_id:
        return False
    if not doc.secrecy or user.role_set & SECRET_READERS or doc.created_by == user.id:
        return True
    a = session.scalars(
        select(Assignment).where(Assignment.document_id == doc.id, Assignment.current.is_(True))
    ).first()
    if a is None:
        return False
    if user.id == a.lead_user_id or user.id in json.loads(a.co_user_ids or "[]"):
        return True
    return user.unit_id is not None and (
        user.unit_id == a.lead_unit_id or user.unit_id in json.loads(a.co_unit_ids)
    )
