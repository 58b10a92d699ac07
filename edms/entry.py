"""The console script's old target, kept as an alias of :func:`edms.cli.main`.

Until issue 17 the ``edms`` script pointed at ``edms.entry:main``; pyproject.toml now names
``edms.cli:main``. An editable install made before that still has a script importing this
module, and keeps it until its next ``pip install -e .`` (``make setup`` does it by itself,
its stamp being older than pyproject.toml): without this alias such an ``edms`` would fail
to start after a ``git pull``. ``python -m edms.entry`` (tests/test_validation_realworld.py)
works too. Remove it once installations older than the move are gone; it costs nothing at
start-up (it imports :mod:`edms.cli` and nothing else).
"""

from __future__ import annotations

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
