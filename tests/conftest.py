"""Shared fixtures: real stores (local and SeaweedFS S3), real databases (SQLite and
PostgreSQL), and a System built on them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edms.config import Settings
from edms.system import System
from storage import LocalStore, ObjectStore, S3Store
from tests.support import seaweed

PG_ADMIN_URL = os.environ.get(
    "EDMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# -- object stores -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SeaweedFS S3 server for the whole run (or EDMS_TEST_S3_* for an external one)."""
    if os.environ.get("EDMS_TEST_S3_ENDPOINT"):
        yield {
            "endpoint": os.environ["EDMS_TEST_S3_ENDPOINT"],
            "access_key": os.environ["EDMS_TEST_S3_ACCESS_KEY"],
            "secret_key": os.environ["EDMS_TEST_S3_SECRET_KEY"],
        }
        return
    server = seaweed.start(tmp_path_factory.mktemp("seaweed"))
    try:
        yield {
            "endpoint": server.endpoint,
            "access_key": seaweed.ACCESS_KEY,
            "secret_key": seaweed.SECRET_KEY,
        }
    finally:
        server.stop()


def new_bucket() -> str:
    return f"edms-t-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def s3_store(s3_server: dict[str, str]) -> S3Store:
    store = S3Store(
        s3_server["endpoint"],
        s3_server["access_key"],
        s3_server["secret_key"],
        new_bucket(),
        secure=False,
        part_size=5 * 1024 * 1024,
    )
    store.ensure_ready()
    return store


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    store.ensure_ready()
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    name = "local_store" if request.param == "local" else "s3_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


# -- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        if os.environ.get("EDMS_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL is required (EDMS_REQUIRE_POSTGRES=1) but {PG_ADMIN_URL} "
                f"is unreachable: {exc}"
            )
        pytest.skip(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); "
            "set EDMS_REQUIRE_POSTGRES=1 to make this a failure"
        )
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"edms_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(pg_admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


REDIS_URL = os.environ.get("EDMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis (started by scripts/test-services.sh); like PostgreSQL, a skip with
    its reason outside CI, a failure with EDMS_REQUIRE_POSTGRES=1 (CI)."""
    from redis import Redis

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        if os.environ.get("EDMS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"Redis is required in CI but {REDIS_URL} is unreachable: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})")
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'edms.sqlite3'}"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


# -- the System --------------------------------------------------------------------------


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    env = {
        "EDMS_DATA_DIR": str(tmp_path / "data"),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        **overrides,
    }
    return Settings.from_env(env)


def s3_env(server: dict[str, str]) -> dict[str, str]:
    return {
        "EDMS_STORAGE_BACKEND": "s3",
        "EDMS_S3_ENDPOINT": server["endpoint"],
        "EDMS_S3_ACCESS_KEY": server["access_key"],
        "EDMS_S3_SECRET_KEY": server["secret_key"],
        "EDMS_S3_BUCKET": new_bucket(),
        "EDMS_S3_SECURE": "false",
        "EDMS_S3_PART_SIZE_MB": "5",
    }


@pytest.fixture
def system_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Environment for a System on the store named by the ``store_kind`` param (default:
    local) and SQLite."""
    kind = getattr(request, "param", "local")
    env = {"EDMS_DATA_DIR": str(tmp_path / "data"), "EDMS_RETENTION_DEFAULT_YEARS": "0"}
    if kind == "s3":
        env.update(s3_env(request.getfixturevalue("s3_server")))
    return env


@pytest.fixture
def system(system_env: dict[str, str]) -> Iterator[System]:
    sys_ = System(Settings.from_env(system_env))
    sys_.init()
    yield sys_
    sys_.close()


# -- signing: the development PKI with its live TSA/OCSP/CRL responder --------------------


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A fresh development PKI whose responder (certomancer's animator) serves real
    timestamps, OCSP responses and CRLs on a free loopback port for the whole run."""
    from signing import devservices

    pki, responder = devservices.start_fresh(tmp_path_factory.mktemp("pki") / "certs-dev")
    try:
        yield pki
    finally:
        responder.stop()


@pytest.fixture(scope="session")
def nss_db(dev_pki: object, tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.support.pdfcheck import make_nss_db

    return make_nss_db(tmp_path_factory.mktemp("nss"), dev_pki.root_cert)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def signing_env(dev_pki: object) -> dict[str, str]:
    """Environment for `edms` subprocesses that sign with the test PKI."""
    return {"EDMS_PKI_DIR": str(dev_pki.directory), "EDMS_ENV": "development"}  # type: ignore[attr-defined]
