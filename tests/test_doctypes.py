from __future__ import annotations

import pytest

from edms.doctypes import (
    DOCUMENT_TYPES,
    document_id,
    number_and_symbol,
    so_line,
    symbol,
    validate_agency_code,
)
from edms.errors import EdmsError


def test_the_29_types_of_appendix_iii() -> None:
    assert len(DOCUMENT_TYPES) == 29
    abbrs = [t.abbreviation for t in DOCUMENT_TYPES if t.abbreviation]
    assert len(abbrs) == 27 and len(set(abbrs)) == 27
    # the 2011 abbreviations are wrong today
    assert not {"GN", "TTh", "QCh", "DAn", "TS"} & set(abbrs)


def test_number_and_symbol() -> None:
    assert so_line(15, symbol("quyet-dinh", "UBND")) == "Số: 15/QĐ-UBND"
    assert number_and_symbol(5, symbol("quyet-dinh", "BNV")) == "05/QĐ-BNV"
    assert number_and_symbol(12, symbol("cong-van", "UBND", "VX")) == "12/UBND-VX"
    with pytest.raises(EdmsError, match="drafting unit"):
        symbol("cong-van", "UBND")
    with pytest.raises(EdmsError):
        number_and_symbol(0, "QĐ-UBND")


@pytest.mark.parametrize(
    "code", ["000.00.00.G22", "000.00.18.G12", "000.00.00.H41", "G06.01", "H37.02.02", "h41"]
)
def test_agency_codes_accepted(code: str) -> None:
    assert validate_agency_code(code) == code.upper()


@pytest.mark.parametrize(
    "code", ["00.00.00.G22", "000.00.00.22G", "37.02", "", "H4", "G06." + "1" * 40]
)
def test_agency_codes_refused(code: str) -> None:
    with pytest.raises(EdmsError):
        validate_agency_code(code)


def test_document_id() -> None:
    assert (
        document_id("000.00.00.G22", "2018-09-20", 7816, "VPCP-TTĐT")
        == "000.00.00.G22,2018/09/20,7816/VPCP-TTĐT"
    )
