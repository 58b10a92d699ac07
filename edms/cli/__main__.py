"""``python -m edms.cli ...`` is ``edms ...``."""

from .root import main

main()
