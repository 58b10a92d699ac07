"""Background jobs for long work: batch signing, large verifications (and, with their
issues, digitization and exchange retries).

A job's state and progress live in the database (``jobs``), whichever runner executes
it, so any API process answers ``GET /api/v1/jobs/{id}``:

* the embedded default runs jobs in a thread pool inside the service (no extra process);
* with ``EDMS_REDIS_URL`` set, jobs go to an RQ queue on Redis and separate
  ``edms worker`` processes (as many as wanted, on any machine) execute them.

A job acts as the user who started it, through the same ``edms`` services and checks; a
batch continues past a failed item and lists the failures in its result. A batch
signature carries the leader's confirmation given when it was submitted (their signing
PIN, for exactly those documents); the uploads a job works on (scans, a file to verify)
are discarded when it ends, unless a document refers to them by then.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from .db import transaction
from .errors import ClientError, EdmsError, NotFound, ServiceUnavailable
from .models import Job
from .orgs import load_user, require_role
from .system import System

log = logging.getLogger(__name__)
QUEUE = "edms"


class QueueUnavailable(ServiceUnavailable):
    """Redis cannot be reached: the job was not queued (503, naming the queue)."""

    title = "Queue unavailable"
    type_slug = "queue-unavailable"


Progress = Callable[[int, int], None]
Handler = Callable[[System, Job, Progress], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}
REQUIRED_ROLES = {"batch_sign": ("leader",), "digitize": ("clerk",)}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return deco


def _now() -> datetime:
    return datetime.now(UTC)


def worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def _dead_here(worker: str) -> bool:
    """Whether ``host:pid`` names a process of this host that has exited."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    state: str
    total: int
    done: int
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def progress(self) -> float:
        return 1.0 if self.state == "succeeded" else (self.done / self.total if self.total else 0.0)


def _view(j: Job) -> JobView:
    return JobView(
        j.id,
        j.kind,
        j.state,
        j.total,
        j.done,
        json.loads(j.result),
        j.error,
        j.created_at,
        j.started_at,
        j.finished_at,
    )


def submit(
    system: System, actor: str, kind: str, params: dict[str, Any], total: int = 0
) -> JobView:
    if kind not in HANDLERS:
        raise ClientError(f"unknown job kind {kind!r}")
    with transaction(system.sessions) as s:
        user = load_user(s, actor)
        if kind in REQUIRED_ROLES:
            require_role(user, *REQUIRED_ROLES[kind], action=f"start a {kind} job")
        job = Job(
            id=secrets.token_hex(16),
            agency_id=user.agency_id,
            user_id=user.id,
            kind=kind,
            params=json.dumps(params, ensure_ascii=False),
            state="queued",
            total=total,
            done=0,
            result="{}",
            created_at=_now(),
        )
        s.add(job)
        s.flush()
        view = _view(job)
    try:
        runner_for(system).dispatch(view.id)
    except Exception as exc:
        from redis.exceptions import RedisError

        if not isinstance(exc, RedisError):
            raise
        # Nothing half-written: the job is not left queued for a queue that never got it.
        with transaction(system.sessions) as s:
            s.execute(delete(Job).where(Job.id == view.id, Job.state == "queued"))
        log.error("job queue unavailable: %s", exc)
        raise QueueUnavailable(
            "the job queue (Redis) cannot be reached; nothing was queued; try again later",
            component="queue",
        ) from None
    return view


def get(system: System, actor: str, job_id: str) -> JobView:
    with system.sessions() as s:
        user = load_user(s, actor)
        job = s.get(Job, job_id)
        # A job of another agency (or another user, unless admin) does not exist.
        if (
            job is None
            or job.agency_id != user.agency_id
            or (job.user_id != user.id and "admin" not in user.role_set)
        ):
            raise NotFound(f"no job {job_id}")
        return _view(job)


def list_jobs(system: System, actor: str, limit: int = 50) -> list[JobView]:
    with system.sessions() as s:
        user = load_user(s, actor)
        q = select(Job).where(Job.agency_id == user.agency_id)
        if "admin" not in user.role_set:
            q = q.where(Job.user_id == user.id)
        return [_view(j) for j in s.scalars(q.order_by(Job.created_at.desc()).limit(limit))]


