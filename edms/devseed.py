"""The development agency: a ready-to-use agency seeded from the development PKI, for
`edms dev-seed`, the tests and the benchmarks.

Invariants: refused outside ``EDMS_ENV=development``; seeding twice changes nothing (the
second call returns False); every user gets their own password hash (one salt each); the
leaders' signing PIN is :data:`edms.auth.DEV_SIGNING_PIN`. This module sits above
:mod:`edms.orgs` and :mod:`edms.auth` (it uses both; neither imports it).
"""

from __future__ import annotations

from sqlalchemy import select

from signing import devpki

from .auth import hash_password, seed_signing_pin
from .errors import ClientError
from .models import Agency
from .orgs import bind_key, create_agency, create_unit, create_user
from .signatures import SignerRef
from .system import System

DEV_USER_PASSWORD = "edms-dev-password"  # development seed only, never in production
DEV_LEADERS = ("chutich", "phochutich")  # their signing PIN: auth.DEV_SIGNING_PIN


def seed_development(system: System) -> bool:
    """A ready-to-use development agency (the dev PKI's provincial People's Committee, and
    the People's Committees of some of its communes) with units, users for each role
    (password :data:`DEV_USER_PASSWORD`), their keys and the leaders' signing PIN
    (:data:`edms.auth.DEV_SIGNING_PIN`). Refused outside development. Returns False when
    already seeded."""
    if not system.settings.is_development:
        raise ClientError("the development agency is only seeded with EDMS_ENV=development")
    pki_dir = system.settings.pki_dir
    if not devpki.exists(pki_dir):
        raise ClientError(f"no development PKI in {pki_dir}: run `edms dev-pki` first")
    agency = devpki.load(pki_dir).agency
    with system.sessions() as s:
        if s.scalars(select(Agency).where(Agency.code == agency.code)).first():
            return False
    create_agency(system, agency.code, agency.name, agency.short, agency.city)
    for code, name in (
        ("VP", "Văn phòng"),
        ("VX", "Phòng Văn hóa - Xã hội"),
        ("KT", "Phòng Kinh tế"),
    ):
        create_unit(system, agency.code, code, name, code)
    people = (
        ("chutich", "Nguyễn Văn Thành", "leader", "Chủ tịch", "VP", "leader1"),
        ("phochutich", "Trần Thị Hồng Nhung", "leader", "Phó Chủ tịch", "VP", "leader2"),
        ("vanthu", "Hoàng Thị Mai", "clerk", "Văn thư", "VP", None),
        ("chuyenvien", "Đỗ Minh Quân", "officer", "Chuyên viên", "VX", None),
        ("quantri", "Vũ Đức Anh", "admin", "Quản trị hệ thống", "VP", None),
    )
    for username, name, role, title, unit, label in people:
        # one hash (and so one salt) per user
        create_user(
            system,
            agency.code,
            username,
            name,
            role,
            title=title,
            unit_code=unit,
            password_hash=hash_password(DEV_USER_PASSWORD),
        )
        if label:
            bind_key(system, SignerRef(label=label), username=username)
            seed_signing_pin(system, username)
    bind_key(system, SignerRef(label="agency"), agency_code=agency.code)
    if agency.code == devpki.AGENCY_CODE:  # the province's communes (two-level government)
        for code, name, place in devpki.COMMUNES:
            create_agency(system, code, name, "UBND", place)
    return True
