"""One transaction around a step's work, with the object store kept consistent.

Invariants: :func:`run_in_transaction` commits the work's database changes at once or not
at all; objects put in the store during a failed run are removed again; a concurrent
change of the same document (optimistic ``version``) becomes a :class:`Conflict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .. import blobs
from ..db import transaction
from ..errors import Conflict
from ..system import System

T = TypeVar("T")


def run_in_transaction(system: System, work: Callable[[Session, list[blobs.PutOutcome]], T]) -> T:
    """Run ``work(session, puts)`` in one transaction; undo object puts if it fails."""
    puts: list[blobs.PutOutcome] = []
    try:
        with transaction(system.sessions) as s:
            return work(s, puts)
    except StaleDataError:
        # Any flush of the document (autoflush included) found another version.
        blobs.undo_put(system, puts)
        raise Conflict(
            "the document was changed by someone else meanwhile; reload it and try again"
        ) from None
    except BaseException:
        blobs.undo_put(system, puts)
        raise
