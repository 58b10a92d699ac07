"""The ``edms`` console script: commands that must start fast (``edms verify``) run
without loading the domain model; everything else goes to :mod:`edms.cli`."""

from __future__ import annotations

import sys


def main() -> None:
    from .cli_verify import FAST_COMMANDS

    if len(sys.argv) > 1 and sys.argv[1] in FAST_COMMANDS:
        from .cli_verify import _fast
        from .config import load_dotenv_file

        load_dotenv_file()
        _fast(prog_name="edms")
        return
    from .cli import main as full

    full()


if __name__ == "__main__":
    main()
