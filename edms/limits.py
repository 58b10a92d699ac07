"""Outside programs (poppler's renderer, OCR) run under limits: address space and CPU time
set on the child alone (util-linux ``prlimit``), and a wall-clock timeout, so one costly
file cannot take the memory or the cores of the service."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

MIB = 1024 * 1024


def limited_command(
    cmd: Sequence[str], memory_mb: int, cpu_seconds: int | None = None
) -> list[str]:
    """``cmd`` prefixed so that it runs with at most ``memory_mb`` of address space and
    ``cpu_seconds`` of CPU time (``prlimit``, part of util-linux, present on every Debian
    system; without it the command is returned unchanged)."""
    exe = shutil.which("prlimit")
    if exe is None:
        return list(cmd)
    opts = [f"--as={memory_mb * MIB}"]
    if cpu_seconds:
        opts.append(f"--cpu={cpu_seconds}")
    return [exe, *opts, "--", *cmd]


def run_limited(
    cmd: Sequence[str],
    *,
    memory_mb: int,
    timeout: float,
    cpu_seconds: int | None = None,
    text: bool = False,
) -> subprocess.CompletedProcess[bytes] | subprocess.CompletedProcess[str]:
    """Run ``cmd`` under the limits; raises ``subprocess.TimeoutExpired`` past ``timeout``
    (the child is killed)."""
    cpu = cpu_seconds if cpu_seconds is not None else max(1, int(timeout) + 1)
    return subprocess.run(
        limited_command(cmd, memory_mb, cpu),
        capture_output=True,
        timeout=timeout,
        check=False,
        text=text,
    )
