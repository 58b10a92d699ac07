"""The web interface (giao diện web), in Vietnamese: server-rendered pages for leaders,
clerks, officers, admins and anyone verifying a document. Every action calls the same
``edms`` services as the API, with the same checks and audit events; the browser session is
the API's (`edms_session` cookie), and every form carries the session's CSRF token."""

from . import admin as _admin  # noqa: F401  (administration: users, keys, exchange)
from . import archive as _archive  # noqa: F401  (the archive page's route)
from . import axis as _axis  # noqa: F401  (the exchange axis page: connected systems)
from . import dashboard as _dashboard  # noqa: F401  (the handling dashboard, /thong-ke)
from . import digitize as _digitize  # noqa: F401  (digitizing paper results, jobs)
from . import documents as _documents  # noqa: F401  (work queues, one document, its steps)
from . import dossiers as _dossiers  # noqa: F401  (citizens' dossiers, procedures, holidays)
from . import drafting as _drafting  # noqa: F401  (drafting, preview, revising a draft)
from . import incoming as _incoming  # noqa: F401  (receiving an incoming document)
from . import instructions as _instructions  # noqa: F401  (leader's instructions, the sheet)
from . import look as _look  # noqa: F401  (the look and the words: filters, site name)
from . import notices as _notices  # noqa: F401  (notices: channels, wording, log, mine)
from . import records as _records  # noqa: F401  (registers, deadlines, statistics)
from . import release as _release  # noqa: F401  (the clerk's one-action release)
from . import session as _session  # noqa: F401  (logging in and out, the signing PIN)
from . import trust as _trust  # noqa: F401  (the trust page's routes)
from . import verify as _verify  # noqa: F401  (verifying a PDF, for anyone)
from .views import bp

__all__ = ["bp"]
