from __future__ import annotations

from pathlib import Path

import pytest

from edms.config import ConfigError, Settings, mask_url


def test_embedded_defaults() -> None:
    s = Settings.from_env({})
    assert s.storage_backend == "local"
    assert s.database_url.startswith("sqlite:///")
    assert s.storage_dir.is_absolute() and s.storage_dir.parts[-2:] == ("var", "store")
    assert "application/pdf" in s.allowed_types
    assert s.max_upload_bytes == 512 * 1024 * 1024


def test_s3_needs_credentials() -> None:
    with pytest.raises(ConfigError, match="EDMS_S3_ACCESS_KEY"):
        Settings.from_env({"EDMS_STORAGE_BACKEND": "s3"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EDMS_STORAGE_BACKEND": "ftp"}, "expected one of local, s3"),
        ({"EDMS_MAX_UPLOAD_MB": "lots"}, "expected a whole number"),
        ({"EDMS_S3_SECURE": "maybe"}, "expected true/false"),
        ({"EDMS_S3_PART_SIZE_MB": "1"}, "at least 5"),
        ({"EDMS_ENV": "production"}, "EDMS_SECRET_KEY"),
        ({"EDMS_ALLOWED_TYPES": " , "}, "at least one MIME type"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_masking_hides_secrets() -> None:
    s = Settings.from_env(
        {
            "EDMS_DATABASE_URL": "postgresql://edms:hunter2@db/edms",
            "EDMS_STORAGE_BACKEND": "s3",
            "EDMS_S3_ACCESS_KEY": "ak",
            "EDMS_S3_SECRET_KEY": "very-secret",
            "EDMS_SECRET_KEY": "flask-secret",
        }
    )
    shown = s.masked()
    text = repr(shown)
    assert "hunter2" not in text and "very-secret" not in text and "flask-secret" not in text
    assert shown["database_url"] == "postgresql://edms:********@db/edms"
    assert shown["s3_secret_key"] == "********"
    # every setting holding a secret is masked, whichever feature declared it
    secrets = {
        "EDMS_SMTP_PASSWORD": "smtp-secret",
        "EDMS_METRICS_TOKEN": "metrics-secret",
        "EDMS_BACKUP_S3_SECRET_KEY": "backup-secret",
        "EDMS_EXCHANGE_VDXP_SECRET": "axis-secret",
    }
    text = repr(Settings.from_env(secrets).masked())
    assert not [v for v in secrets.values() if v in text], text
    assert mask_url("sqlite:///var/edms.sqlite3") == "sqlite:///var/edms.sqlite3"


def test_config_show_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from edms.cli import main

    monkeypatch.setenv("EDMS_S3_SECRET_KEY", "do-not-print")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0
    assert "do-not-print" not in result.output
    assert "storage_backend" in result.output


def test_cli_bad_input_gets_a_clear_message(tmp_path: pytest.TempPathFactory) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "EDMS_DATA_DIR": str(tmp_path)}
    bad_hash = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "storage",
            "get",
            "00",
            "-o",
            os.path.join(str(tmp_path), "x"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_hash.returncode == 1
    assert (
        bad_hash.stderr.strip() == "error: '00' is not a SHA-256 digest (64 hexadecimal characters)"
    )
    no_init = subprocess.run(
        [
            sys.executable,
            "-m",
            "edms.cli",
            "storage",
            "get",
            "a" * 64,
            "-o",
            os.path.join(str(tmp_path), "x"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_init.returncode == 1
    assert "edms init" in no_init.stderr and "Traceback" not in no_init.stderr


def test_env_example_is_generated_from_the_declarations() -> None:
    """The committed .env.example is exactly what `edms config example` writes, and each
    value it sets is the default (or the declared example, shown instead)."""
    from pathlib import Path

    from dotenv import dotenv_values

    from edms.config import SETTINGS, env_example

    committed = Path(__file__).resolve().parent.parent / ".env.example"
    assert committed.read_text(encoding="utf-8") == env_example(), (
        "regenerate it: edms config example -o .env.example"
    )
    listed = {k: v for k, v in dotenv_values(committed).items() if v is not None}
    assert set(listed) | {s.env for s in SETTINGS if s.commented} == {s.env for s in SETTINGS}
    for s in SETTINGS:
        if s.env in listed:
            assert listed[s.env] == (s.example if s.example is not None else s.default), s.env
    examples = {s.env for s in SETTINGS if s.example is not None and not s.commented}
    from_file = Settings.from_env({k: v for k, v in listed.items() if k not in examples})
    assert from_file == Settings.from_env({})


def test_each_setting_declared_once_with_its_variable() -> None:
    from dataclasses import fields

    from edms.config import SECRET_FIELDS, SETTINGS

    attrs = [s.attr for s in SETTINGS]
    assert len(attrs) == len(set(attrs)) and len({s.env for s in SETTINGS}) == len(attrs)
    assert set(attrs) == {f.name for f in fields(Settings)} - {"extra"}
    assert {
        "s3_secret_key",
        "secret_key",
        "metrics_token",
        "backup_s3_secret_key",
        "exchange_vdxp_secret",
        "smtp_password",
    } <= SECRET_FIELDS
    s = Settings.from_env({"EDMS_MAX_UPLOAD_MB": "7", "EDMS_JOB_WORKERS": "7"})
    assert s.max_upload_bytes == 7 * 1024 * 1024 and s.job_workers == 7


def test_config_show_names_the_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    import json

    from click.testing import CliRunner

    from edms.cli import main

    monkeypatch.setenv("EDMS_JOB_WORKERS", "5")
    monkeypatch.setenv("EDMS_SMTP_PASSWORD", "do-not-print")
    monkeypatch.delenv("EDMS_LOG_LEVEL", raising=False)
    result = CliRunner().invoke(main, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["job_workers"] == {"value": 5, "source": "env", "env": "EDMS_JOB_WORKERS"}
    assert shown["log_level"]["source"] == "default"
    assert shown["smtp_password"]["value"] == "********"
    assert "do-not-print" not in result.output
    text = CliRunner().invoke(main, ["config", "show"]).output
    assert [line.split() for line in text.splitlines() if line.startswith("job_workers ")] == [
        ["job_workers", "env", "5"]
    ]


@pytest.mark.parametrize("command", [["sign", "--signer", "leader1"], ["extend"]])
def test_signing_commands_name_a_bad_setting(command: list[str], tmp_path: Path) -> None:
    """`edms sign` and `edms extend` read the configuration like every command: a bad
    value is one line and exit 2, not a traceback."""
    from click.testing import CliRunner

    from edms.cli import main

    src = tmp_path / "in.pdf"
    src.write_bytes(b"%PDF-1.7\n")
    args = [command[0], str(src), "-o", str(tmp_path / "out.pdf"), *command[1:]]
    if command[0] == "sign":
        args += ["--profile", "personal"]
    result = CliRunner().invoke(main, args, env={"EDMS_S3_PART_SIZE_MB": "1"})
    assert result.exit_code == 2, result.output
    assert "error: configuration: EDMS_S3_PART_SIZE_MB='1': must be at least 5" in result.output
