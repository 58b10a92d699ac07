"""Gap-free yearly numbering (Decree 30, Art. 15, 22).

A series belongs to one register of one agency for one calendar year in Asia/Ho_Chi_Minh
time: it starts at 1 on 1 January. A number is taken with one atomic ``UPDATE ...
RETURNING`` inside the caller's transaction, so concurrent clerks never get the same
number, and a transaction that rolls back gives its number back: no gaps.
:func:`peek_number` only reads the next one (nothing is reserved).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import ClientError
from .models import Register

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
KINDS = ("outgoing", "incoming", "copies", "secret")


def register_year(moment: datetime | date) -> int:
    """The numbering year of a moment: the calendar year in Vietnam."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime: give times in UTC or with their offset")
        return moment.astimezone(VN_TZ).year
    return moment.year


def register_for(session: Session, agency_id: int, kind: str, moment: datetime | date) -> Register:
    """The register of this agency, kind and year, created on first use."""
    if kind not in KINDS:
        raise ClientError(f"unknown register kind {kind!r} (expected one of {', '.join(KINDS)})")
    year = register_year(moment)
    query = select(Register).where(
        Register.agency_id == agency_id, Register.kind == kind, Register.year == year
    )
    found = session.scalars(query).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            reg = Register(agency_id=agency_id, kind=kind, year=year, next_number=1)
            session.add(reg)
        return reg
    except IntegrityError:  # created concurrently by another transaction
        return session.scalars(query).one()


def take_number(session: Session, register_id: int) -> int:
    """The next number of the register, atomically, in the caller's transaction."""
    value = session.execute(
        update(Register)
        .where(Register.id == register_id)
        .values(next_number=Register.next_number + 1)
        .returning(Register.next_number)
    ).scalar_one()
    return int(value) - 1


def peek_number(session: Session, agency_id: int, kind: str, moment: datetime | date) -> int:
    """The number the register of this agency, kind and year would give next, without
    taking it or creating the register: what a page shows before the clerk confirms. Another
    clerk may take it first; the number actually given is :func:`take_number`'s."""
    if kind not in KINDS:
        raise ClientError(f"unknown register kind {kind!r} (expected one of {', '.join(KINDS)})")
    found = session.scalars(
        select(Register.next_number).where(
            Register.agency_id == agency_id,
            Register.kind == kind,
            Register.year == register_year(moment),
        )
    ).first()
    return 1 if found is None else int(found)


def format_number(number: int) -> str:
    """Numbers below 10 take a leading zero (Appendix I): 5 → "05"."""
    return f"{number:02d}"
