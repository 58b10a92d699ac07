"""Reading a backup: listing and loading snapshots and checking them (``edms backup
verify``) without restoring anything.

Invariants: a snapshot without a manifest is incomplete and never loaded; every check
records its problems in a :class:`Check` instead of stopping at the first one, and
nothing here writes to the installation or to the target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storage import (
    CHUNK_SIZE,
    ObjectNotFound,
    StorageError,
)

from ..system import System
from .database import dump_facts
from .targets import (
    _SNAPSHOT_ID,
    FORMAT,
    MANIFEST,
    OBJECTS,
    SIGNATURE,
    SNAPSHOTS,
    BackupRefused,
    Target,
    object_key,
    open_target,
)


@dataclass
class Snapshot:
    id: str
    manifest: dict[str, Any]
    manifest_bytes: bytes
    signature: bytes | None

    @property
    def base(self) -> str:
        return f"{SNAPSHOTS}{self.id}/"


def list_snapshots(target: Target) -> tuple[list[str], list[str]]:
    """(complete snapshot ids, incomplete ones), oldest first."""
    keys = target.keys(SNAPSHOTS)
    ids = sorted({k.split("/")[1] for k in keys if k.count("/") >= 2})
    done = [i for i in ids if f"{SNAPSHOTS}{i}/{MANIFEST}" in keys]
    return done, [i for i in ids if i not in done]


def load_snapshot(target: Target, snapshot: str | None) -> Snapshot:
    done, _incomplete = list_snapshots(target)
    if not done:
        raise BackupRefused(f"{target.description} holds no complete backup")
    sid = snapshot or done[-1]
    if not _SNAPSHOT_ID.match(sid) or sid not in done:
        raise BackupRefused(
            f"{target.description} holds no complete snapshot {sid!r} (have: {', '.join(done)})"
        )
    base = f"{SNAPSHOTS}{sid}/"
    data = target.get_bytes(base + MANIFEST)
    try:
        signature: bytes | None = target.get_bytes(base + SIGNATURE)
    except (ObjectNotFound, StorageError):
        signature = None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise BackupRefused(f"snapshot {sid}: the manifest is not JSON") from None
    if manifest.get("format") != FORMAT or manifest.get("snapshot") != sid:
        raise BackupRefused(f"snapshot {sid}: not an EDMS backup manifest of this format")
    return Snapshot(sid, manifest, data, signature)


@dataclass
class Check:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_manifest(
    system: System, snap: Snapshot, check: Check, allow_unsigned: bool = False
) -> None:
    """The manifest's signature (agency key, trusted at the time it was made) and what
    it records about the source."""
    from signing.ltv import verify_detached

    from ..signatures import trust_roots

    m = snap.manifest
    check.notes.append(f"manifest SHA-256 {hashlib.sha256(snap.manifest_bytes).hexdigest()}")
    if snap.signature is None:
        msg = "the manifest is not signed (no agency seal key was bound when it was made)"
        (check.notes if allow_unsigned else check.problems).append(msg)
    else:
        at = datetime.fromisoformat(m["created_at"])
        verdict = verify_detached(
            snap.manifest_bytes,
            snap.signature,
            list(trust_roots(system.settings)),
            at,
            allow_fetching=system.settings.revocation_fetching,
        )
        if not verdict.intact:
            check.problems.append(
                "the manifest's signature does not match it: the manifest "
                f"was changed after it was signed ({verdict.summary})"
            )
        elif not verdict.trusted:
            check.problems.append(
                f"the manifest is signed by {verdict.signer}, whose "
                "certificate does not chain to a trusted root "
                f"(EDMS_TRUST_*): {verdict.summary}"
            )
        else:
            check.notes.append(f"manifest signed by {verdict.signer}")
    for p in m.get("source_problems", []):
        check.problems.append(
            f"object {p['sha256']} was {p['problem']} when the backup "
            "was taken: the backup is incomplete"
        )


def read_object_list(target: Target, snap: Snapshot, check: Check) -> list[tuple[str, int]]:
    m = snap.manifest["objects"]
    data = target.get_bytes(snap.base + m["file"])
    if hashlib.sha256(data).hexdigest() != m["sha256"]:
        check.problems.append("the list of objects does not match the manifest's hash")
        return []
    out = []
    for line in data.decode().splitlines():
        sha, size = line.split("\t")
        out.append((sha, int(size)))
    if len(out) != m["count"]:
        check.problems.append(f"the list names {len(out)} objects, the manifest {m['count']}")
    return out


def fetch_database(target: Target, snap: Snapshot, work: Path, check: Check) -> Path | None:
    d = snap.manifest["database"]
    path = work / d["file"]
    h = hashlib.sha256()
    size = 0
    try:
        with target.open(snap.base + d["file"]) as src, open(path, "wb") as out:
            while chunk := src.read(CHUNK_SIZE):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except ObjectNotFound:
        check.problems.append(f"the database file {d['file']} is missing")
        return None
    if h.hexdigest() != d["sha256"] or size != d["size"]:
        check.problems.append(
            f"the database file {d['file']} does not match the manifest "
            f"(hashes to {h.hexdigest()}, {size} bytes)"
        )
        return None
    return path


def check_dump(
    system: System, snap: Snapshot, path: Path, listed: list[tuple[str, int]], check: Check
) -> None:
    """The dumped database's audit chain is intact and ends at the manifest's head; it
    records exactly the objects listed."""
    facts = dump_facts(system, snap.manifest["database"]["kind"], path)
    want = snap.manifest["audit_head"]
    problems = facts.chain.finish(
        facts.head[0] if facts.head else None, facts.head[1] if facts.head else None
    )
    for p in problems[:20]:
        check.problems.append(f"audit event {p.seq}: {p.detail}")
    if facts.head != (want["seq"], want["hash"]):
        check.problems.append(
            f"the database's audit head {facts.head} is not the "
            f"manifest's ({want['seq']}, {want['hash']})"
        )
    listed_shas = {sha for sha, _ in listed}
    if facts.objects != listed_shas:
        check.problems.append(
            f"the database records {len(facts.objects - listed_shas)} object(s) not listed "
            f"and lists {len(listed_shas - facts.objects)} it does not record"
        )
    check.notes.append(f"audit chain: {facts.chain.checked} events, head {want['seq']}")


def _check_objects(
    target: Target,
    listed: list[tuple[str, int]],
    check: Check,
    rehash: bool,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    present = target.keys(OBJECTS)
    missing = [sha for sha, _ in listed if object_key(sha) not in present]
    for sha in missing[:20]:
        check.problems.append(f"object {sha} is missing from the backup")
    if len(missing) > 20:
        check.problems.append(f"... and {len(missing) - 20} more objects are missing")
    if not rehash:
        return
    todo = [(sha, size) for sha, size in listed if object_key(sha) in present]

    def one(item: tuple[str, int]) -> str | None:
        sha, size = item
        h = hashlib.sha256()
        n = 0
        with target.open(object_key(sha)) as f:
            while chunk := f.read(CHUNK_SIZE):
                h.update(chunk)
                n += len(chunk)
        if h.hexdigest() != sha or n != size:
            return f"object {sha} is corrupted in the backup (hashes to {h.hexdigest()})"
        return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, problem in enumerate(pool.map(one, todo), 1):
            if problem:
                check.problems.append(problem)
            if progress:
                progress(i, len(todo))


def verify(
    system: System,
    spec: str,
    *,
    snapshot: str | None = None,
    quick: bool = False,
    allow_unsigned: bool = False,
    workers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Snapshot, Check]:
    """Check a backup without restoring it: the manifest (hash and signature), the
    database file, its audit chain against the manifest's head, and every object
    (re-hashed, or only present with ``quick``)."""
    from ..documents import workdir

    target = open_target(system, spec)
    snap = load_snapshot(target, snapshot)
    check = Check()
    check_manifest(system, snap, check, allow_unsigned)
    listed = read_object_list(target, snap, check)
    with workdir(system) as wd:
        path = fetch_database(target, snap, wd, check)
        if path is not None:
            check_dump(system, snap, path, listed, check)
    _check_objects(target, listed, check, not quick, workers, progress)
    return snap, check
