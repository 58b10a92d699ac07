"""The ``edms worker`` process: the periodic maintenance (:mod:`edms.maintenance`) and the
job queue (:mod:`edms.jobs`, RQ on Redis) in one loop.

Invariants: a worker never dies of a queue outage (Redis down: it waits, doubling the
pause up to 30 s, and carries on; jobs Redis lost are queued again by the maintenance's
redispatch task); ``--burst`` runs the queue once, without the scheduler, and fails if Redis
is down. Kept apart from :mod:`edms.jobs` so that jobs and maintenance do not import each
other.
"""

from __future__ import annotations

import logging
import time

from . import jobs
from .errors import ClientError
from .maintenance import Scheduler
from .system import System

log = logging.getLogger("edms.jobs")


def run_worker(system: System, burst: bool = False) -> None:
    """``edms worker``: execute queued jobs from Redis until stopped."""
    from redis import Redis
    from rq import SimpleWorker

    url = system.settings.redis_url
    if not url:
        raise ClientError(
            "`edms worker` needs EDMS_REDIS_URL (without it, the service runs jobs itself)"
        )
    jobs.use_system(system)
    if not burst:
        Scheduler(system).start()  # periodic maintenance (edms.maintenance)
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    wait = 1.0
    while True:
        try:
            conn = Redis.from_url(url)
            SimpleWorker([system.settings.redis_queue], connection=conn).work(
                burst=burst, with_scheduler=False
            )
            return
        except (RedisConnectionError, RedisTimeout) as exc:
            # Redis is down: wait for it and carry on (jobs it lost are queued again by
            # edms.maintenance); a worker never dies of a queue outage.
            if burst:
                raise
            log.error("the job queue (Redis) cannot be reached (%s); retrying in %.0f s", exc, wait)
            time.sleep(wait)
            wait = min(wait * 2, 30.0)
