"""The same migrations serve SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from edms import db
from edms.models import Blob


def test_migrations_match_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": db.include_name})
        diff = compare_metadata(ctx, db.Base.metadata)
    assert diff == []
    engine.dispose()


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    db.downgrade(engine, "base")
    assert "blobs" not in inspect(engine).get_table_names()
    db.upgrade(engine)
    assert "blobs" in inspect(engine).get_table_names()
    engine.dispose()


def test_times_are_stored_and_returned_as_utc(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    from zoneinfo import ZoneInfo

    hanoi = datetime(2026, 1, 1, 6, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    with db.transaction(sessions) as s:
        s.add(
            Blob(
                sha256="a" * 64,
                storage_key="sha256/aa/aa/" + "a" * 64,
                size=1,
                media_type="application/pdf",
                retain_until=hanoi,
            )
        )
    with sessions() as s:
        blob = s.get(Blob, "a" * 64)
        assert blob is not None
        assert blob.retain_until == datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
        assert blob.retain_until.tzinfo is UTC
        assert blob.created_at.tzinfo is UTC
    with pytest.raises(Exception, match="naive datetime"), db.transaction(sessions) as s:
        s.add(
            Blob(
                sha256="b" * 64,
                storage_key="k",
                size=1,
                media_type="x",
                retain_until=datetime(2026, 1, 1),
            )
        )
    engine.dispose()


def test_transaction_rolls_back_on_error(db_url: str) -> None:
    engine = db.make_engine(db_url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    with pytest.raises(RuntimeError), db.transaction(sessions) as s:
        s.add(Blob(sha256="c" * 64, storage_key="k2", size=1, media_type="x"))
        s.flush()
        raise RuntimeError("boom")
    with sessions() as s:
        assert s.get(Blob, "c" * 64) is None
    engine.dispose()
