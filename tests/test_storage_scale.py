"""Scale: large objects stream through both stores in bounded memory (`make test-slow`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SIZE = 600 * 1024 * 1024

CHILD = textwrap.dedent("""
    import hashlib, json, os, sys

    from tests.support.rss import peak_rss_kb
    from edms.config import Settings
    from edms.system import System

    class Generated:
        '''600 MiB of deterministic bytes, produced on demand (never held in memory).'''
        def __init__(self, size):
            self.left = size
            self.block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
            self.h = hashlib.sha256()
        def read(self, n=-1):
            n = self.left if n is None or n < 0 else min(n, self.left)
            out = (self.block * (n // len(self.block) + 1))[:n]
            self.left -= n
            self.h.update(out)
            return out

    system = System(Settings.from_env())
    system.init()
    base = peak_rss_kb()
    src = Generated(int(sys.argv[1]))
    res = system.store.put_content(src)
    rehash, size = system.store.sha256_of(res.key)
    peak = peak_rss_kb()
    print(json.dumps({"ok": res.sha256 == src.h.hexdigest() == rehash, "size": size,
                      "peak_kb": peak, "base_kb": base}))
""")


@pytest.mark.parametrize("system_env", ["local", "s3"], indirect=True)
def test_600_mib_object_streams_in_bounded_memory(
    system_env: dict[str, str], tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(SIZE)],
        env={**os.environ, **system_env, "EDMS_MAX_UPLOAD_MB": "1024"},
        capture_output=True,
        text=True,
        timeout=1700,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["ok"] and result["size"] == SIZE
    # S3 parts are 5 MiB in the tests (3 in flight + 1 being read); generous bound.
    assert result["peak_kb"] - result["base_kb"] < 150 * 1024, result
