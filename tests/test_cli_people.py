"""`edms key bind` and `edms doctype retention` through the command line: the options
naming a key (shared with `edms sign`, edms/cli/base.py) reach the binding as one
SignerRef; a retention that is not a number of years, or a day that is not a date, is
refused in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edms import orgs
from edms.config import Settings
from edms.system import System


@pytest.fixture()
def env(tmp_path: Path, dev_pki: Any) -> Iterator[dict[str, str]]:
    values = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_PKI_DIR": str(dev_pki.directory),
        "EDMS_ENV": "development",
    }
    system = System(Settings.from_env(values))
    system.init()
    orgs.create_agency(system, "000.00.00.H41", "Ủy ban nhân dân tỉnh", "UBND", "Tuyên Quang")
    orgs.create_user(system, "000.00.00.H41", "ld", "Lãnh đạo", "leader")
    system.close()
    yield values


def _edms(env: dict[str, str], *args: str) -> Any:
    from edms.cli import main

    return CliRunner().invoke(main, list(args), env=env)


def test_key_bind_with_a_development_signer(env: dict[str, str]) -> None:
    bound = _edms(env, "key", "bind", "--user", "ld", "--signer", "leader1")
    assert bound.exit_code == 0, bound.output
    assert bound.output.startswith("key ") and " bound: " in bound.output
    from sqlalchemy import select

    from edms.models import SigningKey

    system = System(Settings.from_env(env))
    try:
        with system.sessions() as s:
            key = s.scalars(select(SigningKey).filter_by(active=True)).one()
        assert key.kind == "dev"
        assert json.loads(key.locator) == {"label": "leader1", "pkcs11_pin_env": "EDMS_PKCS11_PIN"}
    finally:
        system.close()


def test_key_bind_passes_the_pkcs11_options(env: dict[str, str]) -> None:
    half = _edms(env, "key", "bind", "--agency", "000.00.00.H41", "--pkcs11-lib", "/none.so")
    assert half.exit_code == 1
    assert "error: a PKCS#11 signer needs --pkcs11-token and --pkcs11-key" in half.output
    none = _edms(env, "key", "bind", "--agency", "000.00.00.H41")
    assert none.exit_code == 1 and "name a signer" in none.output


def test_doctype_retention_takes_years_or_permanent(env: dict[str, str]) -> None:
    assert _edms(env, "doctype", "retention", "cong-van", "7").output == "cong-van: 7 years\n"
    for bad in ("abc", "0", "1.5"):
        refused = _edms(env, "doctype", "retention", "cong-van", bad)
        assert refused.exit_code == 2, (bad, refused.output)
        assert refused.output == "error: retention is at least one year, or 'permanent'\n"
    kept = _edms(env, "doctype", "list").output.splitlines()
    assert next(line for line in kept if line.startswith("cong-van ")).endswith("7 năm")
    assert _edms(env, "doctype", "retention", "cong-van", "permanent").exit_code == 0
    unknown = _edms(env, "doctype", "retention", "khong-co", "5")
    assert unknown.exit_code == 1 and "unknown document type 'khong-co'" in unknown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dossier", "create", "--as", "ld", "HS-1", "--title", "T", "--keep", "abc"), "retention"),
        (("holiday", "set", "2026-13-01", "Tết"), "'2026-13-01' is not a date (YYYY-MM-DD)"),
        (("holiday", "remove", "mai"), "'mai' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_years_and_dates_are_one_line(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    """The other commands that take a retention or a day parse it like doctype retention."""
    refused = _edms(env, *args)
    assert refused.exit_code == 2, refused.output
    assert refused.output.startswith("error: ") and message in refused.output
    assert len(refused.output.splitlines()) == 1
