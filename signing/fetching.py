"""Trust-service answers reused across signatures for a short while.

A B-LT signature needs the signer's revocation status (OCSP responses, CRLs) and the TSA's
certificate chain. Signing many documents with one key (a clerk's batch of copies, a day's
seals) would fetch the same answers again for every file. :class:`SharedFetchers` keeps one
set of fetchers, and one timestamper (whose certificate chain it learned once), for at most
``ttl`` seconds; then a fresh set is made and everything is fetched anew. Signature
timestamps themselves are never reused: every signature gets its own token.

Each thread has its own set (pyHanko's fetchers coordinate concurrent fetches with asyncio
events, which belong to one event loop). After a failure, :meth:`SharedFetchers.forget`
drops the set, so an answer that went stale or an error that was remembered is not
reused.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from pyhanko.sign import timestamps
from pyhanko_certvalidator.fetchers import Fetchers
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend


@dataclass
class _Generation:
    born: float
    fetchers: Fetchers
    timestampers: dict[str, timestamps.HTTPTimeStamper]


class SharedFetchers:
    """Fetchers and timestampers shared by the signatures of one thread for ``ttl`` s."""

    def __init__(self, ttl: float, timeout: float = 10.0) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self._local = threading.local()

    def _current(self) -> _Generation:
        gen: _Generation | None = getattr(self._local, "gen", None)
        now = time.monotonic()
        if gen is None or now - gen.born >= self.ttl:
            backend = RequestsFetcherBackend(per_request_timeout=int(self.timeout))
            gen = _Generation(now, backend.get_fetchers(), {})
            self._local.gen = gen
        return gen

    def fetchers(self) -> Fetchers:
        return self._current().fetchers

    def timestamper(self, url: str) -> timestamps.HTTPTimeStamper:
        gen = self._current()
        stamper = gen.timestampers.get(url)
        if stamper is None:
            stamper = gen.timestampers[url] = timestamps.HTTPTimeStamper(
                url, timeout=int(self.timeout)
            )
        return stamper

    def forget(self) -> None:
        """Drop this thread's answers (after a failure: fetch everything anew next time)."""
        self._local.gen = None
