"""Waiting after failures: the doubling waits that slow down password and PIN guessing.

Invariants: nobody is ever locked out for good — after ``free`` failures each further
attempt waits ``first`` seconds, doubling with every failure, never more than ``cap``; and
a refusal tells the caller how long to wait (``Retry-After``), at least one second.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def wait_after(failures: int, free: int, first: int, cap: int) -> int:
    """Seconds to wait after the last failure, once more than ``free`` have failed."""
    if failures < free:
        return 0
    return min(first * 2 ** (failures - free), cap)


def seconds_until(until: datetime, now: datetime | None = None) -> int:
    """Whole seconds from ``now`` (default: the current time) until ``until``; at least 1."""
    now = now or datetime.now(UTC)
    return max(1, math.ceil((until - now).total_seconds()))
