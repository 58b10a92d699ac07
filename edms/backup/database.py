"""The database side of a backup: one consistent snapshot of it (SQLite's online backup,
or ``pg_dump`` joining a repeatable-read transaction's exported snapshot) together with
the facts read in that same snapshot, and reading those facts back from a dump.

Invariants: the list of stored objects, the audit chain's head and the row counts come
from the very snapshot that is dumped, never from a later read; reading a dump never
writes to this installation's database.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .. import audit, db
from ..models import AuditEvent
from ..system import System
from .targets import BackupFailed, BackupRefused


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    key: str  # its key in the source store


@dataclass
class DbSnapshot:
    kind: str  # sqlite | postgresql
    path: Path
    revision: str | None
    objects: list[StoredObject]
    audit_seq: int
    audit_hash: str
    counts: dict[str, int]


def _pg_url(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    u = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(password=None).render_as_string(hide_password=False), env


def _pg_tool(system: System, name: str) -> str:
    if system.settings.pg_bin_dir is not None:
        return str(system.settings.pg_bin_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(
            f"{name} not found: install the PostgreSQL client tools or set EDMS_PG_BIN_DIR"
        )
    return found


_FACTS_SQL = {
    "objects": "SELECT sha256, size, storage_key FROM blobs ORDER BY sha256",
    "head": "SELECT seq, hash FROM audit_head WHERE id = 1",
    "revision": "SELECT version_num FROM alembic_version",
}


def _facts(conn: Any) -> tuple[list[StoredObject], int, str, str | None, dict[str, int]]:
    cur = conn.cursor()
    cur.execute(_FACTS_SQL["objects"])
    objects = [StoredObject(sha, int(size), key) for sha, size, key in cur.fetchall()]
    cur.execute(_FACTS_SQL["head"])
    row = cur.fetchone()
    seq, head = (int(row[0]), str(row[1])) if row else (0, audit.GENESIS)
    cur.execute(_FACTS_SQL["revision"])
    rev_row = cur.fetchone()
    try:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    except Exception:  # SQLite
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    existing = {row[0] for row in cur.fetchall()}
    counts = {}
    for table in db.Base.metadata.sorted_tables:
        if table.name in existing:  # (a snapshot of an older schema lacks newer tables)
            cur.execute(f"SELECT count(*) FROM {table.name}")
            counts[table.name] = int(cur.fetchone()[0])
    cur.close()
    return objects, seq, head, rev_row[0] if rev_row else None, counts


def snapshot_database(system: System, work: Path) -> DbSnapshot:
    """One consistent copy of the database in ``work``, with what it refers to."""
    url = make_url(system.settings.database_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        target = work / "database.sqlite3"
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(target)
        # A work file: made durable where it lands, in the target (see Target.flush).
        dst.execute("PRAGMA synchronous=OFF")
        dst.execute("PRAGMA journal_mode=OFF")
        try:
            src.backup(dst)  # one step: a consistent snapshot under a read transaction
        finally:
            src.close()
        try:
            dst.execute("PRAGMA journal_mode=DELETE")
            objects, seq, head, rev, counts = _facts(dst)
        finally:
            dst.close()
        return DbSnapshot("sqlite", target, rev, objects, seq, head, counts)
    if url.get_backend_name() != "postgresql":
        raise BackupRefused(f"backups of {url.get_backend_name()} databases are not supported")
    target = work / "database.pgdump"
    conn = system.engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute("SHOW transaction_isolation")
        level = cur.fetchone()
        if level is None or level[0] != "repeatable read":  # the driver began one already
            raise BackupFailed(f"the database snapshot is not repeatable read ({level})")
        cur.execute("SELECT pg_export_snapshot()")
        exported = cur.fetchone()
        assert exported is not None
        snapshot_id = exported[0]
        uri, env = _pg_url(system.settings.database_url)
        # pg_dump reads exactly what this transaction sees, while it stays open.
        done = subprocess.run(
            [
                _pg_tool(system, "pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
                uri,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupFailed(f"pg_dump failed: {done.stderr.strip()[:2000]}")
        objects, seq, head, rev, counts = _facts(conn)
        cur.execute("COMMIT")
    finally:
        conn.close()
    return DbSnapshot("postgresql", target, rev, objects, seq, head, counts)


def _unescape_copy(value: str) -> str | None:
    """A field of PostgreSQL's COPY text format."""
    if value == "\\N":
        return None
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c != "\\" or i + 1 == len(value):
            out.append(c)
            i += 1
            continue
        n = value[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n == "x" and re.match(r"[0-9a-fA-F]{1,2}", value[i + 2 : i + 4]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", value[i + 2 : i + 4])
            assert digits is not None
            out.append(chr(int(digits.group(0), 16)))
            i += 2 + len(digits.group(0))
        elif n in "01234567":
            digits = re.match(r"[0-7]{1,3}", value[i + 1 : i + 4])
            assert digits is not None
            out.append(chr(int(digits.group(0), 8)))
            i += 1 + len(digits.group(0))
        else:
            out.append(n)
            i += 2
    return "".join(out)


def _pg_rows(system: System, dump: Path, table: str) -> Iterator[dict[str, str | None]]:
    """The rows of one table of a pg_dump archive, without a database server."""
    proc = subprocess.Popen(
        [_pg_tool(system, "pg_restore"), "--data-only", f"--table={table}", "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert proc.stdout is not None
    columns: list[str] | None = None
    done = False
    try:
        for line in proc.stdout:  # read to the end: pg_restore must not die of SIGPIPE
            line = line.rstrip("\n")
            if done:
                continue
            if columns is None:
                m = re.match(r"COPY [\w.\"]+ \((.*)\) FROM stdin;", line)
                if m:
                    columns = [c.strip().strip('"') for c in m.group(1).split(",")]
                continue
            if line == "\\.":
                done = True
                continue
            yield dict(zip(columns, map(_unescape_copy, line.split("\t")), strict=True))
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0:
            raise BackupRefused(f"pg_restore cannot read {dump.name}: {err.strip()[:500]}")


def _utc(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass
class DumpFacts:
    chain: audit.ChainCheck
    head: tuple[int, str] | None
    objects: set[str]


def dump_facts(system: System, kind: str, path: Path) -> DumpFacts:
    """The audit chain, its head and the recorded objects, read from a database copy."""
    check = audit.ChainCheck()
    if kind == "sqlite":
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as conn:
                for event in conn.execute(
                    text(
                        "SELECT seq, at, actor, action, object_type, object_id, details, "
                        "prev_hash, hash FROM audit_events ORDER BY seq"
                    )
                ).mappings():
                    check.add(AuditEvent(**{**event, "at": _utc(str(event["at"]))}))
                head_row = conn.execute(text("SELECT seq, hash FROM audit_head")).first()
                objects = {r[0] for r in conn.execute(text("SELECT sha256 FROM blobs"))}
        finally:
            engine.dispose()
        head = (int(head_row[0]), str(head_row[1])) if head_row else None
        return DumpFacts(check, head, objects)
    # COPY writes rows in storage order, not in the chain's order.
    rows = sorted(_pg_rows(system, path, "audit_events"), key=lambda r: int(r["seq"] or 0))
    for row in rows:
        check.add(
            AuditEvent(
                seq=int(row["seq"] or 0),
                at=_utc(row["at"] or ""),
                actor=row["actor"],
                action=row["action"],
                object_type=row["object_type"],
                object_id=row["object_id"],
                details=row["details"],
                prev_hash=row["prev_hash"],
                hash=row["hash"],
            )
        )
    heads = list(_pg_rows(system, path, "audit_head"))
    head = (int(heads[0]["seq"] or 0), str(heads[0]["hash"])) if heads else None
    objects = {str(r["sha256"]) for r in _pg_rows(system, path, "blobs")}
    return DumpFacts(check, head, objects)
