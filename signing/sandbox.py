"""Validating untrusted files under a time and a memory limit.

Files are validated in persistent child processes (``python -m signing.sandbox --serve``)
with an address-space limit (RLIMIT_AS); a worker that misses a file's wall-clock deadline
is killed and replaced. Whatever
the file does — an endless object loop, a decompression bomb, a parser crash — the caller
gets a report: INDETERMINATE / FORMAT_FAILURE with the reason, never an exception, never
a hang.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .validation import Report, SignatureReport, SignerReport, TimestampReport, format_failure


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0
    memory_mb: int = 1024


def report_from_json(data: dict[str, Any]) -> Report:
    sigs = []
    for s in data.get("signatures", []):
        s = dict(s)
        s["signer"] = SignerReport(**s["signer"])
        s["timestamp"] = TimestampReport(**s["timestamp"]) if s.get("timestamp") else None
        sigs.append(SignatureReport(**s))
    return Report(file=data["file"], valid=bool(data["valid"]), signatures=sigs,
                  unsigned_signature_fields=list(data.get("unsigned_signature_fields", [])),
                  errors=list(data.get("errors", [])))


def _limit(limits: Limits) -> Any:
    def apply() -> None:
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    return apply


class _Worker:
    """One persistent child process: trust roots loaded once, one request at a time."""

    def __init__(self, trust_pems: list[str], allow_fetching: bool, limits: Limits) -> None:
        config = json.dumps({"trust": trust_pems, "allow_fetching": allow_fetching})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signing.sandbox", "--serve", config],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_limit(limits), cwd=str(Path(__file__).resolve().parent.parent),
        )
        self._buf = b""

    def ask(self, path: Path, deadline: float) -> dict[str, Any] | None:
        """The worker's JSON report, or None if it died or missed the deadline."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
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
                return None  # the worker died (memory limit, crash)
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


class ValidatorPool:
    """Validates files in persistent sandboxed workers (all cores by default). A worker
    that misses its deadline or dies is replaced; its file gets a FORMAT_FAILURE report."""

    def __init__(self, trust_pems: list[str], allow_fetching: bool = False,
                 limits: Limits = Limits(), workers: int | None = None) -> None:
        self._args = (list(trust_pems), allow_fetching, limits)
        self.limits = limits
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(max(1, workers or os.cpu_count() or 1)):
            self._release(self._spawn())

    def _spawn(self) -> _Worker:
        w = _Worker(*self._args)
        with self._lock:
            self._all.append(w)
        return w

    def _release(self, w: _Worker) -> None:
        self._idle.put(w)

    def validate(self, path: str | os.PathLike[str]) -> Report:
        path = Path(path)
        if not path.is_file():
            return format_failure(path, "no such file")
        worker = self._idle.get()
        answer = worker.ask(path, time.monotonic() + self.limits.seconds)
        if answer is None:
            died = worker.proc.poll() is not None
            worker.kill()
            with self._lock:
                self._all.remove(worker)
            self._release(self._spawn())
            why = (f"validation exceeded its memory limit ({self.limits.memory_mb} MB)"
                   if died else f"validation did not finish within "
                                f"{self.limits.seconds:g} s (a malformed or hostile file)")
            return format_failure(path, why)
        self._release(worker)
        try:
            return report_from_json(answer)
        except (KeyError, TypeError, ValueError) as exc:
            return format_failure(path, f"the validator returned no report: {exc}")

    def close(self) -> None:
        with self._lock:
            for w in self._all:
                if w.proc.stdin:
                    w.proc.stdin.close()
                w.kill()
            self._all.clear()

    def __enter__(self) -> ValidatorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: dict[tuple[int, tuple[str, ...], bool, Limits], ValidatorPool] = {}
_shared_lock = threading.Lock()
_SHARED_MAX = 4  # trust configurations kept warm per process


def shared_pool(trust_pems: list[str], allow_fetching: bool = False,
                limits: Limits = Limits(), workers: int = 1) -> ValidatorPool:
    """A pool kept for the life of this process (per trust roots and fetching policy), so
    a service validating file after file does not start a sandbox each time. Made anew
    in a forked child (the key holds the process id)."""
    key = (os.getpid(), tuple(trust_pems), allow_fetching, limits)
    with _shared_lock:
        pool = _shared.pop(key, None)
        if pool is None:
            pool = ValidatorPool(trust_pems, allow_fetching, limits, workers=workers)
            while len(_shared) >= _SHARED_MAX:  # the least recently used goes
                oldest = next(iter(_shared))
                _shared.pop(oldest).close()
        _shared[key] = pool  # most recently used last
        return pool


def validate_sandboxed(path: str | os.PathLike[str], trust_pems: list[str],
                       allow_fetching: bool = False, limits: Limits = Limits()) -> Report:
    """One file, one sandboxed worker."""
    with ValidatorPool(trust_pems, allow_fetching, limits, workers=1) as pool:
        return pool.validate(path)


def _serve(config: dict[str, Any]) -> None:
    from .trust import load_certificates
    from .validation import validate_file

    roots = [c for b in config.get("trust", []) for c in load_certificates(b)]
    fetch = bool(config.get("allow_fetching"))
    for line in sys.stdin:
        path = Path(json.loads(line)["path"])
        try:
            report = validate_file(path, roots, fetch)
        except MemoryError:
            raise
        except Exception as exc:  # the parent gets a report, whatever happened
            report = format_failure(path, f"{type(exc).__name__}: {exc}")
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)  # pyHanko logs tracebacks for expected failures
    sys.setrecursionlimit(10_000)
    _serve(json.loads(sys.argv[2]))
