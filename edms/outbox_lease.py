"""The leased outbox: what the exchange's and the notices' delivery loops share.

An outbox row (``ExchangeMessage``, ``Notice``) is ``pending`` until sent, with
``next_attempt_at`` and ``lease_until``. Invariants:

* a row is sent by one process at a time: :func:`take` sets its lease only while it is
  still pending and its lease is free (:func:`lease_free`); an expired lease is free, so a
  process that died while sending gives the row back when its lease runs out;
* a failed attempt waits ``base`` seconds, doubling with every attempt, never more than
  ``cap`` (:func:`retry_at`); giving up after the last attempt is the caller's decision,
  which knows its limit;
* :class:`Loop` runs one round after another on a daemon thread, waiting ``interval``
  seconds only after a round that found nothing to do; a round's error is logged and the
  loop goes on (the database may be down for a while).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Self

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import Session

from .models import ExchangeMessage, Notice

Outbox = type[ExchangeMessage] | type[Notice]


def lease_free(model: Outbox, now: datetime) -> ColumnElement[bool]:
    """Nobody holds the row's lease at ``now`` (none was taken, or it ran out)."""
    return or_(model.lease_until.is_(None), model.lease_until < now)


def take(s: Session, model: Outbox, row_id: int, now: datetime, until: datetime) -> bool:
    """Lease row ``row_id`` until ``until`` if it is still pending and its lease is free;
    False if another process took it first."""
    got = s.execute(
        update(model)
        .where(model.id == row_id, model.state == "pending", lease_free(model, now))
        .values(lease_until=until)
    )
    return bool(got.rowcount == 1)  # type: ignore[attr-defined]


def retry_at(now: datetime, attempts: int, base: float, cap: float) -> datetime:
    """When to try again after ``attempts`` failed attempts (at least one)."""
    return now + timedelta(seconds=min(base * 2 ** (attempts - 1), cap))


class Loop:
    """``round`` (returns whether it did anything) run again and again on a daemon thread
    until :meth:`stop`. Loops given one ``stop_event`` stop together."""

    def __init__(
        self,
        name: str,
        round: Callable[[], bool],
        interval: float,
        log: logging.Logger,
        failed: str,
        stop_event: threading.Event | None = None,
        join_timeout: float = 30,
    ) -> None:
        self._round, self._interval, self._log, self._failed = round, interval, log, failed
        self._join_timeout = join_timeout
        self._stop = stop_event or threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=self._join_timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self._round()
            except Exception:  # keep the loop alive; the cause is logged
                self._log.exception(self._failed)
            if not busy:
                self._stop.wait(self._interval)