def execute(job_id: str, system: System | None = None) -> None:
    """Run one job to its end (called by a runner). Never raises: failures are recorded."""
    system = system or _worker_system()
    with transaction(system.sessions) as s:
        update_result = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "queued")
            .values(state="running", started_at=_now(), worker=worker_id())
        )
        claimed = cast("CursorResult[Any]", update_result).rowcount  # an UPDATE's result
    if not claimed:
        return  # already taken by another worker, or finished
    with system.sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.expunge(job)

    def progress(done: int, total: int) -> None:
        with transaction(system.sessions) as s2:
            s2.execute(update(Job).where(Job.id == job_id).values(done=done, total=total))

    try:
        result = HANDLERS[job.kind](system, job, progress)
        state, error = "succeeded", None
    except EdmsError as exc:
        result, state, error = {}, "failed", exc.message
    except Exception as exc:  # recorded for the user; the traceback goes to the log
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        result, state, error = {}, "failed", f"{type(exc).__name__}: {exc}"
    with transaction(system.sessions) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                state=state,
                error=error,
                finished_at=_now(),
                result=json.dumps(result, ensure_ascii=False, default=str),
            )
        )


_WORKER_SYSTEM: System | None = None


def use_system(system: System) -> None:
    """Run this process's jobs with ``system`` (``edms worker`` passes its own)."""
    global _WORKER_SYSTEM
    _WORKER_SYSTEM = system


def _worker_system() -> System:
    global _WORKER_SYSTEM
    if _WORKER_SYSTEM is None:
        _WORKER_SYSTEM = System.from_env()
    return _WORKER_SYSTEM


# -- runners ----------------------------------------------------------------------------------


class Runner(ABC):
    @abstractmethod
    def dispatch(self, job_id: str) -> None: ...


