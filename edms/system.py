"""The System: one object that holds the configuration, the database and the object store.

The CLI, the Flask app and the workers each build one ``System`` and pass it to the domain
services, so every entry point runs the same code with the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage import Health, LocalStore, ObjectStore, S3Store

from . import db
from .config import Settings


def build_store(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "s3":
        return S3Store(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            ca_bundle=settings.s3_ca_bundle,
            object_lock=settings.s3_object_lock,
            part_size=settings.s3_part_size_mb * 1024 * 1024,
            max_object_size=settings.max_upload_bytes,
        )
    return LocalStore(settings.storage_dir, max_object_size=settings.max_upload_bytes)


@dataclass
class System:
    settings: Settings
    _store: ObjectStore | None = field(default=None, repr=False)
    # Called by close(), newest first (e.g. the local job pool waits for its jobs).
    closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def from_env(cls) -> System:
        return cls(Settings.from_env())

    @cached_property
    def engine(self) -> Engine:
        return db.make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return db.session_factory(self.engine)

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = build_store(self.settings)
        return self._store

    def init(self) -> None:
        """Create the data directory, migrate the database, prepare the store."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(self.engine)
        self.store.ensure_ready()

    def health(self) -> dict[str, Health]:
        """The state of each component; never raises."""
        try:
            db.ping(self.engine)
            rev = db.current_revision(self.engine)
            head = db.head_revision()
            database = Health(
                rev == head,
                self.engine.dialect.name,
                f"schema at {rev}"
                if rev == head
                else f"schema at {rev}, expected {head}: run `edms init`",
            )
        except Exception as exc:  # health must report, not raise
            database = Health(False, self.engine.dialect.name, f"{type(exc).__name__}: {exc}")
        return {"database": database, "storage": self.store.health()}

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()
        if "engine" in self.__dict__:
            self.engine.dispose()
