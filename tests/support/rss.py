"""Peak memory of the current process, for child processes that measure themselves."""

from __future__ import annotations


def peak_rss_kb() -> int:
    """VmHWM: this process's own resident high-water mark. (``ru_maxrss`` would also count
    the parent a child was forked from: Linux carries the high-water mark across exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")
