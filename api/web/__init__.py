"""The web interface (giao diện web), in Vietnamese: server-rendered pages for leaders,
clerks, officers, admins and anyone verifying a document. Every action calls the same
``edms`` services as the API, with the same checks and audit events; the browser session is
the API's (`edms_session` cookie), and every form carries the session's CSRF token."""

from . import archive as _archive  # noqa: F401  (the archive page's route)
from . import axis as _axis  # noqa: F401  (the exchange axis page: connected systems)
from . import dashboard as _dashboard  # noqa: F401  (the handling dashboard, /thong-ke)
from . import dossiers as _dossiers  # noqa: F401  (citizens' dossiers, procedures, holidays)
from . import notices as _notices  # noqa: F401  (notices: channels, wording, log, mine)
from . import trust as _trust  # noqa: F401  (the trust page's routes)
from .views import bp

__all__ = ["bp"]
