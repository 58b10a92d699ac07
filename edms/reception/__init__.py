"""Citizens' dossiers (hồ sơ thủ tục hành chính) at the one-stop desk: reception with a
receipt, handling, the result, and the citizen's own look-up.

Lifecycle::

    received → in_progress → result_ready → delivered
         ↘__________↘ refused (with the reason)

Invariants:

* **A code and a secret.** A dossier's code is ``{agency code}-{yyMMdd}-{nnnn}`` (MaHoSo:
  the day it was received and that day's sequence, one atomic counter per agency and day).
  The receipt also carries a short look-up secret (8 characters, 40 bits, no look-alike
  letters). Only a slow salted hash of the secret is stored (scrypt), so the database
  never holds it; reprinting a receipt issues a new secret and voids the old one.
* **The public look-up tells nothing to a stranger.** It needs the code *and* the secret;
  a wrong secret and an unknown code get the same answer, after the same work (a hash is
  computed against a dummy when the code is unknown; the comparison is constant-time).
  Attempts are limited per client address and per code typed, existing or not, and the
  answer holds the status, the promised date, whether it is late and the result — nothing
  about the applicant.
* **The promised date** is computed at reception from the procedure's time, in working
  days over the holidays (edms.workdays) or in calendar days, counted from the day after
  the reception day (Civil Code, Art. 147); it is kept with the time it was computed from.
* **The result** is a document of the agency that was issued: a digitized, agency-signed
  copy made for this dossier code (linked by edms.digitization.pipeline when it is made),
  or an outgoing document set as the result (ready when it is issued). The dossier is then
  ``result_ready`` and the citizen downloads the signed file from the look-up.
* Every step commits with its history entry, its audit event and its domain event
  (``dossier.received``, ``dossier.result_ready``) in one transaction; concurrent steps
  on one dossier are serialised by its ``version`` (the second is refused).

Modules: :mod:`.common` (states, secrets, shared helpers), :mod:`.intake` (reception and
reprint), :mod:`.handling` (steps and the result), :mod:`.queries` (staff reads),
:mod:`.public` (the citizen's look-up); every name is re-exported here.
"""

from __future__ import annotations

from .common import (
    CHANNELS,
    DELIVERED,
    EMAIL,
    IN_PROGRESS,
    LOOKUP_WINDOW,
    MAX_FAILED_PER_CLIENT,
    MAX_FAILED_PER_CODE,
    MAX_PER_CLIENT,
    OPEN,
    PAPER_FORMS,
    PHONE,
    READY,
    RECEIVED,
    REFUSED,
    SECRET_ALPHABET,
    SECRET_LENGTH,
    STAFF,
    STATUS_VI,
    STEP_VI,
    Application,
    Paper,
    Receipt,
    hash_secret,
    lookup_url,
    new_secret,
    normalise_secret,
    secret_matches,
    vn_date,
)
from .handling import (
    deliver,
    link_digitized,
    link_document,
    on_event,
    refuse,
    start,
)
from .intake import (
    receive,
    reissue_receipt,
)
from .public import (
    LOOKUP_FAILED_VI,
    LookupFailed,
    PublicStatus,
    lookup,
    purge_lookups,
    result_file,
)
from .queries import (
    DossierView,
    Stats,
    get,
    is_late,
    list_dossiers,
    statistics,
)

__all__ = [
    "CHANNELS",
    "DELIVERED",
    "EMAIL",
    "IN_PROGRESS",
    "LOOKUP_FAILED_VI",
    "LOOKUP_WINDOW",
    "MAX_FAILED_PER_CLIENT",
    "MAX_FAILED_PER_CODE",
    "MAX_PER_CLIENT",
    "OPEN",
    "PAPER_FORMS",
    "PHONE",
    "READY",
    "RECEIVED",
    "REFUSED",
    "SECRET_ALPHABET",
    "SECRET_LENGTH",
    "STAFF",
    "STATUS_VI",
    "STEP_VI",
    "Application",
    "DossierView",
    "LookupFailed",
    "Paper",
    "PublicStatus",
    "Receipt",
    "Stats",
    "deliver",
    "get",
    "hash_secret",
    "is_late",
    "link_digitized",
    "link_document",
    "list_dossiers",
    "lookup",
    "lookup_url",
    "new_secret",
    "normalise_secret",
    "on_event",
    "purge_lookups",
    "receive",
    "refuse",
    "reissue_receipt",
    "result_file",
    "secret_matches",
    "start",
    "statistics",
    "vn_date",
]
