"""Alembic environment: runs with the engine EDMS hands over (see ``edms.db.upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from edms import models  # noqa: F401  (registers every table on Base.metadata)
from edms.db import Base, include_name

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: use the configured database
    from edms.config import Settings
    from edms.db import make_engine

    engine = make_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
