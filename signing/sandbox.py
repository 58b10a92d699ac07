"""Validating untrusted files under a time and a memory limit.

Files are validated in child processes (``python -m signing.sandbox --serve``) with an
address-space limit (RLIMIT_AS); a child that misses a file's wall-clock deadline is killed
(and, in a pool, replaced). Whatever the file does — an endless object loop, a
decompression bomb, a parser crash — the caller gets a report: ``indeterminate`` with the
reason in words, never an exception, never a hang.

Invariants:

* Paths are made absolute before they cross to a child: a child's working directory never
  changes which file is validated.
* The trust set travels to the child on its standard input (first line), so a child can
  start importing the validator before the caller has worked out its trust.
* Diagnostics (exception texts) come back from the child, are logged here with the
  file's hash, and are dropped from the report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import resource
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .validation.report import Report, format_failure, report_from_json

log = logging.getLogger("signing.validation")
TrustSpec = dict[str, Any]  # TrustSet.to_json()


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0
    memory_mb: int = 1024


def _limit(limits: Limits) -> Any:
    def apply() -> None:
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

    return apply


def trust_spec(trust: Any) -> TrustSpec:
    """A trust set as the child reads it: a TrustSet, its JSON, or PEM bundle paths."""
    if isinstance(trust, dict):
        return trust
    if hasattr(trust, "to_json"):
        return dict(trust.to_json())
    pems = []
    for p in trust:
        text = Path(p).read_text()
        pems.append([text, "custom"])
    return {"roots": pems, "pool": []}


def _spec_key(spec: TrustSpec) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


class _Worker:
    """One child process: the trust set loaded once, one request at a time."""

    def __init__(
        self, spec: TrustSpec | Callable[[], TrustSpec], allow_fetching: bool, limits: Limits
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signing.sandbox", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit(limits),
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        self._buf = b""
        self._configured = False
        self._spec = spec
        self._fetch = allow_fetching

    def _configure(self) -> None:
        assert self.proc.stdin is not None
        spec = self._spec() if callable(self._spec) else self._spec
        config = {"trust": spec, "allow_fetching": self._fetch}
        self.proc.stdin.write(json.dumps(config).encode() + b"\n")
        self._configured = True

    def ask(self, path: Path, deadline: float) -> dict[str, Any] | None:
        """The child's JSON report, or None if it died or missed the deadline."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if not self._configured:
                self._configure()
            self.proc.stdin.write(json.dumps({"path": str(path)}).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None  # the child died (memory limit, crash)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            return dict(json.loads(line))
        except ValueError:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _answer(worker: _Worker, path: Path, limits: Limits) -> tuple[Report, bool]:
    """(report, whether the worker is still usable)."""
    deadline = time.monotonic() + limits.seconds
    answer = worker.ask(path, deadline)
    if answer is None:
        # back before the deadline: the child closed its pipe (memory limit, crash)
        died = worker.proc.poll() is not None or time.monotonic() < deadline
        why = (
            f"kiểm tra vượt giới hạn bộ nhớ ({limits.memory_mb} MB): tệp bất thường "
            "hoặc độc hại / validation exceeded its memory limit"
            if died
            else f"kiểm tra không xong trong {limits.seconds:g} giây: tệp bất thường hoặc "
            "độc hại / validation did not finish in time"
        )
        return format_failure(path, why), False
    try:
        report = report_from_json(answer)
    except (KeyError, TypeError, ValueError):
        return format_failure(
            path, "bộ kiểm tra không trả về kết quả / the validator returned no report"
        ), False
    for d in report.diagnostics:
        log.warning("validation diagnostic for sha256=%s: %s", report.file.get("sha256"), d)
    report.diagnostics = []
    return report, True


class ValidatorPool:
    """Validates files in persistent sandboxed children (all cores by default). A child
    that misses its deadline or dies is replaced; its file gets an ``indeterminate``
    report."""

    def __init__(
        self,
        trust: Any,
        allow_fetching: bool = False,
        limits: Limits = Limits(),
        workers: int | None = None,
    ) -> None:
        self._spec = trust_spec(trust)
        self._args = (self._spec, allow_fetching, limits)
        self.limits = limits
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(max(1, workers or os.cpu_count() or 1)):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        w = _Worker(*self._args)
        with self._lock:
            self._all.append(w)
        return w

    def validate(self, path: str | os.PathLike[str]) -> Report:
        path = Path(path).resolve()
        if not path.is_file():
            return format_failure(path, "không có tệp này / no such file")
        worker = self._idle.get()
        report, usable = _answer(worker, path, self.limits)
        if not usable:
            worker.kill()
            with self._lock:
                self._all.remove(worker)
            worker = self._spawn()
        self._idle.put(worker)
        return report

    def close(self) -> None:
        with self._lock:
            for w in self._all:
                if w.proc.stdin:
                    with contextlib.suppress(OSError):
                        w.proc.stdin.close()
                w.kill()
            self._all.clear()

    def __enter__(self) -> ValidatorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: dict[tuple[int, str, bool, Limits], ValidatorPool] = {}
_shared_lock = threading.Lock()
_SHARED_MAX = 4  # trust configurations kept warm per process


def shared_pool(
    trust: Any, allow_fetching: bool = False, limits: Limits = Limits(), workers: int = 1
) -> ValidatorPool:
    """A pool kept for the life of this process (per trust set and fetching policy), so
    a service validating file after file does not start a sandbox each time. Made anew
    in a forked child (the key holds the process id)."""
    spec = trust_spec(trust)
    key = (os.getpid(), _spec_key(spec), allow_fetching, limits)
    with _shared_lock:
        pool = _shared.pop(key, None)
        if pool is None:
            pool = ValidatorPool(spec, allow_fetching, limits, workers=workers)
            while len(_shared) >= _SHARED_MAX:  # the least recently used goes
                oldest = next(iter(_shared))
                _shared.pop(oldest).close()
        _shared[key] = pool  # most recently used last
        return pool


def validate_sandboxed(
    path: str | os.PathLike[str],
    trust: Any,
    allow_fetching: bool = False,
    limits: Limits = Limits(),
) -> Report:
    """One file, one bounded child. ``trust`` may be a callable returning the trust set:
    it is called while the child starts (so the two overlap)."""
    path = Path(path).resolve()
    if not path.is_file():
        return format_failure(path, "không có tệp này / no such file")
    spec: Any = trust if callable(trust) else trust_spec(trust)
    worker = _Worker(spec, allow_fetching, limits)
    try:
        report, _ = _answer(worker, path, limits)
        return report
    finally:
        if worker.proc.stdin:
            with contextlib.suppress(OSError):
                worker.proc.stdin.close()
        worker.kill()


def _serve() -> None:
    from .trust import TrustSet
    from .validation import validate_file

    config = json.loads(sys.stdin.readline())
    trust = TrustSet.from_json(config.get("trust", {}))
    fetch = bool(config.get("allow_fetching"))
    for line in sys.stdin:
        path = Path(json.loads(line)["path"])
        report = validate_file(path, trust, fetch)
        sys.stdout.write(json.dumps(report.to_json(diagnostics=True)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # pyHanko logs tracebacks for expected failures
    sys.setrecursionlimit(10_000)
    _serve()
