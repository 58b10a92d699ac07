"""Configuration from ``EDMS_*`` environment variables (and an optional ``.env`` file).

Every setting has a safe embedded default: SQLite and the local object store under the
data directory, so ``edms init && edms serve`` works with nothing configured.

Invariant: each setting is declared exactly once, as a field of :class:`Settings` made by
one of the kind helpers of :mod:`edms.config_kinds` (its type, default, bounds, help text,
secret flag, and how ``.env.example`` shows it). :meth:`Settings.from_env`, :data:`SETTINGS`,
:data:`SECRET_FIELDS`, :func:`env_example` (the committed ``.env.example``, checked by a
test) and ``edms config show`` are all derived from those fields. Importing this module
loads only the standard library.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .config_kinds import (
    MIB,
    ConfigError,
    Setting,
    _declare,
    _megabytes,
    _mime_types,
    _networks,
    choice,
    flag,
    integer,
    number,
    optional_flag,
    optional_path,
    optional_text,
    path,
    text,
    words,
)

DEFAULT_ALLOWED_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "application/xml",
    "text/xml",
)
LEVELS = ("b-b", "b-t", "b-lt", "b-lta")


# -- the settings ------------------------------------------------------------------------


def _sqlite_in_data_dir(values: Mapping[str, Any]) -> str:
    return f"sqlite:///{values['data_dir'] / 'edms.sqlite3'}"


def _store_in_data_dir(values: Mapping[str, Any]) -> Path:
    return Path(values["data_dir"]) / "store"


@dataclass(frozen=True)
class Settings:
    env: str = choice(
        "development",
        ("development", "production"),
        "development | production. Production requires EDMS_SECRET_KEY.",
        intro=" ",
    )
    secret_key: str = text(
        "",
        "Secret for signing browser sessions: a long random value (openssl rand -hex 32).",
        secret=True,
    )
    log_level: str = text("INFO", "", str.upper)
    data_dir: Path = path(  # noqa: RUF009 (a field, not a shared default)
        Path("var"), "Where the embedded database and object store live.", intro=" "
    )
    database_url: str = text(
        "",
        "Metadata database. Default: sqlite:///$EDMS_DATA_DIR/edms.sqlite3. PostgreSQL: "
        "postgresql://USER:PASSWORD@HOST:5432/DBNAME (driver psycopg 3).",
        derive=_sqlite_in_data_dir,
        intro=" ",
    )
    storage_backend: str = choice(
        "local",
        ("local", "s3"),
        "Object storage: local (a directory) or s3 (MinIO, any S3; SeaweedFS in the tests).",
        intro=" ",
    )
    storage_dir: Path = path(  # noqa: RUF009 (a field, not a shared default)
        Path("var/store"),
        "Local store directory. Default: $EDMS_DATA_DIR/store",
        text="",
        derive=_store_in_data_dir,
    )
    s3_endpoint: str = text(
        "127.0.0.1:9000",
        "",
        example="minio.internal:9000",
        intro="S3 / MinIO (used when EDMS_STORAGE_BACKEND=s3)",
    )
    s3_access_key: str = text("", "")
    s3_secret_key: str = text("", "", secret=True)
    s3_bucket: str = text("edms", "")
    s3_region: str | None = optional_text("")
    s3_secure: bool = flag(
        True, "true: HTTPS (default). Set a CA bundle for an internal certificate authority."
    )
    s3_ca_bundle: str | None = optional_text("")
    s3_object_lock: str = choice(
        "auto",
        ("auto", "on", "off"),
        "Object Lock when EDMS creates the bucket: auto (use it when the server supports "
        "it), on (refuse to run without it), off. It can only be enabled at bucket creation.",
    )
    s3_part_size_mb: int = integer(
        16,
        "Multipart part size in MiB (>= 5). Objects up to this size go in a single PUT.",
        5,
    )
    allowed_types: tuple[str, ...] = words(
        DEFAULT_ALLOWED_TYPES,
        "Uploads: allowed real types (detected from content, not the name) and the size "
        "limit (MB).",
        _mime_types,
        intro=" ",
    )
    max_upload_bytes: int = _declare(
        512 * MIB, _megabytes(512 * MIB), "", env="EDMS_MAX_UPLOAD_MB", text="512"
    )
    retention_mode: str = choice(
        "GOVERNANCE",
        ("governance", "compliance"),
        "Retention of stored originals: governance (an administrator with the right "
        "permission may shorten it) or compliance (nobody can). Years applied to each new "
        "original; 0 = none.",
        upper=True,
        intro=" ",
    )
    retention_default_years: int = integer(10, "")
    retention_permanent_years: int = integer(
        100,
        "Years an official record of a permanent type (vĩnh viễn) is locked for in the store.",
        1,
    )
    sign_level_personal: str = choice(
        "B-T",
        LEVELS,
        "PAdES levels of the leader's personal signature and of the agency's seal "
        "signature (B-B, B-T, B-LT, B-LTA). B-T and above need a TSA (EDMS_TSA_URL, or the "
        "dev TSA).",
        upper=True,
    )
    sign_level_seal: str = choice("B-LT", LEVELS, "", upper=True)
    pki_dir: Path = path(  # noqa: RUF009 (a field, not a shared default)
        Path("certs-dev"),
        "Development PKI directory (generated, never used in production).",
        intro=" ",
    )
    # security limits (docs/security.md)
    trusted_proxies: tuple[str, ...] = words(
        (),
        "The reverse proxies in front of EDMS (addresses or networks, comma-separated): "
        "only their X-Forwarded-For / X-Forwarded-Proto are believed. Rate limits key on "
        "the client address worked out from them. Empty: no proxy, the connecting address "
        "is the client.",
        _networks,
        intro="-- security limits (docs/security.md) --",
    )
    public_upload_mb: int = integer(
        32,
        "Public pages that check files (/xac-thuc, /verify/{id}): one upload size for all "
        "(MB); at most CONCURRENCY checks at a time per server process and QUEUE more "
        "waiting up to QUEUE_SECONDS; beyond that 429 or 503 with Retry-After. The rest of "
        "each process's threads (`edms serve --threads`) stay for /healthz and logged-in "
        "work.",
        1,
    )
    public_concurrency: int = integer(2, "", 1)
    public_queue: int = integer(2, "", 0)
    public_queue_seconds: float = number(10.0, "", 0)
    pdf_max_stream_mb: int = integer(
        64,
        "What an uploaded PDF may unpack to (one stream, all streams; MB), and the largest "
        "image (a scan's page, an image in a PDF) in megapixels: beyond these it is "
        "refused (422).",
        1,
    )
    pdf_max_expanded_mb: int = integer(512, "", 1)
    max_megapixels: int = integer(100, "", 1)
    render_memory_mb: int = integer(
        1024, "Memory limits (MB of address space per process) of page previews and of OCR.", 64
    )
    ocr_memory_mb: int = integer(4096, "", 256)
    metrics_token: str = text(
        "",
        "/metrics answers requests from this machine (not through the proxy) and requests "
        "with `Authorization: Bearer <token>` (a long random secret; empty: no token "
        "accepted).",
        secret=True,
    )
    # signing and verification
    tsa_url: str | None = optional_text(
        "RFC 3161 timestamp authority for B-T and higher. Default in development: the dev "
        "PKI's responder (`edms dev-services`, started by `make run`).",
        intro="Signing and verification services.",
    )
    trust_official: Path | None = optional_path(  # noqa: RUF009 (a field, not a shared default)
        "Trusted roots (PEM bundles): the official-duty CA regime (Ban Cơ yếu Chính phủ) "
        "and the public CA regime (NEAC). In development the dev PKI root is trusted as well."
    )
    trust_public: Path | None = optional_path("")  # noqa: RUF009
    trust_vn: bool = flag(
        True,
        "Trust both Vietnamese PKI regimes (docs/validation.md, edms.trust), read from "
        "EDMS_TRUST_VN_DIR: the third-party material laid out as shared/trust/vn "
        "(index.tsv with provenance).",
    )
    trust_vn_dir: Path = path(Path("../shared/trust/vn"), "")  # noqa: RUF009
    installation_admins: tuple[str, ...] = words(
        (),
        "Usernames allowed to change the installation-wide trust from the web "
        "(comma-separated); everyone else manages it with `edms trust ...` on the server.",
    )
    revocation_fetching: bool = flag(
        True, "Fetch OCSP responses and CRLs online when signing at B-LT and higher."
    )
    revocation_cache_seconds: int = integer(
        120,
        "Seconds for which OCSP responses, CRLs and the TSA's certificate chain fetched for "
        "one signature are reused by the next ones signed in the same worker (batches of "
        "seals and copies); every signature still gets its own timestamp. 0: fetch for "
        "every signature.",
    )
    # API and background jobs
    redis_url: str | None = optional_text(
        "Without Redis the service runs background jobs (batch signing, large "
        "verifications) in a thread pool of its own. With it, jobs go to an RQ queue and "
        "`edms worker` processes run them; any number of API and worker processes can "
        "share one PostgreSQL, S3 and Redis.",
        example="redis://127.0.0.1:6379/0",
        commented=True,
        intro="-- API and background jobs --",
    )
    redis_queue: str = text("edms", "", lambda v: v.strip() or "edms", commented=True)
    job_workers: int = integer(2, "", 1)
    verify_inline_mb: int = integer(
        32, "POST /api/v1/verify answers at once up to this size; larger files become a job.", 1
    )
    public_url: str = text(
        "http://127.0.0.1:8000",
        "The address people and other agencies reach this service at (links, QR codes).",
        lambda v: v.rstrip("/"),
    )
    # digitization
    scan_min_dpi: int = integer(
        200,
        "Scans below the minimum resolution are refused (Circular 01/2023: 200 dpi); below "
        "the warning threshold they are accepted with a warning (archives: 300 dpi).",
        72,
        intro="-- digitization --",
    )
    scan_warn_dpi: int = integer(300, "", 72)
    ocr_jobs: int = integer(2, "Parallel OCR processes per copy (OCRmyPDF --jobs).", 1)
    # inter-agency exchange (docs/exchange.md)
    exchange_max_mb: int = integer(
        64,
        "The largest package the inbox takes (MB), and how the outbox delivers: attempts "
        "with exponential back-off from RETRY_BASE up to RETRY_MAX seconds, at most "
        "MAX_ATTEMPTS, then the dispatch is shown as failed. The delivery loop runs in "
        "`edms serve` and `edms worker` (EXCHANGE_PUMP=false to leave it to "
        "`edms exchange deliver --loop`).",
        1,
        intro="-- inter-agency exchange (liên thông văn bản, edXML / QCVN 102:2016) --",
    )
    exchange_pump: bool = flag(True, "")
    exchange_poll_seconds: float = number(2.0, "", 0.05)
    exchange_retry_base_seconds: float = number(5.0, "", 0.01)
    exchange_retry_max_seconds: float = number(3600.0, "", 0.01)
    exchange_max_attempts: int = integer(12, "", 1)
    exchange_timeout: float = number(60.0, "", 1)
    exchange_ca_bundle: Path | None = optional_path(  # noqa: RUF009 (a field, not a shared default)
        "CA bundle for the other agencies' HTTPS endpoints (default: the system's)."
    )
    exchange_private_endpoints: bool = flag(
        False,
        "Partner endpoints on loopback, link-local or private addresses (tests, closed "
        "networks only).",
    )
    exchange_transport: str = choice(
        "direct",
        ("direct", "vdxp"),
        "How packages travel: direct (agency to agency) or vdxp (through a national or "
        "provincial exchange axis speaking VNPT's VDXP protocol: its base URL (…/vdxp), and "
        "the system id and secret its operator issued; the secret stays in the "
        "environment, never in git).",
    )
    exchange_vdxp_endpoint: str = text("", "", lambda v: v.strip().rstrip("/"))
    exchange_vdxp_system_id: str = text("", "", str.strip)
    exchange_vdxp_secret: str = text("", "", secret=True)
    exchange_vdxp_poll_seconds: float = number(
        15.0, "Seconds between two polls of the axis for received packages (one process).", 0.05
    )
    axis_hub: bool = flag(
        False,
        "This installation as an exchange axis for other systems (serves /vdxp; systems "
        "connect with `edms axis system add`). A request's signed timestamp is accepted "
        "from CLOCK_SKEW seconds ahead to MAX_AGE seconds old; replays are refused within "
        "that window.",
    )
    axis_max_age_seconds: int = integer(900, "", 10)
    axis_clock_skew_seconds: int = integer(300, "", 0)
    # long-term archiving, backups, failures (docs/archive.md)
    archive_renew_days: int = integer(
        180,
        "A kept signed document is due for a new archive timestamp this many days before "
        "its protection ends (its TSA certificate expires, an algorithm is deprecated); the "
        "workers (or the service, without Redis) run the renewal every "
        "ARCHIVE_RENEW_EVERY_HOURS (0: off).",
        1,
        intro="-- long-term archive, backups, failures (docs/archive.md) --",
    )
    archive_renew_every_hours: float = number(24.0, "", 0)
    backup_s3_endpoint: str | None = optional_text(
        "`edms backup s3://BUCKET`: the backup bucket's server and keys (default: the store's).",
        example="backup.example.gov.vn:9000",
        commented=True,
    )
    backup_s3_access_key: str = text("", "", commented=True)
    backup_s3_secret_key: str = text("", "", secret=True, commented=True)
    backup_s3_secure: bool | None = optional_flag("", example="true", commented=True)
    pg_bin_dir: Path | None = optional_path(  # noqa: RUF009 (a field, not a shared default)
        "Where pg_dump and pg_restore are (default: the PATH).",
        relative=False,
        example="/usr/lib/postgresql/15/bin",
        commented=True,
    )
    disk_min_free_mb: int = integer(
        100,
        "/healthz names the disk when the data directory has less free space than this (MB).",
    )
    jobs_redispatch_seconds: float = number(
        60.0,
        "With Redis: jobs still queued this long that Redis no longer holds are queued again.",
        1,
    )
    # notices (docs/citizens.md)
    smtp_host: str = text(
        "",
        "E-mail over SMTP (no host: no e-mail) and signed webhooks, with their delivery loop.",
        str.strip,
        example="smtp.example.gov.vn",
        commented=True,
        intro="-- notices to citizens and staff (docs/citizens.md) --",
    )
    smtp_port: int = integer(587, "", 1, commented=True)
    smtp_tls: str = choice(
        "starttls", ("starttls", "tls", "none"), "starttls | tls | none", commented=True
    )
    smtp_user: str = text("", "", str.strip, commented=True)
    smtp_password: str = text("", "", secret=True, commented=True)
    smtp_from: str = text(
        "", "", str.strip, example="Một cửa UBND tỉnh <motcua@example.gov.vn>", commented=True
    )
    smtp_timeout: float = number(30.0, "", 1)
    notice_webhook_timeout: float = number(10.0, "", 0.5)
    notice_private_webhooks: bool = flag(
        False, "Webhooks to loopback/private addresses (tests, closed networks only)."
    )
    notice_retry_base_seconds: float = number(30.0, "", 0.01)
    notice_retry_max_seconds: float = number(3600.0, "", 0.01)
    notice_max_attempts: int = integer(10, "", 1)
    notice_poll_seconds: float = number(5.0, "", 0.05)
    notice_pump: bool = flag(True, "")
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        base = config_base()
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw = env.get(s.env)
            if raw is None:
                raw = s.default
            value = s.derive(values) if s.derive is not None and raw == "" else s.parse(s.env, raw)
            if s.relative and isinstance(value, Path) and not value.is_absolute():
                value = base / value
            values[s.attr] = value
        settings = cls(**values)
        if settings.storage_backend == "s3" and not (
            settings.s3_access_key and settings.s3_secret_key
        ):
            raise ConfigError(
                "EDMS_STORAGE_BACKEND=s3 needs EDMS_S3_ACCESS_KEY and EDMS_S3_SECRET_KEY"
            )
        if settings.exchange_transport == "vdxp" and not (
            settings.exchange_vdxp_endpoint
            and settings.exchange_vdxp_system_id
            and settings.exchange_vdxp_secret
        ):
            raise ConfigError(
                "EDMS_EXCHANGE_TRANSPORT=vdxp needs EDMS_EXCHANGE_VDXP_ENDPOINT, "
                "EDMS_EXCHANGE_VDXP_SYSTEM_ID and EDMS_EXCHANGE_VDXP_SECRET"
            )
        if settings.smtp_host and not settings.smtp_from:
            raise ConfigError(
                "EDMS_SMTP_HOST needs EDMS_SMTP_FROM (the sender of notices, "
                "e.g. 'Bộ phận một cửa <motcua@example.gov.vn>')"
            )
        if settings.env == "production" and not settings.secret_key:
            raise ConfigError("EDMS_SECRET_KEY must be set when EDMS_ENV=production")
        return settings

    def masked(self) -> dict[str, Any]:
        """The effective configuration, secrets masked, as plain values."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = getattr(self, s.attr)
            if s.secret:
                value = "********" if value else "(not set)"
            elif s.attr == "database_url":
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = ",".join(value)
            out[s.attr] = value
        return out


