"""Periodic maintenance, run by whichever process takes the task's lease first:

* ``archive_renew``: the archive-timestamp renewal (edms.archive), daily by default;
* ``jobs_redispatch``: with Redis, jobs still queued in the database that a restarted Redis
  lost are queued again (every ``EDMS_JOBS_REDISPATCH_SECONDS``);
* ``retention``: hourly, retention the object store could not apply when a document
  became a record (it was unreachable) is applied now.
* ``notices_daily``: hourly, documents due on the next working day or overdue and
  citizens' dossiers late become notices (edms.notices.daily); the notices' delivery loop
  (edms.notices.delivery) runs on its own thread beside the scheduler.

Every ``edms worker`` (and, without Redis, every serving process) runs a
:class:`Scheduler` thread. A task runs when its period has passed since it last finished
(or, the first time, since a scheduler first saw it);
taking it is one conditional ``UPDATE`` of its ``scheduled_tasks`` row, so however many
processes run schedulers, a task runs in one of them at a time. A process that dies with
the lease held delays the task until the lease lapses (:data:`LEASE`). A failed run is
retried after :data:`RETRY` (or the period, if shorter); its error is kept on the row and
shown on the admin page.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .db import transaction
from .errors import EdmsError
from .models import ScheduledTask
from .system import System

log = logging.getLogger(__name__)
LEASE = timedelta(hours=6)
RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Task:
    name: str
    period_hours: Callable[[System], float]  # 0: disabled
    run: Callable[[System], dict[str, Any]]


def _archive_renew(system: System) -> dict[str, Any]:
    from . import archive

    report = archive.renew(system, actor="system")
    out = report.to_json()
    out["outcomes"] = [o for o in out["outcomes"] if o["action"] != "renewed"][:50]
    out["not_renewable"] = out["not_renewable"][:50]
    return out


def _jobs_redispatch(system: System) -> dict[str, Any]:
    from .jobs import redispatch

    return {"queued_again": redispatch(system, system.settings.jobs_redispatch_seconds)}


def _retention(system: System) -> dict[str, Any]:
    """Retention not applied when a document became a record (the store was down then)."""
    from .documents import apply_document_retention
    from .models import Document

    with system.sessions() as s:
        ids = list(
            s.scalars(
                select(Document.id).where(
                    Document.retain_until.is_(None),
                    Document.sent_at.is_not(None),
                    Document.state.in_(("issued", "revoked", "replaced")),
                )
            )
        )
    applied = [i for i in ids if apply_document_retention(system, i) is not None]
    return {"pending": len(ids), "applied": applied[:100]}


def _notices_daily(system: System) -> dict[str, Any]:
    """Documents due on the next working day or overdue, dossiers late (edms.notices)."""
    from .notices.daily import run

    return run(system)


TASKS: tuple[Task, ...] = (
    Task("archive_renew", lambda s: s.settings.archive_renew_every_hours, _archive_renew),
    # Only with Redis: jobs a restarted Redis lost are queued again.
    Task(
        "jobs_redispatch",
        lambda s: s.settings.jobs_redispatch_seconds / 3600 if s.settings.redis_url else 0.0,
        _jobs_redispatch,
    ),
    Task("retention", lambda s: 1.0, _retention),
    Task("notices_daily", lambda s: 1.0, _notices_daily),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _claim(system: System, task: Task, period: timedelta, now: datetime) -> bool:
    from .jobs import worker_id

    try:
        with transaction(system.sessions) as s:
            if s.get(ScheduledTask, task.name) is None:
                # The clock starts when a task is first seen: its first run is one period
                # later (not at once in every process a deployment starts).
                s.add(ScheduledTask(name=task.name, last_result="{}", last_finished_at=now))
                return False
    except IntegrityError:
        return False  # another process created it first
    with transaction(system.sessions) as s:
        claimed = s.execute(  # type: ignore[attr-defined]  # (a CursorResult)
            update(ScheduledTask)
            .where(
                ScheduledTask.name == task.name,
                or_(ScheduledTask.lease_until.is_(None), ScheduledTask.lease_until < now),
                or_(
                    ScheduledTask.last_finished_at.is_(None),
                    ScheduledTask.last_finished_at <= now - period,
                ),
            )
            .values(lease_until=now + LEASE, last_started_at=now, worker=worker_id())
        ).rowcount
    return bool(claimed)


def run_due(system: System, now: datetime | None = None) -> list[str]:
    """Run each task whose period has passed (and whose lease this process takes).
    Returns the names of the tasks run."""
    ran = []
    for task in TASKS:
        hours = task.period_hours(system)
        if hours <= 0:
            continue
        period = timedelta(hours=hours)
        at = now or _now()
        if not _claim(system, task, period, at):
            continue
        ran.append(task.name)
        try:
            result = task.run(system)
            values: dict[str, Any] = {
                "last_finished_at": _now() if now is None else at,
                "lease_until": None,
                "last_error": None,
                "last_result": json.dumps(result, ensure_ascii=False, default=str),
            }
        except Exception as exc:
            message = exc.message if isinstance(exc, EdmsError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, EdmsError):
                log.error("scheduled task %s failed:\n%s", task.name, traceback.format_exc())
            # Tried again after RETRY (or the period, if shorter): the lease holds it off.
            values = {"lease_until": _now() + min(RETRY, period), "last_error": message[:4000]}
        with transaction(system.sessions) as s:
            s.execute(update(ScheduledTask).where(ScheduledTask.name == task.name).values(**values))
    return ran


def task_states(system: System) -> dict[str, dict[str, Any]]:
    """Each task's last run, for the admin page and ``edms archive status``."""
    with system.sessions() as s:
        rows = {t.name: t for t in s.scalars(select(ScheduledTask))}
    out = {}
    for task in TASKS:
        row = rows.get(task.name)
        out[task.name] = {
            "period_hours": task.period_hours(system),
            "last_started_at": row.last_started_at if row else None,
            "last_finished_at": row.last_finished_at if row else None,
            "last_error": row.last_error if row else None,
            "last_result": json.loads(row.last_result) if row and row.last_result else {},
        }
    return out


class Scheduler:
    """The maintenance loop on a daemon thread (see the module docstring)."""

    def __init__(self, system: System) -> None:
        self.system = system
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="edms-maintenance", daemon=True)

    def start(self) -> Scheduler:
        self.thread.start()
        self.system.closers.append(self.stop)
        if self.system.settings.notice_pump:
            from .notices.delivery import Pump

            Pump(self.system).start()  # the notices' delivery loop runs beside it
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=30)

    def _poll_seconds(self) -> float:
        periods = [t.period_hours(self.system) * 3600 for t in TASKS]
        shortest = min((p for p in periods if p > 0), default=3600.0)
        return max(1.0, min(300.0, shortest / 4))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_due(self.system)
            except Exception:  # the database may be down: keep the loop alive
                log.exception("maintenance round failed")
            self._stop.wait(self._poll_seconds())
