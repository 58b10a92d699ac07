"""Document types and abbreviations (Decree 30, Art. 7, Appendix III), number-and-symbol
formatting (Appendix I) and agency identifiers (QCVN 102:2016 and Decision 20/2020)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ClientError, NotFound

if TYPE_CHECKING:
    from .system import System


@dataclass(frozen=True)
class DocumentType:
    code: str  # stable identifier
    name: str  # Vietnamese name
    abbreviation: str | None  # None: Công văn, Thư công
    # Default retention in years; None: permanent (vĩnh viễn). *(practice)*: defaults in the
    # spirit of Circular 10/2022/TT-BNV; each agency adjusts them (`edms doctype retention`).
    retention_years: int | None = None


DOCUMENT_TYPES: tuple[DocumentType, ...] = (
    DocumentType("nghi-quyet", "Nghị quyết (cá biệt)", "NQ", None),
    DocumentType("quyet-dinh", "Quyết định (cá biệt)", "QĐ", None),
    DocumentType("chi-thi", "Chỉ thị", "CT", None),
    DocumentType("quy-che", "Quy chế", "QC", None),
    DocumentType("quy-dinh", "Quy định", "QyĐ", None),
    DocumentType("thong-cao", "Thông cáo", "TC", 10),
    DocumentType("thong-bao", "Thông báo", "TB", 10),
    DocumentType("huong-dan", "Hướng dẫn", "HD", 20),
    DocumentType("chuong-trinh", "Chương trình", "CTr", 20),
    DocumentType("ke-hoach", "Kế hoạch", "KH", 20),
    DocumentType("phuong-an", "Phương án", "PA", 20),
    DocumentType("de-an", "Đề án", "ĐA", None),
    DocumentType("du-an", "Dự án", "DA", None),
    DocumentType("bao-cao", "Báo cáo", "BC", 20),
    DocumentType("bien-ban", "Biên bản", "BB", 20),
    DocumentType("to-trinh", "Tờ trình", "TTr", 20),
    DocumentType("hop-dong", "Hợp đồng", "HĐ", 20),
    DocumentType("cong-dien", "Công điện", "CĐ", 10),
    DocumentType("ban-ghi-nho", "Bản ghi nhớ", "BGN", None),
    DocumentType("ban-thoa-thuan", "Bản thỏa thuận", "BTT", None),
    DocumentType("giay-uy-quyen", "Giấy ủy quyền", "GUQ", 10),
    DocumentType("giay-moi", "Giấy mời", "GM", 5),
    DocumentType("giay-gioi-thieu", "Giấy giới thiệu", "GGT", 5),
    DocumentType("giay-nghi-phep", "Giấy nghỉ phép", "GNP", 5),
    DocumentType("phieu-gui", "Phiếu gửi", "PG", 5),
    DocumentType("phieu-chuyen", "Phiếu chuyển", "PC", 5),
    DocumentType("phieu-bao", "Phiếu báo", "PB", 5),
    DocumentType("cong-van", "Công văn", None, 10),
    DocumentType("thu-cong", "Thư công", None, 10),
)
BY_CODE = {t.code: t for t in DOCUMENT_TYPES}
COPY_ABBREVIATIONS = {"sao-y": "SY", "trich-sao": "TrS", "sao-luc": "SL"}


def document_type(code: str) -> DocumentType:
    try:
        return BY_CODE[code]
    except KeyError:
        raise ClientError(f"unknown document type {code!r}") from None


def symbol(type_code: str, issuer_abbr: str, unit_abbr: str | None = None) -> str:
    """The symbol after the number: ``QĐ-UBND`` for most types; a Công văn (no type
    abbreviation) uses the issuing body and the drafting unit or field: ``UBND-VX``."""
    t = document_type(type_code)
    if not issuer_abbr:
        raise ClientError("the issuing body's abbreviation is required")
    if t.abbreviation is None:
        if not unit_abbr:
            raise ClientError(f"a {t.name} needs the drafting unit's abbreviation (e.g. VX)")
        return f"{issuer_abbr}-{unit_abbr}"
    return f"{t.abbreviation}-{issuer_abbr}"


def number_and_symbol(number: int, sym: str) -> str:
    """``15/QĐ-UBND``; numbers below 10 take a leading zero: ``05/QĐ-UBND``."""
    if number < 1:
        raise ClientError("document numbers start at 1")
    return f"{number:02d}/{sym}"


def so_line(number: int, sym: str) -> str:
    """The line printed on the document: ``Số: 15/QĐ-UBND``."""
    return f"Số: {number_and_symbol(number, sym)}"


_QCVN = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
_D20 = re.compile(r"^[A-Z]\d{2}(\.[A-Z0-9]+)*$")


def validate_agency_code(code: str) -> str:
    """Accept both identifier forms: QCVN 102:2016 ``000.00.00.H41`` (top level on the
    right) and Decision 20/2020 ``H37.02.02`` (top level on the left, up to 35 chars)."""
    code = code.strip().upper()
    if _QCVN.match(code) or (len(code) <= 35 and _D20.match(code)):
        return code
    raise ClientError(f"{code!r} is not an agency identifier (000.00.00.H41 or H37.02.02)")


def document_id(organ_id: str, issued: str, number: int, sym: str) -> str:
    """The exchange identifier ``{OrganId},{yyyy/MM/dd},{number}/{symbol}``; ``issued`` is
    an ISO date."""
    y, m, d = issued.split("-")
    return f"{validate_agency_code(organ_id)},{y}/{m}/{d},{number_and_symbol(number, sym)}"


# -- the agency-adjustable retention, as stored (the rows seeded from TYPES) ---------------


@dataclass(frozen=True)
class StoredType:
    code: str
    name: str
    abbreviation: str | None
    retention_years: int | None  # None: permanent


def stored_types(system: System) -> list[StoredType]:
    """The document types as the database holds them, with their current retention."""
    from sqlalchemy import select

    from .models import DocType

    with system.sessions() as s:
        return [
            StoredType(t.code, t.name, t.abbreviation, t.retention_years)
            for t in s.scalars(select(DocType).order_by(DocType.code))
        ]


def set_retention(system: System, actor: str, code: str, years: int | None) -> None:
    """Set a type's retention (years, None for permanent), audited in the same transaction."""
    from . import audit
    from .db import transaction
    from .models import DocType

    if years is not None and not 1 <= years <= 200:
        raise ClientError("retention must be between 1 and 200 years, or permanent")
    with transaction(system.sessions) as s:
        t = s.get(DocType, code)
        if t is None:
            raise NotFound(f"unknown document type {code!r}")
        t.retention_years = years
        audit.record(s, actor, "doctype.retention", "doctype", code, {"years": years})