SETTINGS: tuple[Setting, ...] = tuple(
    replace(
        f.metadata["setting"],
        attr=f.name,
        env=f.metadata["setting"].env or f"EDMS_{f.name.upper()}",
    )
    for f in fields(Settings)
    if "setting" in f.metadata
)
"""Every setting, in the order of ``.env.example``."""

SECRET_FIELDS = frozenset(s.attr for s in SETTINGS if s.secret)


def sources(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where each setting's value comes from: ``env``, ``.env`` (read by
    :func:`load_dotenv_file`) or ``default``."""
    env = os.environ if environ is None else environ
    return {
        s.attr: (".env" if s.env in _from_dotenv else "env") if s.env in env else "default"
        for s in SETTINGS
    }


_EXAMPLE_HEAD = """\
EDMS configuration. Copy to `.env` (read from the working directory, else from the
checkout; variables already set in the environment win; relative paths are taken from the
folder of `.env`) or set these in the service's environment. Every variable is optional:
with none set, EDMS runs on the embedded default (SQLite + local object store under ./var).
Generated from edms/config.py by `edms config example -o .env.example`."""


def env_example() -> str:
    """The text of ``.env.example``: every setting with its help and its default (or an
    example value), in declaration order."""

    def comment(text: str) -> list[str]:
        return [f"# {line}" for line in textwrap.wrap(text, 88)]

    lines = [f"# {line}".rstrip() for line in _EXAMPLE_HEAD.splitlines()]
    for s in SETTINGS:
        if s.intro:
            lines.append("")
            if s.intro.strip():
                lines += comment(s.intro)
        lines += comment(s.help)
        value = s.example if s.example is not None else s.default
        lines.append(f"{'# ' if s.commented else ''}{s.env}={value}")
    return "\n".join(lines) + "\n"


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_dotenv_dir: Path | None = None
_from_dotenv: set[str] = set()


def install_root() -> Path | None:
    """The checkout EDMS runs from (the folder with ``pyproject.toml`` beside the ``edms``
    package), or None for an installed package."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "edms").is_dir() else None


def config_base() -> Path:
    """What relative paths in the configuration are relative to, so that they never depend
    on the working directory of a command: the folder of the ``.env`` file that was read,
    else the checkout, else (an installed package without ``.env``) the working directory
    at start-up — production sets absolute paths (docs/deployment.md)."""
    return _dotenv_dir or install_root() or _START_DIR


_START_DIR = Path.cwd()


def load_dotenv_file(path: str | os.PathLike[str] | None = None) -> None:
    """Read ``.env`` (from the working directory, else from the checkout) into the
    environment without overriding variables already set; remember which it set (for
    ``edms config show``)."""
    global _dotenv_dir
    candidates = (
        [Path(path)]
        if path is not None
        else [Path(".env"), *([r / ".env"] if (r := install_root()) else [])]
    )
    for candidate in candidates:
        if candidate.is_file():
            from dotenv import load_dotenv

            before = set(os.environ)
            load_dotenv(candidate, override=False)
            _from_dotenv.update(set(os.environ) - before)
            _dotenv_dir = candidate.resolve().parent
            return
