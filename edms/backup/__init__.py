"""Backups of a whole installation, taken while it runs, and their restore and verification.

A backup target (a directory, or an S3 bucket: ``s3://bucket``) holds::

    objects/sha256/ab/<hex>             every stored object once, shared by all snapshots
    snapshots/<id>/database.sqlite3     the database (SQLite online backup), or
    snapshots/<id>/database.pgdump      (pg_dump, custom format)
    snapshots/<id>/objects.tsv          the objects the database refers to: sha256, size
    snapshots/<id>/manifest.json        what the snapshot holds, with the hashes of the above
    snapshots/<id>/manifest.json.p7s    a detached CMS signature of the manifest (agency key)

Invariants:

* the database is copied first, as one consistent snapshot (SQLite's online backup API;
  on PostgreSQL, ``pg_dump`` joins the exported snapshot of a repeatable-read transaction
  that also lists the stored objects and the audit chain's head), while the service keeps
  writing; everything written after it is absent from the backup, cleanly;
* objects are immutable and content-addressed: each one the snapshot refers to is copied
  unless the target already has it (incremental for free: what the newest snapshot there
  lists, or with ``rescan`` what a listing of the target finds), and hashed on the way; one
  the store has lost or corrupted is listed in the manifest (``source_problems``) and the
  backup reports failure;
* the manifest is written last: a snapshot without one is incomplete and never restored;
* :func:`restore` goes into an empty installation only, checks the manifest's hash and
  signature, every object's hash as it copies it, and the restored audit chain against the
  manifest's head before it reports success; a failed restore leaves the installation
  empty again.

The signing keys themselves (PKCS #12 files, tokens, HSMs) are not in the database and
are not backed up here: keep them as the deployment documentation says (docs/archive.md).

Modules: :mod:`.targets` (where backups go), :mod:`.database` (the database snapshot and
its dump), :mod:`.taking`, :mod:`.reading` (listing, verifying), :mod:`.restoring`; every
name is re-exported here.
"""

from __future__ import annotations

from .database import (
    DbSnapshot,
    DumpFacts,
    StoredObject,
    dump_facts,
    snapshot_database,
)
from .reading import (
    Check,
    Snapshot,
    check_dump,
    check_manifest,
    fetch_database,
    list_snapshots,
    load_snapshot,
    read_object_list,
    verify,
)
from .restoring import (
    RestoreResult,
    _installation_empty,
    restore,
)
from .taking import (
    BackupResult,
    backup,
)
from .targets import (
    FORMAT,
    MANIFEST,
    OBJECT_LIST,
    OBJECTS,
    SIGNATURE,
    SNAPSHOTS,
    BackupError,
    BackupFailed,
    BackupRefused,
    DirectoryTarget,
    S3Target,
    Target,
    object_key,
    open_target,
)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "OBJECTS",
    "OBJECT_LIST",
    "SIGNATURE",
    "SNAPSHOTS",
    "BackupError",
    "BackupFailed",
    "BackupRefused",
    "BackupResult",
    "Check",
    "DbSnapshot",
    "DirectoryTarget",
    "DumpFacts",
    "RestoreResult",
    "S3Target",
    "Snapshot",
    "StoredObject",
    "Target",
    "_installation_empty",
    "backup",
    "check_dump",
    "check_manifest",
    "dump_facts",
    "fetch_database",
    "list_snapshots",
    "load_snapshot",
    "object_key",
    "open_target",
    "read_object_list",
    "restore",
    "snapshot_database",
    "verify",
]
