"""Start-up time of the ``edms`` command line, whole process, against ``python -c pass``.

Each round runs every case once, in a rotating order (so that a slow moment of the
machine does not fall on one case only); the figure of a case is the median wall time
over the rounds, in ms and as a ratio to the median of ``python -c pass`` (the same
interpreter) measured in the same run, and the median CPU time (user + system) of the
process, which other load on the machine disturbs less than the wall time. Targets
(issue 17): ``edms --version`` <= 300 ms, ``edms verify --help`` <= 500 ms.

    .venv/bin/python bench/cli.py [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EDMS = str(Path(sys.executable).parent / "edms")
CASES: list[tuple[str, list[str], float | None]] = [
    ("python -c pass", [sys.executable, "-c", "pass"], None),
    ("edms --version", [EDMS, "--version"], 300.0),
    ("edms --help", [EDMS, "--help"], None),
    ("edms verify --help", [EDMS, "verify", "--help"], 500.0),
]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _once(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process, in ms."""
    cpu, start = _cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=120)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed, (_cpu() - cpu) * 1000


def measure(rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU times of every case, ``rounds`` each."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in CASES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDMS_")}
    with tempfile.TemporaryDirectory() as cwd:  # no .env is read from here
        for argv in (a for _, a, _ in CASES):  # warm the file cache once
            _once(argv, cwd, env)
        for r in range(rounds):
            order = CASES[r % len(CASES) :] + CASES[: r % len(CASES)]
            for name, argv, _ in order:
                wall, used = _once(argv, cwd, env)
                times[name].append(wall)
                cpu[name].append(used)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="at least 10")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    times, cpu = measure(max(10, args.rounds))
    base = statistics.median(times[CASES[0][0]])
    base_cpu = statistics.median(cpu[CASES[0][0]])
    rows: list[dict[str, Any]] = []
    for name, _, target in CASES:
        q1, _, q3 = statistics.quantiles(times[name], n=4)
        med = statistics.median(times[name])
        med_cpu = statistics.median(cpu[name])
        rows.append(
            {
                "case": name,
                "median_ms": round(med, 1),
                "iqr_ms": [round(q1, 1), round(q3, 1)],
                "ratio": round(med / base, 2),
                "cpu_ms": round(med_cpu, 1),
                "cpu_ratio": round(med_cpu / base_cpu, 2),
                "target_ms": target,
                "met": None if target is None else med <= target,
            }
        )
    if args.json:
        print(json.dumps({"rounds": len(times[CASES[0][0]]), "cases": rows}, indent=2))
        return
    print(f"{len(times[CASES[0][0]])} rounds, whole process, median wall (IQR) and CPU time")
    print(f"{'case':<20} {'ms':>7} {'IQR ms':>13} {'x python':>8} {'CPU ms':>7} {'x':>5}  target")
    for row in rows:
        lo, hi = row["iqr_ms"]
        verdict = (
            ""
            if row["target_ms"] is None
            else f"<= {row['target_ms']:.0f} ms: {'met' if row['met'] else 'NOT MET'}"
        )
        print(
            f"{row['case']:<20} {row['median_ms']:>7.1f} {f'{lo:.1f}-{hi:.1f}':>13} "
            f"{row['ratio']:>8.2f} {row['cpu_ms']:>7.1f} {row['cpu_ratio']:>5.2f}  {verdict}"
        )


if __name__ == "__main__":
    main()