class LocalRunner(Runner):
    """A thread pool in this process: the embedded default, no extra service."""

    def __init__(self, system: System, workers: int) -> None:
        self.system = system
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edms-job")
        system.closers.append(self.close)
        self._recover()

    def close(self) -> None:
        """Let running jobs finish (queued ones stay queued for the next start)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        _RUNNERS.pop(id(self.system), None)

    def _recover(self) -> None:
        """Jobs left running by a process of this host that no longer exists are failed;
        queued ones run now (the claim in :func:`execute` keeps each to one runner)."""
        with transaction(self.system.sessions) as s:
            for job in s.scalars(select(Job).where(Job.state == "running")):
                if job.worker and _dead_here(job.worker):
                    job.state, job.finished_at = "failed", _now()
                    job.error = "interrupted by a restart of the service; start it again"
            queued = list(s.scalars(select(Job.id).where(Job.state == "queued")))
        for job_id in queued:
            self.dispatch(job_id)

    def dispatch(self, job_id: str) -> None:
        self.pool.submit(execute, job_id, self.system)


class RedisRunner(Runner):
    """An RQ queue on Redis; ``edms worker`` processes execute the jobs."""

    def __init__(self, url: str, queue: str = QUEUE) -> None:
        from redis import Redis
        from rq import Queue

        self.queue = Queue(queue, connection=Redis.from_url(url))

    def dispatch(self, job_id: str) -> None:
        self.queue.enqueue(
            "edms.jobs.execute",
            job_id,
            job_id=f"edms-{job_id}",
            job_timeout=6 * 3600,
            result_ttl=3600,
            failure_ttl=86400,
        )

    def lost(self, job_id: str) -> bool:
        """Whether Redis no longer holds the job (it restarted without its data)."""
        from rq.job import Job as RqJob

        return not RqJob.exists(f"edms-{job_id}", connection=self.queue.connection)


def redispatch(system: System, older_than_seconds: float) -> list[str]:
    """Queue again the jobs still queued in the database that Redis lost (a restart
    without persistence while they waited). Running one twice is harmless: the claim in
    :func:`execute` lets only one runner take it. Returns the job ids queued again."""
    runner = runner_for(system)
    if not isinstance(runner, RedisRunner):
        return []
    cutoff = _now() - timedelta(seconds=older_than_seconds)
    with system.sessions() as s:
        waiting = list(
            s.scalars(select(Job.id).where(Job.state == "queued", Job.created_at < cutoff))
        )
    again = [job_id for job_id in waiting if runner.lost(job_id)]
    for job_id in again:
        runner.dispatch(job_id)
    if again:
        log.warning("queued again %d job(s) the job queue had lost", len(again))
    return again


_RUNNERS: dict[int, Runner] = {}


def runner_for(system: System) -> Runner:
    key = id(system)
    if key not in _RUNNERS:
        url = system.settings.redis_url
        _RUNNERS[key] = (
            RedisRunner(url, system.settings.redis_queue)
            if url
            else LocalRunner(system, system.settings.job_workers)
        )
    return _RUNNERS[key]


# -- job kinds ----------------------------------------------------------------------------------


@handler("batch_sign")
def _batch_sign(system: System, job: Job, progress: Progress) -> dict[str, Any]:
    """The leader signs several approved documents with their own bound key."""
    from . import documents
    from .auth import SigningConsent
    from .models import User

    params = json.loads(job.params)
    ids = [int(i) for i in params["document_ids"]]
    with system.sessions() as s:
        user = s.get(User, job.user_id)
        assert user is not None
        actor = user.username
    if "consent" not in params:
        raise ClientError(
            "this batch was queued without the leader's confirmation (signing PIN); submit it again"
        )
    consent = SigningConsent.from_json(params["consent"], via=f"job:{job.id}")
    signed, failed = [], []
    for n, doc_id in enumerate(ids, 1):
        try:
            documents.sign(
                system,
                actor,
                doc_id,
                authority=params.get("authority"),
                level=params.get("level"),
                confirm=consent,
            )
            signed.append(doc_id)
        except EdmsError as exc:
            failed.append({"document_id": doc_id, "error": exc.message})
        progress(n, len(ids))
    return {"signed": signed, "failed": failed}


@handler("verify")
def _verify(system: System, job: Job, progress: Progress) -> dict[str, Any]:
    """Validate a stored upload in the sandboxed validator (large files)."""
    from . import blobs
    from .signatures import validate_sandboxed

    params = json.loads(job.params)
    try:
        with blobs.workdir(system, "verify") as wd:
            blobs.export_to_file(system, params["sha256"], wd / "upload.pdf")
            report = validate_sandboxed(system.settings, wd / "upload.pdf")
    finally:
        blobs.discard_unreferenced(system, [params["sha256"]], except_job=job.id)
    progress(1, 1)
    return {"report": report.to_json()}


@handler("digitize")
def _digitize(system: System, job: Job, progress: Progress) -> dict[str, Any]:
    """Digitize uploaded scans (stored by hash, so any worker can fetch them)."""
    import re as _re
    from datetime import date as _date

    from . import blobs
    from .digitization.pipeline import CopyRequest, digitize, verify_url
    from .models import User

    params = json.loads(job.params)
    req = dict(params["request"])
    if req.get("original_date"):
        req["original_date"] = _date.fromisoformat(req["original_date"])
    request = CopyRequest(**req)
    with system.sessions() as s:
        user = s.get(User, job.user_id)
        assert user is not None
        actor = user.username
    stages = ["intake", "ocr", "metadata", "sign", "store", "done"]
    try:
        with blobs.workdir(system, "job") as work:
            paths = []
            for i, f in enumerate(params["files"]):
                safe = _re.sub(r"[^\w.-]+", "_", Path(f["name"]).name)[:100] or "scan"
                target = work / f"{i:04d}-{safe}"
                blobs.export_to_file(system, f["sha256"], target)
                paths.append(target)
            result = digitize(
                system,
                actor,
                paths,
                request,
                lambda stage: progress(stages.index(stage) + 1, len(stages)),
            )
    finally:
        # The scans are kept (as the copy's master files) only when it was made.
        blobs.discard_unreferenced(
            system, [f["sha256"] for f in params["files"]], except_job=job.id
        )
    return {
        "document_id": result.document_id,
        "public_id": result.public_id,
        "number": result.number,
        "pages": result.pages,
        "min_dpi": result.min_dpi,
        "warnings": result.warnings,
        "signed_sha256": result.signed_sha256,
        "verify_url": verify_url(system, result.public_id),
    }
