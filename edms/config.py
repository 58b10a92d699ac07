"""Configuration from ``EDMS_*`` environment variables (and an optional ``.env`` file).

Every setting has a safe embedded default: SQLite and the local object store under the
data directory, so ``edms init && edms serve`` works with nothing configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ALLOWED_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "application/xml",
    "text/xml",
)
LEVELS = ("b-b", "b-t", "b-lt", "b-lta")
SECRET_FIELDS = {"s3_secret_key", "secret_key", "metrics_token"}


SECRET_FIELDS.add("backup_s3_secret_key")
SECRET_FIELDS.add("exchange_vdxp_secret")
SECRET_FIELDS.add("smtp_password")


class ConfigError(ValueError):
    """An environment variable has a value EDMS cannot use."""


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={value!r}: expected true/false")


def _int(name: str, value: str, minimum: int = 0) -> int:
    try:
        n = int(value.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a whole number") from None
    if n < minimum:
        raise ConfigError(f"{name}={value!r}: must be at least {minimum}")
    return n


def _float(name: str, value: str, minimum: float = 0.0) -> float:
    try:
        n = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number") from None
    if n < minimum:
        raise ConfigError(f"{name}={value!r}: must be at least {minimum}")
    return n


def _networks(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks (``10.0.0.5, 10.1.0.0/16``)."""
    import ipaddress

    out = []
    for part in value.split(","):
        if part.strip():
            try:
                out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(
                    f"{name}: {part.strip()!r} is not an IP address or network"
                ) from None
    return tuple(out)


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    v = value.strip().lower()
    if v not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return v


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    storage_backend: str = "local"
    storage_dir: Path = Path("var/store")
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "edms"
    s3_region: str | None = None
    s3_secure: bool = True
    s3_ca_bundle: str | None = None
    s3_object_lock: str = "auto"
    s3_part_size_mb: int = 16
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    max_upload_bytes: int = 512 * 1024 * 1024
    retention_mode: str = "GOVERNANCE"
    retention_default_years: int = 10
    retention_permanent_years: int = 100
    sign_level_personal: str = "B-T"
    sign_level_seal: str = "B-LT"
    secret_key: str = ""
    pki_dir: Path = Path("certs-dev")
    tsa_url: str | None = None
    trust_official: Path | None = None
    trust_public: Path | None = None
    trust_vn: bool = True  # the Vietnamese roots and intermediates (edms.trust)
    # where that third-party material is (laid out as ../shared/trust/vn, with index.tsv)
    trust_vn_dir: Path = Path("../shared/trust/vn")
    # users who may change the installation-wide trust from the web (edms.trust)
    installation_admins: tuple[str, ...] = ()
    revocation_fetching: bool = True
    revocation_cache_seconds: int = 120
    log_level: str = "INFO"
    redis_url: str | None = None
    redis_queue: str = "edms"
    job_workers: int = 2
    # long-term archiving and backups (docs/archive.md)
    archive_renew_days: int = 180
    archive_renew_every_hours: float = 24.0
    backup_s3_endpoint: str | None = None
    backup_s3_access_key: str = ""
    backup_s3_secret_key: str = ""
    backup_s3_secure: bool | None = None
    pg_bin_dir: Path | None = None
    disk_min_free_mb: int = 100
    jobs_redispatch_seconds: float = 60.0
    verify_inline_mb: int = 32
    scan_min_dpi: int = 200
    scan_warn_dpi: int = 300
    ocr_jobs: int = 2
    public_url: str = "http://127.0.0.1:8000"
    exchange_max_mb: int = 64
    exchange_pump: bool = True
    exchange_poll_seconds: float = 2.0
    exchange_retry_base_seconds: float = 5.0
    exchange_retry_max_seconds: float = 3600.0
    exchange_max_attempts: int = 12
    exchange_timeout: float = 60.0
    exchange_ca_bundle: Path | None = None
    # partner endpoints on loopback, link-local or private addresses (tests, closed networks)
    exchange_private_endpoints: bool = False
    # the national or a provincial exchange axis (VDXP protocol, docs/exchange.md)
    exchange_transport: str = "direct"  # direct | vdxp
    exchange_vdxp_endpoint: str = ""  # the axis's base URL (…/vdxp)
    exchange_vdxp_system_id: str = ""
    exchange_vdxp_secret: str = ""
    exchange_vdxp_poll_seconds: float = 15.0
    # this installation as an axis for other systems (hub mode, /vdxp)
    axis_hub: bool = False
    axis_max_age_seconds: int = 900  # a request's signed timestamp: at most this old
    axis_clock_skew_seconds: int = 300  # … and at most this far in the future
    # security limits (docs/security.md)
    trusted_proxies: tuple[str, ...] = ()
    public_upload_mb: int = 32
    public_concurrency: int = 2
    public_queue: int = 2
    public_queue_seconds: float = 10.0
    pdf_max_stream_mb: int = 64
    pdf_max_expanded_mb: int = 512
    max_megapixels: int = 100
    render_memory_mb: int = 1024
    ocr_memory_mb: int = 4096
    metrics_token: str = ""
    # notices (docs/citizens.md): e-mail over SMTP, signed webhooks, the delivery loop
    smtp_host: str = ""  # empty: no e-mail
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # starttls | tls | none
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""  # "Bộ phận một cửa <motcua@example.gov.vn>"
    smtp_timeout: float = 30.0
    notice_webhook_timeout: float = 10.0
    notice_private_webhooks: bool = False  # webhooks on loopback/private addresses
    notice_retry_base_seconds: float = 30.0
    notice_retry_max_seconds: float = 3600.0
    notice_max_attempts: int = 10
    notice_poll_seconds: float = 5.0
    notice_pump: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str = "") -> str:
            return env.get(f"EDMS_{name}", default)

        mode = _choice("EDMS_ENV", get("ENV", "development"), ("development", "production"))
        base = config_base()

        def path(value: str | Path) -> Path:
            p = Path(value).expanduser()
            return p if p.is_absolute() else base / p

        data_dir = path(get("DATA_DIR", "var"))
        database_url = get("DATABASE_URL") or f"sqlite:///{(data_dir / 'edms.sqlite3')}"
        allowed = tuple(
            t.strip().lower()
            for t in get("ALLOWED_TYPES", ",".join(DEFAULT_ALLOWED_TYPES)).split(",")
            if t.strip()
        )
        if not allowed:
            raise ConfigError("EDMS_ALLOWED_TYPES must name at least one MIME type")
        max_mb = get("MAX_UPLOAD_MB")
        settings = cls(
            env=mode,
            data_dir=data_dir,
            database_url=database_url,
            storage_backend=_choice(
                "EDMS_STORAGE_BACKEND", get("STORAGE_BACKEND", "local"), ("local", "s3")
            ),
            storage_dir=path(get("STORAGE_DIR") or data_dir / "store"),
            s3_endpoint=get("S3_ENDPOINT", "127.0.0.1:9000"),
            s3_access_key=get("S3_ACCESS_KEY"),
            s3_secret_key=get("S3_SECRET_KEY"),
            s3_bucket=get("S3_BUCKET", "edms"),
            s3_region=get("S3_REGION") or None,
            s3_secure=_bool("EDMS_S3_SECURE", get("S3_SECURE", "true")),
            s3_ca_bundle=get("S3_CA_BUNDLE") or None,
            s3_object_lock=_choice(
                "EDMS_S3_OBJECT_LOCK", get("S3_OBJECT_LOCK", "auto"), ("auto", "on", "off")
            ),
            s3_part_size_mb=_int("EDMS_S3_PART_SIZE_MB", get("S3_PART_SIZE_MB", "16"), 5),
            allowed_types=allowed,
            max_upload_bytes=(
                _int("EDMS_MAX_UPLOAD_MB", max_mb, 1) * 1024 * 1024 if max_mb else 512 * 1024 * 1024
            ),
            retention_mode=_choice(
                "EDMS_RETENTION_MODE",
                get("RETENTION_MODE", "governance"),
                ("governance", "compliance"),
            ).upper(),
            retention_default_years=_int(
                "EDMS_RETENTION_DEFAULT_YEARS", get("RETENTION_DEFAULT_YEARS", "10")
            ),
            retention_permanent_years=_int(
                "EDMS_RETENTION_PERMANENT_YEARS", get("RETENTION_PERMANENT_YEARS", "100"), 1
            ),
            sign_level_personal=_choice(
                "EDMS_SIGN_LEVEL_PERSONAL", get("SIGN_LEVEL_PERSONAL", "B-T"), LEVELS
            ).upper(),
            sign_level_seal=_choice(
                "EDMS_SIGN_LEVEL_SEAL", get("SIGN_LEVEL_SEAL", "B-LT"), LEVELS
            ).upper(),
            secret_key=get("SECRET_KEY"),
            pki_dir=path(get("PKI_DIR", "certs-dev")),
            tsa_url=get("TSA_URL") or None,
            trust_official=path(get("TRUST_OFFICIAL")) if get("TRUST_OFFICIAL") else None,
            trust_public=path(get("TRUST_PUBLIC")) if get("TRUST_PUBLIC") else None,
            trust_vn=_bool("EDMS_TRUST_VN", get("TRUST_VN", "true")),
            trust_vn_dir=path(get("TRUST_VN_DIR", "../shared/trust/vn")),
            installation_admins=tuple(
                u.strip() for u in get("INSTALLATION_ADMINS").split(",") if u.strip()
            ),
            revocation_fetching=_bool(
                "EDMS_REVOCATION_FETCHING", get("REVOCATION_FETCHING", "true")
            ),
            revocation_cache_seconds=_int(
                "EDMS_REVOCATION_CACHE_SECONDS", get("REVOCATION_CACHE_SECONDS", "120"), 0
            ),
            log_level=get("LOG_LEVEL", "INFO").upper(),
            redis_url=get("REDIS_URL") or None,
            redis_queue=get("REDIS_QUEUE", "edms").strip() or "edms",
            job_workers=_int("EDMS_JOB_WORKERS", get("JOB_WORKERS", "2"), 1),
            archive_renew_days=_int("EDMS_ARCHIVE_RENEW_DAYS", get("ARCHIVE_RENEW_DAYS", "180"), 1),
            archive_renew_every_hours=_float(
                "EDMS_ARCHIVE_RENEW_EVERY_HOURS", get("ARCHIVE_RENEW_EVERY_HOURS", "24"), 0
            ),
            backup_s3_endpoint=get("BACKUP_S3_ENDPOINT") or None,
            backup_s3_access_key=get("BACKUP_S3_ACCESS_KEY"),
            backup_s3_secret_key=get("BACKUP_S3_SECRET_KEY"),
            backup_s3_secure=_bool("EDMS_BACKUP_S3_SECURE", get("BACKUP_S3_SECURE"))
            if get("BACKUP_S3_SECURE")
            else None,
            pg_bin_dir=Path(get("PG_BIN_DIR")).expanduser() if get("PG_BIN_DIR") else None,
            disk_min_free_mb=_int("EDMS_DISK_MIN_FREE_MB", get("DISK_MIN_FREE_MB", "100"), 0),
            jobs_redispatch_seconds=_float(
                "EDMS_JOBS_REDISPATCH_SECONDS", get("JOBS_REDISPATCH_SECONDS", "60"), 1
            ),
            verify_inline_mb=_int("EDMS_VERIFY_INLINE_MB", get("VERIFY_INLINE_MB", "32"), 1),
            scan_min_dpi=_int("EDMS_SCAN_MIN_DPI", get("SCAN_MIN_DPI", "200"), 72),
            scan_warn_dpi=_int("EDMS_SCAN_WARN_DPI", get("SCAN_WARN_DPI", "300"), 72),
            ocr_jobs=_int("EDMS_OCR_JOBS", get("OCR_JOBS", "2"), 1),
            public_url=get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            exchange_max_mb=_int("EDMS_EXCHANGE_MAX_MB", get("EXCHANGE_MAX_MB", "64"), 1),
            exchange_pump=_bool("EDMS_EXCHANGE_PUMP", get("EXCHANGE_PUMP", "true")),
            exchange_poll_seconds=_float(
                "EDMS_EXCHANGE_POLL_SECONDS", get("EXCHANGE_POLL_SECONDS", "2"), 0.05
            ),
            exchange_retry_base_seconds=_float(
                "EDMS_EXCHANGE_RETRY_BASE_SECONDS", get("EXCHANGE_RETRY_BASE_SECONDS", "5"), 0.01
            ),
            exchange_retry_max_seconds=_float(
                "EDMS_EXCHANGE_RETRY_MAX_SECONDS", get("EXCHANGE_RETRY_MAX_SECONDS", "3600"), 0.01
            ),
            exchange_max_attempts=_int(
                "EDMS_EXCHANGE_MAX_ATTEMPTS", get("EXCHANGE_MAX_ATTEMPTS", "12"), 1
            ),
            exchange_timeout=_float("EDMS_EXCHANGE_TIMEOUT", get("EXCHANGE_TIMEOUT", "60"), 1),
            exchange_ca_bundle=path(get("EXCHANGE_CA_BUNDLE"))
            if get("EXCHANGE_CA_BUNDLE")
            else None,
            exchange_private_endpoints=_bool(
                "EDMS_EXCHANGE_PRIVATE_ENDPOINTS", get("EXCHANGE_PRIVATE_ENDPOINTS", "false")
            ),
            exchange_transport=_choice(
                "EDMS_EXCHANGE_TRANSPORT", get("EXCHANGE_TRANSPORT", "direct"), ("direct", "vdxp")
            ),
            exchange_vdxp_endpoint=get("EXCHANGE_VDXP_ENDPOINT").strip().rstrip("/"),
            exchange_vdxp_system_id=get("EXCHANGE_VDXP_SYSTEM_ID").strip(),
            exchange_vdxp_secret=get("EXCHANGE_VDXP_SECRET"),
            exchange_vdxp_poll_seconds=_float(
                "EDMS_EXCHANGE_VDXP_POLL_SECONDS", get("EXCHANGE_VDXP_POLL_SECONDS", "15"), 0.05
            ),
            axis_hub=_bool("EDMS_AXIS_HUB", get("AXIS_HUB", "false")),
            axis_max_age_seconds=_int(
                "EDMS_AXIS_MAX_AGE_SECONDS", get("AXIS_MAX_AGE_SECONDS", "900"), 10
            ),
            axis_clock_skew_seconds=_int(
                "EDMS_AXIS_CLOCK_SKEW_SECONDS", get("AXIS_CLOCK_SKEW_SECONDS", "300"), 0
            ),
            trusted_proxies=_networks("EDMS_TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
            public_upload_mb=_int("EDMS_PUBLIC_UPLOAD_MB", get("PUBLIC_UPLOAD_MB", "32"), 1),
            public_concurrency=_int("EDMS_PUBLIC_CONCURRENCY", get("PUBLIC_CONCURRENCY", "2"), 1),
            public_queue=_int("EDMS_PUBLIC_QUEUE", get("PUBLIC_QUEUE", "2"), 0),
            public_queue_seconds=_float(
                "EDMS_PUBLIC_QUEUE_SECONDS", get("PUBLIC_QUEUE_SECONDS", "10"), 0
            ),
            pdf_max_stream_mb=_int("EDMS_PDF_MAX_STREAM_MB", get("PDF_MAX_STREAM_MB", "64"), 1),
            pdf_max_expanded_mb=_int(
                "EDMS_PDF_MAX_EXPANDED_MB", get("PDF_MAX_EXPANDED_MB", "512"), 1
            ),
            max_megapixels=_int("EDMS_MAX_MEGAPIXELS", get("MAX_MEGAPIXELS", "100"), 1),
            render_memory_mb=_int("EDMS_RENDER_MEMORY_MB", get("RENDER_MEMORY_MB", "1024"), 64),
            ocr_memory_mb=_int("EDMS_OCR_MEMORY_MB", get("OCR_MEMORY_MB", "4096"), 256),
            metrics_token=get("METRICS_TOKEN"),
            smtp_host=get("SMTP_HOST").strip(),
            smtp_port=_int("EDMS_SMTP_PORT", get("SMTP_PORT", "587"), 1),
            smtp_tls=_choice(
                "EDMS_SMTP_TLS", get("SMTP_TLS", "starttls"), ("starttls", "tls", "none")
            ),
            smtp_user=get("SMTP_USER").strip(),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_from=get("SMTP_FROM").strip(),
            smtp_timeout=_float("EDMS_SMTP_TIMEOUT", get("SMTP_TIMEOUT", "30"), 1),
            notice_webhook_timeout=_float(
                "EDMS_NOTICE_WEBHOOK_TIMEOUT", get("NOTICE_WEBHOOK_TIMEOUT", "10"), 0.5
            ),
            notice_private_webhooks=_bool(
                "EDMS_NOTICE_PRIVATE_WEBHOOKS", get("NOTICE_PRIVATE_WEBHOOKS", "false")
            ),
            notice_retry_base_seconds=_float(
                "EDMS_NOTICE_RETRY_BASE_SECONDS", get("NOTICE_RETRY_BASE_SECONDS", "30"), 0.01
            ),
            notice_retry_max_seconds=_float(
                "EDMS_NOTICE_RETRY_MAX_SECONDS", get("NOTICE_RETRY_MAX_SECONDS", "3600"), 0.01
            ),
            notice_max_attempts=_int(
                "EDMS_NOTICE_MAX_ATTEMPTS", get("NOTICE_MAX_ATTEMPTS", "10"), 1
            ),
            notice_poll_seconds=_float(
                "EDMS_NOTICE_POLL_SECONDS", get("NOTICE_POLL_SECONDS", "5"), 0.05
            ),
            notice_pump=_bool("EDMS_NOTICE_PUMP", get("NOTICE_PUMP", "true")),
        )
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
        if mode == "production" and not settings.secret_key:
            raise ConfigError("EDMS_SECRET_KEY must be set when EDMS_ENV=production")
        return settings

    def masked(self) -> dict[str, Any]:
        """The effective configuration, secrets masked, as plain values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = "********" if value else "(not set)"
            elif f.name == "database_url":
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            elif value is None:
                value = None
            elif isinstance(value, tuple):
                value = ",".join(value)
            out[f.name] = value
        return out


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_dotenv_dir: Path | None = None


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
    environment without overriding variables already set."""
    global _dotenv_dir
    candidates = (
        [Path(path)]
        if path is not None
        else [Path(".env"), *([r / ".env"] if (r := install_root()) else [])]
    )
    for candidate in candidates:
        if candidate.is_file():
            from dotenv import load_dotenv

            load_dotenv(candidate, override=False)
            _dotenv_dir = candidate.resolve().parent
            return
